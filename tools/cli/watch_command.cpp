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
#include "siamface/recognizer.hpp"
#include "siamface/render.hpp"
#include "siamface/tracker.hpp"
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

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Image to_image(const cv::Mat& bgr) {
  Image image;
  image.width = bgr.cols;
  image.height = bgr.rows;
  image.bgr.resize(static_cast<std::size_t>(bgr.cols) * bgr.rows * 3);
  const cv::Mat continuous = bgr.isContinuous() ? bgr : bgr.clone();
  std::copy(continuous.data, continuous.data + image.bgr.size(), image.bgr.begin());
  return image;
}

cv::Mat as_mat(Image& image) { return cv::Mat(image.height, image.width, CV_8UC3, image.bgr.data()); }

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

int run_watch(const WatchArgs& args) {
  if (args.show) {
    const char* display = std::getenv("DISPLAY");
    const char* wayland = std::getenv("WAYLAND_DISPLAY");
    if ((!display || !*display) && (!wayland || !*wayland)) {
      throw Error(ErrorCode::kInvalidArgument,
                  "--show needs a display, but neither DISPLAY nor WAYLAND_DISPLAY is set "
                  "(use --out FILE or --snapshot-every N instead)");
    }
  }
  // Ctrl-C / SIGTERM end the run cleanly: live tracks end, events and output are flushed.
  tools::StopSignal stop_signal;
  // The source first: a missing file or dead camera fails before the models load.
  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  VideoSourceOptions source_options;
  source_options.realtime = args.realtime;
  source_options.reconnect_give_up_s = args.reconnect_for_s;
  source_options.cancel = stop_signal.flag();
  source_options.on_notice = [terminal](const std::string& message) {
    std::fprintf(stderr, "%ssiamface: %s\n", terminal ? "\r\033[K" : "", message.c_str());
    std::fflush(stderr);
  };
  // A bad --mqtt URL fails here; an unreachable broker only logs and is retried.
  std::unique_ptr<tools::MqttPublisher> mqtt;
  const std::string camera = args.camera.empty() ? tools::camera_name_for_source(args.source) : args.camera;
  if (!args.mqtt.empty()) mqtt = std::make_unique<tools::MqttPublisher>(tools::parse_mqtt_url(args.mqtt), source_options.on_notice);
  if (!args.out.empty()) prepare_output_folder(args.out);
  VideoSource source(args.source, source_options);
  std::cerr << "siamface: watching " << to_string(source.kind()) << " " << args.source << " (" << source.width()
            << "x" << source.height() << " @ " << source.fps() << " fps)\n";

  const auto open_start = Clock::now();
  // A PostgreSQL gallery whose server is away: wait for it (up to a minute) instead of failing.
  // --keep-unknown writes (and may create) the gallery, and an empty one is fine then.
  Gallery gallery = tools::retry_while_unavailable(
      "opening the gallery",
      [&] { return args.keep_unknown ? args.gallery.open(/*create=*/true) : args.gallery.open_read_only(); },
      {.max_delay = std::chrono::milliseconds(5000), .budget = std::chrono::seconds(60)});
  const Engine engine = Engine::open(args.engine.model_options_for(gallery));
  if (gallery.face_count() == 0 && !args.keep_unknown) {
    std::cerr << "siamface: the gallery " << gallery.path() << " is empty: every face will be unknown\n";
  }
  const double open_ms = ms_since(open_start);

  TrackerOptions tracker_options;
  tracker_options.detect_every = args.detect_every;
  tracker_options.keep_best_crop = !args.unknown_dir.empty() || args.keep_unknown;
  tracker_options.identify.distance = parse_identity_distance(args.distance);
  tracker_options.identify.pipeline = args.engine.pipeline_options();
  tracker_options.identify.rule.threshold =
      args.threshold.resolve(gallery_threshold(gallery, tracker_options.identify.rule.threshold));
  FaceTracker tracker(engine, &gallery, tracker_options);

  cv::VideoWriter writer;
  std::string out_codec;
  if (!args.out.empty()) {
    out_codec = open_writer(writer, args.out, source.fps(), cv::Size(source.width(), source.height()));
    std::cerr << "siamface: writing " << args.out << " (" << out_codec << ")\n";
  }
  if (!args.unknown_dir.empty()) fs::create_directories(args.unknown_dir);
  if (args.snapshot_every > 0) fs::create_directories(args.snapshot_dir);
  const char* kWindow = "siamface watch";
  if (args.show) cv::namedWindow(kWindow, cv::WINDOW_AUTOSIZE);


  std::int64_t frames = 0;
  std::int64_t faces_seen = 0;
  std::int64_t unknown_crops = 0;
  std::int64_t unknown_kept = 0;
  // One face per unknown track: its best view, re-detected in the padded crop and embedded,
  // keyed by the track so a track is kept once (docs/unknown-faces.md).
  const auto keep_track = [&](const TrackEvent& event, nlohmann::json& line) {
    const std::vector<FaceEmbedding> found = engine.analyze(event.best_crop, tracker_options.identify.pipeline);
    if (found.empty()) return;
    std::vector<Face> boxes;
    for (const FaceEmbedding& f : found) boxes.push_back(f.face);
    const FaceEmbedding& best =
        found[engine.choose_subject(event.best_crop, boxes, FaceChoice::kLargest, tracker_options.identify.pipeline)];
    IdentifiedFace face;
    face.face = best.face;
    face.embedding = best.embedding;
    const std::string track = args.source + "#track" + std::to_string(event.track_id);
    const KeptUnknown kept =
        keep_unknown_faces(gallery, engine.model_info(), event.best_crop, {face}, track, "track:" + track, "");
    unknown_kept += static_cast<std::int64_t>(kept.kept);
    line["unknown_kept"] = kept.kept;
  };
  double read_ms = 0, render_ms = 0, write_ms = 0;
  std::vector<TrackEvent> events;
  const auto flush_events = [&] {
    for (TrackEvent& event : events) {
      nlohmann::json line = event_json(event);
      if (event.kind == TrackEventKind::kEnded && event.name == kUnknownPerson && !event.best_crop.empty() &&
          !args.unknown_dir.empty()) {
        const std::string path = (fs::path(args.unknown_dir) / ("track_" + std::to_string(event.track_id) + ".jpg")).string();
        save_image(event.best_crop, path);
        line["crop"] = path;
        ++unknown_crops;
      }
      if (event.kind == TrackEventKind::kEnded && event.name == kUnknownPerson && !event.best_crop.empty() &&
          args.keep_unknown) {
        keep_track(event, line);
      }
      emit(line);
      if (mqtt) mqtt->publish_track_event(camera, line);
    }
    events.clear();
  };

  const auto run_start = Clock::now();
  auto status_at = run_start;
  std::int64_t status_frames = 0;
  std::size_t live_faces = 0;
  VideoFrame frame;
  while (!stop_signal.requested()) {
    auto start = Clock::now();
    if (!source.read(frame)) break;
    read_ms += ms_since(start);
    if (frame.bgr.cols != source.width() || frame.bgr.rows != source.height()) {
      // A reopened stream may change size; the writer needs the first one.
      cv::Mat resized;
      cv::resize(frame.bgr, resized, cv::Size(source.width(), source.height()));
      frame.bgr = resized;
    }
    Image image = to_image(frame.bgr);
    const std::vector<TrackedFace> faces = tracker.process(image, frame.index, frame.timestamp_s, events);
    flush_events();
    ++frames;
    live_faces = faces.size();
    faces_seen += static_cast<std::int64_t>(faces.size());

    start = Clock::now();
    const bool want_picture = writer.isOpened() || args.show ||
                              (args.snapshot_every > 0 && frames % args.snapshot_every == 0);
    if (want_picture) draw_faces(image, labels_for(faces));
    render_ms += ms_since(start);
    start = Clock::now();
    if (writer.isOpened()) writer.write(as_mat(image));
    if (args.snapshot_every > 0 && frames % args.snapshot_every == 0) {
      std::ostringstream name;
      name << "frame_" << std::setw(6) << std::setfill('0') << frame.index << ".jpg";
      save_image(image, (fs::path(args.snapshot_dir) / name.str()).string());
    }
    write_ms += ms_since(start);
    if (args.show) {
      cv::imshow(kWindow, as_mat(image));
      const int key = cv::waitKey(1);
      if (key == 'q' || key == 27) break;
    }

    const double since_status = std::chrono::duration<double>(Clock::now() - status_at).count();
    if (terminal && since_status >= 0.5) {
      std::fprintf(stderr, "\r\033[Kframe %lld  %.1f fps  faces %zu  dropped %lld",
                   static_cast<long long>(frame.index), (frames - status_frames) / since_status, live_faces,
                   static_cast<long long>(source.dropped_frames()));
      std::fflush(stderr);
      status_at = Clock::now();
      status_frames = frames;
    }
  }
  source.stop();

  // Everything seen so far is reported and written, even when the source failed.
  tracker.finish(events);
  flush_events();
  if (writer.isOpened()) writer.release();
  if (args.show) cv::destroyWindow(kWindow);

  const double total_s = std::chrono::duration<double>(Clock::now() - run_start).count();
  const TrackerStats& stats = tracker.stats();
  nlohmann::json summary = {
      {"event", "summary"},
      {"frames", frames},
      {"detect_frames", stats.detect_frames},
      {"embeddings", stats.embeddings},
      {"tracks", stats.tracks},
      {"dropped_frames", source.dropped_frames()},
      {"reconnects", source.reconnects()},
      {"unknown_crops", unknown_crops},
      {"unknown_kept", unknown_kept},
      {"seconds", total_s},
      {"fps", total_s > 0 ? frames / total_s : 0.0},
      {"ms", {{"open", open_ms}, {"read", read_ms}, {"detect", stats.detect_ms}, {"embed", stats.embed_ms},
              {"identify", stats.identify_ms}, {"track", stats.track_ms}, {"render", render_ms},
              {"write", write_ms}}},
      {"propagation_iou", stats.propagation_checks
                              ? nlohmann::json{{"velocity", stats.propagated_iou_sum / stats.propagation_checks},
                                               {"keep_last", stats.kept_iou_sum / stats.propagation_checks},
                                               {"checks", stats.propagation_checks}}
                              : nlohmann::json(nullptr)},
      {"end", stop_signal.requested() ? std::string("interrupted") : source.end_reason()},
  };
  if (!args.out.empty()) {
    summary["out"] = args.out;
    summary["codec"] = out_codec;
  }
  emit(summary);
  std::fprintf(stderr,
               "%ssiamface: %lld frames in %.1f s (%.1f fps), %lld detection frames, %lld embeddings, %lld tracks, "
               "%lld dropped, %d reconnects\n"
               "  ms: read %.0f  detect %.0f  embed %.0f  identify %.0f  track %.0f  render %.0f  write %.0f\n",
               terminal ? "\r\033[K" : "", static_cast<long long>(frames), total_s, total_s > 0 ? frames / total_s : 0.0,
               static_cast<long long>(stats.detect_frames), static_cast<long long>(stats.embeddings),
               static_cast<long long>(stats.tracks), static_cast<long long>(source.dropped_frames()),
               source.reconnects(), read_ms, stats.detect_ms, stats.embed_ms, stats.identify_ms, stats.track_ms,
               render_ms, write_ms);

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
