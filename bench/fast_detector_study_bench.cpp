// Study for issue 18, item 2: could a fast detector replace or front the SSD? Runs the pipeline's
// SSD MobileNetV1 (512 px, one pass, no border pass) and the Ultra-Light RFB-320 face detector
// (src/detect/rfb_detector.cpp, `--detector rfb`) on the labelled and unlabelled photo sets, and prints
// per set: faces found, agreement with the labels or with the SSD, and median ms per photo, both
// measured in this run, one OpenCV thread; and how its boxes differ (median width and height
// ratio, centre shift in box widths/heights) from the labels or the SSD's boxes.
//
//   build/bench/fast_detector_study_bench [--testdata DIR] [--models DIR] [--landmarks]
//
// --landmarks: instead, how far the landmarks from RFB's boxes lie from those from the SSD's
// (and from a box rebuilt from the first landmarks), per set: the box shape is not why RFB loses
// the few faces it does (docs/speed-history.md, "Why RFB was not the default").
//
// Figures: docs/speed.md, "Detection: the RFB-320 detector".
#include <algorithm>
#include <array>
#include <cmath>
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

#include "align/arcface_chip.hpp"
#include "bench_timing.hpp"
#include "common/imglab_xml.hpp"
#include "detect/face_detector.hpp"
#include "landmarks/landmark_net.hpp"
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

// Landmark agreement: the landmark net crops the detector's box (x1.2, padded to square), and
// face-api trained it on SSD boxes. For each RFB face that repeats an SSD face, the landmarks
// from the RFB box, and from a box rebuilt from those landmarks, are compared with the landmarks
// from the SSD box: mean point distance in interocular distances.
Box scaled(const Box& b, float s) {
  const Point c = b.center();
  return {c.x - b.width * s / 2, c.y - b.height * s / 2, b.width * s, b.height * s};
}

double landmark_error(const Landmarks& a, const Landmarks& reference) {
  const std::array<Point, 5> points = arcface_points(reference);  // the eye centres first
  const double interocular = std::hypot(points[0].x - points[1].x, points[0].y - points[1].y);
  double sum = 0;
  for (int i = 0; i < kLandmarkCount; ++i) sum += std::hypot(a[i].x - reference[i].x, a[i].y - reference[i].y);
  return sum / kLandmarkCount / std::max(1e-6, interocular);
}

struct LandmarkTally {
  std::vector<double> rfb_box, refined_box, refined_twice;
  // fit of the SSD box from its own landmarks' bounding box: centre shift and size, in its units
  std::vector<double> dx, dy, w, h;
};

void landmark_study(const std::string& name, const std::vector<Photo>& photos, const Detect& ssd, const Detect& rfb,
                    const LandmarkNet& net, const std::function<Box(const Landmarks&)>& box_from_landmarks,
                    LandmarkTally& all) {
  LandmarkTally t;
  for (const Photo& photo : photos) {
    const cv::Mat bgr = cv::imread(photo.path.string(), cv::IMREAD_COLOR);
    const std::vector<RawDetection> ssd_found = ssd(bgr), rfb_found = rfb(bgr);
    for (const RawDetection& s : ssd_found) {
      const Landmarks reference = net.predict(bgr, scaled(s.box, 1.2F));
      float min_x = 1e9F, min_y = 1e9F, max_x = -1e9F, max_y = -1e9F;
      for (const Point& p : reference) min_x = std::min(min_x, p.x), max_x = std::max(max_x, p.x),
                                       min_y = std::min(min_y, p.y), max_y = std::max(max_y, p.y);
      const float lw = max_x - min_x, lh = max_y - min_y;
      t.dx.push_back((s.box.center().x - (min_x + max_x) / 2) / lw);
      t.dy.push_back((s.box.center().y - (min_y + max_y) / 2) / lh);
      t.w.push_back(s.box.width / lw);
      t.h.push_back(s.box.height / lh);
      const auto hit = std::find_if(rfb_found.begin(), rfb_found.end(),
                                    [&](const RawDetection& d) { return overlaps(d.box, s.box); });
      if (hit == rfb_found.end()) continue;
      const Landmarks from_rfb = net.predict(bgr, scaled(hit->box, 1.2F));
      t.rfb_box.push_back(landmark_error(from_rfb, reference));
      if (!box_from_landmarks) continue;  // fitting the map
      const Landmarks refined = net.predict(bgr, scaled(box_from_landmarks(from_rfb), 1.2F));
      const Landmarks twice = net.predict(bgr, scaled(box_from_landmarks(refined), 1.2F));
      t.refined_box.push_back(landmark_error(refined, reference));
      t.refined_twice.push_back(landmark_error(twice, reference));
    }
  }
  const auto p90 = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[static_cast<std::size_t>(0.9 * static_cast<double>(v.size() - 1))];
  };
  std::printf("%-28s faces %3zu  landmark error vs SSD box (median / p90 / max, interocular): RFB box %.3f / %.3f / %.3f;"
              " refined %.3f / %.3f / %.3f; twice %.3f / %.3f / %.3f;  SSD box from its landmarks: centre %+.3f %+.3f, "
              "size x%.3f x%.3f\n",
              name.c_str(), t.rfb_box.size(), median(t.rfb_box), p90(t.rfb_box),
              t.rfb_box.empty() ? 0.0 : *std::max_element(t.rfb_box.begin(), t.rfb_box.end()), median(t.refined_box),
              p90(t.refined_box),
              t.refined_box.empty() ? 0.0 : *std::max_element(t.refined_box.begin(), t.refined_box.end()),
              median(t.refined_twice), p90(t.refined_twice),
              t.refined_twice.empty() ? 0.0 : *std::max_element(t.refined_twice.begin(), t.refined_twice.end()),
              median(t.dx), median(t.dy), median(t.w), median(t.h));
  using Field = std::vector<double> LandmarkTally::*;
  for (const Field field : {&LandmarkTally::rfb_box, &LandmarkTally::refined_box, &LandmarkTally::refined_twice,
                            &LandmarkTally::dx, &LandmarkTally::dy, &LandmarkTally::w, &LandmarkTally::h}) {
    (all.*field).insert((all.*field).end(), (t.*field).begin(), (t.*field).end());
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
  bool landmarks_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--landmarks") landmarks_only = true;
    else if (flag == "--testdata" && i + 1 < argc) testdata = argv[++i];
    else if (flag == "--models" && i + 1 < argc) models = argv[++i];
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
    if (landmarks_only) {
      const std::unique_ptr<LandmarkNet> net = make_landmark_net(models, LandmarkKind::kFull);
      const Detect& rfb = others.front().second;
      std::vector<Photo> voc_photos;
      for (const test::ImglabFace& f : test::read_imglab_faces(testdata / "dlib_examples/faces/training.xml")) {
        if (voc_photos.empty() || voc_photos.back().path.filename() != f.image) {
          voc_photos.push_back({testdata / "dlib_examples/faces" / f.image, {}, false});
        }
      }
      // Fit on the VOC photos and the bundled samples; every other set only checks the fit.
      LandmarkTally fit;
      landmark_study("fit: VOC photos", voc_photos, ssd, rfb, *net, nullptr, fit);
      landmark_study("fit: bundled samples", images_in(models / "samples", 100), ssd, rfb, *net, nullptr, fit);
      const double fdx = median(fit.dx), fdy = median(fit.dy), fw = median(fit.w), fh = median(fit.h);
      std::printf("fitted: SSD box = landmark bounding box shifted by %+.4f, %+.4f of its size, scaled x%.4f x%.4f\n",
                  fdx, fdy, fw, fh);
      const auto refit = [&](const Landmarks& l) {
        float min_x = 1e9F, min_y = 1e9F, max_x = -1e9F, max_y = -1e9F;
        for (const Point& p : l) min_x = std::min(min_x, p.x), max_x = std::max(max_x, p.x),
                                 min_y = std::min(min_y, p.y), max_y = std::max(max_y, p.y);
        const double lw = max_x - min_x, lh = max_y - min_y;
        const double cx = (min_x + max_x) / 2 + fdx * lw, cy = (min_y + max_y) / 2 + fdy * lh;
        return Box{static_cast<float>(cx - fw * lw / 2), static_cast<float>(cy - fh * lh / 2),
                   static_cast<float>(fw * lw), static_cast<float>(fh * lh)};
      };
      LandmarkTally all;
      landmark_study("VOC photos", voc_photos, ssd, rfb, *net, refit, all);
      landmark_study("bundled samples", images_in(models / "samples", 100), ssd, rfb, *net, refit, all);
      landmark_study("face_recognition photos", images_in(testdata / "face_recognition_ageitgey/tests/test_images", 100),
                     ssd, rfb, *net, refit, all);
      landmark_study("face-api.js photos", images_in(testdata / "face-api.js/examples/images", 100), ssd, rfb, *net,
                     refit, all);
      landmark_study("lfw_dev 250 px", images_in(testdata / "lfw_dev/lfw-deepfunneled", 300), ssd, rfb, *net, refit,
                     all);
      landmark_study("LFW 250 px (first 600)", images_in(testdata / "lfw/lfw-deepfunneled", 600), ssd, rfb, *net, refit,
                     all);
      return 0;
    }
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
