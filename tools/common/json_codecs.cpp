#include "common/json_codecs.hpp"

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

nlohmann::json to_json(const Embedding& embedding) {
  return nlohmann::json(std::vector<float>(embedding.begin(), embedding.end()));
}

}  // namespace siamface::tools
