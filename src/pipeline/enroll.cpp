#include "siamface/enroll.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <utility>

#include "image/cv_image.hpp"
#include "pipeline/subject_choice.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"
#include "util/sha256.hpp"

namespace siamface {

const char* to_string(EnrollStatus status) {
  switch (status) {
    case EnrollStatus::kEnrolled: return "enrolled";
    case EnrollStatus::kDuplicate: return "duplicate";
    case EnrollStatus::kSkipped: return "skipped";
    case EnrollStatus::kFailed: return "failed";
  }
  return "failed";
}

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::kIo, "cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

}  // namespace

namespace {

// The quality gate's verdict: {reason code, reason in words}; both empty when the face passes.
std::pair<std::string, std::string> quality_gate_check(const Face& face, const QualityGate& gate) {
  std::ostringstream reason;
  const FaceQuality& q = face.quality;
  std::string code;
  if (q.face_size_px < gate.min_face_px) {
    code = "face_too_small";
    reason << "face too small (" << std::lround(q.face_size_px) << " px < " << gate.min_face_px << ")";
  } else if (q.sharpness < gate.min_sharpness) {
    code = "face_too_blurry";
    reason << "face too blurry (sharpness " << std::lround(q.sharpness) << " < " << gate.min_sharpness << ")";
  } else if (std::abs(q.yaw) > gate.max_abs_yaw) {
    code = "head_turned";
    reason << "head turned too far (yaw " << q.yaw << ", limit " << gate.max_abs_yaw << ")";
  }
  return {code, reason.str()};
}

}  // namespace

std::string quality_gate_failure(const Face& face, const QualityGate& gate) {
  return quality_gate_check(face, gate).second;
}

std::vector<std::uint8_t> make_face_thumbnail(const Image& image, const Face& face, int size) {
  const cv::Mat mat = as_mat(image);
  if (mat.empty()) return {};
  const Box& b = face.box;
  const float side = std::max(b.width, b.height) * 4.0F / 3.0F;
  const float cx = b.left + b.width / 2, cy = b.top + b.height / 2;
  const cv::Rect wanted(static_cast<int>(std::lround(cx - side / 2)), static_cast<int>(std::lround(cy - side / 2)),
                        static_cast<int>(std::lround(side)), static_cast<int>(std::lround(side)));
  const cv::Rect rect = wanted & cv::Rect(0, 0, mat.cols, mat.rows);
  if (rect.width < 2 || rect.height < 2) return {};
  cv::Mat crop = mat(rect);
  const double scale = static_cast<double>(size) / std::max(rect.width, rect.height);
  cv::Mat small;
  if (scale < 1.0) {
    cv::resize(crop, small, {}, scale, scale, cv::INTER_AREA);
  } else {
    small = crop;
  }
  std::vector<std::uint8_t> jpeg;
  cv::imencode(".jpg", small, jpeg, {cv::IMWRITE_JPEG_QUALITY, 85});
  return jpeg;
}

EnrollResult prepare_enrollment(const Engine& engine, const std::string& person, const std::string& path,
                                const EnrollOptions& options) {
  try {
    const std::string bytes = read_bytes(path);
    const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
    return prepare_enrollment_bytes(engine, person, {data, bytes.size()}, path, options);
  } catch (const Error& e) {
    EnrollResult result;
    result.source_path = path;
    result.status = EnrollStatus::kFailed;
    result.reason = e.what();
    result.reason_code = to_string(e.code());
    return result;
  }
}

EnrollResult prepare_enrollment_bytes(const Engine& engine, const std::string& person,
                                      std::span<const std::uint8_t> bytes, const std::string& source,
                                      const EnrollOptions& options) {
  EnrollResult result;
  result.source_path = source;
  {
    const Image image = decode_image(bytes, options.decode);
    const std::vector<Face> faces = engine.detect(image, options.pipeline);
    if (faces.empty()) {
      result.status = EnrollStatus::kSkipped;
      result.reason = kNoFaceFound;
      result.reason_code = "no_face";
      return result;
    }
    const std::vector<int> candidates = engine.subject_candidates(image, faces, options.pipeline);
    if (candidates.size() > 1 && !options.take_largest) {
      result.status = EnrollStatus::kSkipped;
      result.reason = std::to_string(candidates.size()) + " faces found (EnrollOptions::take_largest takes the largest)";
      result.reason_code = "several_faces";
      return result;
    }
    // choose_subject's choice without asking the SSD a second time.
    const Face& face =
        faces[static_cast<std::size_t>(choose_among(faces, candidates, image.width, image.height, FaceChoice::kLargest))];
    if (auto [code, failure] = quality_gate_check(face, options.gate); !failure.empty()) {
      result.status = EnrollStatus::kSkipped;
      result.reason = std::move(failure);
      result.reason_code = std::move(code);
      return result;
    }
    GalleryFace record;
    record.person = person;
    record.source_path = source;
    record.image_sha256 = sha256_hex(bytes);
    record.face = face;
    record.embedding = engine.embed(image, face, options.pipeline.chip);
    record.model = engine.model_info();
    record.thumbnail_jpeg = make_face_thumbnail(image, face);
    result.face = std::move(record);
    result.status = EnrollStatus::kEnrolled;  // provisional until committed
  }
  return result;
}

void commit_enrollments(Gallery& gallery, std::vector<EnrollResult>& batch) {
  std::vector<GalleryFace> faces;
  std::vector<std::size_t> owners;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].status != EnrollStatus::kEnrolled || !batch[i].face) continue;
    faces.push_back(*batch[i].face);
    owners.push_back(i);
  }
  if (faces.empty()) return;
  const std::vector<AddOutcome> outcomes = gallery.add_faces(faces);
  for (std::size_t j = 0; j < outcomes.size(); ++j) {
    EnrollResult& result = batch[owners[j]];
    result.face_id = outcomes[j].face_id;
    if (outcomes[j].status == AddStatus::kDuplicate) {
      // A photo's face is stored once, under one person: the name it has may not be this one
      // (the person was renamed, or the photo sits in two people's folders).
      result.status = EnrollStatus::kDuplicate;
      result.stored_person = outcomes[j].person;
      if (result.stored_person == faces[j].person) {
        result.reason = "already enrolled (same image SHA-256)";
        result.reason_code = "already_enrolled";
      } else {
        result.reason = "already enrolled as " + result.stored_person + " (the same face of the same photo)";
        result.reason_code = "enrolled_as_another_person";
      }
    }
  }
}

}  // namespace siamface
