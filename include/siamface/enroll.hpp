// Enrolment, the one-shot flow's first half: a photo's one face (or the largest), through the
// quality gate, embedded, then stored in one gallery transaction per batch.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "siamface/engine.hpp"
#include "siamface/gallery.hpp"
#include "siamface/image.hpp"

namespace siamface {

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

// "" when `face` passes `gate`, else why not ("face too small (30 px < 40)").
std::string quality_gate_failure(const Face& face, const QualityGate& gate);

// Stores the prepared results of one batch in one transaction and fills in status/face_id
// (faces the gallery already holds, under any person, become kDuplicate with stored_person and
// a reason: Gallery::add_faces).
void commit_enrollments(Gallery& gallery, std::vector<EnrollResult>& batch);

}  // namespace siamface
