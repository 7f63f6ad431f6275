// Follows and names the faces of a video: OpenCV reads the frames, siamface's FaceTracker
// detects every few frames, tracks in between and votes on each track's name.
//   video_loop VIDEO|CAMERA_INDEX [GALLERY.db]
#include <siamface/engine.hpp>
#include <siamface/errors.hpp>
#include <siamface/gallery.hpp>
#include <siamface/tracker.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/videoio.hpp>
#include <string>
#include <vector>

namespace {

// siamface::Image is plain 8-bit BGR bytes, row by row: copy a CV_8UC3 frame into it.
siamface::Image to_image(const cv::Mat& frame) {
  siamface::Image image;
  image.width = frame.cols;
  image.height = frame.rows;
  image.bgr.resize(static_cast<std::size_t>(frame.cols) * frame.rows * 3);
  for (int y = 0; y < frame.rows; ++y) {
    const auto* row = frame.ptr<std::uint8_t>(y);
    std::copy(row, row + frame.cols * 3,
              image.bgr.begin() + static_cast<std::ptrdiff_t>(y) * frame.cols * 3);
  }
  return image;
}

void print(const std::vector<siamface::TrackEvent>& events) {
  for (const siamface::TrackEvent& e : events) {
    std::printf("%.2fs track %d %s %s\n", e.timestamp_s, e.track_id, siamface::to_string(e.kind),
                e.name.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s VIDEO|CAMERA_INDEX [GALLERY.db]\n", argv[0]);
    return 2;
  }
  try {
    const siamface::Engine engine = siamface::Engine::open();
    std::unique_ptr<siamface::Gallery> gallery;
    if (argc == 3) {
      siamface::GalleryOptions options;
      options.read_only = true;
      gallery = std::make_unique<siamface::Gallery>(siamface::Gallery::open(argv[2], options));
    }
    const std::string source = argv[1];
    cv::VideoCapture capture;
    if (!source.empty() && std::isdigit(static_cast<unsigned char>(source[0])) &&
        source.find_first_not_of("0123456789") == std::string::npos) {
      capture.open(std::stoi(source));
    } else {
      capture.open(source);
    }
    if (!capture.isOpened()) {
      std::fprintf(stderr, "cannot open %s\n", source.c_str());
      return 2;
    }
    const double fps = capture.get(cv::CAP_PROP_FPS) > 0 ? capture.get(cv::CAP_PROP_FPS) : 25.0;

    siamface::FaceTracker tracker(engine, gallery.get());
    std::vector<siamface::TrackEvent> events;
    cv::Mat frame;
    std::int64_t index = 0;
    for (; capture.read(frame); ++index) {
      if (frame.type() != CV_8UC3) continue;
      events.clear();
      tracker.process(to_image(frame), index, static_cast<double>(index) / fps, events);
      print(events);
    }
    events.clear();
    tracker.finish(events);
    print(events);
    const siamface::TrackerStats& stats = tracker.stats();
    std::printf("frames %lld, detection frames %lld, embeddings %lld, tracks %lld\n",
                static_cast<long long>(stats.frames), static_cast<long long>(stats.detect_frames),
                static_cast<long long>(stats.embeddings), static_cast<long long>(stats.tracks));
    return 0;
  } catch (const siamface::Error& e) {
    std::fprintf(stderr, "error (%s): %s\n", siamface::to_string(e.code()), e.what());
    return 2;
  }
}
