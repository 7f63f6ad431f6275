#include "common/json_codecs.hpp"

#include <cmath>
#include <vector>

namespace siamface::tools {

nlohmann::json to_json(const Box& box) {
  return {{"left", box.left}, {"top", box.top}, {"width", box.width}, {"height", box.height}};
}

nlohmann::json to_json(const Face& face, bool with_landmarks) {
  nlohmann::json out = {{"box", to_json(face.box)}, {"score", face.score}};
  if (with_landmarks) {
    nlohmann::json points = nlohmann::json::array();
    for (const Point& p : face.landmarks) points.push_back({p.x, p.y});
    out["landmarks"] = std::move(points);
  }
  const FaceQuality& q = face.quality;
  out["quality"] = {{"face_size_px", q.face_size_px}, {"brightness", q.brightness}, {"contrast", q.contrast},
                    {"sharpness", q.sharpness},       {"noise", q.noise},           {"yaw", q.yaw},
                    {"grayscale", q.grayscale}};
  return out;
}

nlohmann::json to_json(const LivenessEstimate& liveness) {
  return {{"value", name_of(kLivenessVerdictNames, liveness.verdict)},
          {"score", liveness.score},
          {"threshold", liveness.threshold}};
}

nlohmann::json to_json(const FaceAnalysis& analysis, bool with_landmarks) {
  nlohmann::json out = to_json(analysis.face, with_landmarks);
  if (analysis.too_small) out["too_small"] = true;
  if (analysis.age) out["age"] = static_cast<int>(std::lround(*analysis.age));
  if (analysis.gender) out["gender"] = {{"value", analysis.gender->value}, {"probability", analysis.gender->probability}};
  if (analysis.expression) {
    nlohmann::json scores = nlohmann::json::object();
    for (std::size_t k = 0; k < kExpressionClasses.size(); ++k) scores[kExpressionClasses[k]] = analysis.expression->scores[k];
    out["expression"] = {{"value", analysis.expression->value}, {"scores", std::move(scores)}};
  }
  if (analysis.liveness) out["liveness"] = to_json(*analysis.liveness);
  if (analysis.pose) out["pose"] = {{"pitch", analysis.pose->pitch}, {"roll", analysis.pose->roll}, {"yaw", analysis.pose->yaw}};
  return out;
}

nlohmann::json to_json(const Embedding& embedding) {
  return nlohmann::json(std::vector<float>(embedding.begin(), embedding.end()));
}

}  // namespace siamface::tools
