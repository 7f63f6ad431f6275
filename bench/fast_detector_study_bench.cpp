// Study for issue 18, item 2: could a fast detector replace or front the SSD? Runs the pipeline's
// SSD MobileNetV1 (512 px, one pass, no border pass) and the Ultra-Light RFB-320 face detector
// (src/detect/rfb_detector.cpp, `--detector rfb`) on the labelled and unlabelled photo sets, and prints
// per set: faces found, agreement with the labels or with the SSD, and median ms per photo, both
// measured in this run, one OpenCV thread; and how its boxes differ (median width and height
// ratio, centre shift in box widths/heights) from the labels or the SSD's boxes.
//
//   build/bench/fast_detector_study_bench [--testdata DIR] [--models DIR]
//
// Figures: docs/speed.md, "Detection: the RFB-320 detector".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "bench_timing.hpp"
#include "common/imglab_xml.hpp"
#include "detect/face_detector.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"

namespace fs = std::filesystem;
using namespace siamface;
using siamface::bench::Clock;
using siamface::bench::median;
using siamface::bench::ms_since;

namespace {

bool overlaps(const Box& a, const Box& b) { return intersection_over_union(a, b) >= 0.3F; }

struct Photo {
  fs::path path;
  std::vector<Box> labels;  // empty and `labelled` false: compared with the SSD instead
  bool labelled = false;
};

struct Tally {
  std::vector<double> width_ratio, height_ratio, dx, dy;  // matched box against the reference box
  int faces = 0;        // detections
  int matched = 0;      // labels (or SSD faces) found
  int reference = 0;    // labels (or SSD faces) in all
  std::vector<double> ms;
};

using Detect = std::function<std::vector<RawDetection>(const cv::Mat&)>;

void run_set(const std::string& name, const std::vector<Photo>& photos, const Detect& ssd,
             const std::vector<std::pair<std::string, Detect>>& others) {
  Tally ssd_tally;
  std::vector<Tally> tallies(others.size());
  for (const Photo& photo : photos) {
    const cv::Mat bgr = cv::imread(photo.path.string(), cv::IMREAD_COLOR);
    if (bgr.empty()) throw Error(ErrorCode::kInvalidImage, "cannot read " + photo.path.string());
    const auto timed = [&](const Detect& detect, Tally& tally) {
      (void)detect(bgr);  // warm: the first call builds the network's buffers
      const auto start = Clock::now();
      std::vector<RawDetection> found = detect(bgr);
      tally.ms.push_back(ms_since(start));
      tally.faces += static_cast<int>(found.size());
      return found;
    };
    const std::vector<RawDetection> ssd_found = timed(ssd, ssd_tally);
    std::vector<Box> reference = photo.labels;
    if (!photo.labelled) {
      for (const RawDetection& d : ssd_found) reference.push_back(d.box);
    }
    const auto count = [&](const std::vector<RawDetection>& found, Tally& tally) {
      tally.reference += static_cast<int>(reference.size());
      for (const Box& box : reference) {
        const auto hit = std::find_if(found.begin(), found.end(), [&](const RawDetection& d) { return overlaps(d.box, box); });
        if (hit == found.end()) continue;
        ++tally.matched;
        tally.width_ratio.push_back(hit->box.width / box.width);
        tally.height_ratio.push_back(hit->box.height / box.height);
        tally.dx.push_back((hit->box.left + hit->box.width / 2 - box.left - box.width / 2) / box.width);
        tally.dy.push_back((hit->box.top + hit->box.height / 2 - box.top - box.height / 2) / box.height);
      }
    };
    if (photo.labelled) count(ssd_found, ssd_tally);
    for (std::size_t i = 0; i < others.size(); ++i) count(timed(others[i].second, tallies[i]), tallies[i]);
  }
  const char* against = photos.front().labelled ? "labelled" : "SSD's";
  std::printf("%-28s %-18s faces %4d", name.c_str(), "ssd-512", ssd_tally.faces);
  if (photos.front().labelled) std::printf("  %s found %3d/%-3d", against, ssd_tally.matched, ssd_tally.reference);
  else std::printf("  %-21s", "");
  std::printf("  %7.1f ms  x1.00\n", median(ssd_tally.ms));
  for (std::size_t i = 0; i < others.size(); ++i) {
    const Tally& t = tallies[i];
    std::printf("%-28s %-18s faces %4d  %s found %3d/%-3d  %7.1f ms  x%.2f  box w x%.2f h x%.2f, centre %+.2f %+.2f\n",
                "", others[i].first.c_str(), t.faces, against, t.matched, t.reference, median(t.ms),
                median(ssd_tally.ms) / std::max(1e-9, median(t.ms)), median(t.width_ratio), median(t.height_ratio),
                median(t.dx), median(t.dy));
  }
}

std::vector<Photo> images_in(const fs::path& dir, std::size_t limit) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    const std::string ext = entry.path().extension().string();
    if (entry.is_regular_file() && (ext == ".jpg" || ext == ".png")) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.size() > limit) files.resize(limit);
  std::vector<Photo> photos;
  for (const fs::path& f : files) photos.push_back({f, {}, false});
  return photos;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path testdata = std::getenv("SIAMFACE_TESTDATA") ? std::getenv("SIAMFACE_TESTDATA") : "../shared/testdata";
  fs::path models = default_models_dir();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--testdata") testdata = argv[i + 1];
    else if (flag == "--models") models = argv[i + 1];
  }
  try {
    cv::setNumThreads(1);
    const std::unique_ptr<FaceDetector> ssd_detector = make_ssd_mobilenet_detector(models);
    const std::unique_ptr<FaceDetector> rfb_detector = make_rfb_detector(models);
    const Detect ssd = [&](const cv::Mat& bgr) { return ssd_detector->detect(bgr, ssd_detector->default_min_score()); };
    const std::vector<std::pair<std::string, Detect>> others = {
        {"rfb-320 (0.65)", [&](const cv::Mat& bgr) { return rfb_detector->detect(bgr, 0.65F); }},
        {"rfb-320 (0.5)", [&](const cv::Mat& bgr) { return rfb_detector->detect(bgr, 0.5F); }},
    };
    std::printf("fast_detector_study_bench: one OpenCV thread; IoU >= 0.3 counts as found\n");

    std::vector<Photo> voc;
    std::map<std::string, std::vector<Box>> truth;
    const fs::path voc_dir = testdata / "dlib_examples/faces";
    for (const test::ImglabFace& f : test::read_imglab_faces(voc_dir / "training.xml")) truth[f.image].push_back(f.box);
    for (const auto& [image, boxes] : truth) voc.push_back({voc_dir / image, boxes, true});
    run_set("VOC photos (dlib boxes)", voc, ssd, others);
    run_set("non-face photos", images_in(testdata / "dlib_examples/non_face", 100), ssd, others);
    run_set("face_recognition photos", images_in(testdata / "face_recognition_ageitgey/tests/test_images", 100), ssd,
            others);
    run_set("face-api.js group photos",
            {{testdata / "face-api.js/examples/images/bbt1.jpg", {}, false},
             {testdata / "face-api.js/examples/images/bbt2.jpg", {}, false}},
            ssd, others);
    run_set("lfw_dev 250 px", images_in(testdata / "lfw_dev/lfw-deepfunneled", 200), ssd, others);
    run_set("bundled samples 1920 px", images_in(models / "samples", 100), ssd, others);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fast_detector_study_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
