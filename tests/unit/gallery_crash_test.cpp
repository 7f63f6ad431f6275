// kill -9 in the middle of enrolment must leave a gallery that opens and holds only complete
// batches (one transaction per add_faces call).
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "siamface/gallery.hpp"
#include "unit/gallery_test_util.hpp"

namespace siamface {
namespace {

constexpr int kBatch = 25;

// Child: adds batches forever, writing one byte to `ready_fd` after each commit.
[[noreturn]] void enrol_forever(const std::string& path, int ready_fd, int first_batch) {
  try {
    Gallery g = Gallery::open(path);
    for (int b = first_batch;; ++b) {
      std::vector<GalleryFace> batch;
      for (int i = 0; i < kBatch; ++i) batch.push_back(test::make_face("p" + std::to_string(b % 7), b * kBatch + i));
      g.add_faces(batch);
      const char c = 'x';
      if (::write(ready_fd, &c, 1) != 1) ::_exit(3);
    }
  } catch (...) {
    ::_exit(2);
  }
}

std::string integrity(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return "open failed";
  sqlite3_stmt* st = nullptr;
  std::string result = "no result";
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return result;
}

TEST(GalleryCrash, KillNineMidEnrolmentLeavesOnlyCompleteBatches) {
  test::TempDir dir;
  const std::string path = dir.file("crash.db");
  std::size_t committed = 0;
  for (int round = 0; round < 8; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      enrol_forever(path, fds[1], round * 100000);
    }
    ::close(fds[1]);
    // Let a few batches commit, then kill at a varying point inside the next ones.
    char c;
    std::size_t seen = 0;
    while (seen < 3 && ::read(fds[0], &c, 1) == 1) ++seen;
    ASSERT_EQ(seen, 3U) << "the enrolling child died early";
    std::this_thread::sleep_for(std::chrono::microseconds(397 * round + 50));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    while (::read(fds[0], &c, 1) == 1) ++seen;  // commits acknowledged before the kill
    ::close(fds[0]);
    committed += seen;

    ASSERT_EQ(integrity(path), "ok") << "round " << round;
    Gallery g = Gallery::open(path, {.create = false});
    const std::int64_t count = g.face_count();
    EXPECT_EQ(count % kBatch, 0) << "a partial batch survived, round " << round;
    EXPECT_GE(count, static_cast<std::int64_t>(committed * kBatch)) << "a committed batch was lost";
    // Every stored row is complete: it equals the synthetic face it was made from.
    for (const auto& s : g.face_sources()) {
      const auto slash = s.source_path.rfind('/');
      const int seed = std::stoi(s.source_path.substr(slash + 1));
      const GalleryFace want = test::make_face(s.person, seed);
      const auto got = g.face(s.id);
      ASSERT_TRUE(got.has_value());
      EXPECT_EQ(got->embedding, want.embedding) << s.id;
      EXPECT_EQ(got->image_sha256, want.image_sha256);
      EXPECT_EQ(got->face.landmarks[67].x, want.face.landmarks[67].x);
      EXPECT_EQ(got->model.weights_sha256, want.model.weights_sha256);
    }
    const auto top = g.search(test::make_face("p0", 0).embedding, test::test_model(), 1);
    ASSERT_EQ(top.size(), 1U);
    EXPECT_FLOAT_EQ(top[0].distance, 0.0F);
  }
}

}  // namespace
}  // namespace siamface
