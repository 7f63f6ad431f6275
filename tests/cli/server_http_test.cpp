// `siamface serve` end to end: a real server process on a loopback port, called over HTTP with
// cpp-httplib's client. Covers the native, DeepStack and CompreFace APIs, their error cases,
// auth, limits, concurrency and graceful SIGTERM.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "common/server_process.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string read_file(const fs::path& path) { return read_binary_file(path); }

std::string base64(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) | (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                       static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

fs::path photos() { return testdata_dir() / "face_recognition_ageitgey/tests/test_images"; }
std::string photo(const std::string& name) { return read_file(photos() / name); }
std::string giraffe() { return read_file(testdata_dir() / "dlib_examples/non_face/giraffe.jpg"); }

class ServerHttpTest : public ::testing::Test {
 protected:
  void start(const std::vector<std::string>& args = {}) {
    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_GT(server_->port(), 0) << "no 'listening' line; log:\n" << server_->log();
    ASSERT_TRUE(server_->wait_ready()) << server_->log();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(120, 0);
    client_->set_write_timeout(120, 0);  // queued behind busy workers, the body waits unread
  }
  Reply post(const std::string& path, const httplib::MultipartFormDataItems& items, const httplib::Headers& headers = {}) {
    return reply_of(client_->Post(path.c_str(), headers, items));
  }
  Reply post_json(const std::string& path, const json& body, const httplib::Headers& headers = {}) {
    return reply_of(client_->Post(path.c_str(), headers, body.dump(), "application/json"));
  }
  Reply get(const std::string& path, const httplib::Headers& headers = {}) {
    return reply_of(client_->Get(path.c_str(), headers));
  }
  Reply del(const std::string& path, const httplib::Headers& headers = {}) {
    return reply_of(client_->Delete(path.c_str(), headers));
  }
  Reply put_json(const std::string& path, const json& body) {
    return reply_of(client_->Put(path.c_str(), body.dump(), "application/json"));
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<httplib::Client> client_;
};

#define REQUIRE_DATA()                                                         \
  SIAMFACE_REQUIRE_MODELS();                                                   \
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg"); \
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/non_face/giraffe.jpg")

// One answer of post_at_once: the reply and its Retry-After header ("" when absent).
struct Answer {
  Reply reply;
  std::string retry_after;
};

// `clients` POSTs to `path` at once, each on a connection of its own; items(i) is client i's form.
std::vector<Answer> post_at_once(int port, int clients, const std::string& path,
                                 const std::function<httplib::MultipartFormDataItems(int)>& items) {
  std::vector<Answer> answers(static_cast<std::size_t>(clients));
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      httplib::Client client("127.0.0.1", port);
      client.set_read_timeout(300, 0);
      client.set_write_timeout(300, 0);  // queued behind busy workers, the body waits unread
      const httplib::Result result = client.Post(path.c_str(), items(i));
      Answer& answer = answers[static_cast<std::size_t>(i)];
      answer.reply = reply_of(result);
      if (result && result->has_header("Retry-After")) answer.retry_after = result->get_header_value("Retry-After");
    });
  }
  for (auto& t : threads) t.join();
  return answers;
}

TEST_F(ServerHttpTest, HealthIsServedWhileLoadingThenReportsModelAndGallery) {
  REQUIRE_DATA();
  ServerProcess server;
  ASSERT_GT(server.port(), 0) << server.log();
  // Bound before the models load: the first answer is 503 "loading" or already 200.
  httplib::Client client("127.0.0.1", server.port());
  const Reply first = reply_of(client.Get("/health"));
  ASSERT_TRUE(first.status == 503 || first.status == 200) << first.status;
  if (first.status == 503) {
    EXPECT_EQ(first.body["status"], "loading");
  }
  ASSERT_TRUE(server.wait_ready()) << server.log();
  const Reply health = reply_of(client.Get("/health"));
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body["status"], "ok");
  EXPECT_NE(health.body["model"]["name"].get<std::string>().find("dlib"), std::string::npos);
  EXPECT_EQ(health.body["gallery"]["faces"], 0);
  EXPECT_EQ(health.body["detector"], to_string(ModelOptions{}.detector));
}

TEST_F(ServerHttpTest, NativeDetectEmbedVerifyIdentify) {
  REQUIRE_DATA();
  start();
  const Reply detected = post("/v1/detect", {file_part("image", photo("obama.jpg"))});
  ASSERT_EQ(detected.status, 200) << detected.body;
  ASSERT_EQ(detected.body["faces"].size(), 1U);
  EXPECT_EQ(detected.body["faces"][0]["landmarks"].size(), 68U);

  const Reply embedded = post("/v1/embed", {file_part("image", photo("obama.jpg"))});
  ASSERT_EQ(embedded.status, 200);
  EXPECT_EQ(embedded.body["faces"][0]["embedding"].size(), 640U);  // fused: 128 + 512

  const Reply same = post("/v1/verify", {file_part("image1", photo("obama.jpg")), file_part("image2", photo("obama2.jpg"))});
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_TRUE(same.body["same"].get<bool>());
  EXPECT_LT(same.body["distance"].get<double>(), 0.6);
  const Reply different = post("/v1/verify", {file_part("image1", photo("obama.jpg")), file_part("image2", photo("biden.jpg"))});
  ASSERT_EQ(different.status, 200);
  EXPECT_FALSE(different.body["same"].get<bool>());
  const Reply one = post("/v1/verify", {file_part("image1", photo("obama.jpg"))});
  EXPECT_EQ(one.status, 400);
  const Reply no_face = post("/v1/verify", {file_part("image1", photo("obama.jpg")), file_part("image2", giraffe())});
  EXPECT_EQ(no_face.status, 400);

  // JSON base64 body for identify, empty gallery: unknown.
  const std::string b64 = base64(photo("obama2.jpg"));
  const Reply unknown = post_json("/v1/identify", {{"image", b64}});
  ASSERT_EQ(unknown.status, 200) << unknown.body;
  ASSERT_EQ(unknown.body["faces"].size(), 1U);
  EXPECT_EQ(unknown.body["faces"][0]["name"], "unknown");

  ASSERT_EQ(post("/v1/people/obama/faces", {file_part("image", photo("obama.jpg"))}).status, 200);
  ASSERT_EQ(post("/v1/people/biden/faces", {file_part("image", photo("biden.jpg"))}).status, 200);
  const Reply known = post_json("/v1/identify?top_k=2", {{"image", b64}});
  ASSERT_EQ(known.status, 200);
  EXPECT_EQ(known.body["faces"][0]["name"], "obama");
  EXPECT_EQ(known.body["faces"][0]["top"].size(), 2U);
  const Reply strict = post_json("/v1/identify?threshold=0.01", {{"image", b64}});
  EXPECT_EQ(strict.body["faces"][0]["name"], "unknown");
  EXPECT_EQ(post_json("/v1/identify?top_k=0", {{"image", b64}}).status, 400);
  EXPECT_EQ(post("/v1/detect", {file_part("image", "not an image")}).status, 400);
}

TEST_F(ServerHttpTest, NativeGalleryCrud) {
  REQUIRE_DATA();
  start();
  const Reply added = post("/v1/people/obama/faces", {file_part("a", photo("obama.jpg"), "obama.jpg"),
                                                      file_part("b", photo("obama2.jpg"), "obama2.jpg"),
                                                      file_part("c", giraffe(), "giraffe.jpg")});
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(added.body["added"].size(), 2U);
  EXPECT_EQ(added.body["skipped"].size(), 1U);
  EXPECT_EQ(post("/v1/people/nobody/faces", {file_part("c", giraffe())}).status, 400);

  const Reply people = get("/v1/people");
  ASSERT_EQ(people.body["people"].size(), 1U);
  EXPECT_EQ(people.body["people"][0]["faces"], 2);
  const Reply faces = get("/v1/people/obama");
  ASSERT_EQ(faces.body["faces"].size(), 2U);
  const std::string face_id = faces.body["faces"][0]["id"];

  EXPECT_EQ(put_json("/v1/people/obama", {{"name", "barack"}}).status, 200);
  EXPECT_EQ(get("/v1/people/obama").status, 404);
  EXPECT_EQ(get("/v1/people/barack").body["faces"].size(), 2U);

  const Reply removed = del("/v1/faces/" + face_id);
  EXPECT_EQ(removed.status, 200);
  EXPECT_EQ(removed.body["person"], "barack");
  const Reply again = del("/v1/faces/" + face_id);
  EXPECT_EQ(again.status, 404);
  EXPECT_EQ(again.body["error"]["code"], "not_found");

  EXPECT_EQ(del("/v1/people/barack").body["deleted"], 1);
  EXPECT_EQ(del("/v1/people/barack").status, 404);
  const Reply missing = get("/v1/no/such/endpoint");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(missing.body.contains("error"));
}

TEST_F(ServerHttpTest, DeepStackDoubleTakeSequenceAndAppend) {
  REQUIRE_DATA();
  start();
  // Double Take: register with `image` + `userid`, recognize, delete.
  Reply r = post("/v1/vision/face/register", {file_part("image", photo("obama.jpg")), text_part("userid", "obama")});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, json({{"success", true}, {"message", "face added"}}));
  r = post("/v1/vision/face/register", {file_part("image", photo("biden.jpg")), text_part("userid", "biden")});
  ASSERT_EQ(r.status, 200);

  r = post("/v1/vision/face/recognize", {file_part("image", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.body["success"].get<bool>());
  ASSERT_EQ(r.body["predictions"].size(), 1U);
  const json& p = r.body["predictions"][0];
  EXPECT_EQ(p["userid"], "obama");
  EXPECT_GT(p["confidence"].get<double>(), 0.67);
  EXPECT_LE(p["confidence"].get<double>(), 1.0);
  EXPECT_TRUE(p["x_min"].is_number_integer());
  EXPECT_LT(p["x_min"].get<int>(), p["x_max"].get<int>());
  EXPECT_LT(p["y_min"].get<int>(), p["y_max"].get<int>());

  // min_confidence 0.9999 rejects the match: unknown with confidence 0.
  r = post("/v1/vision/face/recognize", {file_part("image", photo("obama2.jpg")), text_part("min_confidence", "0.9999")});
  EXPECT_EQ(r.body["predictions"][0]["userid"], "unknown");
  EXPECT_EQ(r.body["predictions"][0]["confidence"], 0);

  // Register appends: a second photo adds a second face.
  ASSERT_EQ(post("/v1/vision/face/register", {file_part("image", photo("obama3.jpg")), text_part("userid", "obama")}).status, 200);
  EXPECT_EQ(get("/v1/people/obama").body["faces"].size(), 2U);

  r = reply_of(client_->Post("/v1/vision/face/list"));
  EXPECT_EQ(r.body["faces"], json({"biden", "obama"}));
  r = post("/v1/vision/face/delete", {text_part("userid", "obama")});
  EXPECT_EQ(r.body, json({{"success", true}}));
  r = post("/v1/vision/face/delete", {text_part("userid", "never-registered")});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, json({{"success", true}}));
  r = post("/v1/vision/face/recognize", {file_part("image", photo("obama2.jpg"))});
  EXPECT_EQ(r.body["predictions"][0]["userid"], "unknown");
}

TEST_F(ServerHttpTest, DeepStackErrorsDetectionAndMatch) {
  REQUIRE_DATA();
  start();
  const auto expect_error = [](const Reply& r, const std::string& message) {
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.body, json({{"success", false}, {"error", message}}));
  };
  expect_error(post("/v1/vision/face/register", {file_part("image", photo("obama.jpg"))}), "userid not specified");
  expect_error(post("/v1/vision/face/register", {text_part("userid", "x")}), "No valid image file found");
  expect_error(post("/v1/vision/face/register", {file_part("image", giraffe()), text_part("userid", "x")}), "no face detected");
  expect_error(post("/v1/vision/face/recognize", {file_part("image", "garbage bytes")}), "invalid image");
  const Reply over = post("/v1/vision/face/recognize", {file_part("image", photo("obama.jpg")), text_part("min_confidence", "1.5")});
  EXPECT_EQ(over.status, 400);
  EXPECT_FALSE(over.body["success"].get<bool>());
  EXPECT_EQ(post("/v1/vision/face/recognize", {file_part("image", photo("obama.jpg")), text_part("min_confidence", "abc")}).status, 400);

  Reply r = post("/v1/vision/face", {file_part("image", photo("obama.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["predictions"].size(), 1U);
  EXPECT_GT(r.body["predictions"][0]["confidence"].get<double>(), 0.55);
  r = post("/v1/vision/face", {file_part("image", giraffe())});
  EXPECT_EQ(r.body["predictions"].size(), 0U);

  r = post("/v1/vision/face/match", {file_part("image1", photo("obama.jpg")), file_part("image2", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  const double same = r.body["similarity"];
  r = post("/v1/vision/face/match", {file_part("image1", photo("obama.jpg")), file_part("image2", photo("biden.jpg"))});
  const double different = r.body["similarity"];
  EXPECT_GT(same, 0.67);
  EXPECT_LT(different, 0.67);
  expect_error(post("/v1/vision/face/match", {file_part("image1", photo("obama.jpg"))}), "expected two image files, only one found");
  expect_error(post("/v1/vision/face/match", {file_part("a", photo("obama.jpg")), file_part("b", photo("obama2.jpg")),
                                              file_part("c", photo("biden.jpg"))}),
               "only two images allowed");
  expect_error(post("/v1/vision/face/match", {file_part("image1", photo("obama.jpg")), file_part("image2", giraffe())}),
               "no face found");
}

TEST_F(ServerHttpTest, CompreFaceDoubleTakeSequenceAndFaces) {
  REQUIRE_DATA();
  start();
  // Double Take: POST faces?subject=, recognize with det_prob_threshold=0.8, DELETE faces?subject=.
  Reply r = post("/api/v1/recognition/faces?subject=obama", {file_part("file", photo("obama.jpg"))});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.body["subject"], "obama");
  const std::string image_id = r.body["image_id"];
  EXPECT_EQ(image_id.size(), 36U);
  r = post_json("/api/v1/recognition/faces?subject=biden", {{"file", base64(photo("biden.jpg"))}});
  ASSERT_EQ(r.status, 201) << r.body;

  r = post("/api/v1/recognition/recognize?limit=0&prediction_count=1&det_prob_threshold=0.8&face_plugins=landmarks,calculator&status=false",
           {file_part("file", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.body["result"].size(), 1U);
  const json& face = r.body["result"][0];
  EXPECT_GT(face["box"]["probability"].get<double>(), 0.8);
  ASSERT_EQ(face["subjects"].size(), 1U);
  EXPECT_EQ(face["subjects"][0]["subject"], "obama");
  EXPECT_GT(face["subjects"][0]["similarity"].get<double>(), 0.67);
  EXPECT_EQ(face["landmarks"].size(), 5U);
  EXPECT_EQ(face["embedding"].size(), 640U);  // fused: 128 + 512

  r = post("/api/v1/recognition/recognize", {file_part("file", giraffe())});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, json({{"message", "No face is found in the given image"}, {"code", 28}}));

  r = get("/api/v1/recognition/faces?page=0&size=1");
  EXPECT_EQ(r.body["faces"].size(), 1U);
  EXPECT_EQ(r.body["total_elements"], 2);
  EXPECT_EQ(r.body["total_pages"], 2);
  EXPECT_EQ(r.body["page_size"], 1);

  r = del("/api/v1/recognition/faces/" + image_id);
  EXPECT_EQ(r.body, json({{"image_id", image_id}, {"subject", "obama"}}));
  EXPECT_EQ(del("/api/v1/recognition/faces/" + image_id).status, 404);

  r = del("/api/v1/recognition/faces?subject=biden");
  EXPECT_EQ(r.body, json({{"deleted", 1}}));
  EXPECT_EQ(get("/api/v1/recognition/faces").body["total_elements"], 0);

  // Verification.
  r = post("/api/v1/verification/verify", {file_part("source_image", photo("obama.jpg")), file_part("target_image", photo("obama2.jpg"))});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GT(r.body["result"][0]["face_matches"][0]["similarity"].get<double>(), 0.67);
  EXPECT_TRUE(r.body["result"][0]["source_image_face"].contains("box"));
  r = post("/api/v1/verification/verify", {file_part("source_image", giraffe()), file_part("target_image", photo("obama2.jpg"))});
  EXPECT_EQ(r.body["code"], 28);
}

TEST_F(ServerHttpTest, CompreFaceSubjects) {
  REQUIRE_DATA();
  start();
  EXPECT_EQ(post_json("/api/v1/recognition/subjects", {{"subject", "empty"}}).status, 201);
  ASSERT_EQ(post("/api/v1/recognition/faces?subject=obama", {file_part("file", photo("obama.jpg"))}).status, 201);
  ASSERT_EQ(post("/api/v1/recognition/faces?subject=barack", {file_part("file", photo("obama2.jpg"))}).status, 201);
  EXPECT_EQ(get("/api/v1/recognition/subjects/").body, json({{"subjects", {"barack", "empty", "obama"}}}));

  // Rename merges into an existing subject.
  EXPECT_EQ(put_json("/api/v1/recognition/subjects/obama", {{"subject", "barack"}}).body, json({{"updated", true}}));
  EXPECT_EQ(get("/api/v1/recognition/subjects/").body, json({{"subjects", {"barack", "empty"}}}));
  EXPECT_EQ(get("/v1/people/barack").body["faces"].size(), 2U);
  EXPECT_EQ(put_json("/api/v1/recognition/subjects/nobody", {{"subject", "x"}}).status, 404);

  EXPECT_EQ(del("/api/v1/recognition/subjects/empty").body, json({{"subject", "empty"}}));
  EXPECT_EQ(del("/api/v1/recognition/subjects/empty").status, 404);
  ASSERT_EQ(post("/api/v1/recognition/faces?subject=biden", {file_part("file", photo("biden.jpg"))}).status, 201);
  EXPECT_EQ(del("/api/v1/recognition/subjects").body, json({{"deleted", 2}}));
  EXPECT_EQ(get("/api/v1/recognition/subjects/").body, json({{"subjects", json::array()}}));
}

TEST_F(ServerHttpTest, AuthNoneWrongRight) {
  REQUIRE_DATA();
  const fs::path key_file = fs::temp_directory_path() / ("siamface_key_" + std::to_string(::getpid()));
  std::ofstream(key_file) << "s3cret-key\n";
  fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write);  // serve refuses others' access
  start({"--api-key-file", key_file.string()});
  fs::remove(key_file);

  // Native: x-api-key header or Bearer.
  EXPECT_EQ(get("/v1/people").status, 401);
  EXPECT_EQ(get("/v1/people", {{"x-api-key", "wrong"}}).status, 401);
  EXPECT_EQ(get("/v1/people", {{"x-api-key", "s3cret-key"}}).status, 200);
  EXPECT_EQ(get("/v1/people", {{"Authorization", "Bearer s3cret-key"}}).status, 200);
  EXPECT_EQ(get("/v1/people", {{"Authorization", "Bearer s3cret-ke"}}).status, 401);

  // DeepStack: api_key form field.
  const json incorrect = {{"success", false}, {"error", "Incorrect api key"}};
  Reply r = reply_of(client_->Post("/v1/vision/face/list"));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, incorrect);
  r = reply_of(client_->Post("/v1/vision/face/list", httplib::Params{{"api_key", "nope"}}));  // url-encoded
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, incorrect);
  r = post("/v1/vision/face/list", {text_part("api_key", "nope")});
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.body, incorrect);
  r = post("/v1/vision/face/list", {text_part("api_key", "s3cret-key")});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body["success"].get<bool>());
  r = reply_of(client_->Post("/v1/vision/face/list", httplib::Params{{"api_key", "s3cret-key"}}));
  EXPECT_EQ(r.status, 200) << r.body;

  // CompreFace: x-api-key header.
  EXPECT_EQ(get("/api/v1/recognition/subjects/").status, 401);
  EXPECT_EQ(get("/api/v1/recognition/subjects/", {{"x-api-key", "bad"}}).status, 401);
  EXPECT_EQ(get("/api/v1/recognition/subjects/", {{"x-api-key", "s3cret-key"}}).status, 200);
  EXPECT_EQ(get("/health").status, 200);
  EXPECT_EQ(server_->log().find("s3cret"), std::string::npos) << "the key must never be logged";
}

TEST_F(ServerHttpTest, LimitsAndMalformedBodies) {
  REQUIRE_DATA();
  start();
  const std::string big(20'000'000, 'x');
  const Reply too_big = reply_of(client_->Post("/v1/identify", big, "application/json"));
  EXPECT_EQ(too_big.status, 413);
  EXPECT_EQ(too_big.body["error"]["code"], "too_large");
  const Reply too_big_ds = reply_of(client_->Post("/v1/vision/face/recognize", big, "application/octet-stream"));
  EXPECT_EQ(too_big_ds.status, 413);
  EXPECT_EQ(too_big_ds.body["success"], false);

  const std::string malformed = "--XYZ\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc";  // no closing boundary
  const Reply bad_multipart =
      reply_of(client_->Post("/v1/vision/face/recognize", malformed, "multipart/form-data; boundary=XYZ"));
  EXPECT_EQ(bad_multipart.status, 400);
  EXPECT_EQ(bad_multipart.body["success"], false);

  const Reply not_base64 = post_json("/api/v1/recognition/recognize", {{"file", "this is *not* base64!"}});
  EXPECT_EQ(not_base64.status, 400);
  EXPECT_TRUE(not_base64.body.contains("message")) << not_base64.body;
  EXPECT_EQ(post_json("/v1/identify", {{"image", "%%%"}}).status, 400);
  const Reply not_json = reply_of(client_->Post("/api/v1/recognition/subjects", "{nope", "application/json"));
  EXPECT_EQ(not_json.status, 400);
}

TEST_F(ServerHttpTest, MaxPixelsAndMaxFacesFlags) {
  REQUIRE_DATA();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/bbt1.jpg");
  start({"--max-pixels", "1000"});
  const Reply r = post("/v1/detect", {file_part("image", photo("obama.jpg"))});
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.body["error"]["code"], "too_large");

  // bbt1.jpg holds 4 faces; --max-faces 2 keeps two. obama3.jpg (596 kB) is over the body limit.
  start({"--max-faces", "2", "--max-body-bytes", "500000"});
  const std::string group = read_file(testdata_dir() / "face-api.js/examples/images/bbt1.jpg");
  ASSERT_LT(group.size(), 500000U);
  const Reply limited = post("/v1/vision/face", {file_part("image", group)});
  ASSERT_EQ(limited.status, 200) << limited.body;
  EXPECT_EQ(limited.body["predictions"].size(), 2U);
  const Reply too_big = post("/v1/vision/face", {file_part("image", photo("obama3.jpg"))});
  EXPECT_EQ(too_big.status, 413);
  EXPECT_EQ(too_big.body["success"], false);
}

TEST_F(ServerHttpTest, ThirtyTwoConcurrentRecognizeRequestsAllAnswerCorrectly) {
  REQUIRE_DATA();
  start();
  ASSERT_EQ(post("/v1/vision/face/register", {file_part("image", photo("obama.jpg")), text_part("userid", "obama")}).status, 200);
  ASSERT_EQ(post("/v1/vision/face/register", {file_part("image", photo("biden.jpg")), text_part("userid", "biden")}).status, 200);
  const std::string obama2 = photo("obama2.jpg");
  const std::string biden = photo("biden.jpg");
  const std::vector<Answer> answers = post_at_once(server_->port(), 32, "/v1/vision/face/recognize", [&](int i) {
    return httplib::MultipartFormDataItems{file_part("image", i % 2 == 0 ? obama2 : biden)};
  });
  int correct = 0;
  std::string wrong_answers;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const Reply& r = answers[i].reply;
    if (r.status == 200 && r.body["predictions"].size() == 1 &&
        r.body["predictions"][0]["userid"] == (i % 2 == 0 ? "obama" : "biden")) {
      ++correct;
    } else {
      wrong_answers += std::to_string(i) + ": " + std::to_string(r.status) + " " + r.body.dump() + "\n";
    }
  }
  EXPECT_EQ(correct, 32) << wrong_answers << server_->log();
}

TEST_F(ServerHttpTest, ABurstOfClientsIsAnsweredWithoutResets) {
  REQUIRE_DATA();
  start();
  // Far more clients at once than a small listen backlog holds, each sending a body while it
  // may still wait in that backlog: the kernel resets some of them (SYN cookies) unless the
  // server listens with a large backlog. Each is a cheap 4xx (not an image), never a reset.
  constexpr int kClients = 96;
  const std::string not_an_image(256 * 1024, 'x');
  const std::vector<Answer> answers = post_at_once(server_->port(), kClients, "/v1/detect", [&](int) {
    return httplib::MultipartFormDataItems{file_part("image", not_an_image)};
  });
  int answered = 0;
  std::string failures;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (answers[i].reply.status == 400) {
      ++answered;
    } else {
      failures += std::to_string(i) + ": " + std::to_string(answers[i].reply.status) + " " + answers[i].reply.body.dump() + "\n";
    }
  }
  EXPECT_EQ(answered, kClients) << failures;
}

TEST_F(ServerHttpTest, AFullLineIsRefusedWith503AndRetryAfterWhileTheRestAreAnswered) {
  REQUIRE_DATA();
  // One request runs the networks at a time and none may wait: of 12 sent at once (each takes
  // a detection pass), some are refused at once, and the others answered in full.
  start({"--workers", "1", "--queue", "0"});
  const std::string image = photo("obama.jpg");
  constexpr int kClients = 12;
  const std::vector<Answer> answers = post_at_once(server_->port(), kClients, "/v1/vision/face", [&](int) {
    return httplib::MultipartFormDataItems{file_part("image", image)};
  });
  int answered = 0;
  int refused = 0;
  std::string failures;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const Reply& r = answers[i].reply;
    if (r.status == 200 && r.body["predictions"].size() == 1) {
      ++answered;
    } else if (r.status == 503 && r.body["success"] == false && !answers[i].retry_after.empty() &&
               std::stoi(answers[i].retry_after) >= 1) {
      ++refused;
    } else {
      failures += std::to_string(i) + ": " + std::to_string(r.status) + " " + r.body.dump() + "\n";
    }
  }
  EXPECT_TRUE(failures.empty()) << failures;
  EXPECT_GE(answered, 1);
  EXPECT_GE(refused, 1);
  EXPECT_EQ(answered + refused, kClients);
  const Reply health = get("/health");  // cheap routes are never refused
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(health.body["inference"]["refused"], refused);
  EXPECT_EQ(health.body["inference"]["queue_limit"], 0);
  EXPECT_EQ(health.body["inference"]["running"], 0);
}

namespace {

// Sends `request` on `sock` and reads one whole response (headers + Content-Length body).
std::string exchange(int sock, const std::string& request) {
  if (send(sock, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return "";
  std::string response;
  char buffer[4096];
  while (true) {
    const std::size_t head_end = response.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      const std::size_t length_at = response.find("Content-Length: ");
      const std::size_t length = length_at < head_end ? std::stoul(response.substr(length_at + 16)) : 0;
      if (response.size() >= head_end + 4 + length) return response;
    }
    const ssize_t got = recv(sock, buffer, sizeof buffer, 0);
    if (got <= 0) return response;
    response.append(buffer, static_cast<std::size_t>(got));
  }
}

int connect_to(int port) {
  const int sock = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return -1;
  const timeval timeout{.tv_sec = 30, .tv_usec = 0};
  setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return sock;
}

}  // namespace

TEST_F(ServerHttpTest, ConnectionsAreKeptAliveWhenTurnedOn) {
  REQUIRE_DATA();
  const std::string health = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  start({"--keep-alive-requests", "100"});
  const int sock = connect_to(server_->port());
  ASSERT_GE(sock, 0);
  for (int i = 0; i < 3; ++i) {  // three requests, one connection
    const std::string response = exchange(sock, health);
    ASSERT_TRUE(response.starts_with("HTTP/1.1 200")) << i << ": " << response;
    EXPECT_EQ(response.find("Connection: close"), std::string::npos) << response;
  }
  close(sock);

  start();  // the default: one request per connection
  const int once = connect_to(server_->port());
  ASSERT_GE(once, 0);
  const std::string response = exchange(once, health);
  ASSERT_TRUE(response.starts_with("HTTP/1.1 200")) << response;
  EXPECT_NE(response.find("Connection: close"), std::string::npos) << response;
  char byte = 0;
  EXPECT_EQ(recv(once, &byte, 1, 0), 0);  // then closed by the server
  close(once);
}

TEST_F(ServerHttpTest, SigtermFinishesTheRequestInFlight) {
  REQUIRE_DATA();
  start();
  const std::string image = photo("obama.jpg");
  // Raw socket so the request is provably in flight: headers and half the body first.
  const int sock = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server_->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(sock, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string head = "POST /v1/detect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nConnection: close\r\n"
                           "Content-Length: " + std::to_string(image.size()) + "\r\n\r\n";
  const std::string first = head + image.substr(0, image.size() / 2);
  ASSERT_EQ(send(sock, first.data(), first.size(), 0), static_cast<ssize_t>(first.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(server_->pid(), SIGTERM), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string rest = image.substr(image.size() / 2);
  ASSERT_EQ(send(sock, rest.data(), rest.size(), 0), static_cast<ssize_t>(rest.size()));
  std::string response;
  char buffer[4096];
  while (true) {
    const ssize_t n = recv(sock, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  close(sock);
  ASSERT_EQ(response.rfind("HTTP/1.1 200", 0), 0U) << response.substr(0, 200) << "\n" << server_->log();
  const json body = json::parse(response.substr(response.find("\r\n\r\n") + 4), nullptr, false);
  EXPECT_EQ(body["faces"].size(), 1U);
  EXPECT_EQ(server_->wait_exit(), 0) << server_->log();
  // New connections are refused after the stop.
  httplib::Client late("127.0.0.1", server_->port());
  EXPECT_FALSE(late.Get("/health"));
}

}  // namespace
}  // namespace siamface::test
