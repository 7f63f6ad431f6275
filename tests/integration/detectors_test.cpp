// The three face detectors on labelled photos: Obama's box, recall on dlib's 18 VOC faces,
// animal negatives, the bbt1 group photo, concurrency and speed.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <map>
#include <ostream>
#include <mutex>
#include <algorithm>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/scoped_settings.hpp"
#include "common/test_env.hpp"
#include "detect/face_detector.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;

enum class Kind { kSsd, kTiny, kHaar, kRfb };

// What each detector does on the test photos, measured at its default min score. The
// floors sit at the measured values so a regression fails; see the report lines each test
// prints for the actual numbers.
struct Expectations {
  Kind kind;
  const char* name;
  int recall_floor;            // of the 18 dlib boxes matched at IoU >= 0.5 (measured)
  int bbt1_min, bbt1_max;      // faces found in bbt1.jpg (4 real)
  std::vector<std::string> clean_negatives;  // non_face images with no detection at all
  int bbt2_min;                // faces found in bbt2.jpg (2 clear ones)
};

void PrintTo(const Expectations& e, std::ostream* os) { *os << e.name; }

std::string name_of(const testing::TestParamInfo<Expectations>& info) { return info.param.name; }

const FaceDetector& detector(Kind kind) {
  static std::map<Kind, std::unique_ptr<FaceDetector>> cache;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[kind];
  if (!slot) {
    const fs::path models = test::models_dir();
    slot = kind == Kind::kSsd    ? make_ssd_mobilenet_detector(models)
           : kind == Kind::kTiny ? make_tiny_face_detector(models)
           : kind == Kind::kRfb  ? make_rfb_detector(models)
                                 : make_haar_detector(models);
  }
  return *slot;
}

cv::Mat load(const fs::path& path) {
  cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
  if (image.empty()) throw std::runtime_error("cannot read " + path.string());
  return image;
}

std::vector<RawDetection> detect_default(const FaceDetector& d, const cv::Mat& image) {
  return d.detect(image, d.default_min_score());
}

// Obama's dlib HOG box from test_expectations.tsv ("top,right,bottom,left (dlib HOG...)").
Box obama_box() {
  std::ifstream in(test::testdata_dir() / "face_recognition_ageitgey" / "test_expectations.tsv");
  std::string line;
  const std::regex row(R"(^face_box_trbl\ttests/test_images/obama\.jpg\t\t(\d+),(\d+),(\d+),(\d+))");
  while (std::getline(in, line)) {
    std::smatch m;
    if (std::regex_search(line, m, row)) {
      const float top = std::stof(m[1]), right = std::stof(m[2]), bottom = std::stof(m[3]), left = std::stof(m[4]);
      return Box{left, top, right - left, bottom - top};
    }
  }
  throw std::runtime_error("no obama.jpg face_box_trbl row in test_expectations.tsv");
}

// dlib imglab XML, read simply: <image file='...'> followed by <box top left width height/>.
std::map<std::string, std::vector<Box>> imglab_boxes(const fs::path& xml) {
  std::ifstream in(xml);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  std::map<std::string, std::vector<Box>> out;
  const std::regex token(
      R"(<image file='([^']+)'|<box top='(-?\d+)' left='(-?\d+)' width='(\d+)' height='(\d+)')");
  std::string current;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), token); it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    if (m[1].matched) {
      current = m[1];
    } else {
      out[current].push_back(Box{std::stof(m[3]), std::stof(m[2]), std::stof(m[4]), std::stof(m[5])});
    }
  }
  return out;
}

int bbt1_face_count() {
  std::ifstream in(test::testdata_dir() / "face-api.js" / "labels.tsv");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("examples/images/bbt1.jpg\t", 0) == 0) {
      std::stringstream fields(line);
      std::string image, people, count;
      std::getline(fields, image, '\t');
      std::getline(fields, people, '\t');
      std::getline(fields, count, '\t');
      return std::stoi(count);
    }
  }
  throw std::runtime_error("no bbt1.jpg row in face-api.js/labels.tsv");
}

class DetectorTest : public testing::TestWithParam<Expectations> {};

TEST_P(DetectorTest, FindsObama) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const cv::Mat image = load(test::testdata_dir() / "face_recognition_ageitgey/tests/test_images/obama.jpg");
  const auto dets = detect_default(detector(GetParam().kind), image);
  ASSERT_EQ(dets.size(), 1U);
  const float iou = intersection_over_union(dets[0].box, obama_box());
  std::printf("[report] %s obama.jpg: IoU %.3f with dlib HOG box, score %.3f\n", GetParam().name, iou, dets[0].score);
  EXPECT_GE(iou, 0.6F);
  EXPECT_GT(dets[0].score, 0.0F);
  EXPECT_LE(dets[0].score, 1.0F);
}

TEST_P(DetectorTest, RecallOnDlibVocFaces) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/faces/training.xml");
  const fs::path dir = test::testdata_dir() / "dlib_examples/faces";
  const auto truth = imglab_boxes(dir / "training.xml");
  int total = 0, found = 0, detections = 0;
  double iou_sum = 0;
  for (const auto& [file, boxes] : truth) {
    const cv::Mat image = load(dir / file);
    const auto dets = detect_default(detector(GetParam().kind), image);
    detections += static_cast<int>(dets.size());
    for (const RawDetection& d : dets) {
      EXPECT_GE(d.box.left, 0.0F);
      EXPECT_GE(d.box.top, 0.0F);
      EXPECT_LE(d.box.right(), static_cast<float>(image.cols) + 1e-3F);
      EXPECT_LE(d.box.bottom(), static_cast<float>(image.rows) + 1e-3F);
    }
    for (const Box& box : boxes) {
      ++total;
      float best = 0;
      for (const RawDetection& d : dets) best = std::max(best, intersection_over_union(box, d.box));
      if (best >= 0.5F) ++found, iou_sum += best;
    }
  }
  ASSERT_EQ(total, 18);
  std::printf("[report] %s dlib VOC faces: recall %d/%d = %.1f%% at IoU>=0.5 (mean IoU of hits %.3f), %d detections\n",
              GetParam().name, found, total, 100.0 * found / total, found ? iou_sum / found : 0.0, detections);
  EXPECT_GE(found, GetParam().recall_floor);
}

TEST_P(DetectorTest, NoFaceInAnimalPhotos) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/non_face");
  for (const char* file : {"dog.jpg", "dogs.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg"}) {
    const auto dets =
        detect_default(detector(GetParam().kind), load(test::testdata_dir() / "dlib_examples/non_face" / file));
    std::printf("[report] %s non_face/%s: %zu detections%s\n", GetParam().name, file, dets.size(),
                dets.empty() ? "" : (", best score " + std::to_string(dets[0].score)).c_str());
    const auto& clean = GetParam().clean_negatives;
    if (std::find(clean.begin(), clean.end(), file) != clean.end()) {
      EXPECT_TRUE(dets.empty()) << file;
    }
  }
}

TEST_P(DetectorTest, GroupPhotoBbt1) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/bbt1.jpg");
  ASSERT_EQ(bbt1_face_count(), 4);
  const auto dets = detect_default(detector(GetParam().kind),
                                   load(test::testdata_dir() / "face-api.js/examples/images/bbt1.jpg"));
  std::printf("[report] %s bbt1.jpg: %zu faces (labels say %d)\n", GetParam().name, dets.size(), bbt1_face_count());
  EXPECT_GE(static_cast<int>(dets.size()), GetParam().bbt1_min);
  EXPECT_LE(static_cast<int>(dets.size()), GetParam().bbt1_max);
  for (std::size_t i = 1; i < dets.size(); ++i) EXPECT_GE(dets[i - 1].score, dets[i].score);  // best first
}

TEST_P(DetectorTest, ConcurrentCallsGiveIdenticalResults) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/faces/2008_002079.jpg");
  const FaceDetector& d = detector(GetParam().kind);
  const std::vector<cv::Mat> images = {
      load(test::testdata_dir() / "dlib_examples/faces/2008_002079.jpg"),
      load(test::testdata_dir() / "dlib_examples/faces/2008_001009.jpg"),
      load(test::testdata_dir() / "face-api.js/examples/images/bbt1.jpg")};
  std::vector<std::vector<RawDetection>> expected;
  for (const cv::Mat& image : images) expected.push_back(d.detect(image, 0.3F));
  auto worker = [&](int seed) {
    int mismatches = 0;
    for (int round = 0; round < 3; ++round) {
      for (std::size_t k = 0; k < images.size(); ++k) {
        const std::size_t i = (k + static_cast<std::size_t>(seed)) % images.size();
        const auto got = d.detect(images[i], 0.3F);
        if (got.size() != expected[i].size()) {
          ++mismatches;
          continue;
        }
        for (std::size_t j = 0; j < got.size(); ++j) {
          const RawDetection &a = got[j], &b = expected[i][j];
          if (a.score != b.score || a.box.left != b.box.left || a.box.top != b.box.top ||
              a.box.width != b.box.width || a.box.height != b.box.height) {
            ++mismatches;
          }
        }
      }
    }
    return mismatches;
  };
  std::vector<std::future<int>> runs;
  for (int t = 0; t < 4; ++t) runs.push_back(std::async(std::launch::async, worker, t));
  for (auto& run : runs) EXPECT_EQ(run.get(), 0);
}

TEST_P(DetectorTest, ReportsSingleThreadSpeed) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/bbt2.jpg");
  const cv::Mat image = load(test::testdata_dir() / "face-api.js/examples/images/bbt2.jpg");  // 675x469
  const FaceDetector& d = detector(GetParam().kind);
  const test::ScopedCvThreads one(1);
  const auto warm = detect_default(d, image);
  constexpr int kRuns = 5;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) detect_default(d, image);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / kRuns;
  std::printf("[report] %s %dx%d: %.1f ms per image (1 thread), %zu faces\n", GetParam().name, image.cols, image.rows,
              ms, warm.size());
  EXPECT_GE(static_cast<int>(warm.size()), GetParam().bbt2_min);
  EXPECT_LT(ms, 5000.0);  // a generous bound: a hang or pathological slowdown fails
}

INSTANTIATE_TEST_SUITE_P(
    Detectors, DetectorTest,
    testing::Values(
        // ssd: 17/18 at IoU 0.5, bbt1 4/4, dogs.jpg fires once (see below), bbt2 3 faces.
        Expectations{Kind::kSsd, "ssd", 17, 4, 4, {"dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg"}, 2},
        // tiny: 7/18 (misses most 37 px faces at input 416, and its boxes are looser), bbt1 2/4.
        Expectations{Kind::kTiny, "tiny", 7, 2, 4,
                     {"dog.jpg", "dogs.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg"}, 2},
        // haar: 11/18, bbt1 4 + 1 false box, a false box on eagle.jpg, no face in bbt2.jpg.
        Expectations{Kind::kHaar, "haar", 11, 4, 5, {"dog.jpg", "dogs.jpg", "giraffe.jpg", "horses.jpg"}, 0},
        // rfb: 18/18 (mean IoU 0.66), bbt1 4/4, silent on all five animal photos, bbt2 3 faces.
        Expectations{Kind::kRfb, "rfb", 18, 4, 4, {"dog.jpg", "dogs.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg"}, 3}),
    name_of);

// dogs.jpg (four close-up dog faces) is a hard negative that the SSD model does fire on: one
// box at score ~0.79 over a dog's face. Pin that so a change in behaviour is noticed.
TEST(SsdDetector, HardNegativeDogsFiresOnceBelowPointNine) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/non_face/dogs.jpg");
  const FaceDetector& d = detector(Kind::kSsd);
  const auto dets = detect_default(d, load(test::testdata_dir() / "dlib_examples/non_face/dogs.jpg"));
  ASSERT_LE(dets.size(), 1U);
  for (const RawDetection& det : dets) EXPECT_LT(det.score, 0.9F);
  EXPECT_TRUE(d.detect(load(test::testdata_dir() / "dlib_examples/non_face/dogs.jpg"), 0.9F).empty());
}

TEST(SsdDetector, MinScoreFiltersAndBadImageThrows) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/faces/2008_001009.jpg");
  const FaceDetector& d = detector(Kind::kSsd);
  const cv::Mat image = load(test::testdata_dir() / "dlib_examples/faces/2008_001009.jpg");
  const auto low = d.detect(image, 0.05F);
  const auto high = d.detect(image, 0.9F);
  EXPECT_GT(low.size(), high.size());
  for (const RawDetection& det : high) EXPECT_GE(det.score, 0.9F);
  EXPECT_THROW(d.detect(cv::Mat(), 0.5F), Error);
  EXPECT_THROW(d.detect(cv::Mat(10, 10, CV_8UC1), 0.5F), Error);
}

TEST(Detectors, MissingModelsDirThrowsModelMissing) {
  const fs::path nowhere = fs::temp_directory_path() / "siamface-no-models-here";
  for (auto make : {&make_ssd_mobilenet_detector, &make_tiny_face_detector, &make_haar_detector}) {
    try {
      make(nowhere);
      ADD_FAILURE() << "expected an Error";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kModelMissing);
      EXPECT_NE(std::string(e.what()).find(nowhere.string()), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace siamface
