// Issue 34, item 1, over HTTP: the register paths of `siamface serve` (native, DeepStack,
// CompreFace) keep the gallery's rule that a photo's face is stored once, under one person, and
// say who has it instead of answering "face added".
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/server_process.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string photo(const std::string& name) {
  return read_binary_file(testdata_dir() / "face_recognition_ageitgey/tests/test_images" / name);
}

TEST(DuplicateFacesHttp, RegisteringAFaceHeldByAnotherNameSaysWhoHasIt) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/biden.jpg");
  ServerProcess server;
  ASSERT_GT(server.port(), 0) << server.log();
  ASSERT_TRUE(server.wait_ready()) << server.log();
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(120, 0);
  client.set_write_timeout(120, 0);
  auto post = [&](const std::string& path, const httplib::MultipartFormDataItems& items) {
    return reply_of(client.Post(path.c_str(), items));
  };

  Reply r = post("/v1/people/obama/faces", {file_part("image", photo("obama.jpg"), "obama.jpg")});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string face_id = r.body["added"][0]["face_id"];

  // Native: the same photo for another name is a duplicate naming obama; the same name: plain duplicate.
  r = post("/v1/people/ada/faces", {file_part("image", photo("obama.jpg"), "obama.jpg")});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["added"].size(), 1U) << r.body;
  EXPECT_EQ(r.body["added"][0]["status"], "duplicate") << r.body;
  EXPECT_EQ(r.body["added"][0]["face_id"], face_id) << r.body;
  EXPECT_EQ(r.body["added"][0]["enrolled_as"], "obama") << r.body;
  EXPECT_EQ(r.body["added"][0]["reason"], "already enrolled as obama") << r.body;
  r = post("/v1/people/obama/faces", {file_part("image", photo("obama.jpg"), "obama.jpg")});
  EXPECT_EQ(r.body["added"][0]["status"], "duplicate") << r.body;
  EXPECT_FALSE(r.body["added"][0].contains("reason")) << r.body;

  // DeepStack: not "face added" when the face is another userid's.
  r = post("/v1/vision/face/register", {file_part("image", photo("obama.jpg")), text_part("userid", "ada")});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.dump().find("already registered as userid 'obama'"), std::string::npos) << r.body;
  r = post("/v1/vision/face/register", {file_part("image", photo("obama.jpg")), text_part("userid", "obama")});
  EXPECT_EQ(r.status, 200) << r.body;  // already registered under this userid: fine
  r = post("/v1/vision/face/register", {file_part("image", photo("biden.jpg")), text_part("userid", "biden")});
  EXPECT_EQ(r.status, 200) << r.body;

  // CompreFace: no image_id of another subject's face under this subject.
  r = post("/api/v1/recognition/faces?subject=ada", {file_part("file", photo("obama.jpg"))});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.dump().find("already saved for subject 'obama'"), std::string::npos) << r.body;

  // Nobody but obama and biden was stored.
  r = reply_of(client.Get("/v1/people"));
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string listed = r.body.dump();
  EXPECT_NE(listed.find("obama"), std::string::npos) << listed;
  EXPECT_NE(listed.find("biden"), std::string::npos) << listed;
  EXPECT_EQ(listed.find("ada"), std::string::npos) << listed;
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace siamface::test
