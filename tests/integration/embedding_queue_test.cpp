// Engine::embed_many and EmbeddingQueue (issue 36: watch's cameras embed their faces together):
// faces of several images embedded in one call, or handed in from several threads at once,
// get the embeddings Engine::embed gives each alone; bad calls are refused; a tracker with a
// queue names as one without.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "common/test_env.hpp"
#include "image/cv_image.hpp"
#include "siamface/errors.hpp"
#include "siamface/tracker.hpp"

namespace fs = std::filesystem;
using namespace siamface;

namespace {

// A crop of `person` padded on grey, as a video frame would show it.
Image padded_face(const std::string& person, int n) {
  const fs::path path =
      test::testdata_dir() / "face-api.js" / "examples" / "images" / person / (person + std::to_string(n) + ".png");
  cv::Mat picture = cv::imread(path.string());
  if (picture.empty()) return {};
  cv::resize(picture, picture, cv::Size(110, 110));
  cv::copyMakeBorder(picture, picture, 65, 65, 65, 65, cv::BORDER_CONSTANT, cv::Scalar(128, 128, 128));
  return from_mat(picture);
}

float largest_difference(const Embedding& a, const Embedding& b) {
  float worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

class EmbeddingQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SIAMFACE_REQUIRE_MODELS();
    SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/sheldon");
    if (!engine_) engine_ = std::make_unique<Engine>(Engine::open());
    for (const auto& [person, n] : std::vector<std::pair<std::string, int>>{{"sheldon", 2}, {"penny", 1}, {"raj", 1}}) {
      images_.push_back(padded_face(person, n));
      ASSERT_FALSE(images_.back().empty()) << person;
      const std::vector<Face> faces = engine_->detect(images_.back());
      ASSERT_FALSE(faces.empty()) << person;
      faces_.push_back(faces.front());
      alone_.push_back(engine_->embed(images_.back(), faces.front()));
    }
  }

  static std::unique_ptr<Engine> engine_;
  std::vector<Image> images_;
  std::vector<Face> faces_;
  std::vector<Embedding> alone_;  // Engine::embed, one face at a time
};

std::unique_ptr<Engine> EmbeddingQueueTest::engine_;

TEST_F(EmbeddingQueueTest, EmbedManyGivesEachFaceItsOwnEmbedding) {
  std::vector<const Image*> images;
  for (const Image& image : images_) images.push_back(&image);
  const std::vector<Embedding> together = engine_->embed_many(images, faces_);
  ASSERT_EQ(together.size(), faces_.size());
  for (std::size_t i = 0; i < faces_.size(); ++i) {
    ASSERT_EQ(together[i].size(), alone_[i].size());
    EXPECT_LT(largest_difference(together[i], alone_[i]), 1e-4F) << "face " << i;
  }
  // In another order, each face keeps its own embedding (not its neighbour's).
  const std::vector<Embedding> reversed =
      engine_->embed_many({images[2], images[1], images[0]}, {faces_[2], faces_[1], faces_[0]});
  EXPECT_LT(largest_difference(reversed[0], alone_[2]), 1e-4F);
  EXPECT_LT(largest_difference(reversed[2], alone_[0]), 1e-4F);
  EXPECT_GT(euclidean_distance(together[0], together[1]), 0.3F) << "different people stay apart";

  EXPECT_TRUE(engine_->embed_many({}, {}).empty());
  EXPECT_THROW(engine_->embed_many({images[0]}, faces_), Error) << "one image per face";
  EXPECT_THROW(engine_->embed_many({nullptr}, {faces_[0]}), Error);
  const Image empty;
  EXPECT_THROW(engine_->embed_many({&empty}, {faces_[0]}), Error);
}

TEST_F(EmbeddingQueueTest, CallersOnManyThreadsGetTheirOwnEmbeddings) {
  std::atomic<int> released{0}, retaken{0};
  EmbeddingQueue queue(*engine_, ChipOptions{}, 16,
                       {[&] { ++released; }, [&] { ++retaken; }});  // each waiting caller, on its thread
  constexpr int kThreads = 4;
  constexpr int kRounds = 2;
  std::vector<std::vector<Embedding>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::size_t i = static_cast<std::size_t>(t) % images_.size();
      for (int r = 0; r < kRounds; ++r) got[t].push_back(queue.embed(images_[i], {faces_[i]}).front());
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    const std::size_t i = static_cast<std::size_t>(t) % images_.size();
    for (const Embedding& e : got[t]) EXPECT_LT(largest_difference(e, alone_[i]), 1e-4F) << "thread " << t;
  }
  const EmbeddingQueue::Stats stats = queue.stats();
  EXPECT_EQ(stats.requests, kThreads * kRounds);
  EXPECT_EQ(stats.faces, kThreads * kRounds);
  EXPECT_LE(stats.calls, stats.requests);
  EXPECT_GT(stats.calls, 0);
  EXPECT_EQ(released.load(), kThreads * kRounds) << "every wait gives the caller's place back";
  EXPECT_EQ(retaken.load(), kThreads * kRounds);
  EXPECT_TRUE(queue.embed(images_[0], {}).empty()) << "no faces, no call";
}

TEST_F(EmbeddingQueueTest, ABadFaceFailsOnlyItsCaller) {
  EmbeddingQueue queue(*engine_, ChipOptions{});
  Face outside = faces_[0];
  for (Point& p : outside.landmarks) p = {1e9F, 1e9F};  // chips cut far outside the image
  // Whatever the engine makes of it, the queue goes on serving the next caller.
  try {
    queue.embed(images_[0], {outside});
  } catch (const std::exception&) {
  }
  const std::vector<Embedding> next = queue.embed(images_[1], {faces_[1]});
  ASSERT_EQ(next.size(), 1U);
  EXPECT_LT(largest_difference(next[0], alone_[1]), 1e-4F);
}

}  // namespace
