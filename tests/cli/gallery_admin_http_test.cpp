// The issue-20 routes of `siamface serve` end to end (docs/http-api.md): unknown faces kept by
// /v1/identify, clusters, promote, dismiss, corrections, paged people and faces, thumbnails,
// settings and the calibration plot, each with its 4xx answers, and the API key on all.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/server_process.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string photo(const std::string& person, int n) {
  return read_binary_file(testdata_dir() / "face-api.js/examples/images" / person / (person + std::to_string(n) + ".png"));
}

class GalleryAdminHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    SIAMFACE_REQUIRE_MODELS();
    SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images");
  }
  void start(const std::vector<std::string>& args = {}) {
    server_ = std::make_unique<ServerProcess>(args);
    ASSERT_GT(server_->port(), 0) << server_->log();
    ASSERT_TRUE(server_->wait_ready()) << server_->log();
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
    client_->set_read_timeout(120, 0);
    if (!key_.empty()) client_->set_default_headers({{"x-api-key", key_}});
  }
  Reply get(const std::string& path) { return reply_of(client_->Get(path.c_str())); }
  Reply post_json(const std::string& path, const std::string& body) {
    return reply_of(client_->Post(path.c_str(), body, "application/json"));
  }
  Reply post_json(const std::string& path, const json& body) { return post_json(path, body.dump()); }
  Reply put_json(const std::string& path, const json& body) {
    return reply_of(client_->Put(path.c_str(), body.dump(), "application/json"));
  }
  Reply post_form(const std::string& path, const httplib::MultipartFormDataItems& items) {
    return reply_of(client_->Post(path.c_str(), items));
  }
  Reply del(const std::string& path) { return reply_of(client_->Delete(path.c_str())); }
  // status, content type, body bytes
  std::tuple<int, std::string, std::string> raw_get(const std::string& path) {
    auto res = client_->Get(path.c_str());
    if (!res) return {0, "", ""};
    return {res->status, res->get_header_value("Content-Type"), res->body};
  }
  Reply identify_keep(const std::string& person, int n) {
    return post_form("/v1/identify", {file_part("image", photo(person, n), person + std::to_string(n) + ".png"),
                                      text_part("keep_unknown", "true")});
  }

  std::unique_ptr<ServerProcess> server_;
  std::unique_ptr<httplib::Client> client_;
  std::string key_;
};

TEST_F(GalleryAdminHttp, UnknownFacesClustersAndCorrections) {
  start();
  // Settings: keeping unknown faces is off until asked for.
  auto r = get("/v1/settings");
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["keep_unknown"], false);
  EXPECT_EQ(r.body["unknown_max_faces"], 10000);
  EXPECT_EQ(r.body["unknown_max_age_days"], 30);
  EXPECT_NEAR(r.body["threshold"].get<double>(), 0.6, 1e-6);
  r = identify_keep("amy", 1);
  EXPECT_EQ(r.status, 400) << r.body.dump();
  EXPECT_NE(r.body.dump().find("keep_unknown"), std::string::npos);
  EXPECT_EQ(put_json("/v1/settings", {{"keep_unknown", "yes"}}).status, 400);
  EXPECT_EQ(put_json("/v1/settings", {{"unknown_max_faces", 0}}).status, 400);
  EXPECT_EQ(put_json("/v1/settings", {{"colour", "blue"}}).status, 400);
  EXPECT_EQ(reply_of(client_->Put("/v1/settings", "{not json", "application/json")).status, 400);
  r = put_json("/v1/settings", {{"keep_unknown", true}, {"unknown_max_age_days", 7}, {"threshold", 0.55}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["keep_unknown"], true);
  EXPECT_EQ(r.body["unknown_max_age_days"], 7);
  EXPECT_NEAR(r.body["threshold"].get<double>(), 0.55, 1e-6);
  ASSERT_EQ(put_json("/v1/settings", {{"threshold", 0.6}}).status, 200);

  // Identify with keep_unknown=true: three of amy, two of raj.
  for (const auto& [person, n] : std::vector<std::pair<std::string, int>>{{"amy", 1}, {"amy", 2}, {"amy", 3}, {"raj", 1}, {"raj", 2}}) {
    r = identify_keep(person, n);
    ASSERT_EQ(r.status, 200) << r.body.dump();
    EXPECT_EQ(r.body["unknown"]["kept"], 1) << person << n << " " << r.body.dump();
  }
  EXPECT_EQ(identify_keep("amy", 1).body["unknown"]["duplicates"], 1);  // the same photo again
  r = get("/v1/unknown?limit=2");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["total"], 5);
  EXPECT_EQ(r.body["offset"], 0);
  ASSERT_EQ(r.body["items"].size(), 2U);
  const json first = r.body["items"][0];
  EXPECT_EQ(first["cluster"], nullptr);
  auto [status, type, bytes] = raw_get(first["thumbnail"]);
  EXPECT_EQ(status, 200);
  EXPECT_EQ(type, "image/jpeg");
  ASSERT_GT(bytes.size(), 100U);
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>(bytes[1]), 0xD8);
  EXPECT_EQ(get("/v1/unknown/nope/thumbnail").status, 404);
  EXPECT_EQ(get("/v1/unknown?limit=0").status, 400);
  EXPECT_EQ(get("/v1/unknown?limit=501").status, 400);
  EXPECT_EQ(get("/v1/unknown?offset=x").status, 400);

  // Clusters.
  r = post_json("/v1/clusters/refresh", json::object());
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["clusters"], 2);
  r = get("/v1/clusters");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["total"], 2);
  ASSERT_EQ(r.body["items"].size(), 2U);
  const json amy_cluster = r.body["items"][0];  // largest first
  const json raj_cluster = r.body["items"][1];
  EXPECT_EQ(amy_cluster["size"], 3);
  EXPECT_EQ(amy_cluster["faces"].size(), 3U);
  EXPECT_NE(amy_cluster["faces"][0]["source"].get<std::string>().find("amy"), std::string::npos);
  EXPECT_TRUE(amy_cluster["close"].is_array());
  const std::string amy_id = std::to_string(amy_cluster["cluster"].get<std::int64_t>());
  const std::string raj_id = std::to_string(raj_cluster["cluster"].get<std::int64_t>());

  // Promote: bad bodies, unknown cluster, then amy.
  EXPECT_EQ(post_json("/v1/clusters/" + amy_id + "/promote", std::string("{oops")).status, 400);
  EXPECT_EQ(post_json("/v1/clusters/" + amy_id + "/promote", json::object()).status, 400);
  EXPECT_EQ(post_json("/v1/clusters/" + amy_id + "/promote", {{"person", "bad/name"}}).status, 400);
  EXPECT_EQ(post_json("/v1/clusters/99999/promote", {{"person", "amy"}}).status, 404);
  EXPECT_EQ(post_json("/v1/clusters/abc/promote", {{"person", "amy"}}).status, 400);
  EXPECT_EQ(post_json("/v1/clusters/" + amy_id + "/promote", {{"person", "amy"}, {"faces", {"nope"}}}).status, 400);
  r = post_json("/v1/clusters/" + amy_id + "/promote", {{"person", "amy"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  ASSERT_EQ(r.body["faces"].size(), 3U);
  // amy4 is now recognised.
  r = post_form("/v1/identify", {file_part("image", photo("amy", 4))});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["faces"][0]["name"], "amy") << r.body.dump();

  // People, paged and the old form; faces with thumbnails.
  r = get("/v1/people");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["people"][0]["name"], "amy");
  r = get("/v1/people?offset=0&limit=10");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["total"], 1);
  EXPECT_EQ(r.body["items"][0]["faces"], 3);
  ASSERT_TRUE(r.body["items"][0]["thumbnail"].is_string()) << r.body.dump();
  EXPECT_EQ(std::get<0>(raw_get(r.body["items"][0]["thumbnail"])), 200);
  r = get("/v1/people/amy/faces?limit=2");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["total"], 3);
  ASSERT_EQ(r.body["items"].size(), 2U);
  std::vector<std::string> amy_faces;
  const Reply all_faces = get("/v1/people/amy/faces");
  for (const auto& f : all_faces.body["items"]) amy_faces.push_back(f["id"]);
  ASSERT_EQ(amy_faces.size(), 3U);
  EXPECT_EQ(std::get<1>(raw_get("/v1/faces/" + amy_faces[0] + "/thumbnail")), "image/jpeg");
  EXPECT_EQ(get("/v1/faces/nope/thumbnail").status, 404);
  EXPECT_EQ(get("/v1/people/nobody/faces").status, 404);

  // Split and merge.
  EXPECT_EQ(post_json("/v1/people/amy/split", {{"faces", {amy_faces[0]}}}).status, 400);  // no "to"
  EXPECT_EQ(post_json("/v1/people/amy/split", {{"faces", "x"}, {"to", "amy2"}}).status, 400);
  EXPECT_EQ(post_json("/v1/people/amy/split", {{"faces", {"nope"}}, {"to", "amy2"}}).status, 400);
  r = post_json("/v1/people/amy/split", {{"faces", {amy_faces[0]}}, {"to", "amy2"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["moved"], 1);
  EXPECT_EQ(post_json("/v1/people/amy2/merge", {{"into", "nobody"}}).status, 404);
  EXPECT_EQ(post_json("/v1/people/amy2/merge", std::string("[1]")).status, 400);
  EXPECT_EQ(post_json("/v1/people/amy2/merge", json::object()).status, 400);
  r = post_json("/v1/people/amy2/merge", {{"into", "amy"}});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(get("/v1/people/amy/faces").body["total"], 3);

  // "Not amy": a gallery face, and an uploaded photo.
  EXPECT_EQ(post_json("/v1/faces/nope/not", json::object()).status, 404);
  r = post_json("/v1/faces/" + amy_faces[2] + "/not", json::object());
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["person"], "amy");
  EXPECT_EQ(r.body["face"], amy_faces[2]);
  EXPECT_EQ(get("/v1/people/amy/faces").body["total"], 2);
  r = post_form("/v1/people/amy/not", {file_part("image", photo("raj", 3))});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_TRUE(r.body.contains("negative"));
  EXPECT_EQ(post_form("/v1/people/amy/not", {file_part("image", photo("raj", 3)), text_part("x", "3")}).status, 400);
  EXPECT_EQ(post_form("/v1/people/nobody/not", {file_part("image", photo("raj", 3))}).status, 404);
  EXPECT_EQ(post_form("/v1/people/amy/not", {text_part("x", "1")}).status, 400);
  r = post_form("/v1/people/amy/not", {file_part("image", photo("raj", 3)), text_part("x", "0"), text_part("y", "0"),
                                       text_part("width", "60"), text_part("height", "60")});
  EXPECT_EQ(r.status, 200) << r.body.dump();

  // Dismiss raj's cluster.
  r = del("/v1/clusters/" + raj_id);
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["removed"], 2);
  EXPECT_EQ(del("/v1/clusters/" + raj_id).status, 404);
  EXPECT_EQ(get("/v1/unknown").body["total"], 0);
  // The drop-in recognize routes keep unknown faces too while the gallery setting is on.
  r = post_form("/v1/vision/face/recognize", {file_part("image", photo("raj", 4))});
  ASSERT_EQ(r.status, 200) << r.body.dump();
  EXPECT_EQ(r.body["predictions"][0]["userid"], "unknown");
  r = get("/v1/unknown");
  EXPECT_EQ(r.body["total"], 1);
  EXPECT_EQ(r.body["items"][0]["source"], "http:photo.jpg");  // file_part's default upload name
  ASSERT_EQ(put_json("/v1/settings", {{"keep_unknown", false}}).status, 200);
  ASSERT_EQ(post_form("/v1/vision/face/recognize", {file_part("image", photo("raj", 5))}).status, 200);
  EXPECT_EQ(get("/v1/unknown").body["total"], 1);  // off: nothing more kept
  ASSERT_EQ(put_json("/v1/settings", {{"keep_unknown", true}}).status, 200);
  ASSERT_EQ(del("/v1/clusters/" + raj_id).status, 404);

  // Calibration: needs two people with two faces.
  r = get("/v1/calibration.svg");
  EXPECT_EQ(r.status, 404);
  ASSERT_EQ(post_form("/v1/people/bernadette/faces", {file_part("image", photo("bernadette", 1), "b1.png"),
                                                       file_part("image", photo("bernadette", 2), "b2.png")})
                .status,
            200);
  auto [svg_status, svg_type, svg] = raw_get("/v1/calibration.svg");
  EXPECT_EQ(svg_status, 200);
  EXPECT_EQ(svg_type, "image/svg+xml");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("threshold 0.60"), std::string::npos) << svg.substr(0, 400);
}

TEST_F(GalleryAdminHttp, EveryRouteNeedsTheKey) {
  const fs::path key_file = fs::temp_directory_path() / ("siamface_admin_key_" + std::to_string(::getpid()));
  std::ofstream(key_file) << "k3y\n";
  fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write);  // serve refuses others' access
  start({"--api-key-file", key_file.string()});
  fs::remove(key_file);
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"GET", "/v1/people?limit=5"},       {"GET", "/v1/people/a/faces"},  {"GET", "/v1/faces/x/thumbnail"},
      {"POST", "/v1/faces/x/not"},         {"POST", "/v1/people/a/merge"}, {"POST", "/v1/people/a/split"},
      {"POST", "/v1/people/a/not"},        {"GET", "/v1/unknown"},         {"GET", "/v1/unknown/x/thumbnail"},
      {"POST", "/v1/clusters/refresh"},    {"GET", "/v1/clusters"},        {"POST", "/v1/clusters/1/promote"},
      {"DELETE", "/v1/clusters/1"},        {"GET", "/v1/settings"},        {"PUT", "/v1/settings"},
      {"GET", "/v1/calibration.svg"}};
  for (const auto& [method, path] : routes) {
    httplib::Result res = method == "GET"    ? client_->Get(path.c_str())
                          : method == "POST" ? client_->Post(path.c_str(), "{}", "application/json")
                          : method == "PUT"  ? client_->Put(path.c_str(), "{\"keep_unknown\":true}", "application/json")
                                             : client_->Delete(path.c_str());
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 401) << method << " " << path;
  }
  // Nothing changed without the key; with it the settings answer.
  key_ = "k3y";
  client_->set_default_headers({{"x-api-key", key_}});
  const Reply settings = get("/v1/settings");
  ASSERT_EQ(settings.status, 200);
  EXPECT_EQ(settings.body["keep_unknown"], false);
}

}  // namespace
}  // namespace siamface::test
