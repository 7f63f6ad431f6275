// The SSD detector's and the 68-point landmark nets' networks on oneDNN
// (src/embed/dnnl_opencv_graph.cpp) against OpenCV DNN, on real photos: the same detections (boxes
// to 0.05 px, scores to 1e-4) and landmarks (to 0.01 px), no threads of their own at one OpenCV
// thread, thread safety, and [report] lines with the time per detect() and predict() of each.
// The backend is chosen as the embedding networks' is, through $SIAMFACE_RECOGNITION_BACKEND.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/backend_comparison.hpp"
#include "common/scoped_settings.hpp"
#include "common/test_env.hpp"
#include "common/thread_count.hpp"
#include "detect/face_detector.hpp"
#include "landmarks/landmark_net.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;

constexpr float kMinScore = 0.3F;  // below the default 0.5, to compare more boxes

// $SIAMFACE_RECOGNITION_BACKEND for a scope (unset for nullptr), which the networks read when built.
struct ScopedBackend : test::ScopedEnv {
  explicit ScopedBackend(const char* value) : ScopedEnv("SIAMFACE_RECOGNITION_BACKEND", value) {}
};

std::unique_ptr<FaceDetector> opencv_ssd() {
  const ScopedBackend backend("opencv");
  return make_ssd_mobilenet_detector(test::models_dir());
}

using MakeDetector = std::unique_ptr<FaceDetector> (*)(const fs::path&);

// A detector built under a backend the engine may refuse (kInvalidArgument): null then.
std::unique_ptr<FaceDetector> detector_or_null(MakeDetector make, const char* backend_name) {
  const ScopedBackend backend(backend_name);
  try {
    return make(test::models_dir());
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument) return nullptr;
    throw;
  }
}

std::unique_ptr<FaceDetector> ssd_or_null(const char* backend_name) {
  return detector_or_null(make_ssd_mobilenet_detector, backend_name);
}

// Null when this build has no oneDNN.
std::unique_ptr<FaceDetector> onednn_ssd() { return ssd_or_null("onednn"); }

// Null when this build has no oneDNN or the CPU no native bf16.
std::unique_ptr<FaceDetector> bf16_ssd() { return ssd_or_null("onednn-bf16"); }

// The default (no variable) must be oneDNN where the build has it: the same detections as the
// explicit choice, bit for bit.
std::unique_ptr<FaceDetector> default_ssd() {
  const ScopedBackend backend(nullptr);
  return make_ssd_mobilenet_detector(test::models_dir());
}

// RFB-320 (the default detector) under a backend; null when this build has no oneDNN.
std::unique_ptr<FaceDetector> rfb_or_null(const char* backend_name) {
  return detector_or_null(make_rfb_detector, backend_name);
}

std::unique_ptr<LandmarkNet> opencv_landmarks(LandmarkKind kind) {
  const ScopedBackend backend("opencv");
  return make_landmark_net(test::models_dir(), kind);
}

std::unique_ptr<LandmarkNet> onednn_landmarks(LandmarkKind kind) {
  const ScopedBackend backend("onednn");
  try {
    return make_landmark_net(test::models_dir(), kind);
  } catch (const Error& e) {
    if (e.code() == ErrorCode::kInvalidArgument) return nullptr;
    throw;
  }
}

const char* name_of(LandmarkKind kind) { return kind == LandmarkKind::kFull ? "full" : "tiny"; }

struct Photo {
  std::string name;
  cv::Mat bgr;
};

std::vector<Photo> photos() {
  const fs::path data = test::testdata_dir();
  std::vector<fs::path> files;
  for (const char* name : {"biden.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg",
                           "obama_partial_face2.jpg"}) {
    files.push_back(data / "face_recognition_ageitgey/tests/test_images" / name);
  }
  std::vector<fs::path> dlib;
  for (const auto& entry : fs::directory_iterator(data / "dlib_examples/faces")) {
    if (entry.path().extension() == ".jpg") dlib.push_back(entry.path());
  }
  std::sort(dlib.begin(), dlib.end());
  files.insert(files.end(), dlib.begin(), dlib.end());
  std::vector<Photo> result;
  for (const fs::path& file : files) {
    cv::Mat bgr = cv::imread(file.string(), cv::IMREAD_COLOR);
    if (!bgr.empty()) result.push_back({file.filename().string(), bgr});
  }
  return result;
}

#define REQUIRE_PHOTOS()                                                           \
  SIAMFACE_REQUIRE_MODELS();                                                       \
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg"); \
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/faces")

struct Differences {
  double box = 0, score = 0;
};

// Expects the same detections; returns the largest differences.
Differences compare(const std::vector<RawDetection>& expected, const std::vector<RawDetection>& actual,
                    const std::string& what) {
  Differences worst;
  EXPECT_EQ(actual.size(), expected.size()) << what;
  for (std::size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
    const Box& e = expected[i].box;
    const Box& a = actual[i].box;
    const double box = std::max({std::abs(e.left - a.left), std::abs(e.top - a.top), std::abs(e.width - a.width),
                                 std::abs(e.height - a.height)});
    const double score = std::abs(expected[i].score - actual[i].score);
    EXPECT_LE(box, 0.05) << what << " detection " << i;
    EXPECT_LE(score, 1e-4) << what << " detection " << i;
    worst.box = std::max(worst.box, box);
    worst.score = std::max(worst.score, score);
  }
  return worst;
}

double ms_of(const std::function<void()>& run) {
  const auto start = std::chrono::steady_clock::now();
  run();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

using test::ScopedCvThreads;

// One detector on OpenCV DNN, on oneDNN and as built by default, over every photo: the same
// detections (compare's bounds), the default being oneDNN bit for bit. Prints a report line.
void expect_backends_agree(const char* detector, const FaceDetector& opencv, const FaceDetector& onednn,
                           const FaceDetector& by_default) {
  const std::vector<Photo> all = photos();
  ASSERT_GE(all.size(), 6U);
  Differences worst;
  std::size_t detections = 0;
  bool any_difference = false;
  for (const Photo& photo : all) {
    const std::vector<RawDetection> expected = opencv.detect(photo.bgr, kMinScore);
    const std::vector<RawDetection> actual = onednn.detect(photo.bgr, kMinScore);
    const Differences d = compare(expected, actual, photo.name);
    worst.box = std::max(worst.box, d.box);
    worst.score = std::max(worst.score, d.score);
    detections += expected.size();
    for (std::size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
      any_difference = any_difference || expected[i].score != actual[i].score;
    }
    const std::vector<RawDetection> defaulted = by_default.detect(photo.bgr, kMinScore);
    ASSERT_EQ(defaulted.size(), actual.size()) << photo.name << ": the default backend is not oneDNN";
    for (std::size_t i = 0; i < actual.size(); ++i) {
      EXPECT_EQ(defaulted[i].score, actual[i].score) << photo.name << ": the default backend is not oneDNN";
    }
  }
  EXPECT_GE(detections, all.size());  // every photo has a face
  std::printf("[report] %s oneDNN vs OpenCV DNN: %zu photos, %zu detections at min score %.1f, max box "
              "difference %.2g px, max score difference %.2g%s\n",
              detector, all.size(), detections, kMinScore, worst.box, worst.score,
              any_difference ? "" : " (bit-identical: is oneDNN really running?)");
}

TEST(DnnlDetector, SsdDetectionsMatchOpenCv) {
  REQUIRE_PHOTOS();
  const auto onednn = onednn_ssd();
  SIAMFACE_REQUIRE_ONEDNN(onednn);
  expect_backends_agree("SSD", *opencv_ssd(), *onednn, *default_ssd());
}

// RFB on oneDNN stops at the head convolutions and decodes their outputs itself (transpose,
// softmax, priors): the same detections as the whole graph on OpenCV DNN, whose own tail does it.
TEST(DnnlDetector, RfbDetectionsMatchOpenCv) {
  REQUIRE_PHOTOS();
  const auto onednn = rfb_or_null("onednn");
  SIAMFACE_REQUIRE_ONEDNN(onednn);
  expect_backends_agree("RFB", *rfb_or_null("opencv"), *onednn, *rfb_or_null(nullptr));
}

// The opt-in bf16 SSD (onednn-bf16) finds the faces the f32 reference finds, in nearly the same
// boxes: every reference face scoring >= 0.6 has a bf16 one at IoU >= 0.9, and no bf16 face
// scoring >= 0.6 lacks a reference one. A face near the 0.5 threshold may come or go.
TEST(DnnlDetector, SsdInBf16FindsTheSameFacesWhereTheCpuHasIt) {
  REQUIRE_PHOTOS();
  const auto bf16 = bf16_ssd();
  if (!bf16) GTEST_SKIP() << "no oneDNN in this build, or no native bf16 on this CPU (avx512_bf16 / AMX)";
  const auto opencv = opencv_ssd();
  double worst_iou = 1, worst_score = 0;
  std::size_t faces = 0;
  const auto matched = [](const RawDetection& d, const std::vector<RawDetection>& others, double* best_iou) {
    *best_iou = 0;
    for (const RawDetection& o : others) *best_iou = std::max<double>(*best_iou, intersection_over_union(d.box, o.box));
    return *best_iou >= 0.9;
  };
  for (const Photo& photo : photos()) {
    const std::vector<RawDetection> expected = opencv->detect(photo.bgr, kMinScore);
    const std::vector<RawDetection> actual = bf16->detect(photo.bgr, kMinScore);
    for (const RawDetection& e : expected) {
      if (e.score < 0.6F) continue;
      ++faces;
      double iou = 0;
      EXPECT_TRUE(matched(e, actual, &iou)) << photo.name << ": a reference face is missing in bf16 (IoU " << iou << ")";
      worst_iou = std::min(worst_iou, iou);
      for (const RawDetection& a : actual) {
        if (intersection_over_union(a.box, e.box) >= 0.9F) worst_score = std::max<double>(worst_score, std::abs(a.score - e.score));
      }
    }
    for (const RawDetection& a : actual) {
      double iou = 0;
      if (a.score >= 0.6F) EXPECT_TRUE(matched(a, expected, &iou)) << photo.name << ": bf16 found a face the reference did not";
    }
  }
  EXPECT_GE(faces, 6U);
  std::printf("[report] SSD bf16 vs OpenCV DNN f32: %zu faces scoring >= 0.6, smallest IoU %.3f, largest score "
              "difference %.3f\n", faces, worst_iou, worst_score);
}

// Other input sizes stay on OpenCV DNN (a study path): the oneDNN detector gives exactly OpenCV's.
TEST(DnnlDetector, OtherInputSizesRunOnOpenCv) {
  REQUIRE_PHOTOS();
  const auto onednn = onednn_ssd();
  SIAMFACE_REQUIRE_ONEDNN(onednn);
  const auto opencv = opencv_ssd();
  const std::vector<Photo> all = photos();
  for (const int size : {384, 640}) {
    const std::vector<RawDetection> expected = opencv->detect_at(all[1].bgr, kMinScore, size);
    const std::vector<RawDetection> actual = onednn->detect_at(all[1].bgr, kMinScore, size);
    ASSERT_EQ(actual.size(), expected.size()) << size;
    for (std::size_t i = 0; i < actual.size(); ++i) {
      EXPECT_EQ(actual[i].score, expected[i].score) << size;
      EXPECT_EQ(actual[i].box.left, expected[i].box.left) << size;
    }
  }
}

// One oneDNN detector used from several threads at once gives each the serial result.
TEST(DnnlDetector, SsdOnOneDnnIsThreadSafe) {
  REQUIRE_PHOTOS();
  const auto onednn = onednn_ssd();
  SIAMFACE_REQUIRE_ONEDNN(onednn);
  const std::vector<Photo> all = photos();
  std::vector<std::vector<RawDetection>> serial;
  for (const Photo& photo : all) serial.push_back(onednn->detect(photo.bgr, kMinScore));
  std::vector<std::vector<std::vector<RawDetection>>> parallel(3, std::vector<std::vector<RawDetection>>(all.size()));
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < parallel.size(); ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t k = 0; k < all.size(); ++k) {
        const std::size_t i = (k + t * 3) % all.size();
        parallel[t][i] = onednn->detect(all[i].bgr, kMinScore);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (std::size_t t = 0; t < parallel.size(); ++t) {
    for (std::size_t i = 0; i < all.size(); ++i) {
      ASSERT_EQ(parallel[t][i].size(), serial[i].size()) << all[i].name;
      for (std::size_t d = 0; d < serial[i].size(); ++d) {
        EXPECT_EQ(parallel[t][i][d].score, serial[i][d].score) << all[i].name;
        EXPECT_EQ(parallel[t][i][d].box.top, serial[i][d].box.top) << all[i].name;
      }
    }
  }
}

// One OpenCV thread asked for: oneDNN's OpenMP must not start a pool of its own (as
// recognition_net_test's OneDnnRunsOnTheThreadCountTheEngineSet).
TEST(DnnlDetector, SsdOnOneDnnRunsOnTheThreadCountTheEngineSet) {
  REQUIRE_PHOTOS();
  const ScopedCvThreads one(1);
  const std::vector<Photo> all = photos();
  const std::size_t before = test::process_thread_count();
  const auto onednn = onednn_ssd();
  SIAMFACE_REQUIRE_ONEDNN(onednn);
  EXPECT_FALSE(onednn->detect(all[1].bgr, kMinScore).empty());
  EXPECT_FALSE(onednn->detect(all[0].bgr, kMinScore).empty());
  EXPECT_EQ(test::process_thread_count(), before) << "oneDNN started threads nobody asked for";
}

// Not an assertion: the time per detect() of each backend on one thread, median over the photos.
TEST(DnnlDetector, SsdSpeedReport) {
  REQUIRE_PHOTOS();
  const auto onednn = onednn_ssd();
  SIAMFACE_REQUIRE_ONEDNN(onednn);
  const auto opencv = opencv_ssd();
  const ScopedCvThreads one(1);
  const std::vector<Photo> all = photos();
  for (const Photo& photo : all) {  // warm up: plans, OpenCV sessions
    opencv->detect(photo.bgr, 0.5F);
    onednn->detect(photo.bgr, 0.5F);
  }
  std::vector<double> opencv_ms, onednn_ms;
  for (int pass = 0; pass < 2; ++pass) {
    for (const Photo& photo : all) {
      opencv_ms.push_back(ms_of([&] { opencv->detect(photo.bgr, 0.5F); }));
      onednn_ms.push_back(ms_of([&] { onednn->detect(photo.bgr, 0.5F); }));
    }
  }
  const double cv_median = median(opencv_ms), dnnl_median = median(onednn_ms);
  std::printf("[report] SSD detect() at 512, one thread, median over %zu runs: OpenCV DNN %.1f ms, oneDNN %.1f ms "
              "(%.2fx)\n",
              opencv_ms.size(), cv_median, dnnl_median, cv_median / dnnl_median);
  if (const auto bf16 = bf16_ssd()) {  // the opt-in, where the CPU has native bf16; alternating with f32
    std::vector<double> f32_ms, bf16_ms;
    for (const Photo& photo : all) bf16->detect(photo.bgr, 0.5F);
    for (int pass = 0; pass < 2; ++pass) {
      for (const Photo& photo : all) {
        f32_ms.push_back(ms_of([&] { onednn->detect(photo.bgr, 0.5F); }));
        bf16_ms.push_back(ms_of([&] { bf16->detect(photo.bgr, 0.5F); }));
      }
    }
    std::printf("[report] SSD detect() at 512, one thread: oneDNN f32 %.1f ms, bf16 %.1f ms (%.2fx; %.2fx OpenCV DNN)\n",
                median(f32_ms), median(bf16_ms), median(f32_ms) / median(bf16_ms), cv_median / median(bf16_ms));
  }
}

}  // namespace
}  // namespace siamface

namespace siamface {
namespace {

// The faces the OpenCV SSD finds in the photos, with their photo.
struct Face {
  const Photo* photo;
  Box box;
};

std::vector<Face> faces_in(const std::vector<Photo>& all) {
  const auto detector = opencv_ssd();
  std::vector<Face> faces;
  for (const Photo& photo : all) {
    for (const RawDetection& d : detector->detect(photo.bgr, detector->default_min_score())) faces.push_back({&photo, d.box});
  }
  return faces;
}

TEST(DnnlDetector, LandmarksMatchOpenCv) {
  REQUIRE_PHOTOS();
  SIAMFACE_REQUIRE_ONEDNN(onednn_landmarks(LandmarkKind::kTiny));
  const std::vector<Photo> all = photos();
  const std::vector<Face> faces = faces_in(all);
  ASSERT_GE(faces.size(), all.size());
  for (const LandmarkKind kind : {LandmarkKind::kFull, LandmarkKind::kTiny}) {
    const auto opencv = opencv_landmarks(kind);
    const auto onednn = onednn_landmarks(kind);
    double worst = 0;
    bool any_difference = false;
    for (const Face& face : faces) {
      const Landmarks expected = opencv->predict(face.photo->bgr, face.box);
      const Landmarks actual = onednn->predict(face.photo->bgr, face.box);
      for (int i = 0; i < kLandmarkCount; ++i) {
        const double d = std::hypot(expected[i].x - actual[i].x, expected[i].y - actual[i].y);
        EXPECT_LE(d, 0.01) << name_of(kind) << " " << face.photo->name << " point " << i;
        worst = std::max(worst, d);
        any_difference = any_difference || d > 0;
      }
    }
    std::printf("[report] landmarks (%s) oneDNN vs OpenCV DNN: %zu faces, max point distance %.2g px%s\n",
                name_of(kind), faces.size(), worst, any_difference ? "" : " (bit-identical: is oneDNN really running?)");
  }
}

TEST(DnnlDetector, LandmarksOnOneDnnRunOnTheThreadCountTheEngineSet) {
  REQUIRE_PHOTOS();
  const ScopedCvThreads one(1);
  const std::vector<Photo> all = photos();
  const std::size_t before = test::process_thread_count();
  const auto full = onednn_landmarks(LandmarkKind::kFull);  // runs once to check itself
  SIAMFACE_REQUIRE_ONEDNN(full);
  const auto tiny = onednn_landmarks(LandmarkKind::kTiny);
  const Box box{349, 142, 268, 267};  // Obama's face in obama.jpg
  full->predict(all[1].bgr, box);
  tiny->predict(all[1].bgr, box);
  EXPECT_EQ(test::process_thread_count(), before) << "oneDNN started threads nobody asked for";
}

// Not an assertion: the time per predict() (crop, resize and net) of each backend on one thread.
TEST(DnnlDetector, LandmarkSpeedReport) {
  REQUIRE_PHOTOS();
  SIAMFACE_REQUIRE_ONEDNN(onednn_landmarks(LandmarkKind::kTiny));
  const std::vector<Photo> all = photos();
  const std::vector<Face> faces = faces_in(all);
  ASSERT_FALSE(faces.empty());
  const ScopedCvThreads one(1);
  for (const LandmarkKind kind : {LandmarkKind::kFull, LandmarkKind::kTiny}) {
    const auto opencv = opencv_landmarks(kind);
    const auto onednn = onednn_landmarks(kind);
    std::vector<double> opencv_ms, onednn_ms;
    for (int pass = 0; pass < 4; ++pass) {
      for (const Face& face : faces) {
        opencv_ms.push_back(ms_of([&] { opencv->predict(face.photo->bgr, face.box); }));
        onednn_ms.push_back(ms_of([&] { onednn->predict(face.photo->bgr, face.box); }));
      }
    }
    const double cv_median = median(opencv_ms), dnnl_median = median(onednn_ms);
    std::printf("[report] landmark predict() (%s), one thread, median over %zu runs: OpenCV DNN %.2f ms, oneDNN "
                "%.2f ms (%.2fx)\n",
                name_of(kind), opencv_ms.size(), cv_median, dnnl_median, cv_median / dnnl_median);
  }
}

}  // namespace
}  // namespace siamface
