#include "watch_parts.hpp"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <opencv2/core.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>

#include "common/gallery_retry.hpp"
#include "image/cv_image.hpp"
#include "siamface/identify.hpp"
#include "siamface/render.hpp"
#include "util/elapsed.hpp"

namespace siamface::cli {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

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

}  // namespace

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

namespace {

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
  if (event.liveness && event.kind != TrackEventKind::kAppeared) line["liveness"] = to_json(*event.liveness);
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

}  // namespace

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

VideoSourceOptions source_options_for(const WatchArgs& args, const tools::StopSignal& stop_signal, bool terminal,
                                      const std::string& camera) {
  VideoSourceOptions options;
  options.realtime = args.realtime;
  options.reconnect_give_up_s = args.reconnect_for_s;
  options.cancel = stop_signal.flag();
  const std::string prefix = camera.empty() ? "" : "camera " + camera + ": ";
  options.on_notice = [terminal, prefix](const std::string& message) {
    std::fprintf(stderr, "%ssiamface: %s%s\n", terminal ? "\r\033[K" : "", prefix.c_str(), message.c_str());
    std::fflush(stderr);
  };
  return options;
}

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

std::vector<std::string> enrolled_people(const Gallery& gallery) {
  std::vector<std::string> names;
  for (const PersonSummary& person : gallery.people()) names.push_back(person.person);
  return names;
}

TrackerOptions tracker_options_for(const WatchArgs& args, const Gallery& gallery) {
  TrackerOptions options;
  options.detect_every = args.detect_every;
  options.min_face_px = args.min_face_px;
  options.keep_best_crop = !args.unknown_dir.empty() || args.keep_unknown;
  options.identify.distance = parse_identity_distance(args.distance);
  options.identify.pipeline = args.engine.pipeline_options();
  options.identify.liveness.enabled = args.liveness;
  args.threshold.apply_to(options.identify, gallery);
  return options;
}


namespace {
constexpr const char* kWindow = "siamface watch";
std::mutex stdout_mutex;  // event lines of several cameras, one whole line at a time
}  // namespace

FrameOutputs::FrameOutputs(const WatchArgs& args, const VideoSource& source) : args_(args) {
  if (!args.out.empty()) {
    codec_ = open_writer(writer_, args.out, source.fps(), cv::Size(source.width(), source.height()));
    std::cerr << "siamface: writing " << args.out << " (" << codec_ << ")\n";
  }
  if (!args.unknown_dir.empty()) fs::create_directories(args.unknown_dir);
  if (args.snapshot_every > 0) fs::create_directories(args.snapshot_dir);
  if (args.show) cv::namedWindow(kWindow, cv::WINDOW_AUTOSIZE);
}

bool FrameOutputs::wants_picture(std::int64_t frames) const {
  return writer_.isOpened() || args_.show || is_snapshot(frames);
}

void FrameOutputs::write(const Image& image, std::int64_t frames, std::int64_t frame_index) {
  if (writer_.isOpened()) writer_.write(as_mat(image));
  if (is_snapshot(frames)) {
    std::ostringstream name;
    name << "frame_" << std::setw(6) << std::setfill('0') << frame_index << ".jpg";
    save_image(image, (fs::path(args_.snapshot_dir) / name.str()).string());
  }
}

bool FrameOutputs::show(const Image& image) {
  if (!args_.show) return true;
  cv::imshow(kWindow, as_mat(image));
  const int key = cv::waitKey(1);
  return key != 'q' && key != 27;
}

void FrameOutputs::close() {
  if (writer_.isOpened()) writer_.release();
  if (args_.show) cv::destroyWindow(kWindow);
}

EventSink::EventSink(const WatchArgs& args, Recognition& recognition, const TrackerOptions& tracker_options,
                     tools::MqttPublisher* mqtt, std::string camera, bool tag_camera)
    : args_(args), recognition_(recognition), pipeline_(tracker_options.identify.pipeline), mqtt_(mqtt),
      camera_(std::move(camera)), tag_camera_(tag_camera) {}

void EventSink::flush(std::vector<TrackEvent>& events) {
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
    emit_line(line);
    if (mqtt_) mqtt_->publish_track_event(camera_, line);
  }
  events.clear();
}

void EventSink::emit_line(nlohmann::json line) const {
  if (tag_camera_) line["camera"] = camera_;
  emit_locked(line);
}

void emit_locked(const nlohmann::json& line) {
  const std::lock_guard lock(stdout_mutex);
  emit(line);
}

// One face per unknown track: its best view, re-detected in the padded crop and embedded,
// keyed by the track so a track is kept once (docs/unknown-faces.md).
void EventSink::keep_track(const TrackEvent& event, nlohmann::json& line) {
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

namespace {

// The gate and the place the camera on this thread holds while it tracks a frame.
thread_local server::InferenceGate* current_gate = nullptr;
thread_local std::optional<server::InferenceGate::Slot>* current_place = nullptr;
constexpr auto kNoLimit = std::chrono::hours(24 * 365);  // the line holds one frame per camera

}  // namespace

void release_inference_place() {
  if (current_place != nullptr) current_place->reset();
}

void retake_inference_place() {
  if (current_place == nullptr || current_gate == nullptr) return;
  if (auto place = current_gate->enter(kNoLimit)) current_place->emplace(std::move(*place));
}

namespace {

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

}  // namespace

LoopStats run_frames(VideoSource& source, FaceTracker& tracker, EventSink& sink, FrameOutputs& outputs,
                     const tools::StopSignal& stop_signal, bool terminal, server::InferenceGate* gate) {
  LoopStats stats;
  const auto run_start = Clock::now();
  StatusLine status(terminal);
  std::vector<TrackEvent> events;
  VideoFrame frame;
  while (!stop_signal.requested()) {
    const auto frame_start = Clock::now();
    auto start = frame_start;
    if (!source.read(frame)) break;
    stats.read_ms += ms_since(start);
    if (frame.bgr.cols != source.width() || frame.bgr.rows != source.height()) {
      // A reopened stream may change size; the writer needs the first one.
      cv::Mat resized;
      cv::resize(frame.bgr, resized, cv::Size(source.width(), source.height()));
      frame.bgr = resized;
    }
    Image image = from_mat(frame.bgr);
    std::vector<TrackedFace> faces;
    if (gate != nullptr) {
      start = Clock::now();
      std::optional<server::InferenceGate::Slot> place = gate->enter(kNoLimit);
      stats.wait_ms += ms_since(start);
      current_gate = gate;
      current_place = &place;
      try {
        faces = tracker.process(image, frame.index, frame.timestamp_s, events);
      } catch (...) {
        current_place = nullptr;
        throw;
      }
      current_place = nullptr;
    } else {
      faces = tracker.process(image, frame.index, frame.timestamp_s, events);
    }
    const bool had_events = !events.empty();
    sink.flush(events);
    if (had_events) stats.event_latency_ms.push_back(ms_since(frame_start));
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

nlohmann::json summary_json(const WatchArgs& args, const LoopStats& loop, const TrackerStats& stats,
                            const EventSink& sink, const VideoSource& source, const FrameOutputs& outputs,
                            double open_ms, bool interrupted) {
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
              {"identify", stats.identify_ms}, {"liveness", stats.liveness_ms}, {"track", stats.track_ms},
              {"render", loop.render_ms}, {"write", loop.write_ms}}},
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
  return summary;
}

void print_summary(const LoopStats& loop, const TrackerStats& stats, const VideoSource& source, bool terminal,
                   const std::string& camera) {
  const double total_s = loop.seconds;
  const std::string who = camera.empty() ? "" : "camera " + camera + ": ";
  std::fprintf(stderr,
               "%ssiamface: %s%lld frames in %.1f s (%.1f fps), %lld detection frames, %lld embeddings, %lld tracks, "
               "%lld dropped, %d reconnects\n"
               "  ms: read %.0f  detect %.0f  embed %.0f  identify %.0f  track %.0f  render %.0f  write %.0f\n",
               terminal ? "\r\033[K" : "", who.c_str(), static_cast<long long>(loop.frames), total_s,
               total_s > 0 ? loop.frames / total_s : 0.0, static_cast<long long>(stats.detect_frames),
               static_cast<long long>(stats.embeddings), static_cast<long long>(stats.tracks),
               static_cast<long long>(source.dropped_frames()), source.reconnects(), loop.read_ms, stats.detect_ms,
               stats.embed_ms, stats.identify_ms, stats.track_ms, loop.render_ms, loop.write_ms);
}

nlohmann::json percentiles_json(std::vector<double> values) {
  if (values.empty()) return nullptr;
  std::sort(values.begin(), values.end());
  const auto at = [&](double q) { return values[static_cast<std::size_t>(q * (values.size() - 1) + 0.5)]; };
  return {{"median", at(0.5)}, {"p95", at(0.95)}, {"max", values.back()}, {"count", values.size()}};
}

}  // namespace siamface::cli
