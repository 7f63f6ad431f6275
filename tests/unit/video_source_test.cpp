// VideoSource on files (src/video/video_source.*): the decoder thread that reads ahead gives
// every frame, in order, with the same pixels as decoding on the caller's thread; a cut file is
// reported as truncated in both modes; stop() ends a read-ahead run at once.
#include "video/video_source.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <vector>

#include "common/temp_dir_test.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;

constexpr int kFrames = 60;

// Frame f is a flat grey of level 4f with a white square that moves with f.
fs::path write_clip(const fs::path& path) {
  cv::VideoWriter writer(path.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), 25,
                         cv::Size(160, 120));
  if (!writer.isOpened()) return {};
  for (int f = 0; f < kFrames; ++f) {
    cv::Mat frame(120, 160, CV_8UC3, cv::Scalar::all(4 * f));
    cv::rectangle(frame, cv::Rect(f * 2, 40, 20, 20), cv::Scalar::all(255), cv::FILLED);
    writer.write(frame);
  }
  writer.release();
  return path;
}

std::vector<VideoFrame> read_all(const fs::path& clip, int read_ahead_frames, bool* truncated = nullptr) {
  VideoSourceOptions options;
  options.read_ahead_frames = read_ahead_frames;
  VideoSource source(clip.string(), options);
  std::vector<VideoFrame> frames;
  for (VideoFrame frame; source.read(frame);) frames.push_back(frame);
  if (truncated != nullptr) *truncated = source.truncated();
  return frames;
}

class VideoSourceFileTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    clip_ = write_clip(temp_ / "clip.mp4");
    if (clip_.empty()) GTEST_FAIL() << "OpenCV could not write an mp4v clip (FFmpeg backend missing?)";
  }
  fs::path clip_;
};

TEST_F(VideoSourceFileTest, ReadAheadGivesEveryFrameInOrderWithTheDirectPixels) {
  const std::vector<VideoFrame> direct = read_all(clip_, 0);
  const std::vector<VideoFrame> ahead = read_all(clip_, 4);
  ASSERT_EQ(direct.size(), static_cast<std::size_t>(kFrames));
  ASSERT_EQ(ahead.size(), direct.size());
  for (std::size_t i = 0; i < ahead.size(); ++i) {
    EXPECT_EQ(ahead[i].index, static_cast<std::int64_t>(i));
    EXPECT_DOUBLE_EQ(ahead[i].timestamp_s, direct[i].timestamp_s);
    ASSERT_EQ(ahead[i].bgr.size(), direct[i].bgr.size());
    EXPECT_EQ(cv::norm(ahead[i].bgr, direct[i].bgr, cv::NORM_INF), 0.0) << "frame " << i;
  }
  // The frames are distinct (each its own buffer, not one reused Mat).
  EXPECT_GT(cv::norm(ahead.front().bgr, ahead.back().bgr, cv::NORM_INF), 0.0);
}

TEST_F(VideoSourceFileTest, ACutFileIsTruncatedInBothModes) {
  const auto size = fs::file_size(clip_);
  const fs::path cut = temp_ / "cut.mp4";
  {
    std::ifstream in(clip_, std::ios::binary);
    std::vector<char> bytes(size);
    in.read(bytes.data(), static_cast<std::streamsize>(size));
    std::ofstream out(cut, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(size));
  }
  // Zero the middle of the media data: decoding stops early while the header still declares 60.
  {
    std::fstream io(cut, std::ios::binary | std::ios::in | std::ios::out);
    io.seekp(static_cast<std::streamoff>(size / 3));
    const std::vector<char> zeros(size / 2, 0);
    io.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
  }
  for (const int ahead : {0, 4}) {
    bool truncated = false;
    std::vector<VideoFrame> frames;
    try {
      frames = read_all(cut, ahead, &truncated);
    } catch (const Error&) {
      continue;  // refused at open: also a clear error, never a hang
    }
    if (frames.size() < static_cast<std::size_t>(kFrames) - 2) {
      EXPECT_TRUE(truncated) << "read ahead " << ahead << ": " << frames.size() << " frames";
    }
  }
}

TEST_F(VideoSourceFileTest, StopEndsAReadAheadRunAtOnce) {
  VideoSourceOptions options;
  options.read_ahead_frames = 2;
  VideoSource source(clip_.string(), options);
  VideoFrame frame;
  ASSERT_TRUE(source.read(frame));
  source.stop();
  EXPECT_FALSE(source.read(frame));
  EXPECT_FALSE(source.truncated());
}  // the destructor joins the decoder, which waits for room: it must wake on stop()

}  // namespace
}  // namespace siamface
