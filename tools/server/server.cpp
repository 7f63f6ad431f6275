#include "server/server.hpp"

#include <malloc.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <iostream>
#include <thread>

#include "common/gallery_retry.hpp"
#include "common/stop_signal.hpp"
#include "server/api_common.hpp"
#include "server/error_mapping.hpp"
#include "server/request_parsing.hpp"

namespace siamface::server {

bool ServerContext::key_matches(const std::string& given) const {
  return constant_time_equals(given, options_.api_key);
}

std::shared_ptr<const Loaded> ServerContext::loaded() const {
  std::lock_guard lock(mutex_);
  return loaded_;
}

std::shared_ptr<const Loaded> ServerContext::require_loaded() const {
  std::lock_guard lock(mutex_);
  if (loaded_) return loaded_;
  if (failure_) throw HttpError(503, "models failed to load: " + *failure_);
  throw HttpError(503, "models are loading, retry shortly");
}

void ServerContext::set_loaded(std::shared_ptr<const Loaded> loaded) {
  std::lock_guard lock(mutex_);
  loaded_ = std::move(loaded);
}

void ServerContext::set_failure(const std::string& message) {
  std::lock_guard lock(mutex_);
  failure_ = message;
}

std::optional<std::string> ServerContext::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

InferenceGate::Slot ServerContext::enter_inference() const {
  std::optional<InferenceGate::Slot> slot = inference_gate_.enter(std::chrono::seconds(options_.request_timeout_s));
  if (!slot) {
    const int retry_after = inference_gate_.retry_after_seconds();
    // Refused at once (the line was full) or after waiting request_timeout_s in it.
    throw HttpError(503, "busy: the line for the networks is full (" + std::to_string(inference_gate_.queue_limit()) +
                             " waiting) or did not move within " + std::to_string(options_.request_timeout_s) +
                             " s; retry in " + std::to_string(retry_after) + " s",
                    0, retry_after);
  }
  return std::move(*slot);
}

DecodeOptions ServerContext::decode_options() const {
  DecodeOptions options;
  options.max_pixels = options_.max_pixels;
  return options;
}

PipelineOptions ServerContext::pipeline_options(float min_score, int limit) const {
  PipelineOptions options = options_.pipeline;
  if (min_score >= 0) options.detect.min_score = min_score;
  options.detect.max_faces = options_.max_faces;
  if (limit > 0 && (options.detect.max_faces <= 0 || limit < options.detect.max_faces)) options.detect.max_faces = limit;
  return options;
}

namespace {

nlohmann::json inference_json(const InferenceGate& gate) {
  const InferenceGate::Counts counts = gate.counts();
  return {{"running", counts.running}, {"waiting", counts.waiting}, {"queue_limit", gate.queue_limit()},
          {"refused", counts.refused}};
}

nlohmann::json health_json(const ServerContext& context) {
  const auto loaded = context.loaded();
  if (!loaded) {
    if (auto failure = context.failure()) return {{"status", "failed"}, {"error", *failure}};
    return {{"status", "loading"}};
  }
  const ModelInfo model = loaded->engine.model_info();
  const GalleryInfo info = loaded->gallery->info();
  nlohmann::json gallery = {{"path", info.path}, {"people", info.person_count}, {"faces", info.face_count}};
  gallery["threshold"] = info.threshold ? nlohmann::json(*info.threshold) : nlohmann::json(nullptr);
  return {{"status", "ok"},
          {"model", {{"name", model.name}, {"version", model.version}, {"weights_sha256", model.weights_sha256}}},
          {"recognizer", to_string(loaded->engine.options().recognizer)},
          {"detector", to_string(loaded->engine.options().detector)},
          {"landmarks", to_string(loaded->engine.options().landmarks)},
          {"gallery", gallery},
          {"workers", context.options().workers},
          {"inference", inference_json(context.inference_gate())},
          {"auth", context.auth_required()}};
}

// Whether binding host:port fails because something already uses it (httplib's bind only says
// that it failed): a fresh socket with the same options tries the same addresses.
bool port_in_use(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found) != 0) return false;
  bool in_use = false;
  for (const addrinfo* a = found; a && !in_use; a = a->ai_next) {
    const int sock = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (sock < 0) continue;
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(sock, a->ai_addr, a->ai_addrlen) != 0 && errno == EADDRINUSE) in_use = true;
    ::close(sock);
  }
  ::freeaddrinfo(found);
  return in_use;
}

std::shared_ptr<const Loaded> load(const ServerOptions& options) {
  GalleryOptions gallery_options;
  gallery_options.busy_timeout_ms = options.gallery_busy_timeout_ms;
  gallery_options.create = true;
  const std::string path = options.gallery_path.empty() ? default_gallery_path() : options.gallery_path;
  auto gallery = std::make_unique<Gallery>(Gallery::open(path, gallery_options));
  ModelOptions models = options.models;
  models.recognizer = resolve_recognizer(*gallery, options.recognizer, options.models.recognizer);
  if (options.dlib_weights) {
    models.dlib_weights = *options.dlib_weights;
  } else if (const auto model = gallery->model()) {
    models.dlib_weights = dlib_weights_of(*model).value_or(models.dlib_weights);
  }
  return std::make_shared<Loaded>(Loaded{Engine::open(models), std::move(gallery)});
}

}  // namespace

int run_server(const ServerOptions& options) {
  // SIGTERM/SIGINT wake the waiter thread below, whichever thread they are delivered to.
  tools::StopSignal stop_signal;

  if (options.workers > 1) set_intra_op_threads(1);  // parallelism comes from the workers
  // glibc gives each thread that allocates its own heap arena (up to 8 per core), and every
  // connection thread that once held an image keeps its arena's freed pages: measured +180 MB
  // after a run with 64 connection threads. Only `workers` of them run the networks at once.
  mallopt(M_ARENA_MAX, std::max(2, options.workers));

  ServerContext context(options);
  httplib::Server http;
  const int workers = std::max(1, options.workers);
  // Connections get threads of their own (cheap, kept alive); the networks run behind the
  // InferenceGate, `workers` at a time.
  const int connection_threads = std::max(workers + 1, options.connection_threads);
  http.new_task_queue = [connection_threads] { return new httplib::ThreadPool(static_cast<size_t>(connection_threads)); };
  http.set_payload_max_length(static_cast<size_t>(std::max<std::int64_t>(options.max_body_bytes, 1)));
  http.set_read_timeout(options.request_timeout_s, 0);
  http.set_write_timeout(options.request_timeout_s, 0);
  // Also how long a connection may wait for its first bytes, and how long a stop waits for idle ones.
  http.set_keep_alive_timeout(std::max(1, options.keep_alive_timeout_s));
  http.set_keep_alive_max_count(static_cast<size_t>(std::max(1, options.keep_alive_requests)));
  // httplib writes a response's headers and body apart: on a kept-alive connection Nagle's rule
  // holds the body back until the client's delayed ACK (40 ms on Linux) without this.
  http.set_tcp_nodelay(true);
  http.set_error_handler([](const httplib::Request& request, httplib::Response& response) {
    fill_default_error(request, response);
  });
  http.set_exception_handler([](const httplib::Request& request, httplib::Response& response, std::exception_ptr) {
    write_error(response, dialect_for_path(request.path), 500, "internal error");
  });
  http.set_logger([](const httplib::Request& request, const httplib::Response& response) {
    // The path only: query strings may hold an api_key.
    std::cerr << request.method << ' ' << request.path << ' ' << response.status << '\n';
  });

  http.Get("/health", guarded(Dialect::kNative, [&context](const httplib::Request&, httplib::Response& response) {
    const nlohmann::json body = health_json(context);
    write_json(response, body, body["status"] == "ok" ? 200 : 503);
  }));
  add_gallery_admin_routes(http, context);  // issue 20; it owns GET /v1/people
  add_native_routes(http, context);
  add_deepstack_routes(http, context);
  add_compreface_routes(http, context);
  add_web_routes(http, context);

  // Debian's httplib (0.11) is compiled with a listen backlog of 5: a burst of clients overflows it,
  // and the kernel answers some of them with a reset (SYN cookies). Listening again on the same
  // socket only raises the backlog, so keep the socket to do that after the bind.
  // httplib's default_socket_options sets SO_REUSEPORT, which lets a second server bind a port
  // that one already listens on, and the kernel then shares the connections between the two
  // (issue 34, item 5). SO_REUSEADDR alone still allows a restart while old connections linger
  // in TIME_WAIT, but not a second listener.
  int listening_socket = -1;
  http.set_socket_options([&listening_socket](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listening_socket = sock;
  });
  int port = options.port;
  if (port == 0) {
    port = http.bind_to_any_port(options.host);
  } else if (!http.bind_to_port(options.host, port)) {
    port = -1;
  }
  if (port < 0) {
    if (options.port != 0 && port_in_use(options.host, options.port)) {
      std::cerr << "siamface serve: port " << options.port << " is in use on " << options.host
                << " (another server listens there: stop it, or choose another --port)\n";
    } else {
      std::cerr << "siamface serve: cannot bind " << options.host << ':' << options.port << '\n';
    }
    return 2;
  }
  if (listening_socket >= 0 && ::listen(listening_socket, SOMAXCONN) != 0) {
    std::cerr << "siamface serve: cannot raise the listen backlog: " << std::strerror(errno) << '\n';
    return 2;
  }
  std::cout << nlohmann::json{{"event", "listening"}, {"host", options.host}, {"port", port}}.dump() << std::endl;

  std::atomic<bool> listen_returned{false};
  std::thread loader([&] {
    const auto started = std::chrono::steady_clock::now();
    try {
      // A PostgreSQL gallery whose server is not up yet: /health answers 503 while we wait.
      tools::RetryPolicy until_stopped{.max_delay = std::chrono::milliseconds(5000),
                                       .budget = std::chrono::hours(24 * 365),
                                       .stop = [&] { return listen_returned.load(); }};
      context.set_loaded(tools::retry_while_unavailable("opening the gallery", [&] { return load(options); },
                                                        until_stopped));
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
      std::cerr << "siamface serve: models loaded in " << ms.count() << " ms\n";
    } catch (const std::exception& e) {
      context.set_failure(e.what());
      std::cerr << "siamface serve: error: " << e.what() << '\n';
      for (int i = 0; i < 500 && !http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      http.stop();
    }
  });

  std::thread waiter([&] {
    if (!stop_signal.wait()) return;  // woken because the server stopped by itself
    std::cerr << "siamface serve: stopping (in-flight requests finish)\n";
    // stop() before the listen loop has started would be lost: wait for it to start.
    while (!http.is_running() && !context.failure() && !listen_returned) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    http.stop();
  });

  const bool ok = http.listen_after_bind();  // returns after stop(), once the workers are joined
  listen_returned = true;
  loader.join();
  stop_signal.wake();
  waiter.join();
  const bool failed = context.failure().has_value();
  context.set_loaded(nullptr);  // closes the gallery (last reference)
  std::cout << nlohmann::json{{"event", "stopped"}}.dump() << std::endl;
  return ok && !failed ? 0 : 2;
}

}  // namespace siamface::server
