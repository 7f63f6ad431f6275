// Frames from a video file, a camera or a network stream (OpenCV videoio: FFmpeg, V4L2).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>

namespace siamface {

enum class VideoSourceKind { kFile, kCamera, kStream };
const char* to_string(VideoSourceKind kind);

// "0", "/dev/video2" -> camera; rtsp://, http://, https:// (and other "scheme://") -> stream;
// anything else -> file.
VideoSourceKind classify_video_source(const std::string& source);

struct VideoSourceOptions {
  bool realtime = false;             // files: pace at their frame rate and drop frames we cannot keep up with
  double reconnect_initial_s = 0.5;  // first wait before reopening a dropped stream; doubles each try
  double reconnect_max_s = 8.0;      // longest single wait
  double reconnect_give_up_s = 30.0; // end the run after this long without a frame from the stream
  // Told about reconnects ("stream lost, reopening in 2.0 s"), for the status output.
  std::function<void(const std::string&)> on_notice;
  // Set from elsewhere (a signal handler) to end the run: read() then returns false within ~0.1 s,
  // even while a stream is being reopened.
  const std::atomic<bool>* cancel = nullptr;
};

struct VideoFrame {
  cv::Mat bgr;
  std::int64_t index = 0;    // position in the source (dropped frames count): 0, 1, ...
  double timestamp_s = 0.0;  // file: index / fps; live: seconds since the source opened
};

// Live sources (cameras, streams) and --realtime files run a grabber thread (from the first
// read()) that keeps only the newest frame, so processing never falls behind real time; frames
// it overwrote count as dropped.
// A stream that fails is reopened with exponential backoff until reconnect_give_up_s passes.
// Files without --realtime are read on the caller's thread, every frame.
// Thread safety: one consumer thread calls read(); the counters may be read from any thread.
class VideoSource {
 public:
  // Throws Error(kIo) when the source cannot be opened (naming it and the backend tried).
  VideoSource(const std::string& source, const VideoSourceOptions& options = {});
  ~VideoSource();
  VideoSource(const VideoSource&) = delete;
  VideoSource& operator=(const VideoSource&) = delete;

  // The next frame, or false at the end (file end, stream given up, stop()). After false,
  // truncated() tells whether a file ended before its declared length.
  bool read(VideoFrame& frame);
  void stop();  // makes read() return false soon (signal handlers, window closed)

  VideoSourceKind kind() const { return kind_; }
  bool live() const { return kind_ != VideoSourceKind::kFile; }
  int width() const { return width_; }
  int height() const { return height_; }
  double fps() const { return fps_; }  // nominal; 25 when the source does not say
  std::int64_t declared_frames() const { return declared_frames_; }  // files; 0 when unknown
  std::int64_t dropped_frames() const { return dropped_.load(); }
  int reconnects() const { return reconnects_.load(); }
  bool truncated() const { return truncated_; }
  const std::string& end_reason() const { return end_reason_; }

 private:
  bool open_capture();
  bool read_direct(VideoFrame& frame);
  void grab_loop();
  void notice(const std::string& message);
  bool stopping() const { return stop_ || (options_.cancel && options_.cancel->load()); }

  std::string source_;
  VideoSourceOptions options_;
  VideoSourceKind kind_;
  cv::VideoCapture capture_;
  int width_ = 0;
  int height_ = 0;
  double fps_ = 25.0;
  std::int64_t declared_frames_ = 0;
  std::int64_t next_index_ = 0;
  bool truncated_ = false;
  std::string end_reason_;

  // Grabber thread state (live and realtime).
  std::thread grabber_;
  std::mutex mutex_;
  std::condition_variable ready_;
  cv::Mat newest_;
  std::int64_t newest_index_ = -1;
  double newest_timestamp_s_ = 0.0;
  std::int64_t consumed_index_ = -1;
  bool finished_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<std::int64_t> dropped_{0};
  std::atomic<int> reconnects_{0};
};

}  // namespace siamface
