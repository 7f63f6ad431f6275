// ModelInfo on its own, so the gallery (below the engine) can name a model without engine.hpp.
#pragma once

#include <string>

namespace siamface {

// Identifies the weights that produced an embedding; galleries refuse to mix them.
struct ModelInfo {
  std::string name;            // "dlib_face_recognition_resnet_model_v1 (face-api port)"
  std::string version;         // "@vladmandic/face-api@1.7.15"
  std::string weights_sha256;  // of the recognition weights file
};

}  // namespace siamface
