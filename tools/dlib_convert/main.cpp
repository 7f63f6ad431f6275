// siamface-dlib-convert: converts dlib's float recognition weights
// (dlib_face_recognition_resnet_model_v1.dat, installed by scripts/setup.sh from PyPI
// face_recognition_models) into face-api's layout beside the other models, for
// `--dlib-weights float` (ModelOptions::dlib_weights). scripts/setup.sh runs it with --if-needed.
#include <CLI/CLI.hpp>

#include <iostream>

#include "dlib_convert.hpp"
#include "model/model_files.hpp"
#include "siamface/engine.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  using namespace siamface;
  CLI::App app{"Converts dlib's float face recognition ResNet (" + std::string(kDlibDatFile) +
               ") into face-api's layout for --dlib-weights float"};
  std::string models_dir = default_models_dir();
  std::string dat;
  bool if_needed = false;
  app.add_option("--models", models_dir, "Models directory: the converted files go here (env SIAMFACE_MODELS)")
      ->capture_default_str();
  app.add_option("--dat", dat, "dlib's file (default: MODELS/" + std::string(kDlibDatFile) + ")");
  app.add_flag("--if-needed", if_needed,
               "Do nothing when the converted files are in place, not older than the .dat and intact, or when "
               "there is no .dat");
  CLI11_PARSE(app, argc, argv);

  const fs::path out_dir = models_dir;
  const fs::path dat_path = dat.empty() ? out_dir / kDlibDatFile : fs::path(dat);
  const std::string files = std::string(kFloatRecognitionModel) + "-weights_manifest.json and .bin";
  try {
    if (if_needed) {
      std::error_code ec;
      if (!fs::exists(dat_path, ec)) {
        std::cout << "siamface-dlib-convert: no " << dat_path.string() << ", nothing to convert\n";
        return 0;
      }
      if (!dlib_convert::conversion_needed(dat_path, out_dir, kFloatRecognitionModel)) {
        std::cout << "siamface-dlib-convert: " << (out_dir / files).string() << " up to date\n";
        return 0;
      }
    }
    const auto tensors = dlib_convert::read_dlib_resnet(dat_path);
    dlib_convert::write_face_api_model(tensors, out_dir, kFloatRecognitionModel);
    std::cout << "siamface-dlib-convert: wrote " << tensors.size() << " tensors of " << dat_path.string() << " to "
              << (out_dir / files).string() << '\n';
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "siamface-dlib-convert: " << e.what() << '\n';
    return 2;
  }
}
