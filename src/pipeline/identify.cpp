#include "siamface/identify.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include "siamface/errors.hpp"
#include "siamface/image.hpp"
#include "image/cv_image.hpp"
#include "pipeline/fused_embedding.hpp"
#include "pipeline/subject_choice.hpp"
#include "util/sha256.hpp"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace siamface {

// The margin and the quality-adaptive threshold: docs/accuracy.md, "Keeping strangers out"
// (the adaptive threshold cost named people and is off).
DecisionRule IdentifyOptions::default_decision_rule() {
  DecisionRule rule;
  rule.threshold = 0.6F;
  rule.margin = 0.05F;
  // Issue 31 (docs/validation.md, "Open-set decisions"): both networks must agree, and a
  // blurred, upscaled or dark face needs twice the margin.
  rule.poor_quality_margin = 0.10F;
  rule.agreement = 0.92F;
  rule.quality_adaptive = false;
  return rule;
}

float decision_threshold(std::optional<float> requested, float own, bool allow_looser) {
  if (!requested) return own;
  return allow_looser ? *requested : std::min(*requested, own);
}

float resolve_threshold(const Gallery& gallery, std::optional<float> per_call, float fallback, bool allow_looser) {
  if (per_call && allow_looser) return *per_call;
  return decision_threshold(per_call, gallery_threshold(gallery, fallback), allow_looser);
}

float gallery_threshold(const Gallery& gallery, float fallback) {
  if (const auto saved = gallery.setting(kThresholdSetting)) {
    try {
      return parse_distance_threshold(*saved, "gallery setting 'threshold'");
    } catch (const Error& e) {
      throw Error(ErrorCode::kGallery, e.what());
    }
  }
  return fallback;
}

Recognizer resolve_recognizer(const Gallery& gallery, std::optional<Recognizer> per_call, Recognizer fallback) {
  if (per_call) return *per_call;
  if (const auto model = gallery.model()) return recognizer_of(*model).value_or(fallback);
  return fallback;
}

std::vector<IdentifiedFace> identify_faces(const Gallery& gallery, const ModelInfo& model,
                                           const std::vector<FaceEmbedding>& faces, const IdentifyOptions& options) {
  DecisionRule rule = options.rule;
  rule.threshold = resolve_threshold(gallery, options.threshold, options.rule.threshold, options.allow_looser_threshold);
  std::vector<Embedding> queries;
  queries.reserve(faces.size());
  for (const FaceEmbedding& face : faces) queries.push_back(face.embedding);
  // Ask for one more identity than shown, so the margin rule sees the runner-up.
  const std::size_t k = std::max<std::size_t>(options.top_k, 2);
  const auto matches = gallery.search_batch(queries, model, k, options.distance);

  std::vector<std::vector<Candidate>> candidates(faces.size());
  std::vector<FaceQuality> qualities;
  const bool fused = recognizer_of(model) == Recognizer::kFused;
  for (std::size_t i = 0; i < faces.size(); ++i) {
    // Negative examples ("this face is not X") of the candidates: the decision rule's input.
    const auto negatives = matches[i].empty() ? std::vector<std::pair<std::string, float>>{}
                                              : gallery.nearest_negatives(queries[i]);
    for (const IdentityMatch& match : matches[i]) {
      Candidate candidate{match.person, match.distance};
      for (const auto& [person, distance] : negatives) {
        if (person == match.person) candidate.negative_distance = distance;
      }
      // Both networks must agree (DecisionRule::agreement): the MobileFaceNet's own distance to
      // the matched face, read only for candidates that could be named.
      if (fused && rule.agreement > 0 && match.distance < rule.threshold) {
        candidate.second_network_distance = fused_second_network_distance(queries[i], gallery.matched_embedding(match));
      }
      candidates[i].push_back(std::move(candidate));
    }
    qualities.push_back(faces[i].face.quality);
  }
  const std::vector<Decision> decisions = decide_names(candidates, qualities, rule);

  std::vector<IdentifiedFace> out(faces.size());
  for (std::size_t i = 0; i < faces.size(); ++i) {
    out[i].face = faces[i].face;
    out[i].embedding = faces[i].embedding;
    out[i].decision = decisions[i];
    out[i].top.assign(matches[i].begin(), matches[i].begin() + std::min(matches[i].size(), options.top_k));
  }
  return out;
}

std::vector<IdentifiedFace> identify_image(const Engine& engine, const Gallery& gallery, const Image& image,
                                           const IdentifyOptions& options) {
  return identify_faces(gallery, engine.model_info(), engine.analyze(image, options.pipeline), options);
}

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

float unknown_face_quality(const FaceQuality& q) {
  const float size = std::clamp(q.face_size_px / 112.0F, 0.0F, 1.0F);
  const float sharp = std::clamp(q.sharpness / 100.0F, 0.0F, 1.0F);
  const float frontal = std::clamp(1.0F - std::abs(q.yaw), 0.0F, 1.0F);
  return size * sharp * frontal;
}

KeptUnknown keep_unknown_faces(Gallery& gallery, const ModelInfo& model, const Image& image,
                               const std::vector<IdentifiedFace>& faces, const std::string& source,
                               const std::string& source_key, const std::string& image_sha256,
                               const QualityGate& gate) {
  KeptUnknown result;
  for (const IdentifiedFace& f : faces) {
    if (f.decision.known) continue;
    if (!quality_gate_failure(f.face, gate).empty()) {
      ++result.low_quality;
      continue;
    }
    UnknownFace u;
    u.face.source_path = source;
    u.face.face = f.face;
    u.face.embedding = f.embedding;
    u.face.model = model;
    u.face.thumbnail_jpeg = make_face_thumbnail(image, f.face);
    u.face.image_sha256 = image_sha256.empty() ? sha256_hex(u.face.thumbnail_jpeg) : image_sha256;
    u.source_key = source_key;
    u.quality = unknown_face_quality(f.face.quality);
    if (gallery.add_unknown(u) == UnknownAddStatus::kAdded) {
      ++result.kept;
    } else {
      ++result.duplicates;
    }
  }
  return result;
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
