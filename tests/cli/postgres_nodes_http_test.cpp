// Two `siamface serve` processes (two nodes) on one PostgreSQL gallery: a person registered on
// one is recognized by the other, and once deleted on one, the other stops naming them.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "common/postgres_server.hpp"
#include "common/server_process.hpp"
#include "common/test_env.hpp"

namespace siamface {
namespace {

using test::file_part;
using test::reply_of;
using test::Reply;
using test::ServerProcess;

std::string photo(const std::string& name) {
  return test::read_binary_file(test::testdata_dir() / "face_recognition_ageitgey/tests/test_images" / name);
}

httplib::MultipartFormData text_part(const std::string& name, const std::string& value) { return {name, value, "", ""}; }

struct Node {
  explicit Node(const std::string& url) : server(std::vector<std::string>{"--gallery", url}) {}
  Reply post(const std::string& path, const httplib::MultipartFormDataItems& items) {
    httplib::Client client("127.0.0.1", server.port());
    client.set_read_timeout(120, 0);
    return reply_of(client.Post(path.c_str(), items));
  }
  std::string recognized(const std::string& name) {
    const Reply r = post("/v1/vision/face/recognize", {file_part("image", photo(name))});
    if (r.status != 200 || r.body["predictions"].empty()) return "error: " + r.body.dump();
    return r.body["predictions"][0]["userid"];
  }
  ServerProcess server;
};

TEST(PostgresNodes, RegisterOnOneNodeRecognizeOnTheOtherDeleteStopsNaming) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  SIAMFACE_REQUIRE_POSTGRES();
  const std::string url = test::shared_postgres().create_database();
  Node a(url);
  Node b(url);
  ASSERT_GT(a.server.port(), 0) << a.server.log();
  ASSERT_GT(b.server.port(), 0) << b.server.log();
  ASSERT_TRUE(a.server.wait_ready()) << a.server.log();
  ASSERT_TRUE(b.server.wait_ready()) << b.server.log();
  EXPECT_EQ(b.recognized("obama2.jpg"), "unknown");

  ASSERT_EQ(a.post("/v1/vision/face/register", {file_part("image", photo("obama.jpg")), text_part("userid", "obama")}).status,
            200);
  ASSERT_EQ(a.post("/v1/vision/face/register", {file_part("image", photo("biden.jpg")), text_part("userid", "biden")}).status,
            200);
  // Within 1 s of the register returning, node B's next request names them.
  const auto registered = std::chrono::steady_clock::now();
  std::string seen = b.recognized("obama2.jpg");
  while (seen != "obama" && std::chrono::steady_clock::now() - registered < std::chrono::seconds(1)) {
    seen = b.recognized("obama2.jpg");
  }
  EXPECT_EQ(seen, "obama") << b.server.log();

  ASSERT_EQ(a.post("/v1/vision/face/delete", {text_part("userid", "obama")}).status, 200);
  const auto deleted = std::chrono::steady_clock::now();
  seen = b.recognized("obama2.jpg");
  while (seen != "unknown" && std::chrono::steady_clock::now() - deleted < std::chrono::seconds(1)) {
    seen = b.recognized("obama2.jpg");
  }
  EXPECT_EQ(seen, "unknown") << b.server.log();
  EXPECT_EQ(b.recognized("biden.jpg"), "biden");
  EXPECT_EQ(a.server.stop(), 0);
  EXPECT_EQ(b.server.stop(), 0);
}

// The database restarts under a running serve: requests wait for it (retry with backoff, up to
// 5 s) instead of failing; an outage longer than that is a 503 naming the lost connection; the
// server never exits, and serves again once the database is back.
TEST(PostgresNodes, ServeRidesOutADatabaseRestart) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  SIAMFACE_REQUIRE_POSTGRES();
  test::PostgresServer database;
  const std::string url = database.create_database();
  Node node(url);
  ASSERT_TRUE(node.server.wait_ready()) << node.server.log();
  ASSERT_EQ(
      node.post("/v1/vision/face/register", {file_part("image", photo("obama.jpg")), text_part("userid", "obama")}).status,
      200);

  database.stop("fast");
  std::thread restart([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    database.start();
  });
  const Reply during =
      node.post("/v1/vision/face/register", {file_part("image", photo("biden.jpg")), text_part("userid", "biden")});
  restart.join();
  EXPECT_EQ(during.status, 200) << during.body << node.server.log();
  EXPECT_EQ(node.recognized("biden.jpg"), "biden");

  database.stop("fast");
  const Reply outage = node.post("/v1/people/carol/faces", {file_part("image", photo("obama2.jpg"))});
  EXPECT_EQ(outage.status, 503) << outage.body;
  EXPECT_NE(outage.body.dump().find("lost the connection to the PostgreSQL gallery"), std::string::npos) << outage.body;
  database.start();
  EXPECT_EQ(node.recognized("biden.jpg"), "biden");
  EXPECT_EQ(node.server.stop(), 0) << node.server.log();
}

}  // namespace
}  // namespace siamface
