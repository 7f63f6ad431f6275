// Identifying the faces of a photo or a video frame against a gallery: search, the threshold
// resolved against the gallery, the decision rule; and keeping the faces nobody was named for.
// Enrolment: siamface/enroll.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "siamface/analysis.hpp"
#include "siamface/decision.hpp"
#include "siamface/engine.hpp"
#include "siamface/enroll.hpp"
#include "siamface/gallery.hpp"
#include "siamface/image.hpp"

namespace siamface {

// The liveness gate (off by default): each face's liveness is judged (analyze_face) before the
// names are decided, and a face judged a spoof is never named (UnknownReason::kSpoof). Its
// measured error rates: docs/analysis.md.
struct LivenessCheck {
  bool enabled = false;
  std::optional<float> threshold;  // unset: default_liveness_threshold()
};

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
  LivenessCheck liveness;

  // The rule that keeps strangers out by default (docs/accuracy.md, "Keeping strangers out").
  static DecisionRule default_decision_rule();
};

struct IdentifiedFace {
  Face face;
  Embedding embedding{};
  Decision decision;
  std::vector<IdentityMatch> top;  // nearest identities, closest first
  std::optional<LivenessEstimate> liveness;  // with IdentifyOptions::liveness.enabled
};

// Identifies every face of `image`, deciding with the threshold IdentifyOptions::threshold
// resolves against `gallery`; with IdentifyOptions::liveness on, judges each face's liveness
// first (identify_faces with liveness below). Throws Error(kModelMismatch) when the gallery holds
// another model's embeddings, Error(kModelMissing) when the liveness model is not installed.
// Thread safety: safe to call concurrently (Engine and Gallery are).
std::vector<IdentifiedFace> identify_image(const Engine& engine, const Gallery& gallery, const Image& image,
                                           const IdentifyOptions& options);

// Same, for faces already detected and embedded (video tracks, batches).
std::vector<IdentifiedFace> identify_faces(const Gallery& gallery, const ModelInfo& model,
                                           const std::vector<FaceEmbedding>& faces, const IdentifyOptions& options);

// Same, behind the liveness gate (whatever IdentifyOptions::liveness says): `liveness[i]` is
// faces[i]'s verdict, nullopt where it could not be judged (a face under kMinAnalysisFacePx).
// A spoof is unknown with reason kSpoof, an unjudged face with kLivenessUnchecked (distance:
// the nearest identity's, `top` as usual); neither claims a name, so a live face of the same
// person in the photo is still named. Throws Error(kInvalidArgument) when the sizes differ.
// (The overload above has no gate: FaceTracker judges liveness per track, over frames.)
std::vector<IdentifiedFace> identify_faces(const Gallery& gallery, const ModelInfo& model,
                                           const std::vector<FaceEmbedding>& faces,
                                           const std::vector<std::optional<LivenessEstimate>>& liveness,
                                           const IdentifyOptions& options);

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

// 0..1 from the face's measures: size (full at 112 px), sharpness (full at 100) and how
// frontal it is, multiplied. For ranking unknown faces; the gate decides what is kept.
float unknown_face_quality(const FaceQuality& quality);

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

}  // namespace siamface
