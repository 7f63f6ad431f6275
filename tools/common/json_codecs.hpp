// The JSON shapes of the library's result types, shared by the CLI's output lines and the
// server's native API, so that both print a face the same way (docs/http-api.md).
// Thread safety: stateless functions, safe to call concurrently.
#pragma once

#include <nlohmann/json.hpp>

#include "siamface/analysis.hpp"
#include "siamface/types.hpp"

namespace siamface::tools {

nlohmann::json to_json(const Box& box);  // {"left","top","width","height"}
// {"box","score","quality"}, and the 68 "landmarks" as [x, y] pairs when asked.
nlohmann::json to_json(const Face& face, bool with_landmarks = true);
nlohmann::json to_json(const Embedding& embedding);  // an array of numbers
// {"value": "live"|"spoof","score","threshold"}: FaceAnalysis's and the liveness gate's (identify).
nlohmann::json to_json(const LivenessEstimate& liveness);
// A face's analysis: to_json(face) (landmarks when asked) plus the attributes computed:
// "age" (whole years), "gender" {"value","probability"}, "expression" {"value","scores":
// {class: probability}}, "liveness" {"value": "live"|"spoof","score","threshold"},
// "pose" {"pitch","roll","yaw"} (degrees), and "too_small": true when the face was too small
// for the attribute nets. An attribute not computed is absent.
nlohmann::json to_json(const FaceAnalysis& analysis, bool with_landmarks = false);

}  // namespace siamface::tools
