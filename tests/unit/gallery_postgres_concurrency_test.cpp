// What only the PostgreSQL gallery has: many nodes on one database kept in step by the change
// feed, a lost connection, erasure inside the server's files, URLs with passwords. The shared
// behaviour is tested against both backends in gallery_test.cpp. ("concurrency" in the file
// name: the tsan preset runs it too, for the listener thread.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <map>
#include <thread>

#include "common/postgres_server.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "unit/gallery_test_util.hpp"

namespace siamface {
namespace {

using Clock = std::chrono::steady_clock;
using test::make_face;
using test::test_model;

using test::code_of;
// Milliseconds until `condition` holds, polled every 2 ms; -1 after 5 s.
double ms_until(const std::function<bool()>& condition) {
  const auto start = Clock::now();
  while (!condition()) {
    if (Clock::now() - start > std::chrono::seconds(5)) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string person_found(const Gallery& g, const Embedding& query) {
  const auto top = g.search(query, test_model(), 1);
  return top.empty() || top[0].distance > 1e-6F ? "" : top[0].person;
}

class GalleryPostgres : public ::testing::Test {
 protected:
  void SetUp() override { SIAMFACE_REQUIRE_POSTGRES(); }
};

// Two nodes (two Gallery objects, two connections each) on one database: what A writes, B uses
// within 1 s, without B writing anything (LISTEN/NOTIFY, then B catches up by sequence number).
TEST_F(GalleryPostgres, TwoNodesStayInStepWithinOneSecond) {
  const std::string url = test::shared_postgres().create_database();
  Gallery a = Gallery::open(url);
  Gallery b = Gallery::open(url);
  const GalleryFace alice = make_face("alice", 1);
  EXPECT_EQ(person_found(b, alice.embedding), "");

  a.add_face(alice);
  const double added_ms = ms_until([&] { return person_found(b, alice.embedding) == "alice"; });
  a.rename_person("alice", "ally");
  const double renamed_ms = ms_until([&] { return person_found(b, alice.embedding) == "ally"; });
  a.add_faces({make_face("bob", 2), make_face("bob", 3)});
  a.remove_person("ally");
  const double removed_ms = ms_until([&] { return person_found(b, alice.embedding).empty(); });
  const double bob_ms = ms_until([&] { return person_found(b, make_face("bob", 3).embedding) == "bob"; });
  a.set_setting(kThresholdSetting, "0.45");

  for (const double ms : {added_ms, renamed_ms, removed_ms, bob_ms}) {
    EXPECT_GE(ms, 0.0) << "node B never saw node A's change";
    EXPECT_LT(ms, 1000.0);
  }
  std::printf("change on node A used by node B after: add %.1f ms, rename %.1f ms, remove %.1f ms\n", added_ms,
              renamed_ms, removed_ms);
  EXPECT_EQ(b.setting(kThresholdSetting).value_or(""), "0.45");
  EXPECT_EQ(b.face_count(), 2);
  // And the other way round, B's writes reach A.
  b.remove_face(b.faces_of("bob").at(0).id);
  EXPECT_GE(ms_until([&] { return person_found(a, make_face("bob", 2).embedding).empty(); }), 0.0);
  EXPECT_EQ(person_found(a, make_face("bob", 3).embedding), "bob");
}

// A node that was away (its server restarted meanwhile) catches up from its sequence number.
TEST_F(GalleryPostgres, ReconnectingNodeCatchesUp) {
  test::PostgresServer server;
  const std::string url = server.create_database();
  Gallery a = Gallery::open(url);
  Gallery b = Gallery::open(url);
  a.add_face(make_face("alice", 1));
  ASSERT_GE(ms_until([&] { return person_found(b, make_face("alice", 1).embedding) == "alice"; }), 0.0);
  server.stop("fast");
  server.start();
  // A reconnects on its next call; B learns of the change by its listener (reconnecting with
  // backoff) or, until that is back, by asking at each search.
  const Gallery* reader = &b;
  std::string message;
  for (int attempt = 0; attempt < 50; ++attempt) {  // A's first call after the restart may report the lost connection
    try {
      a.add_face(make_face("carol", 3));
      a.remove_person("alice");
      break;
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), ErrorCode::kGalleryUnavailable) << e.what();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  const auto seen = [&] {
    try {
      return person_found(*reader, make_face("carol", 3).embedding) == "carol" &&
             person_found(*reader, make_face("alice", 1).embedding).empty();
    } catch (const Error&) {
      return false;  // B's own first call after the restart may report the lost connection
    }
  };
  EXPECT_GE(ms_until(seen), 0.0);
  EXPECT_EQ(b.people().size(), 1U);
}

// The server stops under a writer: each call fails with an Error that names the lost
// connection; no person is ever half-written; after a restart everything committed is there.
TEST_F(GalleryPostgres, ConnectionLossIsAnErrorAndNoBatchIsHalfWritten) {
  test::PostgresServer server;
  const std::string url = server.create_database();
  Gallery g = Gallery::open(url);
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    server.stop("fast");
    stopped = true;
  });
  int committed = 0;
  int failed = 0;
  std::string message;
  for (int batch = 0; failed < 3 && batch < 100000; ++batch) {
    std::vector<GalleryFace> faces;
    for (int i = 0; i < 10; ++i) faces.push_back(make_face("p" + std::to_string(batch), i));
    try {
      g.add_faces(faces);
      ++committed;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kGalleryUnavailable) << e.what();
      message = e.what();
      if (stopped) ++failed;
    }
  }
  stopper.join();
  EXPECT_GT(committed, 0);
  EXPECT_NE(message.find("lost the connection to the PostgreSQL gallery"), std::string::npos) << message;
  EXPECT_NE(message.find("host="), std::string::npos) << "the message names the gallery: " << message;
  EXPECT_EQ(code_of([&] { g.people(); }), ErrorCode::kGalleryUnavailable);
  // Searches go on from the index in memory meanwhile.
  EXPECT_EQ(person_found(g, make_face("p0", 0).embedding), "p0");

  server.start();
  const auto people = g.people();  // the same Gallery reconnects
  ASSERT_GE(people.size(), static_cast<std::size_t>(committed));
  EXPECT_LE(people.size(), static_cast<std::size_t>(committed) + 1) << "at most the batch in doubt";
  for (const auto& p : people) EXPECT_EQ(p.face_count, 10) << p.person << " is half-written";
  EXPECT_EQ(g.add_face(make_face("after", 1)).status, AddStatus::kAdded);
  EXPECT_EQ(person_found(g, make_face("after", 1).embedding), "after");
  Gallery fresh = Gallery::open(url);
  EXPECT_EQ(fresh.face_count(), g.face_count());
}

bool file_contains(const std::string& path, const Embedding& e) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return bytes.find(std::string(reinterpret_cast<const char*>(e.data()), 64)) != std::string::npos;
}

// Erasure removes every row; the recipe in docs/postgresql.md (VACUUM FULL + CHECKPOINT) makes
// the table's file forget the bytes too.
TEST_F(GalleryPostgres, ErasureRemovesEveryRowAndVacuumFullForgetsTheBytes) {
  auto& server = test::shared_postgres();
  const std::string url = server.create_database();
  const std::string db = url.substr(std::string("postgresql:///").size(), url.find('?') - std::string("postgresql:///").size());
  Gallery g = Gallery::open(url);
  std::vector<GalleryFace> others;
  for (int i = 0; i < 20; ++i) others.push_back(make_face("other", i));
  g.add_faces(others);
  const GalleryFace secret = make_face("secret", 1);
  const std::string secret_id = g.add_face(secret).face_id;
  const auto table_file = [&] {
    server.psql(db, "CHECKPOINT");
    std::string relative = server.psql(db, "SELECT pg_relation_filepath('faces')");
    relative.erase(relative.find_last_not_of("\n ") + 1);
    return server.dir() + "/data/" + relative;
  };
  ASSERT_TRUE(file_contains(table_file(), secret.embedding)) << "control: the bytes are findable while stored";

  g.remove_person("secret");
  EXPECT_EQ(server.psql(db, "SELECT count(*) FROM faces WHERE person = 'secret' OR id = '" + secret_id + "'"), "0\n");
  // The change log keeps only face ids (random UUIDs), never names or embeddings.
  EXPECT_EQ(server.psql(db,
                        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'changes' "
                        "AND column_name NOT IN ('seq', 'op', 'face_id')"),
            "0\n");
  server.psql(db, "VACUUM FULL faces");
  EXPECT_FALSE(file_contains(table_file(), secret.embedding));
  EXPECT_TRUE(file_contains(table_file(), others[5].embedding));
  EXPECT_EQ(g.face_count(), 20);
}

TEST_F(GalleryPostgres, MessagesHideThePasswordAndNameTheServer) {
  std::string message;
  EXPECT_EQ(code_of([&] { Gallery::open("postgresql://ada:hunter2@/nodb?host=/nonexistent-dir&port=1"); }, &message),
            ErrorCode::kGalleryUnavailable);
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
  EXPECT_NE(message.find("postgresql://ada:***@/nodb"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { Gallery::open("postgresql:///nodb?host=/nonexistent-dir&password=hunter2"); }, &message),
            ErrorCode::kGalleryUnavailable);
  EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
}

TEST_F(GalleryPostgres, OpenWithoutCreateNeedsTheSchemaAndReadOnlyRefusesWrites) {
  const std::string url = test::shared_postgres().create_database();
  EXPECT_EQ(code_of([&] { Gallery::open(url, {.create = false}); }), ErrorCode::kNotFound);
  Gallery::open(url).add_face(make_face("alice", 1));
  GalleryOptions read_only;
  read_only.read_only = true;
  Gallery reader = Gallery::open(url, read_only);
  EXPECT_EQ(person_found(reader, make_face("alice", 1).embedding), "alice");
  std::string message;
  EXPECT_EQ(code_of([&] { reader.add_face(make_face("bob", 2)); }, &message), ErrorCode::kGallery);
  EXPECT_NE(message.find("read-only"), std::string::npos) << message;
  EXPECT_EQ(code_of([&] { reader.remove_person("alice"); }), ErrorCode::kGallery);
  EXPECT_EQ(reader.face_count(), 1);
}

// A writer holding the gallery longer than busy_timeout_ms: kGalleryBusy, as with SQLite.
TEST_F(GalleryPostgres, LockedPastTheTimeoutIsGalleryBusy) {
  auto& server = test::shared_postgres();
  const std::string url = server.create_database();
  const std::string db = url.substr(std::string("postgresql:///").size(), url.find('?') - std::string("postgresql:///").size());
  Gallery g = Gallery::open(url, {.busy_timeout_ms = 200});
  std::thread holder([&] {
    server.psql(db, "BEGIN; SELECT seq FROM feed_state FOR UPDATE; SELECT pg_sleep(1.5); COMMIT;");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto start = Clock::now();
  std::string message;
  EXPECT_EQ(code_of([&] { g.add_face(make_face("alice", 1)); }, &message), ErrorCode::kGalleryBusy);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(150));
  EXPECT_NE(message.find("locked"), std::string::npos) << message;
  holder.join();
  EXPECT_EQ(g.add_face(make_face("alice", 1)).status, AddStatus::kAdded);
}

// Writers on two nodes at once: every add lands, none is lost or duplicated.
TEST_F(GalleryPostgres, ConcurrentWritersOnTwoNodes) {
  const std::string url = test::shared_postgres().create_database();
  Gallery a = Gallery::open(url);
  Gallery b = Gallery::open(url);
  std::thread ta([&] {
    for (int i = 0; i < 20; ++i) a.add_face(make_face("a" + std::to_string(i), i));
  });
  std::thread tb([&] {
    for (int i = 0; i < 20; ++i) b.add_face(make_face("b" + std::to_string(i), i));
  });
  ta.join();
  tb.join();
  EXPECT_EQ(a.face_count(), 40);
  EXPECT_GE(ms_until([&] { return a.search(make_face("a0", 0).embedding, test_model(), 0).size() == 40U &&
                                  b.search(make_face("a0", 0).embedding, test_model(), 0).size() == 40U; }),
            0.0);
}

}  // namespace
}  // namespace siamface
