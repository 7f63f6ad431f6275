// The library's thread-safety promises on real models and photos (label `concurrency`, run under
// ThreadSanitizer by the tsan preset, docs/testing.md "Sanitizers"):
//  - one Engine and one Gallery shared by many threads identify exactly as a serial run does;
//  - threads enrolling overlapping photos into one gallery file, through a shared Gallery object
//    and through Gallery objects of their own (separate SQLite connections, as separate processes
//    would), store every face exactly once while another connection keeps searching.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/test_env.hpp"
#include "siamface/errors.hpp"
#include "siamface/identify.hpp"
#include "unit/gallery_test_util.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;

constexpr int kThreads = 4;

fs::path bbt_dir() { return testdata_dir() / "face-api.js/examples/images"; }

// The face-api.js Big Bang Theory set: <person>/<person><n>.png, sorted.
std::map<std::string, std::vector<fs::path>> bbt_people() {
  std::map<std::string, std::vector<fs::path>> people;
  for (const auto& dir : fs::directory_iterator(bbt_dir())) {
    if (!dir.is_directory()) continue;
    auto& photos = people[dir.path().filename().string()];
    for (const auto& photo : fs::directory_iterator(dir.path())) photos.push_back(photo.path());
    std::sort(photos.begin(), photos.end());
  }
  return people;
}

class Concurrency : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fs::exists(models_dir() / "face_recognition_model.bin")) return;
    engine_ = new Engine(Engine::open());
  }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  static Engine* engine_;
};

Engine* Concurrency::engine_ = nullptr;

#define REQUIRE_DATA()      \
  SIAMFACE_REQUIRE_MODELS(); \
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/bbt1.jpg")

// What a probe photo came out as: per face its box, name and distance.
struct ProbeResult {
  std::vector<IdentifiedFace> faces;
};

// Empty when equal; otherwise what differs. Names and face counts must match exactly; boxes and
// distances to float noise (a pooled Net is a separate cv::dnn::Net instance).
std::string difference(const ProbeResult& serial, const ProbeResult& parallel) {
  if (serial.faces.size() != parallel.faces.size()) {
    return std::to_string(serial.faces.size()) + " faces serially, " + std::to_string(parallel.faces.size()) +
           " in parallel";
  }
  for (std::size_t i = 0; i < serial.faces.size(); ++i) {
    const IdentifiedFace& a = serial.faces[i];
    const IdentifiedFace& b = parallel.faces[i];
    if (a.decision.person != b.decision.person) return "face " + std::to_string(i) + ": " + a.decision.person + " vs " + b.decision.person;
    if (std::abs(a.decision.distance - b.decision.distance) > 1e-4F) {
      return "face " + std::to_string(i) + ": distance " + std::to_string(a.decision.distance) + " vs " +
             std::to_string(b.decision.distance);
    }
    if (std::abs(a.face.box.left - b.face.box.left) > 0.5F || std::abs(a.face.box.top - b.face.box.top) > 0.5F ||
        std::abs(a.face.box.width - b.face.box.width) > 0.5F) {
      return "face " + std::to_string(i) + ": box differs";
    }
    if (a.top.size() != b.top.size()) return "face " + std::to_string(i) + ": top-k size differs";
    for (std::size_t k = 0; k < a.top.size(); ++k) {
      if (a.top[k].person != b.top[k].person || a.top[k].face_id != b.top[k].face_id) {
        return "face " + std::to_string(i) + ": top-" + std::to_string(k) + " differs";
      }
    }
  }
  return {};
}

TEST_F(Concurrency, ParallelIdentifyOnOneEngineAndGalleryMatchesSerialRun) {
  REQUIRE_DATA();
  TempDir dir;
  Gallery gallery = Gallery::open(dir.file("g.db"));
  // Enrol each person's first photo; probe with their second one and the two group photos.
  std::vector<fs::path> probes;
  std::vector<std::string> expected;  // person of each single-person probe; "" for group photos
  std::vector<EnrollResult> batch;
  for (const auto& [person, photos] : bbt_people()) {
    ASSERT_GE(photos.size(), 2U) << person;
    batch.push_back(prepare_enrollment(*engine_, person, photos[0].string(), {}));
    ASSERT_EQ(batch.back().status, EnrollStatus::kEnrolled) << photos[0] << ": " << batch.back().reason;
    probes.push_back(photos[1]);
    expected.push_back(person);
  }
  commit_enrollments(gallery, batch);
  ASSERT_EQ(gallery.face_count(), static_cast<std::int64_t>(batch.size()));
  for (const char* group : {"bbt1.jpg", "bbt2.jpg"}) {
    probes.push_back(bbt_dir() / group);
    expected.emplace_back();
  }

  const IdentifyOptions options;
  std::vector<ProbeResult> serial(probes.size());
  int named_correctly = 0;
  std::size_t group_faces = 0;
  for (std::size_t i = 0; i < probes.size(); ++i) {
    serial[i].faces = identify_image(*engine_, gallery, load_image(probes[i].string()), options);
    if (expected[i].empty()) {
      group_faces += serial[i].faces.size();
    } else if (serial[i].faces.size() == 1 && serial[i].faces[0].decision.person == expected[i]) {
      ++named_correctly;
    }
  }
  // The serial run is itself right, so agreeing with it means something: every single-person
  // probe named (measured 8/8) and the group photos hold several faces.
  EXPECT_GE(named_correctly, static_cast<int>(expected.size()) - 3);
  EXPECT_GE(group_faces, 6U);

  // Every thread runs every probe, each starting at a different one so that different images
  // are in flight at once. Half the threads use a copy of the Engine (copies share the models).
  std::mutex mutex;
  std::vector<std::string> failures;
  std::atomic<int> compared{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const Engine copy = *engine_;
      const Engine& engine = t % 2 == 0 ? *engine_ : copy;
      for (std::size_t n = 0; n < probes.size(); ++n) {
        const std::size_t i = (n + static_cast<std::size_t>(t) * 3) % probes.size();
        std::string problem;
        try {
          ProbeResult parallel;
          parallel.faces = identify_image(engine, gallery, load_image(probes[i].string()), options);
          problem = difference(serial[i], parallel);
          ++compared;
        } catch (const std::exception& e) {
          problem = e.what();
        }
        if (!problem.empty()) {
          const std::lock_guard lock(mutex);
          failures.push_back("thread " + std::to_string(t) + ", " + probes[i].filename().string() + ": " + problem);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (const std::string& failure : failures) ADD_FAILURE() << failure;
  EXPECT_EQ(compared.load(), kThreads * static_cast<int>(probes.size()));
}

TEST_F(Concurrency, ThreadsEnrollingOverlappingPhotosStoreEachFaceExactlyOnce) {
  REQUIRE_DATA();
  TempDir dir;
  const std::string path = dir.file("shared.db");
  const GalleryOptions gallery_options{.busy_timeout_ms = 120000};
  // Up to three photos of each person.
  std::vector<std::pair<std::string, fs::path>> photos;
  for (const auto& [person, files] : bbt_people()) {
    for (std::size_t i = 0; i < files.size() && i < 3; ++i) photos.emplace_back(person, files[i]);
  }
  const std::size_t n = photos.size();
  // Photo i is enrolled by threads i % kThreads and (i + 1) % kThreads, so every photo races
  // with one other thread. Threads 0 and 1 share one Gallery object (one connection behind its
  // mutex); threads 2 and 3 open their own connection each, like separate processes.
  Gallery shared = Gallery::open(path, gallery_options);
  std::vector<std::vector<EnrollResult>> results(kThreads, std::vector<EnrollResult>(n));
  std::vector<std::vector<bool>> attempted(kThreads, std::vector<bool>(n, false));
  std::atomic<int> writers_left{kThreads};
  std::mutex mutex;
  std::vector<std::string> failures;
  auto fail = [&](const std::string& what) {
    const std::lock_guard lock(mutex);
    failures.push_back(what);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        std::optional<Gallery> own;
        if (t >= 2) own.emplace(Gallery::open(path, gallery_options));
        Gallery& gallery = own ? *own : shared;
        std::vector<EnrollResult> batch;
        std::vector<std::size_t> batch_index;
        auto flush = [&] {
          commit_enrollments(gallery, batch);
          for (std::size_t b = 0; b < batch.size(); ++b) results[t][batch_index[b]] = std::move(batch[b]);
          batch.clear();
          batch_index.clear();
        };
        for (std::size_t i = 0; i < n; ++i) {
          if (static_cast<int>(i % kThreads) != t && static_cast<int>((i + 1) % kThreads) != t) continue;
          attempted[t][i] = true;
          batch.push_back(prepare_enrollment(*engine_, photos[i].first, photos[i].second.string(), {}));
          batch_index.push_back(i);
          if (batch.size() == 2) flush();
        }
        flush();
      } catch (const std::exception& e) {
        fail("writer " + std::to_string(t) + ": " + e.what());
      }
      --writers_left;
    });
  }
  // A reader on its own connection searches all along; it must see only enrolled people and
  // never fail (its index reloads after the writers' commits).
  std::atomic<int> searches{0};
  std::thread reader([&] {
    try {
      Gallery gallery = Gallery::open(path, gallery_options);
      const Embedding probe = engine_->analyze(load_image(photos[0].second.string())).at(0).embedding;
      const ModelInfo model = engine_->model_info();
      std::set<std::string> people;
      for (const auto& [person, file] : photos) people.insert(person);
      while (writers_left > 0) {
        for (const IdentityMatch& match : gallery.search(probe, model, 3)) {
          if (!people.count(match.person)) fail("reader saw unknown person " + match.person);
        }
        ++searches;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    } catch (const std::exception& e) {
      fail(std::string("reader: ") + e.what());
    }
  });
  for (auto& thread : threads) thread.join();
  reader.join();
  for (const std::string& failure : failures) ADD_FAILURE() << failure;
  ASSERT_TRUE(failures.empty());
  EXPECT_GT(searches.load(), 0);

  // Each photo: one of its two threads stored it, the other got the same face back as a
  // duplicate (or both skipped it for the same reason).
  std::size_t stored = 0;
  std::map<std::string, std::int64_t> per_person;
  std::set<std::string> face_ids;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<const EnrollResult*> tries;
    for (int t = 0; t < kThreads; ++t) {
      if (attempted[t][i]) tries.push_back(&results[t][i]);
    }
    ASSERT_EQ(tries.size(), 2U);
    const std::string what = photos[i].second.filename().string();
    if (tries[0]->status == EnrollStatus::kSkipped || tries[1]->status == EnrollStatus::kSkipped) {
      EXPECT_EQ(tries[0]->status, tries[1]->status) << what;
      EXPECT_EQ(tries[0]->reason, tries[1]->reason) << what;
      continue;
    }
    const int enrolled = (tries[0]->status == EnrollStatus::kEnrolled) + (tries[1]->status == EnrollStatus::kEnrolled);
    const int duplicate = (tries[0]->status == EnrollStatus::kDuplicate) + (tries[1]->status == EnrollStatus::kDuplicate);
    EXPECT_EQ(enrolled, 1) << what;
    EXPECT_EQ(duplicate, 1) << what;
    EXPECT_FALSE(tries[0]->face_id.empty()) << what;
    EXPECT_EQ(tries[0]->face_id, tries[1]->face_id) << what;
    EXPECT_TRUE(face_ids.insert(tries[0]->face_id).second) << what << ": face id reused";
    ++stored;
    ++per_person[photos[i].first];
  }
  EXPECT_GE(stored, n - 3) << "too many photos skipped for the test to mean much";

  // The file, read afresh, holds exactly those faces, each once.
  Gallery reopened = Gallery::open(path);
  EXPECT_EQ(reopened.face_count(), static_cast<std::int64_t>(stored));
  for (const PersonSummary& summary : reopened.people()) {
    EXPECT_EQ(summary.face_count, per_person[summary.person]) << summary.person;
    std::set<std::string> hashes;
    for (const GalleryFace& face : reopened.faces_of(summary.person)) {
      EXPECT_TRUE(face_ids.count(face.id)) << face.id;
      EXPECT_TRUE(hashes.insert(face.image_sha256).second) << summary.person << ": one photo stored twice";
    }
  }
  EXPECT_EQ(reopened.people().size(), per_person.size());
  // The shared connection's index saw every commit, its own and the others'.
  EXPECT_EQ(shared.search(reopened.faces_of(photos[0].first).at(0).embedding, engine_->model_info(), 1).at(0).distance,
            0.0F);
}

}  // namespace
}  // namespace siamface::test
