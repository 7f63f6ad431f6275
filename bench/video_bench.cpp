// Frames per second of video identification: FaceTracker (detect every N frames, embed on
// need) against the naive full pipeline (identify_image on every frame), on generated 720p and
// 1080p videos with 1 and 4 moving, zooming faces. Decoding is included in both.
//
//   build/video_bench [--frames N] [--detect-every N] [--testdata DIR]
//
// Faces come from ../shared/testdata/face-api.js crops; the gallery (a temp file) enrols other
// crops of the same people.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <unistd.h>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "image/cv_image.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "siamface/identify.hpp"
#include "siamface/tracker.hpp"

namespace fs = std::filesystem;
using namespace siamface;
using Clock = std::chrono::steady_clock;

namespace {

const char* kPeople[] = {"sheldon", "penny", "leonard", "raj"};
const int kVideoCrop[] = {2, 1, 1, 1};

// Faces pan on a grey background and zoom in by half over the clip.
void make_video(const fs::path& path, const fs::path& crops, int width, int height, int faces, int frames) {
  cv::VideoWriter writer(path.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('m', 'p', '4', 'v'), 25,
                         cv::Size(width, height));
  if (!writer.isOpened()) throw Error(ErrorCode::kIo, "cannot write " + path.string());
  std::vector<cv::Mat> pictures;
  for (int i = 0; i < faces; ++i) {
    const fs::path file = crops / kPeople[i] / (std::string(kPeople[i]) + std::to_string(kVideoCrop[i]) + ".png");
    cv::Mat picture = cv::imread(file.string(), cv::IMREAD_COLOR);
    if (picture.empty()) throw Error(ErrorCode::kIo, "cannot read " + file.string());
    pictures.push_back(picture);
  }
  const int columns = faces == 1 ? 1 : 2;
  const int rows = faces == 1 ? 1 : 2;
  for (int f = 0; f < frames; ++f) {
    cv::Mat frame(height, width, CV_8UC3, cv::Scalar(128, 128, 128));
    const double zoom = 1.0 + 0.5 * f / frames;
    for (int i = 0; i < faces; ++i) {
      const int side = static_cast<int>(height / (rows * 2.2) * zoom);
      cv::Mat scaled;
      cv::resize(pictures[i], scaled, cv::Size(side, side));
      const int cx = width * (2 * (i % columns) + 1) / (2 * columns) + static_cast<int>(width * 0.05 * std::sin(f / 9.0));
      const int cy = height * (2 * (i / columns) + 1) / (2 * rows) + static_cast<int>(height * 0.03 * std::cos(f / 11.0));
      const cv::Rect where(cx - side / 2, cy - side / 2, side, side);
      scaled.copyTo(frame(where & cv::Rect(0, 0, width, height)));
    }
    writer.write(frame);
  }
}

struct Result {
  double fps = 0;
  std::int64_t frames = 0;
  std::int64_t named = 0;  // face-frames carrying a known name
  std::int64_t embeddings = 0;
  double iou_velocity = 0;  // tracker: propagated box vs the next detection
  double iou_kept = 0;      // tracker: last detected box vs the next detection
};

Result run_tracker(const fs::path& video, const Engine& engine, const Gallery& gallery, int detect_every) {
  TrackerOptions options;
  options.detect_every = detect_every;
  FaceTracker tracker(engine, &gallery, options);
  cv::VideoCapture capture(video.string(), cv::CAP_FFMPEG);
  Result result;
  std::vector<TrackEvent> events;
  const auto start = Clock::now();
  for (cv::Mat frame; capture.read(frame);) {
    for (const TrackedFace& face : tracker.process(from_mat(frame), result.frames, result.frames / 25.0, events))
      result.named += face.known;
    ++result.frames;
  }
  tracker.finish(events);
  const TrackerStats& stats = tracker.stats();
  if (stats.propagation_checks > 0) {
    result.iou_velocity = stats.propagated_iou_sum / stats.propagation_checks;
    result.iou_kept = stats.kept_iou_sum / stats.propagation_checks;
  }
  result.embeddings = stats.embeddings;
  result.fps = result.frames / std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

Result run_naive(const fs::path& video, const Engine& engine, const Gallery& gallery) {
  IdentifyOptions options;
  cv::VideoCapture capture(video.string(), cv::CAP_FFMPEG);
  Result result;
  const auto start = Clock::now();
  for (cv::Mat frame; capture.read(frame);) {
    for (const IdentifiedFace& face : identify_image(engine, gallery, from_mat(frame), options))
      result.named += face.decision.known;
    ++result.frames;
  }
  result.fps = result.frames / std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  int frames = 50;
  int detect_every = 5;
  fs::path testdata = std::getenv("SIAMFACE_TESTDATA") ? std::getenv("SIAMFACE_TESTDATA") : "../shared/testdata";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--frames") frames = std::atoi(argv[i + 1]);
    else if (flag == "--detect-every") detect_every = std::atoi(argv[i + 1]);
    else if (flag == "--testdata") testdata = argv[i + 1];
  }
  try {
    const fs::path crops = testdata / "face-api.js" / "examples" / "images";
    if (!fs::exists(crops)) throw Error(ErrorCode::kNotFound, crops.string() + " not found (use --testdata DIR)");
    const fs::path dir = fs::temp_directory_path() / ("siamface_video_bench_" + std::to_string(::getpid()));
    fs::create_directories(dir);

    const Engine engine = Engine::open();
    Gallery gallery = Gallery::open((dir / "gallery.db").string());
    std::vector<EnrollResult> batch;
    for (const char* person : kPeople)
      for (int n = 3; n <= 5; ++n) {
        EnrollOptions enroll;
        enroll.take_largest = true;
        // The crops are tight: give the detector room around the face.
        cv::Mat padded;
        cv::resize(cv::imread((crops / person / (std::string(person) + std::to_string(n) + ".png")).string()), padded,
                   cv::Size(110, 110));
        cv::copyMakeBorder(padded, padded, 65, 65, 65, 65, cv::BORDER_CONSTANT, cv::Scalar(128, 128, 128));
        const fs::path file = dir / (std::string(person) + std::to_string(n) + ".png");
        cv::imwrite(file.string(), padded);
        batch.push_back(prepare_enrollment(engine, person, file.string(), enroll));
      }
    commit_enrollments(gallery, batch);
    std::printf("gallery: %lld faces of %zu people\n", static_cast<long long>(gallery.face_count()), gallery.people().size());

    std::printf("video_bench: %d frames per clip, tracker detects every %d frames, %d hardware threads\n", frames,
                detect_every, static_cast<int>(std::thread::hardware_concurrency()));
    std::printf("%-8s %5s %12s %10s %7s %15s %12s %18s\n", "video", "faces", "tracker fps", "naive fps", "ratio",
                "named tr/naive", "embeds tr", "IoU vel/keep-last");
    for (const auto& [width, height] : {std::pair{1280, 720}, std::pair{1920, 1080}}) {
      for (int faces : {1, 4}) {
        const fs::path video = dir / ("v" + std::to_string(height) + "_" + std::to_string(faces) + ".mp4");
        make_video(video, crops, width, height, faces, frames);
        const Result tracked = run_tracker(video, engine, gallery, detect_every);
        const Result naive = run_naive(video, engine, gallery);
        char label[32];
        std::snprintf(label, sizeof label, "%dp", height);
        std::printf("%-8s %5d %12.2f %10.2f %6.1fx %8lld/%-6lld %12lld %11.3f/%.3f\n", label, faces, tracked.fps,
                    naive.fps, tracked.fps / naive.fps, static_cast<long long>(tracked.named),
                    static_cast<long long>(naive.named), static_cast<long long>(tracked.embeddings),
                    tracked.iou_velocity, tracked.iou_kept);
        std::fflush(stdout);
      }
    }
    fs::remove_all(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "video_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
