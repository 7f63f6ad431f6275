// Two processes writing one gallery, and threads searching while another thread adds.
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "unit/gallery_test_util.hpp"

namespace siamface {
namespace {

constexpr int kBatches = 30;
constexpr int kBatch = 10;

TEST(GalleryConcurrency, TwoProcessesAddingAtOnceBothSucceed) {
  test::TempDir dir;
  const std::string path = dir.file("shared.db");
  // Create it and add one face first (so any per-process id generator state is used before the
  // fork: children must still make distinct ids), then close it before forking.
  Gallery::open(path).add_face(test::make_face("parent", 0));
  pid_t children[2];
  for (int p = 0; p < 2; ++p) {
    children[p] = ::fork();
    ASSERT_GE(children[p], 0);
    if (children[p] == 0) {
      try {
        Gallery g = Gallery::open(path, {.busy_timeout_ms = 20000});
        for (int b = 0; b < kBatches; ++b) {
          std::vector<GalleryFace> batch;
          for (int i = 0; i < kBatch; ++i) {
            batch.push_back(test::make_face("proc" + std::to_string(p), b * kBatch + i));
          }
          g.add_faces(batch);
          // Interleave reads, which reload what the other process wrote.
          g.search(batch[0].embedding, test::test_model(), 3);
        }
        ::_exit(0);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child %d: %s\n", p, e.what());
        ::_exit(1);
      }
    }
  }
  for (pid_t child : children) {
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  Gallery g = Gallery::open(path);
  const auto people = g.people();
  ASSERT_EQ(people.size(), 3U);
  EXPECT_EQ(people[0].person, "parent");
  EXPECT_EQ(people[1].face_count, kBatches * kBatch);
  EXPECT_EQ(people[2].face_count, kBatches * kBatch);
  for (int p = 0; p < 2; ++p) {
    for (int seed : {0, kBatches * kBatch - 1}) {
      const GalleryFace f = test::make_face("proc" + std::to_string(p), seed);
      const auto top = g.search(f.embedding, test::test_model(), 1);
      ASSERT_EQ(top.size(), 1U);
      EXPECT_EQ(top[0].person, f.person);
      EXPECT_FLOAT_EQ(top[0].distance, 0.0F);
    }
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(GalleryConcurrency, SearchesRunWhileAnotherThreadAdds) {
  test::TempDir dir;
  // A low parallel threshold so the threaded search path runs as well.
  Gallery g = Gallery::open(dir.file("g.db"), {.index = {.threads = 2, .parallel_min_rows = 256}});
  g.add_face(test::make_face("seed", 0));
  std::atomic<bool> done{false};
  std::atomic<int> searches{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      int i = 0;
      while (!done) {
        try {
          const auto q = test::make_face("seed", 0).embedding;
          const auto top = t == 0 ? g.search(q, test::test_model(), 5, IdentityDistance::kMean)
                                  : g.search(q, test::test_model(), 5);
          if (top.empty() || top.size() > 5 || top[0].person != "seed") ++failures;
          for (std::size_t j = 1; j < top.size(); ++j) {
            if (top[j].distance < top[j - 1].distance) ++failures;
          }
          ++searches;
          if (++i % 50 == 0) g.people();
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          ++failures;
        }
      }
    });
  }
  for (int b = 0; b < 40; ++b) {
    std::vector<GalleryFace> batch;
    for (int i = 0; i < kBatch; ++i) batch.push_back(test::make_face("w" + std::to_string(b), 1 + i));
    g.add_faces(batch);
    // What was just added is searchable at once.
    const auto top = g.search(batch[3].embedding, test::test_model(), 1);
    ASSERT_EQ(top.size(), 1U);
    EXPECT_EQ(top[0].person, batch[3].person);
    if (b % 10 == 9) g.remove_person("w" + std::to_string(b - 5));
  }
  done = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(searches.load(), 0);
  EXPECT_EQ(g.face_count(), 1 + 36 * kBatch);
}

}  // namespace
}  // namespace siamface
