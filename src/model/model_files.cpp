#include "model/model_files.hpp"

#include <map>

#include "siamface/errors.hpp"
#include "util/sha256.hpp"

namespace siamface {
namespace {

const std::map<std::string, std::string>& pinned_checksums() {
  // From @vladmandic/face-api@1.7.15 (npm integrity sha512-WDMmK3Cf...), faceplugin (below) and Debian
  // opencv-data 4.6 for the Haar cascade.
  static const std::map<std::string, std::string> kChecksums = {
      {"face_recognition_model-weights_manifest.json", "cbaffa501b0b9275a12b63357a6843e7e30c054e1c9151e1a5f879b26e32986b"},
      {"face_recognition_model.bin", "b413e420d6840b2775fba32008db6f3cddb07d485967fb42cfcf379c16a8c589"},
      {"ssd_mobilenetv1_model-weights_manifest.json", "888f744dffbc84f5f060d1f8427d9742341943a2dfaaf9205d10029b7e7a2955"},
      {"ssd_mobilenetv1_model.bin", "2835640602d53718aa6ae9a42896327eaa21beefed056c218d32ca7d79e1e2f8"},
      {"tiny_face_detector_model-weights_manifest.json", "5d1af4849ac48d5b985f4a9b16010c512353ddd6fcc63d50fd0bc9e9e64296e5"},
      {"tiny_face_detector_model.bin", "b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871"},
      {"face_landmark_68_model-weights_manifest.json", "ca4886639f86e99b39fed0c155f81b63317225773bd9616716e887b0153389c9"},
      {"face_landmark_68_model.bin", "4611ef65c87d836d03d684b30eec4d195d8b219fa1dd58fc58945831c6b9299b"},
      {"face_landmark_68_tiny_model-weights_manifest.json", "9a1a5dd19fd814fd5095c3cb58f8e0d3193b8c5b9a6715b30a69d559aea31ad4"},
      {"face_landmark_68_tiny_model.bin", "b98e9f2f7da76f8a6dda9741a36ed485b224b889d552de2b2c1bb16217f67bfc"},
      {"haarcascade_frontalface_default.xml", "0f7d4527844eb514d4a4948e822da90fbb16a34a0bbbbc6adc6498747a5aafb0"},
      // faceplugin-face-recognition-js@0.0.1 (npm integrity sha512-shriXjd4...), model/fr_feature.onnx.
      {"faceplugin_fr_feature.onnx", "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"},
      // The same package, model/fr_detect.onnx.
      {"faceplugin_fr_detect.onnx", "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"},
      // The same package, model/fr_liveness.onnx (face analysis: liveness).
      {"faceplugin_fr_liveness.onnx", "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d"},
      // @vladmandic/face-api@1.7.15: the face analysis nets (age/gender, expression).
      {"age_gender_model-weights_manifest.json", "74b60bf3ebf981bf4e661e9cca3a185614e10b25d797118b62e2a68d3ff2569f"},
      {"age_gender_model.bin", "49f92bbc0afef2342c4385e4a2b0acb6d7a727c6f0aa539499719a81acf9abaa"},
      {"face_expression_model-weights_manifest.json", "5b349c17c7836da506e03422cd6461c74085d8bb2713ad4114647dc5d28174c8"},
      {"face_expression_model.bin", "9a9840f2cf1f4c7eab95f197512569345c00d2426754d4608b92af30e0300f3d"},
      // PyPI face_recognition_models==0.3.0, models/dlib_face_recognition_resnet_model_v1.dat.
      {"dlib_face_recognition_resnet_model_v1.dat", "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"},
      // siamface-dlib-convert's output for that file (tools/dlib_convert/; deterministic bytes).
      {"dlib_float_recognition_model-weights_manifest.json", "26d5cf7339539c3ad519c12bf18168be5c80d9d29bfb28614903c9185129634a"},
      {"dlib_float_recognition_model.bin", "7f2446e5f5d75262e6d686a4ecc456b86def0b2dd51d10c1d0d5bfb8f5659afd"},
  };
  return kChecksums;
}

}  // namespace

const std::vector<ModelRecord>& model_catalogue() {
  static const std::vector<ModelRecord> kModels = {
      {"recognizer dlib (128-d)", "face_recognition_model.bin face_recognition_model-weights_manifest.json",
       "npm @vladmandic/face-api@1.7.15", "MIT (package); dlib's model: public domain (CC0)",
       "dlib_face_recognition_resnet_model_v1 by Davis King, trained on about 3 million faces (FaceScrub, "
       "the VGG face dataset and web images), ported to TF.js and quantised to 8 bits by face-api"},
      {"recognizer dlib, float weights (ModelOptions::dlib_weights float)",
       "dlib_float_recognition_model.bin dlib_float_recognition_model-weights_manifest.json",
       "made by scripts/setup.sh (build/siamface-dlib-convert) from the .dat below",
       "public domain (CC0 1.0), as dlib's model",
       "dlib_face_recognition_resnet_model_v1 with dlib's own float32 weights in face-api's layout (the stem "
       "scaled by 255/256 for dlib's input scale), computing what dlib computes (tests/integration/"
       "dlib_float_weights_test.cpp)"},
      {"dlib's float model file (source of the above)", "dlib_face_recognition_resnet_model_v1.dat",
       "PyPI face_recognition_models==0.3.0 (sha256-pinned; installed by scripts/setup.sh)",
       "CC0 1.0 (the package's LICENSE; dlib-models by Davis King)",
       "dlib_face_recognition_resnet_model_v1 as dlib serialises it, float32, by Davis King (dlib-models), "
       "trained on about 3 million faces"},
      {"recognizer mfn (512-d)", "faceplugin_fr_feature.onnx", "npm faceplugin-face-recognition-js@0.0.1",
       "MIT (package LICENSE, copyright 2021 gitguanqi)",
       "model/fr_feature.onnx, a MobileFaceNet-class network (1.19 M parameters); the package does not say "
       "where its weights or training data come from"},
      {"detector ssd", "ssd_mobilenetv1_model.bin ssd_mobilenetv1_model-weights_manifest.json",
       "npm @vladmandic/face-api@1.7.15", "MIT", "SSD MobileNetV1 face detector trained by face-api.js (WIDER FACE)"},
      {"detector tiny", "tiny_face_detector_model.bin tiny_face_detector_model-weights_manifest.json",
       "npm @vladmandic/face-api@1.7.15", "MIT", "Tiny YOLOv2-style face detector trained by face-api.js"},
      {"landmarks full", "face_landmark_68_model.bin face_landmark_68_model-weights_manifest.json",
       "npm @vladmandic/face-api@1.7.15", "MIT", "68-point landmark net trained by face-api.js (iBUG 300-W order)"},
      {"landmarks tiny", "face_landmark_68_tiny_model.bin face_landmark_68_tiny_model-weights_manifest.json",
       "npm @vladmandic/face-api@1.7.15", "MIT", "smaller 68-point landmark net by face-api.js"},
      {"detector rfb", "faceplugin_fr_detect.onnx", "npm faceplugin-face-recognition-js@0.0.1",
       "MIT (package LICENSE, copyright 2021 gitguanqi)",
       "model/fr_detect.onnx, the Ultra-Light-Fast-Generic-Face-Detector-1MB (version RFB, 320x240 input; "
       "upstream by Linzaer, MIT, trained on WIDER FACE)"},
      {"detector haar", "haarcascade_frontalface_default.xml", "Debian opencv-data 4.6",
       "Intel License Agreement (BSD-style)", "OpenCV's frontal face Haar cascade"},
      {"analysis: age and gender", "age_gender_model.bin age_gender_model-weights_manifest.json",
       "npm @vladmandic/face-api@1.7.15", "MIT",
       "face-api.js AgeGenderNet (TinyXception backbone, age regression and gender softmax heads) trained by "
       "face-api.js on UTK, FGNET, Chalearn, Wiki, IMDB*, CACD*, MegaAge and MegaAge-Asian; published accuracy "
       "(face-api TUTORIAL.md, 20 % test splits): age mean absolute error 4.54 years, gender 95 % (69-88 % under "
       "19 years, worst on young children), age error highest past 60; measured here: docs/analysis.md"},
      {"analysis: expression", "face_expression_model.bin face_expression_model-weights_manifest.json",
       "npm @vladmandic/face-api@1.7.15", "MIT",
       "face-api.js FaceExpressionNet (the 68-point landmark net's feature extractor with a 7-class head: neutral, "
       "happy, sad, angry, fearful, disgusted, surprised), trained by face-api.js on public datasets and web "
       "images; no published accuracy; docs/analysis.md"},
      {"analysis: liveness (anti-spoofing)", "faceplugin_fr_liveness.onnx", "npm faceplugin-face-recognition-js@0.0.1",
       "MIT (package LICENSE, copyright 2021 gitguanqi)",
       "model/fr_liveness.onnx, a 3-class network with MiniFASNet's input and output shape (128x128 RGB, "
       "classes: attack, live, attack); the package claims 'iBeta level 2' liveness in its README but does not "
       "say where its weights or training data come from and publishes no accuracy: provenance unknown; "
       "measured here: docs/analysis.md"},
  };
  return kModels;
}

std::string expected_model_sha256(const std::string& file_name) {
  const auto it = pinned_checksums().find(file_name);
  return it == pinned_checksums().end() ? std::string() : it->second;
}

void verify_model_file(const std::filesystem::path& models_dir, const std::string& file_name,
                       bool check_sha256) {
  const std::filesystem::path path = models_dir / file_name;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw Error(ErrorCode::kModelMissing,
                "model file not found: " + path.string() +
                    " (run scripts/setup.sh to install the models, or set ModelOptions::models_dir / SIAMFACE_MODELS)");
  }
  if (!check_sha256) return;
  const std::string expected = expected_model_sha256(file_name);
  if (expected.empty()) return;
  const std::string actual = sha256_hex_of_file(path);
  if (actual != expected) {
    throw Error(ErrorCode::kModelCorrupt,
                "model file " + path.string() + " fails its checksum (sha256 " + actual + ", expected " +
                    expected + "); it was changed or damaged: rerun scripts/setup.sh --force-models");
  }
}

}  // namespace siamface
