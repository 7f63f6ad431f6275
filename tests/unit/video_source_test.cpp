// VideoSource on files (src/video/video_source.*): every frame, in order, with its index and
// timestamp; a cut file is reported as truncated; stop() ends a run at once.
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

std::vector<VideoFrame> read_all(const fs::path& clip, bool* truncated = nullptr) {
  VideoSource source(clip.string());
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

TEST_F(VideoSourceFileTest, GivesEveryFrameInOrderWithItsTimestamp) {
  VideoSource source(clip_.string());
  EXPECT_EQ(source.declared_frames(), kFrames);
  EXPECT_EQ(source.width(), 160);
  std::vector<VideoFrame> frames;
  for (VideoFrame frame; source.read(frame);) frames.push_back(frame);
  ASSERT_EQ(frames.size(), static_cast<std::size_t>(kFrames));
  EXPECT_FALSE(source.truncated());
  EXPECT_EQ(source.end_reason(), "end of file");
  for (std::size_t i = 0; i < frames.size(); ++i) {
    EXPECT_EQ(frames[i].index, static_cast<std::int64_t>(i));
    EXPECT_DOUBLE_EQ(frames[i].timestamp_s, static_cast<double>(i) / 25.0);
  }
  // Each frame is its own buffer (the grey level rises 4 per frame), not one reused Mat.
  EXPECT_GT(cv::norm(frames.front().bgr, frames.back().bgr, cv::NORM_INF), 100.0);
}

TEST_F(VideoSourceFileTest, ACutFileIsTruncated) {
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
  bool truncated = false;
  const std::vector<VideoFrame> frames = read_all(cut, &truncated);
  EXPECT_LT(frames.size(), static_cast<std::size_t>(kFrames) - 2);
  EXPECT_TRUE(truncated) << frames.size() << " frames";
}

TEST_F(VideoSourceFileTest, StopEndsARunAtOnce) {
  VideoSource source(clip_.string());
  VideoFrame frame;
  ASSERT_TRUE(source.read(frame));
  source.stop();
  EXPECT_FALSE(source.read(frame));
  EXPECT_FALSE(source.truncated());
}

}  // namespace
}  // namespace siamface
