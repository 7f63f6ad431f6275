// The whole one-shot flow on top of Engine and Gallery: enrol a photo, identify a photo.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "siamface/engine.hpp"
#include "siamface/gallery.hpp"
#include "siamface/decision.hpp"
#include "siamface/image.hpp"

namespace siamface {

struct IdentifyOptions {
  std::size_t top_k = 3;
  // rule.threshold is the default for a gallery that has not saved one: see `threshold`.
  DecisionRule rule = default_decision_rule();
  // The caller's threshold. Unset: the gallery's own (its "threshold" setting, else
  // rule.threshold). Set: used where it is stricter than the gallery's; a looser one only with
  // allow_looser_threshold (resolve_threshold), and then as given, without reading the gallery.
  std::optional<float> threshold;
  bool allow_looser_threshold = false;
  IdentityDistance distance = IdentityDistance::kMin;
  PipelineOptions pipeline;

  // The rule that keeps strangers out by default (docs/accuracy.md, "Keeping strangers out").
  static DecisionRule default_decision_rule();
};

struct IdentifiedFace {
  Face face;
  Embedding embedding{};
  Decision decision;
  std::vector<IdentityMatch> top;  // nearest identities, closest first
};

// Identifies every face of `image`, deciding with the threshold IdentifyOptions::threshold
// resolves against `gallery`. Throws Error(kModelMismatch) when the gallery holds another
// model's embeddings.
// Thread safety: safe to call concurrently (Engine and Gallery are).
std::vector<IdentifiedFace> identify_image(const Engine& engine, const Gallery& gallery, const Image& image,
                                           const IdentifyOptions& options);

// Same, for faces already detected and embedded (video tracks, batches).
std::vector<IdentifiedFace> identify_faces(const Gallery& gallery, const ModelInfo& model,
                                           const std::vector<FaceEmbedding>& faces, const IdentifyOptions& options);

// The threshold to use. The gallery's own threshold is its "threshold" setting, else
// `fallback` (the rule's default). A per-call value may only make the decision stricter: a
// looser one is clamped to the gallery's unless `allow_looser` (an explicit choice of the user,
// never a client's default: DeepStack's min_confidence, a CLI --threshold, a Python threshold).
// A per-call value with `allow_looser` is returned as given, without reading the gallery.
// identify_image and identify_faces call it; one-to-one comparisons (verify) call it themselves.
float resolve_threshold(const Gallery& gallery, std::optional<float> per_call, float fallback,
                        bool allow_looser = false);

// The gallery's own threshold: its "threshold" setting, else `fallback`.
float gallery_threshold(const Gallery& gallery, float fallback);

// The rule resolve_threshold applies, for callers that hold `own` already (the CLI and Python
// warn when it replaced a request): `requested` when given and stricter than `own`, or when
// `allow_looser`; else `own`. Thread safety: a pure function.
float decision_threshold(std::optional<float> requested, float own, bool allow_looser);

// The recognizer to open for `gallery`: `per_call` if given, else the one its faces were made
// with (recognizer_of), else `fallback` (an empty gallery, or a model this build does not know).
Recognizer resolve_recognizer(const Gallery& gallery, std::optional<Recognizer> per_call, Recognizer fallback);

struct QualityGate {
  float min_face_px = 40.0F;    // shorter box side
  float min_sharpness = 15.0F;  // variance of the Laplacian of the normalised face
  float max_abs_yaw = 0.6F;     // 0 frontal .. 1 full profile
};

enum class EnrollStatus { kEnrolled, kDuplicate, kSkipped, kFailed };
inline constexpr const char* kNoFaceFound = "no face found";  // EnrollResult::reason of that skip
const char* to_string(EnrollStatus status);

struct EnrollResult {
  std::string source_path;
  EnrollStatus status = EnrollStatus::kFailed;
  std::string reason;   // why skipped, failed or a duplicate, in words; empty when enrolled
  // The same, machine-readable (what enroll's summary groups by): kSkipped "no_face",
  // "several_faces", "face_too_small", "face_too_blurry", "head_turned"; kDuplicate
  // "already_enrolled" (this person has this photo's face) or "enrolled_as_another_person";
  // kFailed the error's code (to_string(ErrorCode): "invalid_image", "io_error", ...).
  std::string reason_code;
  std::string face_id;  // when enrolled or duplicate
  // kDuplicate: the person the gallery holds the face under (a photo's face is stored once, under
  // one person: after `rename person01 Ada`, enrolling person01's photos again names "Ada" here).
  std::string stored_person;
  std::optional<GalleryFace> face;  // the record to store (prepare_enrollment), before adding
};

struct EnrollOptions {
  bool take_largest = false;  // several faces: take the largest instead of skipping
  QualityGate gate;
  DecodeOptions decode;
  PipelineOptions pipeline;
};

// Reads, checks and embeds one enrolment photo without touching the gallery: exactly one face
// (or the largest with take_largest) that passes the quality gate. Returns kSkipped with a
// reason for no face / several faces / failed gate, kFailed for unreadable files.
// Thread safety: safe to call concurrently.
EnrollResult prepare_enrollment(const Engine& engine, const std::string& person, const std::string& path,
                                const EnrollOptions& options);
// The one enrolment path: the same for encoded bytes (an HTTP upload); `source` is stored as
// the face's source path. Throws Error for undecodable or oversized data (prepare_enrollment
// turns that into kFailed) and returns kSkipped as above.
EnrollResult prepare_enrollment_bytes(const Engine& engine, const std::string& person,
                                      std::span<const std::uint8_t> bytes, const std::string& source,
                                      const EnrollOptions& options);

// A small JPEG of one face for lists and pages: the box enlarged by a third around its centre,
// clipped to the image, scaled so its longer side is at most `size` px (quality 85). Empty
// when the box lies outside the image.
std::vector<std::uint8_t> make_face_thumbnail(const Image& image, const Face& face, int size = 112);

// 0..1 from the face's measures: size (full at 112 px), sharpness (full at 100) and how
// frontal it is, multiplied. For ranking unknown faces; the gate decides what is kept.
float unknown_face_quality(const FaceQuality& quality);

// "" when `face` passes `gate`, else why not ("face too small (30 px < 40)").
std::string quality_gate_failure(const Face& face, const QualityGate& gate);

struct KeptUnknown {
  std::size_t kept = 0;
  std::size_t duplicates = 0;    // the same face already kept from this source key
  std::size_t low_quality = 0;   // failed the gate
};

// Records the faces of `faces` that were not named (decision.known false) in the gallery's
// unknown faces (Gallery::add_unknown), with a thumbnail cut from `image`, when they pass the
// gate. `source` is stored as the face's source; `source_key` groups faces for de-duplication
// (a photo's SHA-256, a video track); `image_sha256` is the photo's (empty: the thumbnail's).
// The caller decides whether keeping is allowed (Gallery::unknown_policy, a CLI flag).
KeptUnknown keep_unknown_faces(Gallery& gallery, const ModelInfo& model, const Image& image,
                               const std::vector<IdentifiedFace>& faces, const std::string& source,
                               const std::string& source_key, const std::string& image_sha256,
                               const QualityGate& gate = {});

// Stores the prepared results of one batch in one transaction and fills in status/face_id
// (faces the gallery already holds, under any person, become kDuplicate with stored_person and
// a reason: Gallery::add_faces).
void commit_enrollments(Gallery& gallery, std::vector<EnrollResult>& batch);

}  // namespace siamface
