// siamface serve: the HTTP service (native, DeepStack and CompreFace APIs).
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <thread>

#include "cli_common.hpp"
#include "common/mqtt_publisher.hpp"
#include "commands.hpp"
#include "server/server.hpp"

namespace siamface::cli {
namespace {

constexpr const char* kApiKeyVariable = "SIAMFACE_API_KEY";

struct ServeArgs {
  server::ServerOptions options;
  std::string api_key_file;
  std::string mqtt;             // docs/mqtt.md
  std::string camera = "api";   // the camera name of HTTP recognitions in MQTT topics
  EngineFlags engine;
  GalleryFlags gallery;
};

// The key's first line from --api-key-file, which other users must not be able to read.
std::string read_api_key_file(const std::string& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) throw Error(ErrorCode::kIo, "cannot read --api-key-file " + file);
  if ((info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    throw Error(ErrorCode::kInvalidArgument, "--api-key-file " + file + " has mode " + mode +
                                                 ": other users may read or change it (chmod 600 " + file + ")");
  }
  std::ifstream in(file);
  if (!in) throw Error(ErrorCode::kIo, "cannot read --api-key-file " + file);
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) throw Error(ErrorCode::kInvalidArgument, "--api-key-file " + file + " is empty");
  return key;
}

int run_serve(ServeArgs& args) {
  server::ServerOptions options = args.options;
  // The key: --api-key (main() blanks it in the process's command line, but it was visible
  // until then, and stays in shell history), else --api-key-file, else $SIAMFACE_API_KEY.
  if (!options.api_key.empty()) {
    std::cerr << "siamface serve: warning: a key given with --api-key can be read by other users (ps, "
                 "/proc) while the server starts, and stays in shell history; prefer "
              << kApiKeyVariable << " or --api-key-file (mode 0600)\n";
  } else if (!args.api_key_file.empty()) {
    options.api_key = read_api_key_file(args.api_key_file);
  } else if (const char* env = std::getenv(kApiKeyVariable); env && *env) {
    options.api_key = env;
    std::cerr << "siamface serve: API key from " << kApiKeyVariable << '\n';
  }
  options.models = args.engine.model_options();
  options.pipeline = args.engine.pipeline_options();  // --upsample, --border-pass, ... apply to every request
  options.recognizer = args.engine.chosen_recognizer();
  options.dlib_weights = args.engine.chosen_dlib_weights();
  options.max_pixels = args.engine.max_pixels;
  options.gallery_path = args.gallery.resolved_path();
  options.gallery_busy_timeout_ms = args.gallery.busy_timeout_ms;
  std::unique_ptr<tools::MqttPublisher> mqtt;  // outlives the server, which may call it until it stops
  if (!args.mqtt.empty()) {
    mqtt = std::make_unique<tools::MqttPublisher>(tools::parse_mqtt_url(args.mqtt), [](const std::string& message) {
      std::cerr << "siamface: " << message << std::endl;
    });
    options.on_identified = [publisher = mqtt.get(), camera = args.camera](const std::vector<IdentifiedFace>& faces) {
      nlohmann::json list = nlohmann::json::array();
      for (const IdentifiedFace& face : faces) {
        list.push_back({{"name", face.decision.person}, {"known", face.decision.known},
                        {"distance", face.decision.distance}, {"box", to_json(face.face.box)},
                        {"score", face.face.score}});
      }
      publisher->publish_recognition(camera, list);
    };
  }
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
  auto* key = command->add_option("--api-key", o.api_key,
                                  "Require this key (native: x-api-key or Bearer; DeepStack: api_key field; "
                                  "CompreFace: x-api-key). Other users can see it in ps while the server "
                                  "starts: prefer --api-key-file or $" + std::string(kApiKeyVariable));
  command->add_option("--api-key-file", args->api_key_file,
                      "Read the key from the first line of this file (readable by its owner only: mode 0600 or "
                      "0400); without either option, $" + std::string(kApiKeyVariable) + " when set")
      ->check(CLI::ExistingFile)->excludes(key);
  command->add_option("--workers", o.workers, "Requests that run the networks at once")->check(CLI::Range(1, 1024))
      ->capture_default_str();
  command->add_option("--queue", o.queue_limit, "More such requests wait in line; beyond that: 503 with Retry-After")
      ->check(CLI::Range(0, 100000))->capture_default_str();
  command->add_option("--connections", o.connection_threads, "Connections served at once (kept alive)")
      ->check(CLI::Range(1, 4096))->capture_default_str();
  command->add_option("--keep-alive-requests", o.keep_alive_requests, "Requests per connection (1: no keep-alive)")
      ->check(CLI::Range(1, 1000000))->capture_default_str();
  command->add_option("--keep-alive-timeout-s", o.keep_alive_timeout_s, "An idle connection is closed after this")
      ->check(CLI::Range(1, 300))->capture_default_str();
  command->add_option("--max-body-bytes", o.max_body_bytes, "Larger request bodies get 413")
      ->check(CLI::PositiveNumber)->capture_default_str();
  command->add_flag("--allow-looser-thresholds", o.allow_looser_thresholds,
                    "Let request parameters loosen the gallery's threshold (DeepStack min_confidence, native "
                    "threshold), and CompreFace's recognize list the nearest subjects of unknown faces too");
  command->add_flag("--liveness", o.liveness,
                    "Check liveness on every recognize route unless a request sends liveness=false: a face judged "
                    "a spoof is never named (error rates: docs/analysis.md)");
  command->add_option("--liveness-threshold", o.liveness_threshold,
                      "Liveness score at and above which a face is live (default: the library's)")
      ->check(CLI::Range(0.0F, 1.0F));
  command->add_option("--max-faces", o.max_faces, "Faces per image (highest scores; 0: no limit)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  command->add_option("--request-timeout-s", o.request_timeout_s, "Read/write timeout per request")
      ->check(CLI::Range(1, 3600))->capture_default_str();
  command->add_option("--mqtt", args->mqtt, "Publish recognitions to MQTT: mqtt://[user:pass@]host[:port]/prefix "
                                           "(docs/mqtt.md)");
  command->add_option("--camera", args->camera, "The camera name of HTTP recognitions in MQTT topics")
      ->capture_default_str();
  args->engine.add_to(*command);
  args->engine.add_enhance_to(*command);
  args->gallery.add_to(*command);
  set_runner(*command, [args] { return run_serve(*args); }, exit_code);
}

}  // namespace siamface::cli
