// siamface serve: the HTTP service (native, DeepStack and CompreFace APIs).
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "cli_common.hpp"
#include "commands.hpp"
#include "server/server.hpp"

namespace siamface::cli {
namespace {

struct ServeArgs {
  server::ServerOptions options;
  std::string api_key_file;
  EngineFlags engine;
  GalleryFlags gallery;
};

int run_serve(ServeArgs& args) {
  server::ServerOptions options = args.options;
  if (!args.api_key_file.empty()) {
    std::ifstream in(args.api_key_file);
    if (!in) throw Error(ErrorCode::kIo, "cannot read --api-key-file " + args.api_key_file);
    std::getline(in, options.api_key);
    while (!options.api_key.empty() && (options.api_key.back() == '\r' || options.api_key.back() == ' ')) {
      options.api_key.pop_back();
    }
    if (options.api_key.empty()) throw Error(ErrorCode::kInvalidArgument, "--api-key-file " + args.api_key_file + " is empty");
  }
  options.models = args.engine.model_options();
  options.pipeline = args.engine.pipeline_options();  // --upsample, --border-pass, ... apply to every request
  options.recognizer = args.engine.chosen_recognizer();
  options.max_pixels = args.engine.max_pixels;
  options.gallery_path = args.gallery.resolved_path();
  options.gallery_busy_timeout_ms = args.gallery.busy_timeout_ms;
  return server::run_server(options);
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ServeArgs>();
  args->options.workers = static_cast<int>(std::max(4U, std::thread::hardware_concurrency()));
  server::ServerOptions& o = args->options;
  CLI::App* command = app.add_subcommand("serve", "HTTP service: native /v1 API, DeepStack and CompreFace face APIs");
  command->add_option("--host", o.host, "Address to bind")->capture_default_str();
  command->add_option("--port", o.port, "Port (0: any free port; see the 'listening' line)")
      ->check(CLI::Range(0, 65535))->capture_default_str();
  auto* key = command->add_option("--api-key", o.api_key, "Require this key (native: x-api-key or Bearer; "
                                                          "DeepStack: api_key field; CompreFace: x-api-key)");
  command->add_option("--api-key-file", args->api_key_file, "Read the key from the first line of this file")
      ->check(CLI::ExistingFile)->excludes(key);
  command->add_option("--workers", o.workers, "Requests handled in parallel")->check(CLI::Range(1, 1024))
      ->capture_default_str();
  command->add_option("--max-body-bytes", o.max_body_bytes, "Larger request bodies get 413")
      ->check(CLI::PositiveNumber)->capture_default_str();
  command->add_option("--max-faces", o.max_faces, "Faces per image (highest scores; 0: no limit)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  command->add_option("--request-timeout-s", o.request_timeout_s, "Read/write timeout per request")
      ->check(CLI::Range(1, 3600))->capture_default_str();
  args->engine.add_to(*command);
  args->engine.add_enhance_to(*command);
  args->gallery.add_to(*command);
  set_runner(*command, [args] { return run_serve(*args); }, exit_code);
}

}  // namespace siamface::cli
