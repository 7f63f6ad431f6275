#include "siamface/identify.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "pipeline/fused_embedding.hpp"
#include "siamface/errors.hpp"
#include "util/sha256.hpp"

namespace siamface {

// identify_faces, with the liveness gate when `liveness` is given (one entry per face).
static std::vector<IdentifiedFace> decide_faces(const Gallery& gallery, const ModelInfo& model,
                                                const std::vector<FaceEmbedding>& faces,
                                                const std::vector<std::optional<LivenessEstimate>>* liveness,
                                                const IdentifyOptions& options);

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
  return decide_faces(gallery, model, faces, nullptr, options);
}

std::vector<IdentifiedFace> identify_faces(const Gallery& gallery, const ModelInfo& model,
                                           const std::vector<FaceEmbedding>& faces,
                                           const std::vector<std::optional<LivenessEstimate>>& liveness,
                                           const IdentifyOptions& options) {
  if (liveness.size() != faces.size()) {
    throw Error(ErrorCode::kInvalidArgument, "identify_faces: " + std::to_string(liveness.size()) +
                                                 " liveness estimates for " + std::to_string(faces.size()) + " faces");
  }
  return decide_faces(gallery, model, faces, &liveness, options);
}

namespace {

// Why the liveness gate keeps face `i` unnamed; kNone when it passes (or there is no gate).
UnknownReason gate_reason(const std::vector<std::optional<LivenessEstimate>>* liveness, std::size_t i) {
  if (liveness == nullptr) return UnknownReason::kNone;
  const std::optional<LivenessEstimate>& estimate = (*liveness)[i];
  if (!estimate) return UnknownReason::kLivenessUnchecked;
  return estimate->verdict == LivenessVerdict::kSpoof ? UnknownReason::kSpoof : UnknownReason::kNone;
}

}  // namespace

static std::vector<IdentifiedFace> decide_faces(const Gallery& gallery, const ModelInfo& model,
                                                const std::vector<FaceEmbedding>& faces,
                                                const std::vector<std::optional<LivenessEstimate>>* liveness,
                                                const IdentifyOptions& options) {
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
  // A face the gate stops claims no name: with no candidates it cannot take one from a live
  // face of the photo.
  std::vector<float> gated_nearest(faces.size(), std::numeric_limits<float>::infinity());
  for (std::size_t i = 0; i < faces.size(); ++i) {
    if (gate_reason(liveness, i) == UnknownReason::kNone) continue;
    if (!candidates[i].empty()) gated_nearest[i] = candidates[i].front().distance;
    candidates[i].clear();
  }
  std::vector<Decision> decisions = decide_names(candidates, qualities, rule);

  std::vector<IdentifiedFace> out(faces.size());
  for (std::size_t i = 0; i < faces.size(); ++i) {
    out[i].face = faces[i].face;
    out[i].embedding = faces[i].embedding;
    out[i].decision = decisions[i];
    if (const UnknownReason why = gate_reason(liveness, i); why != UnknownReason::kNone) {
      out[i].decision.reason = why;
      out[i].decision.distance = gated_nearest[i];
    }
    if (liveness != nullptr) out[i].liveness = (*liveness)[i];
    out[i].top.assign(matches[i].begin(), matches[i].begin() + std::min(matches[i].size(), options.top_k));
  }
  return out;
}

std::vector<IdentifiedFace> identify_image(const Engine& engine, const Gallery& gallery, const Image& image,
                                           const IdentifyOptions& options) {
  const std::vector<FaceEmbedding> faces = engine.analyze(image, options.pipeline);
  if (!options.liveness.enabled) return identify_faces(gallery, engine.model_info(), faces, options);
  AnalyzeOptions analyze;
  analyze.attributes.liveness = true;
  analyze.pipeline = options.pipeline;
  analyze.liveness_threshold = options.liveness.threshold;
  std::vector<Face> detected;
  detected.reserve(faces.size());
  for (const FaceEmbedding& face : faces) detected.push_back(face.face);
  std::vector<std::optional<LivenessEstimate>> liveness;
  liveness.reserve(faces.size());
  for (const FaceAnalysis& analysis : analyze_faces(engine, image, detected, analyze)) liveness.push_back(analysis.liveness);
  return identify_faces(gallery, engine.model_info(), faces, liveness, options);
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

}  // namespace siamface
