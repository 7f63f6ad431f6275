// Privacy and security through the binary and the server (issue #6): removal erases the
// embedding bytes from the files; the API key and embeddings never reach the log; no name a
// user gives (person names, subject ids, user ids) is accepted as something that could be a
// path: `../`, absolute paths, NUL bytes and very long names are refused with a 4xx / exit 2.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>

#include "common/run_command.hpp"
#include "common/server_process.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kCli = SIAMFACE_CLI_PATH;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

fs::path characters_dir() { return testdata_dir() / "face-api.js/examples/images"; }
std::string photo_of(const std::string& name, int i = 1) {
  return (characters_dir() / name / (name + std::to_string(i) + ".png")).string();
}

std::int64_t sqlite_count(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

// The 512 bytes SQLite stores for an embedding (float32, little-endian), from an export line.
std::string embedding_bytes(const json& face) {
  std::string bytes;
  for (const json& v : face["embedding"]) {
    const float f = v.get<float>();
    bytes.append(reinterpret_cast<const char*>(&f), sizeof f);
  }
  return bytes;
}

class Privacy : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    gallery_ = (temp_ / "gallery.db").string();
  }
  CommandResult cli(const std::string& args) { return run_command(kCli + " " + args + " --gallery " + shell_quote(gallery_)); }

  // Every face of the gallery as export lines (the header dropped).
  std::vector<json> exported() {
    const fs::path file = temp_ / "export.jsonl";
    const auto r = cli("export " + shell_quote(file.string()));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::vector<json> faces;
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      const json j = json::parse(line);
      if (j.contains("embedding")) faces.push_back(j);
    }
    fs::remove(file);
    return faces;
  }

  // The gallery's files as raw bytes (database, and the WAL when there is one).
  std::string raw_files() const { return read_file(gallery_) + read_file(gallery_ + "-wal"); }

  std::string gallery_;
};

#define REQUIRE_CHARACTERS()  \
  SIAMFACE_REQUIRE_MODELS();  \
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/amy/amy3.png")

TEST_F(Privacy, RemovingAPersonOrAFaceLeavesNoRowAndNoEmbeddingBytes) {
  REQUIRE_CHARACTERS();
  ASSERT_EQ(cli("enroll --name amy " + shell_quote(photo_of("amy", 1)) + " " + shell_quote(photo_of("amy", 2))).exit_code, 0);
  ASSERT_EQ(cli("enroll --name bernadette " + shell_quote(photo_of("bernadette"))).exit_code, 0);
  std::map<std::string, std::vector<json>> by_person;
  for (const json& face : exported()) by_person[face["person"]].push_back(face);
  ASSERT_EQ(by_person["amy"].size(), 2U);
  ASSERT_EQ(by_person["bernadette"].size(), 1U);

  // One face by id. Control first: while stored, its bytes are findable by this scan.
  const json& first = by_person["amy"][0];
  ASSERT_NE(raw_files().find(embedding_bytes(first)), std::string::npos);
  const auto one = cli("remove --face " + first["id"].get<std::string>());
  ASSERT_EQ(one.exit_code, 0) << one.output;
  EXPECT_EQ(sqlite_count(gallery_, "SELECT count(*) FROM faces WHERE id = '" + first["id"].get<std::string>() + "'"), 0);
  EXPECT_EQ(raw_files().find(embedding_bytes(first)), std::string::npos) << "removed face's embedding still in the files";

  // The whole person.
  const json& second = by_person["amy"][1];
  ASSERT_NE(raw_files().find(embedding_bytes(second)), std::string::npos);
  const auto all = cli("remove amy");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  EXPECT_EQ(sqlite_count(gallery_, "SELECT count(*) FROM faces WHERE person = 'amy'"), 0);
  EXPECT_EQ(raw_files().find(embedding_bytes(second)), std::string::npos) << "removed person's embedding still in the files";
  // Others are untouched.
  EXPECT_NE(raw_files().find(embedding_bytes(by_person["bernadette"][0])), std::string::npos);
}

TEST_F(Privacy, CliRefusesPersonNamesThatCouldBePaths) {
  REQUIRE_CHARACTERS();
  ASSERT_EQ(cli("enroll --name amy " + shell_quote(photo_of("amy"))).exit_code, 0);
  const std::vector<std::string> bad = {"../escape", "../../../../tmp/escape", "/etc/passwd", "a/b", "..", ".",
                                        "back\\slash", std::string(300, 'x')};
  for (const std::string& name : bad) {
    const auto enrolled = cli("enroll --name " + shell_quote(name) + " " + shell_quote(photo_of("howard", 2)));
    EXPECT_EQ(enrolled.exit_code, 2) << name << ": " << enrolled.output;
    EXPECT_NE(enrolled.output.find("invalid person name"), std::string::npos) << name << ": " << enrolled.output;
    const auto renamed = cli("rename amy " + shell_quote(name));
    EXPECT_EQ(renamed.exit_code, 2) << name << ": " << renamed.output;
    EXPECT_NE(renamed.output.find("invalid person name"), std::string::npos) << name << ": " << renamed.output;
  }
  // Imports go through the same gate, NUL bytes included (argv cannot carry those).
  const json face = exported().front();
  for (const std::string& name : {std::string("../escape"), std::string("/abs/name"), std::string("a\0b", 3),
                                  std::string(300, 'y')}) {
    json line = face;
    line["person"] = name;
    std::ofstream(temp_ / "bad.jsonl") << json{{"format", "siamface-gallery"}, {"version", 1}, {"model", face["model"]}}.dump()
                                       << '\n' << line.dump() << '\n';
    const auto imported = cli("import " + shell_quote((temp_ / "bad.jsonl").string()));
    EXPECT_EQ(imported.exit_code, 2) << imported.output;
    EXPECT_NE(imported.output.find("bad.jsonl:2: "), std::string::npos) << imported.output;
    EXPECT_NE(imported.output.find("person name"), std::string::npos) << imported.output;
  }
  const auto people = cli("people --json");
  EXPECT_EQ(people.output, "{\"faces\":1,\"person\":\"amy\"}\n");
  EXPECT_FALSE(fs::exists(temp_.parent_path() / "escape"));
  EXPECT_FALSE(fs::exists("/tmp/escape"));
}

TEST_F(Privacy, AnnotatedCopiesStayInTheOutputFolder) {
  REQUIRE_CHARACTERS();
  ASSERT_EQ(cli("enroll --name amy " + shell_quote(photo_of("amy"))).exit_code, 0);
  fs::create_directories(temp_ / "in" / "deep");
  fs::copy_file(photo_of("amy", 2), temp_ / "in" / "amy2.png");
  // The input given with ../ components: the copy is named by the file name only.
  const std::string tricky = (temp_ / "in" / "deep" / ".." / "amy2.png").string();
  const auto r = cli("identify " + shell_quote(tricky) + " --annotate " + shell_quote((temp_ / "out").string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::vector<fs::path> written;
  for (const auto& entry : fs::recursive_directory_iterator(temp_ / "out")) written.push_back(entry.path());
  ASSERT_EQ(written.size(), 1U);
  EXPECT_EQ(written[0], temp_ / "out" / "amy2.png");
}

std::string random_hex(std::size_t n) {
  std::random_device rd;
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += "0123456789abcdef"[rd() % 16];
  return s;
}

TEST_F(Privacy, ServerLogNeverHoldsTheApiKeyOrEmbeddings) {
  REQUIRE_CHARACTERS();
  const std::string key = "key-" + random_hex(32);
  const std::string wrong = "wrong-" + random_hex(32);
  const fs::path log = temp_ / "server.log";
  ServerProcess server(ServeConfig{{"--api-key", key}, gallery_, log});
  ASSERT_GT(server.port(), 0) << server.log();
  ASSERT_TRUE(server.wait_ready()) << server.log();
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(120, 0);
  client.set_write_timeout(120, 0);  // queued behind busy workers, the body waits unread
  const httplib::Headers good = {{"x-api-key", key}};
  const httplib::Headers bad = {{"x-api-key", wrong}};
  const std::string amy = read_file(photo_of("amy", 1));
  const std::string amy2 = read_file(photo_of("amy", 2));
  const httplib::MultipartFormDataItems image = {{"image", amy2, "amy2.png", "image/png"}};

  const auto status = [](const httplib::Result& r) { return r ? r->status : -1; };
  EXPECT_EQ(status(client.Get("/v1/people", good)), 200);
  EXPECT_EQ(status(client.Get("/v1/people", bad)), 401);
  EXPECT_EQ(status(client.Get(("/v1/people?api_key=" + wrong).c_str())), 401);
  EXPECT_EQ(status(client.Get("/v1/people", {{"Authorization", "Bearer " + wrong}})), 401);
  EXPECT_EQ(status(client.Post("/v1/people/amy/faces", good, {{"image", amy, "amy1.png", "image/png"}})), 200);
  const auto embedded = client.Post("/v1/embed", good, image);
  ASSERT_EQ(status(embedded), 200);
  const json embedding = json::parse(embedded->body)["faces"][0]["embedding"];
  ASSERT_EQ(embedding.size(), 640U);  // the default (fused) recognizer: 128 + 512
  const auto identified = client.Post("/v1/identify", good, image);
  ASSERT_EQ(status(identified), 200);
  EXPECT_NE(identified->body.find("\"amy\""), std::string::npos) << identified->body;
  httplib::MultipartFormDataItems deepstack = image;
  deepstack.push_back({"api_key", key, "", ""});
  EXPECT_EQ(status(client.Post("/v1/vision/face/recognize", deepstack)), 200);
  deepstack.back().content = wrong;
  EXPECT_EQ(status(client.Post("/v1/vision/face/recognize", deepstack)), 401);
  const httplib::MultipartFormDataItems compreface = {{"file", amy2, "amy2.png", "image/png"}};
  EXPECT_EQ(status(client.Post("/api/v1/recognition/recognize", good, compreface)), 200);
  EXPECT_EQ(status(client.Post("/api/v1/recognition/recognize", bad, compreface)), 401);
  EXPECT_EQ(server.stop(), 0);

  const std::string text = server.log();
  // Control: the log is written, one line per request.
  EXPECT_NE(text.find("POST /v1/embed 200"), std::string::npos) << text;
  EXPECT_NE(text.find("GET /v1/people 401"), std::string::npos) << text;
  EXPECT_EQ(text.find(key), std::string::npos) << "the API key is in the log:\n" << text;
  EXPECT_EQ(text.find(wrong), std::string::npos) << "a wrong key is in the log:\n" << text;
  for (const json& v : embedding) {
    const std::string number = v.dump();
    if (number.size() >= 7) {
      EXPECT_EQ(text.find(number), std::string::npos) << number << " in the log:\n" << text;
    }
  }
  // Nor any run of decimal numbers that could be an embedding.
  const std::regex decimal(R"(-?\d\.\d{4,})");
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const auto n = std::distance(std::sregex_iterator(line.begin(), line.end(), decimal), std::sregex_iterator());
    EXPECT_LT(n, 3) << line;
  }
}

TEST_F(Privacy, ServerRefusesUserNamesThatCouldBePaths) {
  REQUIRE_CHARACTERS();
  ServerProcess server(ServeConfig{{}, gallery_, temp_ / "server.log"});
  ASSERT_GT(server.port(), 0) << server.log();
  ASSERT_TRUE(server.wait_ready()) << server.log();
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(120, 0);
  client.set_write_timeout(120, 0);  // queued behind busy workers, the body waits unread
  const std::string amy = read_file(photo_of("amy", 1));
  const auto refused = [](const httplib::Result& r, const std::string& what) {
    ASSERT_TRUE(r) << what << ": no answer";
    EXPECT_TRUE(r->status == 400 || r->status == 404) << what << ": " << r->status << " " << r->body;
  };
  const std::string long_name(5000, 'z');

  // Native: the name is a path segment (percent-decoded by the server).
  for (const std::string& segment : {std::string("..%2F..%2Fescape"), std::string("%2Fetc%2Fpasswd"),
                                     std::string("a%00b"), std::string("%2E%2E"), std::string("a%5Cb"), long_name}) {
    refused(client.Post(("/v1/people/" + segment + "/faces").c_str(),
                        httplib::MultipartFormDataItems{{"image", amy, "amy1.png", "image/png"}}),
            "native " + segment.substr(0, 40));
  }
  // DeepStack userid and CompreFace subject: form field, query parameter, JSON body.
  for (const std::string& name : {std::string("../../escape"), std::string("/etc/passwd"), std::string("a\0b", 3),
                                  std::string(".."), std::string("C:\\evil"), long_name}) {
    refused(client.Post("/v1/vision/face/register",
                        httplib::MultipartFormDataItems{{"image", amy, "amy1.png", "image/png"}, {"userid", name, "", ""}}),
            "deepstack " + name.substr(0, 40));
    refused(client.Post(("/api/v1/recognition/faces?subject=" + httplib::detail::encode_query_param(name)).c_str(),
                        httplib::MultipartFormDataItems{{"file", amy, "amy1.png", "image/png"}}),
            "compreface faces " + name.substr(0, 40));
    refused(client.Post("/api/v1/recognition/subjects", json{{"subject", name}}.dump(), "application/json"),
            "compreface subjects " + name.substr(0, 40));
  }
  // Nothing was stored, and the server is fine.
  const auto people = client.Get("/v1/people");
  ASSERT_TRUE(people && people->status == 200);
  EXPECT_EQ(json::parse(people->body)["people"].size(), 0U) << people->body;
  const auto subjects = client.Get("/api/v1/recognition/subjects");
  ASSERT_TRUE(subjects && subjects->status == 200);
  EXPECT_EQ(json::parse(subjects->body)["subjects"].size(), 0U) << subjects->body;
  EXPECT_EQ(server.stop(), 0) << server.log();
  EXPECT_FALSE(fs::exists(temp_.parent_path() / "escape"));
}

}  // namespace
}  // namespace siamface::test
