// siamface watch with several cameras in one process: one Engine (one set of models) and one
// gallery for all, a thread per camera that decodes and tracks (each with its own tracker,
// outputs and reconnects), faces embedded together across cameras (EmbeddingQueue), and the
// networks' calls taken in turn through one gate with a place per core. A camera that cannot
// be opened is retried for --reconnect-for seconds; a camera that ends, fails or stalls never
// holds up the others. docs/watch.md, "Several cameras".
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "watch_config.hpp"
#include "watch_parts.hpp"

namespace siamface::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// out.mp4 -> out.CAMERA.mp4: each camera writes its own file.
std::string per_camera_file(const std::string& path, const std::string& camera) {
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + "." + camera + p.extension().string())).string();
}

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1U, std::thread::hardware_concurrency());
}

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

void say(const std::string& camera, const std::string& message) {
  std::fprintf(stderr, "siamface: camera %s: %s\n", camera.c_str(), message.c_str());
  std::fflush(stderr);
}

// What every camera thread shares.
struct Shared {
  Recognition& recognition;
  TrackerOptions tracker_options;  // the run's; each camera sets its own detect_every and min_face_px
  server::InferenceGate& gate;
  tools::MqttPublisher* mqtt;
  const tools::StopSignal& stop_signal;
};

struct CameraOutcome {
  bool failed = false;  // never opened, truncated, or an error
  std::int64_t frames = 0;
};

// Opens the camera's source, retrying with backoff (0.5 s doubling to 8 s) for --reconnect-for
// seconds; null when it never opened (or on Ctrl-C), with the last error in `why`.
std::unique_ptr<VideoSource> open_with_retries(const WatchArgs& args, const VideoSourceOptions& options,
                                               const tools::StopSignal& stop_signal, int& attempts, std::string& why) {
  const auto start = Clock::now();
  double backoff_s = options.reconnect_initial_s;
  while (!stop_signal.requested()) {
    ++attempts;
    try {
      return std::make_unique<VideoSource>(args.source, options);
    } catch (const Error& e) {
      why = e.what();
    }
    const double waited_s = std::chrono::duration<double>(Clock::now() - start).count();
    if (waited_s >= args.reconnect_for_s) break;
    const double pause_s = std::min(backoff_s, args.reconnect_for_s - waited_s);
    char message[96];
    std::snprintf(message, sizeof message, "; retrying in %.1f s", pause_s);
    say(args.camera, why + message);
    const auto until = Clock::now() + std::chrono::duration<double>(pause_s);
    while (!stop_signal.requested() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    backoff_s = std::min(backoff_s * 2, options.reconnect_max_s);
  }
  return nullptr;
}

void run_camera(const WatchArgs& args, Shared& shared, CameraOutcome& outcome) {
  const VideoSourceOptions options = source_options_for(args, shared.stop_signal, false, args.camera);
  int attempts = 0;
  std::string why;
  std::unique_ptr<VideoSource> source = open_with_retries(args, options, shared.stop_signal, attempts, why);
  if (!source) {
    const bool interrupted = shared.stop_signal.requested();
    outcome.failed = !interrupted;
    const std::string end = interrupted ? "interrupted" : "could not open after " + std::to_string(attempts) +
                                                              " attempt(s): " + why;
    if (!interrupted) say(args.camera, "giving up: " + end);
    emit_locked({{"event", "summary"}, {"camera", args.camera}, {"source", args.source}, {"frames", 0},
                 {"open_attempts", attempts}, {"end", end}});
    if (shared.mqtt) shared.mqtt->camera_available(args.camera, false);
    return;
  }
  std::cerr << "siamface: camera " << args.camera << ": watching " << to_string(source->kind()) << " " << args.source
            << " (" << source->width() << "x" << source->height() << " @ " << source->fps() << " fps)\n";
  if (shared.mqtt) shared.mqtt->camera_available(args.camera, true);

  TrackerOptions tracker_options = shared.tracker_options;
  tracker_options.detect_every = args.detect_every;
  tracker_options.min_face_px = args.min_face_px;
  FaceTracker tracker(shared.recognition.engine, &shared.recognition.gallery, tracker_options);
  FrameOutputs outputs(args, *source);
  EventSink sink(args, shared.recognition, tracker_options, shared.mqtt, args.camera, /*tag_camera=*/true);
  const LoopStats loop = run_frames(*source, tracker, sink, outputs, shared.stop_signal, false, &shared.gate);

  nlohmann::json summary = summary_json(args, loop, tracker.stats(), sink, *source, outputs, 0.0,
                                        shared.stop_signal.requested());
  summary["ms"].erase("open");  // the run's, once, in run_summary
  summary["ms"]["wait"] = loop.wait_ms;
  summary["latency_ms"] = percentiles_json(loop.event_latency_ms);
  summary["source"] = args.source;
  sink.emit_line(summary);
  print_summary(loop, tracker.stats(), *source, false, args.camera);
  outcome.frames = loop.frames;
  if (source->truncated()) {
    outcome.failed = true;
    say(args.camera, "error: " + source->end_reason() + " (events and output up to there were written)");
  } else if (source->live() && !shared.stop_signal.requested()) {
    say(args.camera, "stream ended: " + source->end_reason());
  }
  if (shared.mqtt) shared.mqtt->camera_available(args.camera, false);
}

}  // namespace

int run_cameras(const WatchArgs& run_args, const std::vector<CameraSpec>& cameras, bool ha_discovery) {
  if (run_args.show) throw Error(ErrorCode::kInvalidArgument, "--show takes one source (use --out or --snapshot-every)");
  tools::StopSignal stop_signal;
  // Each camera's own arguments: its source, name, detection interval and output paths.
  std::vector<WatchArgs> camera_args;
  for (const CameraSpec& camera : cameras) {
    WatchArgs args = run_args;
    args.source = camera.source;
    args.camera = camera.name;
    if (camera.detect_every) args.detect_every = *camera.detect_every;
    args.min_face_px = camera.min_face_px;
    if (!args.out.empty()) args.out = per_camera_file(args.out, camera.name);
    if (!args.unknown_dir.empty()) args.unknown_dir = (fs::path(args.unknown_dir) / camera.name).string();
    args.snapshot_dir = (fs::path(args.snapshot_dir) / camera.name).string();
    if (!args.out.empty()) prepare_output_folder(args.out);
    camera_args.push_back(std::move(args));
  }
  std::unique_ptr<tools::MqttPublisher> mqtt;
  if (!run_args.mqtt.empty()) {
    mqtt = std::make_unique<tools::MqttPublisher>(tools::parse_mqtt_url(run_args.mqtt), [](const std::string& m) {
      std::fprintf(stderr, "siamface: %s\n", m.c_str());
    });
  }

  const auto start = Clock::now();
  Recognition recognition = open_recognition(run_args);
  const TrackerOptions base_options = tracker_options_for(run_args, recognition.gallery);
  const int cores = usable_cores();
  const int places = std::min<int>(run_args.workers > 0 ? run_args.workers : cores, static_cast<int>(cameras.size()));
  // The places share the cores: each network call runs on its share, so calls never fight.
  set_intra_op_threads(std::max(1, cores / places));
  server::InferenceGate gate(places, static_cast<int>(cameras.size()));
  TrackerOptions tracker_options = base_options;
  if (cameras.size() > 1) {
    // A camera waiting for its embeddings gives its place back, so that others reach the queue.
    tracker_options.embedding_queue = std::make_shared<EmbeddingQueue>(
        recognition.engine, tracker_options.identify.pipeline.chip, 16,
        EmbeddingQueue::WaitHooks{release_inference_place, retake_inference_place});
  }
  if (mqtt && ha_discovery) {
    std::vector<std::string> names;
    for (const CameraSpec& camera : cameras) names.push_back(camera.name);
    mqtt->announce_cameras(names, enrolled_people(recognition.gallery));
  }
  std::cerr << "siamface: " << cameras.size() << " cameras, " << places << " inference place(s) on " << cores
            << " core(s)\n";

  Shared shared{recognition, tracker_options, gate, mqtt.get(), stop_signal};
  std::vector<CameraOutcome> outcomes(cameras.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < cameras.size(); ++i) {
    threads.emplace_back([&, i] {
      try {
        run_camera(camera_args[i], shared, outcomes[i]);
      } catch (const std::exception& e) {  // this camera ends; the others go on
        outcomes[i].failed = true;
        say(camera_args[i].camera, std::string("error: ") + e.what());
        if (shared.mqtt) shared.mqtt->camera_available(camera_args[i].camera, false);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::int64_t frames = 0;
  nlohmann::json failed = nlohmann::json::array();
  for (std::size_t i = 0; i < cameras.size(); ++i) {
    frames += outcomes[i].frames;
    if (outcomes[i].failed) failed.push_back(cameras[i].name);
  }
  nlohmann::json queue = nullptr;
  if (tracker_options.embedding_queue) {
    const EmbeddingQueue::Stats q = tracker_options.embedding_queue->stats();
    queue = {{"calls", q.calls}, {"requests", q.requests}, {"faces", q.faces},
             {"faces_per_call", q.calls > 0 ? static_cast<double>(q.faces) / q.calls : 0.0}, {"ms", q.embed_ms}};
  }
  emit_locked({{"event", "run_summary"}, {"cameras", cameras.size()}, {"failed", failed}, {"frames", frames},
        {"seconds", seconds}, {"open_ms", recognition.open_ms}, {"inference_places", places},
        {"embedding_queue", queue}, {"peak_rss_mb", peak_rss_mb()},
        {"end", stop_signal.requested() ? "interrupted" : "all cameras ended"}});
  return failed.empty() ? kExitOk : kExitError;
}

}  // namespace siamface::cli
