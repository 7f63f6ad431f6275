// siamface watch SOURCE : live identification with face tracking on a video file, camera or
// stream. JSON-lines track events on stdout; status and summary on stderr.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include <opencv2/core.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "cli_common.hpp"
#include "common/gallery_retry.hpp"
#include "common/mqtt_publisher.hpp"
#include "common/stop_signal.hpp"
#include "commands.hpp"
#include "image/cv_image.hpp"
#include "siamface/identify.hpp"
#include "siamface/render.hpp"
#include "siamface/tracker.hpp"
#include "util/elapsed.hpp"
#include "video/video_source.hpp"

namespace siamface::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct WatchArgs {
  std::string source;
  std::string out;
  bool show = false;
  std::string unknown_dir;
  bool keep_unknown = false;
  int snapshot_every = 0;
  std::string snapshot_dir = "snapshots";
  int detect_every = 5;
  bool realtime = false;
  double reconnect_for_s = 30.0;
  ThresholdFlags threshold;
  std::string distance = "min";
  std::string mqtt;    // mqtt://host:port/prefix: publish the events there too (docs/mqtt.md)
  std::string camera;  // this source's name in MQTT topics
  EngineFlags engine;
  GalleryFlags gallery;
};

// The codecs --out tries for its extension, best first, each with ffprobe's name for it. MP4
// (and .mov, .m4v) gets H.264, which browsers play, when the FFmpeg that OpenCV links has an
// H.264 encoder (Debian's: libx264); else MPEG-4 Part 2 (issue 34). The run says which.
struct VideoCodec {
  int fourcc;
  const char* name;
};

std::vector<VideoCodec> codecs_for(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext == ".avi") return {{cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), "mjpeg"}};
  if (ext == ".mkv" || ext == ".webm") return {{cv::VideoWriter::fourcc('V', 'P', '8', '0'), "vp8"}};
  return {{cv::VideoWriter::fourcc('a', 'v', 'c', '1'), "h264"}, {cv::VideoWriter::fourcc('m', 'p', '4', 'v'), "mpeg4"}};
}

// --out's folder, created (with its parents) before the models load; a path that cannot be
// written fails at once and says why.
void prepare_output_folder(const std::string& out) {
  const fs::path folder = fs::path(out).parent_path();
  if (folder.empty()) return;
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot write video " + out + ": cannot create its folder " + folder.string() + ": " + ec.message());
  if (::access(folder.c_str(), W_OK) != 0) {
    throw Error(ErrorCode::kIo, "cannot write video " + out + ": its folder " + folder.string() + " is not writable");
  }
}

// Opens --out with the first codec its extension allows that the encoder has; the codec's name.
std::string open_writer(cv::VideoWriter& writer, const std::string& out, double fps, cv::Size size) {
  std::string tried;
  for (const VideoCodec& codec : codecs_for(out)) {
    if (writer.open(out, cv::CAP_FFMPEG, codec.fourcc, fps, size)) return codec.name;
    tried += (tried.empty() ? "" : ", ") + std::string(codec.name);
  }
  throw Error(ErrorCode::kIo, "cannot write video " + out + ": OpenCV's FFmpeg could not open an encoder for " +
                                  tried + " at " + std::to_string(size.width) + "x" + std::to_string(size.height) +
                                  " (try another extension: .mp4, .mkv or .avi)");
}

nlohmann::json event_json(const TrackEvent& event) {
  nlohmann::json line;
  line["event"] = to_string(event.kind);
  line["track"] = event.track_id;
  line["frame"] = event.frame;
  line["time_s"] = event.timestamp_s;
  line["box"] = to_json(event.box);
  switch (event.kind) {
    case TrackEventKind::kAppeared:
      break;
    case TrackEventKind::kIdentified:
      line["name"] = event.name;
      line["distance"] = event.distance;
      break;
    case TrackEventKind::kIdentityChanged:
      line["from"] = event.previous_name;
      line["name"] = event.name;
      line["distance"] = event.distance;
      break;
    case TrackEventKind::kEnded:
      line["name"] = event.name;
      line["first_s"] = event.first_timestamp_s;
      line["last_s"] = event.last_timestamp_s;
      line["frames"] = event.frame_count;
      if (event.best_distance >= 0) line["best_distance"] = event.best_distance;
      else line["best_distance"] = nullptr;
      break;
  }
  return line;
}

std::vector<FaceLabel> labels_for(const std::vector<TrackedFace>& faces) {
  std::vector<FaceLabel> labels;
  for (const TrackedFace& face : faces) {
    if (face.known) {
      std::ostringstream subtitle;
      subtitle << "dist " << std::fixed << std::setprecision(2) << face.distance;
      labels.push_back({face.box, face.name, subtitle.str(), kKnownColor, nullptr});
    } else {
      labels.push_back({face.box, face.identified ? kUnknownPerson : "", "No matching faces", kUnknownColor, nullptr});
    }
  }
  return labels;
}

// --show without a display fails before anything opens.
void check_display(const WatchArgs& args) {
  if (!args.show) return;
  const char* display = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  if ((!display || !*display) && (!wayland || !*wayland)) {
    throw Error(ErrorCode::kInvalidArgument,
                "--show needs a display, but neither DISPLAY nor WAYLAND_DISPLAY is set "
                "(use --out FILE or --snapshot-every N instead)");
  }
}

VideoSourceOptions source_options_for(const WatchArgs& args, const tools::StopSignal& stop_signal, bool terminal) {
  VideoSourceOptions options;
  options.realtime = args.realtime;
  options.reconnect_give_up_s = args.reconnect_for_s;
  options.cancel = stop_signal.flag();
  options.on_notice = [terminal](const std::string& message) {
    std::fprintf(stderr, "%ssiamface: %s\n", terminal ? "\r\033[K" : "", message.c_str());
    std::fflush(stderr);
  };
  return options;
}

// The gallery and the engine for its recognizer. A PostgreSQL gallery whose server is away is
// waited for (up to a minute) instead of failing. --keep-unknown writes (and may create) the
// gallery, and an empty one is fine then.
struct Recognition {
  Gallery gallery;
  Engine engine;
  double open_ms = 0;
};

Recognition open_recognition(const WatchArgs& args) {
  const auto start = Clock::now();
  Gallery gallery = tools::retry_while_unavailable(
      "opening the gallery",
      [&] { return args.keep_unknown ? args.gallery.open(/*create=*/true) : args.gallery.open_read_only(); },
      {.max_delay = std::chrono::milliseconds(5000), .budget = std::chrono::seconds(60)});
  Engine engine = Engine::open(args.engine.model_options_for(gallery));
  if (gallery.face_count() == 0 && !args.keep_unknown) {
    std::cerr << "siamface: the gallery " << gallery.path() << " is empty: every face will be unknown\n";
  }
  return {std::move(gallery), std::move(engine), ms_since(start)};
}

TrackerOptions tracker_options_for(const WatchArgs& args, const Gallery& gallery) {
  TrackerOptions options;
  options.detect_every = args.detect_every;
  options.keep_best_crop = !args.unknown_dir.empty() || args.keep_unknown;
  options.identify.distance = parse_identity_distance(args.distance);
  options.identify.pipeline = args.engine.pipeline_options();
  args.threshold.apply_to(options.identify, gallery);
  return options;
}

// Where the annotated frames go: --out (a video), --snapshot-every (JPEG files), --show (a window).
class FrameOutputs {
 public:
  FrameOutputs(const WatchArgs& args, const VideoSource& source) : args_(args) {
    if (!args.out.empty()) {
      codec_ = open_writer(writer_, args.out, source.fps(), cv::Size(source.width(), source.height()));
      std::cerr << "siamface: writing " << args.out << " (" << codec_ << ")\n";
    }
    if (!args.unknown_dir.empty()) fs::create_directories(args.unknown_dir);
    if (args.snapshot_every > 0) fs::create_directories(args.snapshot_dir);
    if (args.show) cv::namedWindow(kWindow, cv::WINDOW_AUTOSIZE);
  }

  // Whether frame number `frames` (1-based) is drawn at all.
  bool wants_picture(std::int64_t frames) const {
    return writer_.isOpened() || args_.show || is_snapshot(frames);
  }

  void write(const Image& image, std::int64_t frames, std::int64_t frame_index) {
    if (writer_.isOpened()) writer_.write(as_mat(image));
    if (is_snapshot(frames)) {
      std::ostringstream name;
      name << "frame_" << std::setw(6) << std::setfill('0') << frame_index << ".jpg";
      save_image(image, (fs::path(args_.snapshot_dir) / name.str()).string());
    }
  }

  // Shows the frame; false when the viewer pressed q or Esc.
  bool show(const Image& image) {
    if (!args_.show) return true;
    cv::imshow(kWindow, as_mat(image));
    const int key = cv::waitKey(1);
    return key != 'q' && key != 27;
  }

  void close() {
    if (writer_.isOpened()) writer_.release();
    if (args_.show) cv::destroyWindow(kWindow);
  }

  const std::string& codec() const { return codec_; }

 private:
  static constexpr const char* kWindow = "siamface watch";
  bool is_snapshot(std::int64_t frames) const { return args_.snapshot_every > 0 && frames % args_.snapshot_every == 0; }

  const WatchArgs& args_;
  cv::VideoWriter writer_;
  std::string codec_;
};

// Track events out: a JSON line each (stdout, MQTT), with an unknown track's best view saved
// (--unknown-dir) or kept in the gallery (--keep-unknown).
class EventSink {
 public:
  EventSink(const WatchArgs& args, Recognition& recognition, const TrackerOptions& tracker_options,
            tools::MqttPublisher* mqtt, std::string camera)
      : args_(args), recognition_(recognition), pipeline_(tracker_options.identify.pipeline), mqtt_(mqtt),
        camera_(std::move(camera)) {}

  void flush(std::vector<TrackEvent>& events) {
    for (TrackEvent& event : events) {
      nlohmann::json line = event_json(event);
      const bool unknown_ended =
          event.kind == TrackEventKind::kEnded && event.name == kUnknownPerson && !event.best_crop.empty();
      if (unknown_ended && !args_.unknown_dir.empty()) {
        const std::string path =
            (fs::path(args_.unknown_dir) / ("track_" + std::to_string(event.track_id) + ".jpg")).string();
        save_image(event.best_crop, path);
        line["crop"] = path;
        ++unknown_crops_;
      }
      if (unknown_ended && args_.keep_unknown) keep_track(event, line);
      emit(line);
      if (mqtt_) mqtt_->publish_track_event(camera_, line);
    }
    events.clear();
  }

  std::int64_t unknown_crops() const { return unknown_crops_; }
  std::int64_t unknown_kept() const { return unknown_kept_; }

 private:
  // One face per unknown track: its best view, re-detected in the padded crop and embedded,
  // keyed by the track so a track is kept once (docs/unknown-faces.md).
  void keep_track(const TrackEvent& event, nlohmann::json& line) {
    const Engine& engine = recognition_.engine;
    const std::vector<FaceEmbedding> found = engine.analyze(event.best_crop, pipeline_);
    if (found.empty()) return;
    std::vector<Face> boxes;
    for (const FaceEmbedding& f : found) boxes.push_back(f.face);
    const FaceEmbedding& best = found[engine.choose_subject(event.best_crop, boxes, FaceChoice::kLargest, pipeline_)];
    IdentifiedFace face;
    face.face = best.face;
    face.embedding = best.embedding;
    const std::string track = args_.source + "#track" + std::to_string(event.track_id);
    const KeptUnknown kept =
        keep_unknown_faces(recognition_.gallery, engine.model_info(), event.best_crop, {face}, track, "track:" + track, "");
    unknown_kept_ += static_cast<std::int64_t>(kept.kept);
    line["unknown_kept"] = kept.kept;
  }

  const WatchArgs& args_;
  Recognition& recognition_;
  const PipelineOptions pipeline_;
  tools::MqttPublisher* mqtt_;
  const std::string camera_;
  std::int64_t unknown_crops_ = 0;
  std::int64_t unknown_kept_ = 0;
};

// The frame loop's own counters and times (the tracker keeps the stages').
struct LoopStats {
  std::int64_t frames = 0;
  double read_ms = 0, render_ms = 0, write_ms = 0;
  double seconds = 0;
};

// The status line on a terminal, at most twice a second.
class StatusLine {
 public:
  explicit StatusLine(bool terminal) : terminal_(terminal), at_(Clock::now()) {}

  void update(const VideoFrame& frame, std::int64_t frames, std::size_t live_faces, const VideoSource& source) {
    const double since = std::chrono::duration<double>(Clock::now() - at_).count();
    if (!terminal_ || since < 0.5) return;
    std::fprintf(stderr, "\r\033[Kframe %lld  %.1f fps  faces %zu  dropped %lld", static_cast<long long>(frame.index),
                 (frames - frames_) / since, live_faces, static_cast<long long>(source.dropped_frames()));
    std::fflush(stderr);
    at_ = Clock::now();
    frames_ = frames;
  }

 private:
  bool terminal_;
  Clock::time_point at_;
  std::int64_t frames_ = 0;
};

// Reads, tracks, reports and draws every frame until the source ends, Ctrl-C, or q in the window.
LoopStats run_frames(VideoSource& source, FaceTracker& tracker, EventSink& sink, FrameOutputs& outputs,
                     const tools::StopSignal& stop_signal, bool terminal) {
  LoopStats stats;
  const auto run_start = Clock::now();
  StatusLine status(terminal);
  std::vector<TrackEvent> events;
  VideoFrame frame;
  while (!stop_signal.requested()) {
    auto start = Clock::now();
    if (!source.read(frame)) break;
    stats.read_ms += ms_since(start);
    if (frame.bgr.cols != source.width() || frame.bgr.rows != source.height()) {
      // A reopened stream may change size; the writer needs the first one.
      cv::Mat resized;
      cv::resize(frame.bgr, resized, cv::Size(source.width(), source.height()));
      frame.bgr = resized;
    }
    Image image = from_mat(frame.bgr);
    const std::vector<TrackedFace> faces = tracker.process(image, frame.index, frame.timestamp_s, events);
    sink.flush(events);
    ++stats.frames;

    start = Clock::now();
    if (outputs.wants_picture(stats.frames)) draw_faces(image, labels_for(faces));
    stats.render_ms += ms_since(start);
    start = Clock::now();
    outputs.write(image, stats.frames, frame.index);
    stats.write_ms += ms_since(start);
    if (!outputs.show(image)) break;
    status.update(frame, stats.frames, faces.size(), source);
  }
  source.stop();

  // Everything seen so far is reported and written, even when the source failed.
  tracker.finish(events);
  sink.flush(events);
  outputs.close();
  stats.seconds = std::chrono::duration<double>(Clock::now() - run_start).count();
  return stats;
}

// The summary: a JSON line on stdout and two lines on stderr.
void report_summary(const WatchArgs& args, const LoopStats& loop, const TrackerStats& stats, const EventSink& sink,
                    const VideoSource& source, const FrameOutputs& outputs, double open_ms, bool interrupted,
                    bool terminal) {
  const double total_s = loop.seconds;
  nlohmann::json summary = {
      {"event", "summary"},
      {"frames", loop.frames},
      {"detect_frames", stats.detect_frames},
      {"embeddings", stats.embeddings},
      {"tracks", stats.tracks},
      {"dropped_frames", source.dropped_frames()},
      {"reconnects", source.reconnects()},
      {"unknown_crops", sink.unknown_crops()},
      {"unknown_kept", sink.unknown_kept()},
      {"seconds", total_s},
      {"fps", total_s > 0 ? loop.frames / total_s : 0.0},
      {"ms", {{"open", open_ms}, {"read", loop.read_ms}, {"detect", stats.detect_ms}, {"embed", stats.embed_ms},
              {"identify", stats.identify_ms}, {"track", stats.track_ms}, {"render", loop.render_ms},
              {"write", loop.write_ms}}},
      {"propagation_iou", stats.propagation_checks
                              ? nlohmann::json{{"velocity", stats.propagated_iou_sum / stats.propagation_checks},
                                               {"keep_last", stats.kept_iou_sum / stats.propagation_checks},
                                               {"checks", stats.propagation_checks}}
                              : nlohmann::json(nullptr)},
      {"end", interrupted ? std::string("interrupted") : source.end_reason()},
  };
  if (!args.out.empty()) {
    summary["out"] = args.out;
    summary["codec"] = outputs.codec();
  }
  emit(summary);
  std::fprintf(stderr,
               "%ssiamface: %lld frames in %.1f s (%.1f fps), %lld detection frames, %lld embeddings, %lld tracks, "
               "%lld dropped, %d reconnects\n"
               "  ms: read %.0f  detect %.0f  embed %.0f  identify %.0f  track %.0f  render %.0f  write %.0f\n",
               terminal ? "\r\033[K" : "", static_cast<long long>(loop.frames), total_s,
               total_s > 0 ? loop.frames / total_s : 0.0, static_cast<long long>(stats.detect_frames),
               static_cast<long long>(stats.embeddings), static_cast<long long>(stats.tracks),
               static_cast<long long>(source.dropped_frames()), source.reconnects(), loop.read_ms, stats.detect_ms,
               stats.embed_ms, stats.identify_ms, stats.track_ms, loop.render_ms, loop.write_ms);
}

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

  const LoopStats loop = run_frames(source, tracker, sink, outputs, stop_signal, terminal);
  report_summary(args, loop, tracker.stats(), sink, source, outputs, recognition.open_ms, stop_signal.requested(),
                 terminal);
  if (source.truncated()) {
    std::cerr << "siamface: error: " << source.end_reason() << " (events and output up to there were written)\n";
    return kExitError;
  }
  if (source.live() && !stop_signal.requested()) std::cerr << "siamface: stream ended: " << source.end_reason() << '\n';
  return kExitOk;
}

}  // namespace

void add_watch_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<WatchArgs>();
  CLI::App* command = app.add_subcommand(
      "watch", "Identify and track faces in a video file, camera (0, /dev/video0) or rtsp/http(s) stream");
  command->add_option("source", args->source, "Video file, camera index or /dev/videoN, or stream URL")->required();
  command->add_option("--out", args->out,
                      "Write the annotated video here (same size and frame rate; its folder is created): .mp4 in "
                      "H.264 where the encoder has it, else MPEG-4 Part 2; .mkv/.webm VP8; .avi MJPEG");
  command->add_flag("--show", args->show, "Show a live window (needs a display)");
  command->add_option("--unknown-dir", args->unknown_dir, "Save one best-quality crop per unknown track here");
  command->add_flag("--keep-unknown", args->keep_unknown,
                   "Keep one face per unknown track in the gallery for `siamface cluster` (works on an empty gallery)");
  command->add_option("--snapshot-every", args->snapshot_every, "Save an annotated still every N frames")
      ->check(CLI::Range(1, 1 << 30));
  command->add_option("--snapshot-dir", args->snapshot_dir, "Where --snapshot-every writes")->capture_default_str();
  command->add_option("--detect-every", args->detect_every, "Run face detection every N frames (track in between)")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  command->add_flag("--realtime", args->realtime, "Files: play at their frame rate, dropping frames as live sources do");
  command->add_option("--reconnect-for", args->reconnect_for_s,
                      "Streams: keep reopening for this many seconds without a frame, then end")
      ->check(CLI::Range(0.0, 86400.0))->capture_default_str();
  args->threshold.add_to(*command);
  command->add_option("--distance", args->distance, "Identity distance: min over its faces, or to their mean")
      ->check(CLI::IsMember({"min", "mean"}))->capture_default_str();
  command->add_option("--mqtt", args->mqtt, "Also publish the events to MQTT: mqtt://[user:pass@]host[:port]/prefix "
                                           "(docs/mqtt.md)");
  command->add_option("--camera", args->camera, "This source's name in MQTT topics (default: from the source)");
  args->engine.add_to(*command);
  args->gallery.add_to(*command);
  set_runner(*command, [args] { return run_watch(*args); }, exit_code);
}

}  // namespace siamface::cli
