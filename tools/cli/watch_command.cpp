// siamface watch SOURCE... : live identification with face tracking on video files, cameras or
// streams. JSON-lines track events on stdout; status and summary on stderr. One source runs on
// the main thread (below); several (or --config) run a thread per camera (watch_cameras.cpp).
#include <unistd.h>

#include <iostream>
#include <memory>
#include <set>

#include "cli_common.hpp"
#include "commands.hpp"
#include "watch_config.hpp"
#include "watch_parts.hpp"

namespace siamface::cli {
namespace {

int run_watch(const WatchArgs& args) {
  check_display(args);
  // Ctrl-C / SIGTERM end the run cleanly: live tracks end, events and output are flushed.
  tools::StopSignal stop_signal;
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  // The source first: a missing file or dead camera fails before the models load.
  const VideoSourceOptions source_options = source_options_for(args, stop_signal, terminal);
  // A bad --mqtt URL fails here; an unreachable broker only logs and is retried.
  std::unique_ptr<tools::MqttPublisher> mqtt;
  const std::string camera = args.camera.empty() ? tools::camera_name_for_source(args.source) : args.camera;
  if (!args.mqtt.empty()) mqtt = std::make_unique<tools::MqttPublisher>(tools::parse_mqtt_url(args.mqtt), source_options.on_notice);
  if (!args.out.empty()) prepare_output_folder(args.out);
  VideoSource source(args.source, source_options);
  std::cerr << "siamface: watching " << to_string(source.kind()) << " " << args.source << " (" << source.width()
            << "x" << source.height() << " @ " << source.fps() << " fps)\n";

  Recognition recognition = open_recognition(args);
  const TrackerOptions tracker_options = tracker_options_for(args, recognition.gallery);
  FaceTracker tracker(recognition.engine, &recognition.gallery, tracker_options);
  FrameOutputs outputs(args, source);
  EventSink sink(args, recognition, tracker_options, mqtt.get(), camera);
  if (mqtt && args.ha_discovery) {
    mqtt->announce_cameras({camera}, enrolled_people(recognition.gallery));
    mqtt->camera_available(camera, true);
  }

  const LoopStats loop = run_frames(source, tracker, sink, outputs, stop_signal, terminal);
  sink.emit_line(summary_json(args, loop, tracker.stats(), sink, source, outputs, recognition.open_ms,
                              stop_signal.requested()));
  print_summary(loop, tracker.stats(), source, terminal);
  if (mqtt && args.ha_discovery) mqtt->camera_available(camera, false);
  if (source.truncated()) {
    std::cerr << "siamface: error: " << source.end_reason() << " (events and output up to there were written)\n";
    return kExitError;
  }
  if (source.live() && !stop_signal.requested()) std::cerr << "siamface: stream ended: " << source.end_reason() << '\n';
  return kExitOk;
}

// The cameras of a run with several sources or --config: names given or taken from the sources.
std::vector<CameraSpec> cameras_from_command_line(const WatchArgs& args) {
  if (!args.cameras.empty() && args.cameras.size() != args.sources.size()) {
    throw Error(ErrorCode::kInvalidArgument,
                "--camera was given " + std::to_string(args.cameras.size()) + " time(s) for " +
                    std::to_string(args.sources.size()) + " source(s): give one --camera per source, in order");
  }
  std::vector<CameraSpec> cameras;
  std::set<std::string> names;
  for (std::size_t i = 0; i < args.sources.size(); ++i) {
    CameraSpec camera;
    camera.source = args.sources[i];
    camera.name = args.cameras.empty() ? tools::camera_name_for_source(camera.source) : args.cameras[i];
    check_camera_name(camera.name, "--camera");
    if (!names.insert(camera.name).second) {
      throw Error(ErrorCode::kInvalidArgument, "two sources are named '" + camera.name +
                                                   "': give one --camera NAME per source, in order");
    }
    cameras.push_back(std::move(camera));
  }
  return cameras;
}

int dispatch(WatchArgs args, const CLI::App& command) {
  if (args.ha_discovery && args.mqtt.empty() && args.config.empty()) {
    throw Error(ErrorCode::kInvalidArgument, "--ha-discovery needs --mqtt (the broker Home Assistant listens to)");
  }
  if (args.config.empty()) {
    if (args.sources.empty()) {
      throw Error(ErrorCode::kInvalidArgument, "watch needs a SOURCE (or several, or --config cameras.yaml)");
    }
    if (args.sources.size() == 1) {
      if (args.cameras.size() > 1) {
        throw Error(ErrorCode::kInvalidArgument, "--camera was given " + std::to_string(args.cameras.size()) +
                                                     " times for 1 source: give one --camera per source, in order");
      }
      args.source = args.sources.front();
      args.camera = args.cameras.empty() ? "" : args.cameras.front();
      return run_watch(args);
    }
    return run_cameras(args, cameras_from_command_line(args), args.ha_discovery);
  }
  if (!args.sources.empty() || !args.cameras.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "--config names the cameras: give no SOURCE or --camera on the command line with it");
  }
  const WatchConfig config = load_watch_config(args.config);
  // The command line's flags win over the file's keys.
  if (config.gallery && command.get_option("--gallery")->count() == 0) args.gallery.path = *config.gallery;
  if (config.mqtt && command.get_option("--mqtt")->count() == 0) args.mqtt = *config.mqtt;
  if (config.detect_every && command.get_option("--detect-every")->count() == 0) args.detect_every = *config.detect_every;
  const bool ha_discovery = args.ha_discovery || config.ha_discovery.value_or(false);
  if (ha_discovery && args.mqtt.empty()) {
    throw Error(ErrorCode::kInvalidArgument, args.config + ": ha_discovery needs mqtt (a broker URL)");
  }
  return run_cameras(args, config.cameras, ha_discovery);
}

}  // namespace

void add_watch_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<WatchArgs>();
  CLI::App* command = app.add_subcommand(
      "watch", "Identify and track faces in video files, cameras (0, /dev/video0) or rtsp/http(s) streams; several "
               "sources run in one process with one set of models");
  command->add_option("source", args->sources,
                      "Video file, camera index or /dev/videoN, or stream URL; several for several cameras");
  command->add_option("--config", args->config,
                      "Cameras and settings from a YAML file (docs/watch.md: cameras, gallery, mqtt, ha_discovery, "
                      "detect_every)");
  command->add_option("--out", args->out,
                      "Write the annotated video here (same size and frame rate; its folder is created): .mp4 in "
                      "H.264 where the encoder has it, else MPEG-4 Part 2; .mkv/.webm VP8; .avi MJPEG. Several "
                      "cameras: NAME.CAMERA.EXT each");
  command->add_flag("--show", args->show, "Show a live window (needs a display; one source only)");
  command->add_option("--unknown-dir", args->unknown_dir,
                      "Save one best-quality crop per unknown track here (several cameras: a folder each)");
  command->add_flag("--keep-unknown", args->keep_unknown,
                   "Keep one face per unknown track in the gallery for `siamface cluster` (works on an empty gallery)");
  command->add_option("--snapshot-every", args->snapshot_every, "Save an annotated still every N frames")
      ->check(CLI::Range(1, 1 << 30));
  command->add_option("--snapshot-dir", args->snapshot_dir, "Where --snapshot-every writes (several cameras: a folder each)")
      ->capture_default_str();
  command->add_option("--detect-every", args->detect_every, "Run face detection every N frames (track in between)")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  command->add_flag("--liveness", args->liveness,
                    "Name a track only once it is judged live over several frames (a photo or screen held up "
                    "stays unknown; off by default; error rates: docs/analysis.md)");
  command->add_flag("--realtime", args->realtime, "Files: play at their frame rate, dropping frames as live sources do");
  command->add_option("--reconnect-for", args->reconnect_for_s,
                      "Streams: keep reopening for this many seconds without a frame, then end (several cameras: "
                      "also a source that cannot be opened)")
      ->check(CLI::Range(0.0, 86400.0))->capture_default_str();
  args->threshold.add_to(*command);
  command->add_option("--workers", args->workers,
                      "Several cameras: how many run the networks at once, each on its share of the cores "
                      "(default: one per core)")
      ->check(CLI::Range(1, 256));
  command->add_option("--distance", args->distance, "Identity distance: min over its faces, or to their mean")
      ->check(CLI::IsMember({"min", "mean"}))->capture_default_str();
  command->add_option("--mqtt", args->mqtt, "Also publish the events to MQTT: mqtt://[user:pass@]host[:port]/prefix "
                                           "(docs/mqtt.md)");
  command->add_option("--camera", args->cameras,
                      "The source's name in events and MQTT topics (default: from the source); one per source, in "
                      "order")
      ->allow_extra_args(false);
  command->add_flag("--ha-discovery", args->ha_discovery,
                    "With --mqtt: announce each camera to Home Assistant as a device (last person seen, presence "
                    "per person; docs/mqtt.md)");
  args->engine.add_to(*command);
  args->gallery.add_to(*command);
  set_runner(*command, [args, command] { return dispatch(*args, *command); }, exit_code);
}

}  // namespace siamface::cli
