// The steps of `siamface watch` that one camera and several cameras share: the options, the
// recognition (gallery + engine), the outputs, the event sink and the frame loop. One source
// runs them on the main thread (watch_command.cpp); several run them on a thread per camera
// (watch_cameras.cpp).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>

#include "cli_common.hpp"
#include "common/mqtt_publisher.hpp"
#include "common/stop_signal.hpp"
#include "server/inference_gate.hpp"
#include "siamface/gallery.hpp"
#include "siamface/tracker.hpp"
#include "video/video_source.hpp"

namespace siamface::cli {

struct WatchArgs {
  std::vector<std::string> sources;  // the command line's sources
  std::vector<std::string> cameras;  // --camera, one per source
  std::string config;                // --config cameras.yaml
  bool ha_discovery = false;

  // One camera's: set from sources/cameras (or the config) for each camera run.
  std::string source;
  std::string camera;  // its name in events and MQTT topics (one source: empty = from the source)
  float min_face_px = 0.0F;

  std::string out;
  bool show = false;
  std::string unknown_dir;
  bool keep_unknown = false;
  bool liveness = false;  // name a track only once judged live over several frames
  int snapshot_every = 0;
  std::string snapshot_dir = "snapshots";
  int detect_every = 5;
  bool realtime = false;
  double reconnect_for_s = 30.0;
  int workers = 0;  // several cameras: cameras running the networks at once (0: one per core)
  ThresholdFlags threshold;
  std::string distance = "min";
  std::string mqtt;  // mqtt://host:port/prefix: publish the events there too (docs/mqtt.md)
  EngineFlags engine;
  GalleryFlags gallery;
};

// --out's folder, created before the models load; a path that cannot be written fails at once.
void prepare_output_folder(const std::string& out);

// --show without a display fails before anything opens.
void check_display(const WatchArgs& args);

// `camera` (empty: none) prefixes the source's notices on stderr.
VideoSourceOptions source_options_for(const WatchArgs& args, const tools::StopSignal& stop_signal, bool terminal,
                                      const std::string& camera = "");

// The gallery and the engine for its recognizer, shared by every camera.
struct Recognition {
  Gallery gallery;
  Engine engine;
  double open_ms = 0;
};
Recognition open_recognition(const WatchArgs& args);
std::vector<std::string> enrolled_people(const Gallery& gallery);  // their names, for --ha-discovery
TrackerOptions tracker_options_for(const WatchArgs& args, const Gallery& gallery);

// Where the annotated frames go: --out (a video), --snapshot-every (JPEG files), --show (a window).
class FrameOutputs {
 public:
  FrameOutputs(const WatchArgs& args, const VideoSource& source);
  bool wants_picture(std::int64_t frames) const;  // whether frame number `frames` (1-based) is drawn
  void write(const Image& image, std::int64_t frames, std::int64_t frame_index);
  bool show(const Image& image);  // false when the viewer pressed q or Esc
  void close();
  const std::string& codec() const { return codec_; }

 private:
  bool is_snapshot(std::int64_t frames) const { return args_.snapshot_every > 0 && frames % args_.snapshot_every == 0; }

  const WatchArgs& args_;
  cv::VideoWriter writer_;
  std::string codec_;
};

// Track events out: a JSON line each (stdout, MQTT), with an unknown track's best view saved
// (--unknown-dir) or kept in the gallery (--keep-unknown). With `tag_camera` (several cameras)
// each line carries "camera". Lines from several threads never interleave.
class EventSink {
 public:
  EventSink(const WatchArgs& args, Recognition& recognition, const TrackerOptions& tracker_options,
            tools::MqttPublisher* mqtt, std::string camera, bool tag_camera = false);

  void flush(std::vector<TrackEvent>& events);
  // Writes one line on stdout (the summary); with tag_camera it carries "camera" too.
  void emit_line(nlohmann::json line) const;

  std::int64_t unknown_crops() const { return unknown_crops_; }
  std::int64_t unknown_kept() const { return unknown_kept_; }
  const std::string& camera() const { return camera_; }

 private:
  void keep_track(const TrackEvent& event, nlohmann::json& line);

  const WatchArgs& args_;
  Recognition& recognition_;
  const PipelineOptions pipeline_;
  tools::MqttPublisher* mqtt_;
  const std::string camera_;
  const bool tag_camera_;
  std::int64_t unknown_crops_ = 0;
  std::int64_t unknown_kept_ = 0;
};

// emit() for lines that several camera threads write: one whole line at a time.
void emit_locked(const nlohmann::json& line);

// The frame loop's own counters and times (the tracker keeps the stages').
struct LoopStats {
  std::int64_t frames = 0;
  double read_ms = 0, render_ms = 0, write_ms = 0, wait_ms = 0;
  double seconds = 0;
  // From the start of reading a frame to its events written, for each frame that had events.
  std::vector<double> event_latency_ms;
};

// Reads, tracks, reports and draws every frame until the source ends, Ctrl-C, or q in the
// window. With `gate` (several cameras), each frame's tracking holds a place in it.
LoopStats run_frames(VideoSource& source, FaceTracker& tracker, EventSink& sink, FrameOutputs& outputs,
                     const tools::StopSignal& stop_signal, bool terminal, server::InferenceGate* gate = nullptr);

// Around a camera's wait for its embeddings (EmbeddingQueue::WaitHooks): the calling camera
// thread gives its place at run_frames' gate back, then takes one again.
void release_inference_place();
void retake_inference_place();

// The summary line's fields (one camera's).
nlohmann::json summary_json(const WatchArgs& args, const LoopStats& loop, const TrackerStats& stats,
                            const EventSink& sink, const VideoSource& source, const FrameOutputs& outputs,
                            double open_ms, bool interrupted);
// The two summary lines on stderr; `camera` (empty: none) names them.
void print_summary(const LoopStats& loop, const TrackerStats& stats, const VideoSource& source, bool terminal,
                   const std::string& camera = "");

// Median and 95th percentile of `values` (null when empty), for the latency figures.
nlohmann::json percentiles_json(std::vector<double> values);

// Runs several cameras in one process (watch_cameras.cpp): `cameras` in order; the exit code.
struct CameraSpec;
int run_cameras(const WatchArgs& args, const std::vector<CameraSpec>& cameras, bool ha_discovery);

}  // namespace siamface::cli
