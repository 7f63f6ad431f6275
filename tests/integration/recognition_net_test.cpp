// The face recognition embedder on the installed face-api weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <latch>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <random>
#include <sstream>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include "common/backend_comparison.hpp"
#include "common/scoped_settings.hpp"
#include "common/test_env.hpp"
#include "common/thread_count.hpp"
#include "align/arcface_chip.hpp"
#include "embed/mobile_face_net.hpp"
#include "embed/recognition_net.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

namespace siamface {
namespace {

namespace fs = std::filesystem;

constexpr const char* kManifest = "face_recognition_model-weights_manifest.json";
constexpr const char* kBin = "face_recognition_model.bin";

const RecognitionNet& shared_net() {
  static const std::unique_ptr<RecognitionNet> net = make_recognition_net(test::models_dir());
  return *net;
}

cv::Mat random_chip(unsigned seed) {
  cv::Mat chip(kChipSize, kChipSize, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(chip, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(chip, chip, cv::Size(5, 5), 0);  // something more image-like than white noise
  return chip;
}

float max_abs_diff(const Embedding& a, const Embedding& b) {
  float worst = 0.0F;
  for (int i = 0; i < kDlibEmbeddingSize; ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

// A crude chip from a deep-funneled LFW image (250x250, face roughly centred): the central
// square resized to 150.
cv::Mat lfw_chip(const std::string& relative) {
  const fs::path path = test::testdata_dir() / "lfw_dev" / "lfw-deepfunneled" / relative;
  const cv::Mat image = cv::imread(path.string(), cv::IMREAD_COLOR);
  EXPECT_FALSE(image.empty()) << path;
  if (image.empty()) return cv::Mat(kChipSize, kChipSize, CV_8UC3, cv::Scalar::all(0));
  const int side = std::min(image.cols, image.rows) * 110 / 250;
  const cv::Rect crop((image.cols - side) / 2, (image.rows - side) / 2 + side / 12, side, side);
  cv::Mat chip;
  cv::resize(image(crop & cv::Rect(0, 0, image.cols, image.rows)), chip, cv::Size(kChipSize, kChipSize), 0, 0,
             cv::INTER_AREA);
  return chip;
}

// Copies the recognition model files to a fresh temp dir.
fs::path copy_models(const std::string& tag) {
  const fs::path dir = fs::temp_directory_path() / ("siamface_recog_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(test::models_dir() / kManifest, dir / kManifest);
  fs::copy_file(test::models_dir() / kBin, dir / kBin);
  return dir;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(RecognitionNet, EmbeddingsAre128dFiniteAndDeterministic) {
  SIAMFACE_REQUIRE_MODELS();
  const RecognitionNet& net = shared_net();
  const cv::Mat chip = random_chip(1);
  const auto first = net.embed({chip});
  const auto second = net.embed({chip});
  ASSERT_EQ(first.size(), 1U);
  ASSERT_EQ(second.size(), 1U);
  double norm = 0.0;
  for (float v : first[0]) {
    ASSERT_TRUE(std::isfinite(v));
    norm += v * v;
  }
  // dlib embeddings are not normalised but are of order 1; all-zero would mean a dead net.
  EXPECT_GT(norm, 0.01);
  EXPECT_LT(norm, 100.0);
  EXPECT_EQ(first[0], second[0]);

  const auto other = net.embed({random_chip(2)});
  EXPECT_GT(max_abs_diff(first[0], other[0]), 1e-4F) << "different inputs gave the same embedding";
  EXPECT_TRUE(net.embed({}).empty());
}

TEST(RecognitionNet, BatchEqualsSingles) {
  SIAMFACE_REQUIRE_MODELS();
  const RecognitionNet& net = shared_net();
  std::vector<cv::Mat> chips;
  for (unsigned i = 0; i < 5; ++i) chips.push_back(random_chip(10 + i));
  const auto batch = net.embed(chips);
  ASSERT_EQ(batch.size(), chips.size());
  for (std::size_t i = 0; i < chips.size(); ++i) {
    const auto single = net.embed({chips[i]});
    ASSERT_EQ(single.size(), 1U);
    EXPECT_LT(max_abs_diff(batch[i], single[0]), 1e-5F) << "chip " << i;
  }
}

TEST(RecognitionNet, ConcurrentEmbedGivesIdenticalResults) {
  SIAMFACE_REQUIRE_MODELS();
  const RecognitionNet& net = shared_net();
  std::vector<cv::Mat> chips;
  for (unsigned i = 0; i < 4; ++i) chips.push_back(random_chip(20 + i));
  std::vector<Embedding> expected;
  for (const cv::Mat& chip : chips) expected.push_back(net.embed({chip})[0]);

  constexpr int kThreads = 4;
  constexpr int kRounds = 3;
  std::vector<std::vector<Embedding>> got(kThreads);
  std::vector<std::thread> threads;
  std::latch start(kThreads);  // all threads embed at once, so the pool must hand out several nets
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int r = 0; r < kRounds; ++r) {
        const std::size_t index = static_cast<std::size_t>(t + r) % chips.size();
        got[t].push_back(net.embed({chips[index]})[0]);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(got[t].size(), static_cast<std::size_t>(kRounds));
    for (int r = 0; r < kRounds; ++r) {
      EXPECT_EQ(got[t][r], expected[static_cast<std::size_t>(t + r) % chips.size()])
          << "thread " << t << " round " << r;
    }
  }
}

TEST(RecognitionNet, RejectsWrongChipFormat) {
  SIAMFACE_REQUIRE_MODELS();
  const RecognitionNet& net = shared_net();
  try {
    net.embed({cv::Mat(100, 150, CV_8UC3, cv::Scalar::all(0))});
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_THROW(net.embed({cv::Mat(150, 150, CV_8UC1, cv::Scalar::all(0))}), Error);
}

TEST(RecognitionNet, WrongTensorShapeIsCorruptAndNamesTheTensor) {
  SIAMFACE_REQUIRE_MODELS();
  const fs::path dir = copy_models("shape");
  std::string manifest = read_text(dir / kManifest);
  const std::string from = "\"name\":\"fc\",\"shape\":[256,128]";
  const std::size_t at = manifest.find(from);
  ASSERT_NE(at, std::string::npos) << "manifest layout changed; update the test";
  // [128,256] has the same byte count, so only the shape check can catch it.
  manifest.replace(at, from.size(), "\"name\":\"fc\",\"shape\":[128,256]");
  std::ofstream(dir / kManifest, std::ios::binary | std::ios::trunc) << manifest;
  try {
    make_recognition_net(dir);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelCorrupt);
    const std::string message = e.what();
    EXPECT_NE(message.find("'fc'"), std::string::npos) << message;
    EXPECT_NE(message.find(kManifest), std::string::npos) << message;
  }
  fs::remove_all(dir);
}

TEST(RecognitionNet, MissingWeightsFileIsModelMissing) {
  SIAMFACE_REQUIRE_MODELS();
  const fs::path dir = copy_models("missing");
  fs::remove(dir / kBin);
  try {
    make_recognition_net(dir);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelMissing);
    EXPECT_NE(std::string(e.what()).find(kBin), std::string::npos) << e.what();
  }
  fs::remove(dir / kManifest);
  try {
    make_recognition_net(dir);
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kModelMissing);
  }
  fs::remove_all(dir);
}

TEST(RecognitionNet, SamePersonIsCloserThanDifferentPerson) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const RecognitionNet& net = shared_net();
  struct Triple {
    const char* anchor;
    const char* same;
    const char* other;
  };
  // Pairs checked by hand against lfw_dev/identities.tsv.
  const Triple triples[] = {
      {"Jon_Voight/Jon_Voight_0001.jpg", "Jon_Voight/Jon_Voight_0002.jpg",
       "Justin_Leonard/Justin_Leonard_0001.jpg"},
      {"Martha_Burk/Martha_Burk_0001.jpg", "Martha_Burk/Martha_Burk_0002.jpg",
       "Mary_Carey/Mary_Carey_0001.jpg"},
      {"Marc_Grossman/Marc_Grossman_0001.jpg", "Marc_Grossman/Marc_Grossman_0003.jpg",
       "Mark_Gottfried/Mark_Gottfried_0001.jpg"},
  };
  for (const Triple& t : triples) {
    const auto e = net.embed({lfw_chip(t.anchor), lfw_chip(t.same), lfw_chip(t.other)});
    ASSERT_EQ(e.size(), 3U);
    const float same = euclidean_distance(e[0], e[1]);
    const float different = euclidean_distance(e[0], e[2]);
    RecordProperty(t.anchor, std::to_string(same) + " / " + std::to_string(different));
    EXPECT_LT(same, different) << t.anchor << " vs " << t.same << " / " << t.other;
  }
}

// The oneDNN ResNet (the default when the build has oneDNN) against the OpenCV DNN reference,
// on image-like and real face chips, batched (11 chips: plans of 8, 2 and 1) and one at a time.
std::unique_ptr<RecognitionNet> onednn_net_or_skip(InferenceBackend backend) {
  try {
    return make_recognition_net(test::models_dir(), backend);
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kInvalidArgument) throw;
    return nullptr;
  }
}

std::vector<cv::Mat> comparison_chips() {
  std::vector<cv::Mat> chips;
  for (unsigned i = 0; i < 5; ++i) chips.push_back(random_chip(40 + i));
  for (const char* face : {"Jon_Voight/Jon_Voight_0001.jpg", "Jon_Voight/Jon_Voight_0002.jpg",
                           "Martha_Burk/Martha_Burk_0001.jpg", "Mary_Carey/Mary_Carey_0001.jpg",
                           "Marc_Grossman/Marc_Grossman_0003.jpg", "Justin_Leonard/Justin_Leonard_0001.jpg"}) {
    chips.push_back(lfw_chip(face));
  }
  return chips;
}

TEST(RecognitionNet, OneDnnGivesTheOpenCvEmbeddingsInBatchesAndAlone) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const auto onednn = onednn_net_or_skip(InferenceBackend::kOneDnn);
  SIAMFACE_REQUIRE_ONEDNN(onednn);
  EXPECT_STREQ(onednn->backend_name(), "oneDNN f32");
  const auto reference = make_recognition_net(test::models_dir(), InferenceBackend::kOpenCv);
  EXPECT_STREQ(reference->backend_name(), "OpenCV DNN");
  EXPECT_EQ(onednn->flops_per_chip(), reference->flops_per_chip());
  const std::vector<cv::Mat> chips = comparison_chips();
  ASSERT_EQ(chips.size(), 11U);
  // Measured: 1.2e-6 at most; the decision threshold is 0.6.
  test::expect_same_embeddings(*reference, *onednn, chips, 1e-4F);
}

TEST(RecognitionNet, OneDnnBf16StaysNearTheReferenceWhereTheCpuHasIt) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const auto bf16 = onednn_net_or_skip(InferenceBackend::kOneDnnBf16);
  if (!bf16) GTEST_SKIP() << "no oneDNN in this build, or no native bf16 on this CPU (avx512_bf16 / AMX)";
  const auto reference = make_recognition_net(test::models_dir(), InferenceBackend::kOpenCv);
  const std::vector<cv::Mat> chips = comparison_chips();
  const auto expected = reference->embed(chips);
  const auto got = bf16->embed(chips);
  ASSERT_EQ(got.size(), chips.size());
  for (std::size_t i = 0; i < chips.size(); ++i) {
    // Measured: 0.0064 at most, about 1 % of the 0.6 threshold.
    EXPECT_LT(euclidean_distance(got[i], expected[i]), 0.02F) << "chip " << i;
  }
}

// One OpenCV thread asked for: oneDNN's OpenMP (both networks) must not start a pool of its own (users' machines
// run it beside OpenBLAS and OpenCV's pools; the engine's thread count is the only knob).
TEST(RecognitionNet, OneDnnRunsOnTheThreadCountTheEngineSet) {
  SIAMFACE_REQUIRE_MODELS();
  const test::ScopedCvThreads one(1);
  const std::size_t before = test::process_thread_count();  // OpenBLAS may have started its pool before main
  const auto onednn = onednn_net_or_skip(InferenceBackend::kOneDnn);  // runs one chip to check itself
  if (!onednn) GTEST_SKIP() << "this build has no oneDNN";
  const auto mobile = make_mobile_face_net(test::models_dir(), InferenceBackend::kOneDnn);
  std::vector<cv::Mat> chips, small_chips;
  for (unsigned i = 0; i < 9; ++i) {
    chips.push_back(random_chip(60 + i));
    small_chips.push_back(chips.back()(cv::Rect(0, 0, kArcFaceChipSize, kArcFaceChipSize)).clone());
  }
  EXPECT_EQ(onednn->embed(chips).size(), chips.size());
  EXPECT_EQ(mobile->embed(small_chips).size(), small_chips.size());
  EXPECT_EQ(test::process_thread_count(), before) << "oneDNN started threads nobody asked for";
}

TEST(RecognitionNet, BackendFromTheEnvironmentIsCheckedAndUsed) {
  SIAMFACE_REQUIRE_MODELS();
  const test::ScopedEnv backend("SIAMFACE_RECOGNITION_BACKEND", "opencv");
  EXPECT_STREQ(make_recognition_net(test::models_dir())->backend_name(), "OpenCV DNN");
  backend.set("cuda");
  try {
    make_recognition_net(test::models_dir());
    ADD_FAILURE() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("SIAMFACE_RECOGNITION_BACKEND"), std::string::npos) << e.what();
  }
}

// Python's multiprocessing and many servers fork after the networks have run: the child must
// detect and embed too, on every backend (GNU libgomp hangs in a forked child whose parent ran a
// parallel region: it did here before src/util/omp_threads.cpp), and get the parent's results.
TEST(RecognitionNet, AForkedChildAnalysesAPhotoAsTheParentDid) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const test::ScopedCvThreads two(2);  // parallel regions with a thread pool in the parent
  const Engine engine = Engine::open();
  const Image photo =
      load_image((test::testdata_dir() / "face_recognition_ageitgey/tests/test_images/obama.jpg").string());
  const std::vector<FaceEmbedding> expected = engine.analyze(photo);
  ASSERT_EQ(expected.size(), 1U);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::alarm(60);  // a hang ends as SIGALRM, which the parent reports
    const std::vector<FaceEmbedding> got = engine.analyze(photo);
    const bool same = got.size() == 1 && got[0].embedding == expected[0].embedding;
    ::_exit(same ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_FALSE(WIFSIGNALED(status)) << "the forked child died of signal " << WTERMSIG(status)
                                    << (WTERMSIG(status) == SIGALRM ? " (it hung in the networks)" : "");
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the forked child's result differs from the parent's";
}

}  // namespace
}  // namespace siamface
