// siamface models: every model siamface can load, its files, licence and origin, and whether it
// is installed and intact (the same SHA-256 check Engine::open runs).
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "cli_terms.hpp"
#include "model/inference_backend.hpp"
#include "model/model_files.hpp"

namespace siamface::cli {
namespace {

struct ModelsArgs {
  std::string models_dir = default_models_dir();
  bool json = false;
};

// "ok", "missing" or "changed (sha256 ...)" for one installed file.
std::string file_state(const std::filesystem::path& dir, const std::string& file) {
  try {
    verify_model_file(dir, file, /*check_sha256=*/true);
    return "ok";
  } catch (const Error& e) {
    return e.code() == ErrorCode::kModelMissing ? "missing" : "changed";
  }
}

int run_models(const ModelsArgs& args) {
  for (const ModelRecord& model : model_catalogue()) {
    nlohmann::json files = nlohmann::json::object();
    std::istringstream names(model.files);
    for (std::string name; names >> name;) files[name] = file_state(args.models_dir, name);
    if (args.json) {
      std::cout << nlohmann::json{{"role", in_cli_terms(model.role)}, {"files", files}, {"package", model.package},
                                  {"licence", model.licence}, {"origin", model.origin}}
                       .dump()
                << '\n';
    } else {
      std::cout << in_cli_terms(model.role) << "\n  package: " << model.package << "\n  licence: " << model.licence
                << "\n  origin:  " << model.origin << "\n  files:   ";
      for (const auto& [name, state] : files.items()) std::cout << name << " (" << state.get<std::string>() << ") ";
      std::cout << "\n";
    }
  }
  if (!args.json) {
    std::cout << "models directory: " << args.models_dir << "\n";
    // The engine every network runs on (docs/architecture.md, "Models").
    const InferenceBackend backend = resolve_inference_backend(InferenceBackend::kAuto);
    const char* engine = backend == InferenceBackend::kOpenCv       ? "OpenCV DNN"
                         : backend == InferenceBackend::kOneDnnBf16 ? "oneDNN, the ResNet and the SSD in bf16"
                                                                      : "oneDNN";
    std::cout << "networks run on: " << engine << " (SIAMFACE_RECOGNITION_BACKEND=opencv|onednn|onednn-bf16 chooses)\n";
  }
  return kExitOk;
}

}  // namespace

void add_models_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ModelsArgs>();
  CLI::App* command = app.add_subcommand("models", "List the models: files, licence, origin, installed or not");
  command->add_option("--models", args->models_dir, "Models directory (env SIAMFACE_MODELS)")->capture_default_str();
  command->add_flag("--json", args->json, "One JSON line per model");
  set_runner(*command, [args] { return run_models(*args); }, exit_code);
}

}  // namespace siamface::cli
