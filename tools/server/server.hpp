// `siamface serve`: the HTTP service (native /v1 API, DeepStack and CompreFace face APIs).
// This directory is the only place that includes httplib.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "siamface/engine.hpp"
#include "siamface/identify.hpp"
#include "siamface/gallery.hpp"
#include "siamface/image.hpp"
#include "server/inference_gate.hpp"
#include "server/web_session.hpp"

namespace siamface::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 5000;  // 0: any free port (the "listening" line says which)
  std::string gallery_path;
  int gallery_busy_timeout_ms = 5000;
  std::string api_key;  // empty: no authentication
  int workers = 4;      // requests that run the networks at once (InferenceGate)
  int queue_limit = 32;  // more of them wait in line; beyond that: 503 with Retry-After
  int connection_threads = 64;  // open connections served at once (each kept alive between requests)
  int keep_alive_requests = 1;  // per connection (1: no keep-alive; measured in docs/speed.md)
  // How long a connection may stay silent: before its first request too, keep-alive or not (2 s
  // dropped requests of clients starved of CPU on a loaded 2-core machine). A stop waits for it.
  int keep_alive_timeout_s = 10;
  std::int64_t max_body_bytes = 10'000'000;
  std::int64_t max_pixels = DecodeOptions{}.max_pixels;
  int max_faces = 0;  // per image; 0: no limit
  int request_timeout_s = 30;
  ModelOptions models;
  // Every request's detection, landmarks and chips (serve's flags); a request may lower
  // min_score and the face limit (pipeline_options).
  PipelineOptions pipeline;
  // nullopt: the gallery's recognizer, else models.recognizer (resolve_recognizer).
  std::optional<Recognizer> recognizer;
  // nullopt: the gallery's dlib weights (dlib_weights_of), else models.dlib_weights.
  std::optional<DlibWeights> dlib_weights;
  // Request parameters (DeepStack min_confidence, the native threshold) may only make a
  // decision stricter than the gallery's threshold, and CompreFace's recognize lists only the
  // subject the decision accepts, unless the user starts the server with this (issue 31).
  bool allow_looser_thresholds = false;
  // The liveness check on every recognize route unless a request sends liveness=false (for
  // clients that cannot ask, such as Home Assistant's DeepStack integration), and its threshold
  // (nullopt: the library's default). A request's liveness_threshold wins.
  bool liveness = false;
  std::optional<float> liveness_threshold;
  // Called with every recognition's faces (all three APIs), e.g. to publish them to MQTT.
  // Must not throw; runs on the request's thread.
  std::function<void(const std::vector<IdentifiedFace>&)> on_identified;
};

// What the background loader produces; shared by every request.
struct Loaded {
  Engine engine;
  std::unique_ptr<Gallery> gallery;
};

// State shared by all handlers.
// Thread safety: all methods are safe to call concurrently; `loaded()` hands out a shared
// pointer so a request keeps the models alive until it ends.
class ServerContext {
 public:
  explicit ServerContext(ServerOptions options)
      : options_(std::move(options)), inference_gate_(options_.workers, options_.queue_limit) {}

  const ServerOptions& options() const { return options_; }
  bool auth_required() const { return !options_.api_key.empty(); }
  bool key_matches(const std::string& given) const;

  std::shared_ptr<const Loaded> loaded() const;  // null while loading (or after a failure)
  // The loaded state, or HttpError 503 "models are loading".
  std::shared_ptr<const Loaded> require_loaded() const;
  void set_loaded(std::shared_ptr<const Loaded> loaded);
  void set_failure(const std::string& message);
  std::optional<std::string> failure() const;

  // A place to run the networks for this request (held until it ends), or HttpError 503 with
  // a Retry-After when the line is full.
  InferenceGate::Slot enter_inference() const;
  const InferenceGate& inference_gate() const { return inference_gate_; }

  DecodeOptions decode_options() const;
  // The server's pipeline; min_score >= 0 replaces --min-score, limit > 0 caps --max-faces.
  PipelineOptions pipeline_options(float min_score = -1.0F, int limit = 0) const;

  // CompreFace subjects created without faces (a gallery person exists only with faces).
  // Kept in memory only.
  std::mutex subjects_mutex;
  std::set<std::string> empty_subjects;

  // Logins of the web page (web_ui.cpp); authorize_native accepts their cookie. Mutable: a
  // lookup refreshes a session's last use, and WebSessions synchronises itself.
  mutable WebSessions web_sessions;

 private:
  ServerOptions options_;
  mutable InferenceGate inference_gate_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Loaded> loaded_;
  std::optional<std::string> failure_;
};

// Binds, prints one JSON line {"event":"listening","host":..,"port":..} to stdout, loads the
// models in the background, serves until SIGTERM/SIGINT, lets in-flight requests finish, then
// closes the gallery. Returns the process exit status (0 after a clean stop).
int run_server(const ServerOptions& options);

}  // namespace siamface::server
