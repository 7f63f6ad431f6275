#include "video/video_source.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <vector>

#include "siamface/errors.hpp"

namespace siamface {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// "0" -> 0, "/dev/video3" -> 3, else -1.
int camera_index(const std::string& source) {
  static const std::regex kIndex(R"(\d{1,3})");
  static const std::regex kDevice(R"(/dev/video(\d{1,3}))");
  std::smatch match;
  if (std::regex_match(source, kIndex)) return std::stoi(source);
  if (std::regex_match(source, match, kDevice)) return std::stoi(match[1].str());
  return -1;
}

}  // namespace

const char* to_string(VideoSourceKind kind) {
  switch (kind) {
    case VideoSourceKind::kFile: return "file";
    case VideoSourceKind::kCamera: return "camera";
    case VideoSourceKind::kStream: return "stream";
  }
  return "?";
}

VideoSourceKind classify_video_source(const std::string& source) {
  if (camera_index(source) >= 0) return VideoSourceKind::kCamera;
  if (source.find("://") != std::string::npos) return VideoSourceKind::kStream;
  return VideoSourceKind::kFile;
}

VideoSource::VideoSource(const std::string& source, const VideoSourceOptions& options)
    : source_(source), options_(options), kind_(classify_video_source(source)) {
  if (kind_ == VideoSourceKind::kFile) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(source_, ec)) {
      throw Error(ErrorCode::kIo, "video file not found or not a regular file: " + source_);
    }
  }
  if (!open_capture()) {
    const char* backend = kind_ == VideoSourceKind::kCamera ? "V4L2" : "FFmpeg";
    throw Error(ErrorCode::kIo, std::string("cannot open ") + to_string(kind_) + " '" + source_ + "' with the " +
                                    backend + " backend" +
                                    (kind_ == VideoSourceKind::kFile ? " (not a video, or corrupt/truncated)" : ""));
  }
  width_ = static_cast<int>(capture_.get(cv::CAP_PROP_FRAME_WIDTH));
  height_ = static_cast<int>(capture_.get(cv::CAP_PROP_FRAME_HEIGHT));
  const double fps = capture_.get(cv::CAP_PROP_FPS);
  fps_ = std::isfinite(fps) && fps > 0.5 && fps < 1000 ? fps : 25.0;
  if (kind_ == VideoSourceKind::kFile) {
    const double count = capture_.get(cv::CAP_PROP_FRAME_COUNT);
    declared_frames_ = std::isfinite(count) && count > 0 ? static_cast<std::int64_t>(count) : 0;
  }
}

VideoSource::~VideoSource() {
  stop();
  if (grabber_.joinable()) grabber_.join();
}

void VideoSource::stop() {
  stop_ = true;
  ready_.notify_all();
}

void VideoSource::notice(const std::string& message) {
  if (options_.on_notice) options_.on_notice(message);
}

bool VideoSource::open_capture() {
  capture_.release();
  switch (kind_) {
    case VideoSourceKind::kCamera:
      return capture_.open(camera_index(source_), cv::CAP_V4L2);
    case VideoSourceKind::kStream:
      // Bounded waits, so a dead server turns into a reconnect instead of a hang.
      return capture_.open(source_, cv::CAP_FFMPEG,
                           std::vector<int>{cv::CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv::CAP_PROP_READ_TIMEOUT_MSEC, 5000});
    case VideoSourceKind::kFile:
      return capture_.open(source_, cv::CAP_FFMPEG);
  }
  return false;
}

bool VideoSource::read(VideoFrame& frame) {
  if (!live() && !options_.realtime) return read_direct(frame);
  // Started on the first read, so the real-time clock (and drop count) starts when we are ready.
  if (!grabber_.joinable()) grabber_ = std::thread([this] { grab_loop(); });
  std::unique_lock lock(mutex_);
  while (!ready_.wait_for(lock, std::chrono::milliseconds(100),
                          [&] { return stopping() || finished_ || newest_index_ > consumed_index_; })) {
  }
  if (newest_index_ <= consumed_index_) return false;  // finished or stopped with nothing new
  frame.bgr = std::move(newest_);
  newest_ = cv::Mat();
  frame.index = newest_index_;
  frame.timestamp_s = newest_timestamp_s_;
  consumed_index_ = newest_index_;
  return true;
}

bool VideoSource::read_direct(VideoFrame& frame) {
  if (stopping()) return false;
  cv::Mat bgr;
  if (!capture_.read(bgr) || bgr.empty()) {
    // A file that stops short of the frame count its header declares was cut or damaged.
    const std::int64_t tolerance = std::max<std::int64_t>(2, declared_frames_ / 100);
    if (declared_frames_ > 0 && next_index_ < declared_frames_ - tolerance) {
      truncated_ = true;
      end_reason_ = "video file '" + source_ + "' is truncated or corrupt: decoding stopped after " +
                    std::to_string(next_index_) + " of " + std::to_string(declared_frames_) + " frames";
    } else {
      end_reason_ = "end of file";
    }
    return false;
  }
  frame.bgr = std::move(bgr);
  frame.index = next_index_++;
  frame.timestamp_s = static_cast<double>(frame.index) / fps_;
  return true;
}

void VideoSource::grab_loop() {
  const auto start = Clock::now();
  auto last_frame_at = Clock::now();
  double backoff_s = options_.reconnect_initial_s;
  std::int64_t index = 0;
  cv::Mat bgr;
  const auto finish = [&](std::string reason) {
    std::lock_guard lock(mutex_);
    if (end_reason_.empty()) end_reason_ = std::move(reason);
    finished_ = true;
    ready_.notify_all();
  };
  // Sleeps in small steps so stop() is honoured quickly.
  const auto nap = [&](double seconds) {
    const auto until = Clock::now() + std::chrono::duration<double>(seconds);
    while (!stopping() && Clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };

  while (!stopping()) {
    const bool ok = capture_.isOpened() && capture_.read(bgr) && !bgr.empty();
    if (!ok) {
      if (kind_ == VideoSourceKind::kFile) {
        const std::int64_t tolerance = std::max<std::int64_t>(2, declared_frames_ / 100);
        if (declared_frames_ > 0 && index < declared_frames_ - tolerance) {
          truncated_ = true;
          finish("video file '" + source_ + "' is truncated or corrupt: decoding stopped after " +
                 std::to_string(index) + " of " + std::to_string(declared_frames_) + " frames");
        } else {
          finish("end of file");
        }
        return;
      }
      // A live source dropped: reopen with exponential backoff until the give-up time.
      capture_.release();
      const double silent_s = seconds_since(last_frame_at);
      if (silent_s >= options_.reconnect_give_up_s) {
        char reason[160];
        std::snprintf(reason, sizeof reason, "no frames for %.1f s after %d reconnect(s); giving up", silent_s,
                      reconnects_.load());
        finish(reason);
        return;
      }
      char message[160];
      std::snprintf(message, sizeof message, "%s lost; reopening in %.1f s", to_string(kind_), backoff_s);
      notice(message);
      nap(backoff_s);
      backoff_s = std::min(backoff_s * 2, options_.reconnect_max_s);
      if (!stopping() && open_capture()) {
        ++reconnects_;
        backoff_s = options_.reconnect_initial_s;
        notice(std::string(to_string(kind_)) + " reopened");
      }
      continue;
    }
    last_frame_at = Clock::now();
    double timestamp_s = seconds_since(start);
    if (kind_ == VideoSourceKind::kFile) {  // --realtime: play at the file's own rate
      timestamp_s = static_cast<double>(index) / fps_;
      const double ahead_s = timestamp_s - seconds_since(start);
      if (ahead_s > 0) nap(ahead_s);
    }
    std::lock_guard lock(mutex_);
    if (newest_index_ > consumed_index_) dropped_.fetch_add(1);  // overwritten before the consumer took it
    newest_ = bgr.clone();
    newest_index_ = index++;
    newest_timestamp_s_ = timestamp_s;
    ready_.notify_all();
  }
  finish("stopped");
}

}  // namespace siamface
