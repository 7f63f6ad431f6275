// Issue 34: how `siamface serve` starts. A second server on a port already in use started anyway
// (httplib's SO_REUSEPORT) and the two answered in turn from different galleries; the API key
// given with --api-key was visible to every user in ps.
#include <gtest/gtest.h>
#include <httplib.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/run_command.hpp"
#include "common/server_process.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const std::string kCli = SIAMFACE_CLI_PATH;

int status_of(int port, const std::string& path, const httplib::Headers& headers = {}) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(60, 0);
  const auto result = client.Get(path.c_str(), headers);
  return result ? result->status : 0;
}

TEST(ServeStartup, ASecondServerOnABusyPortFailsAtOnceAndTheFirstKeepsAnswering) {
  SIAMFACE_REQUIRE_MODELS();
  ServerProcess first;
  ASSERT_GT(first.port(), 0) << first.log();
  ASSERT_TRUE(first.wait_ready()) << first.log();
  const std::string port = std::to_string(first.port());

  for (const char* host : {"127.0.0.1", "0.0.0.0"}) {
    const fs::path other = first.dir() / "other.db";
    const auto started = Clock::now();
    const auto second = run_command("timeout 60 " + kCli + " serve --host " + host + " --port " + port +
                                    " --gallery " + shell_quote(other.string()));
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    EXPECT_EQ(second.exit_code, 2) << host << ": " << second.output;
    EXPECT_NE(second.output.find("port " + port + " is in use"), std::string::npos) << second.output;
    EXPECT_EQ(second.output.find("\"listening\""), std::string::npos) << second.output;
    EXPECT_LT(seconds, 20.0) << "it must fail before loading the models";
    EXPECT_FALSE(fs::exists(other)) << "the second server opened its gallery";
  }

  // Every answer comes from the first server's gallery.
  httplib::Client client("127.0.0.1", first.port());
  for (int i = 0; i < 10; ++i) {
    const Reply health = reply_of(client.Get("/health"));
    ASSERT_EQ(health.status, 200) << health.body;
    EXPECT_EQ(health.body["gallery"]["path"], (first.dir() / "gallery.db").string());
  }
}

// SO_REUSEADDR stays: a restart binds the port again at once, while the connections the first
// server closed linger in TIME_WAIT.
TEST(ServeStartup, ARestartOnTheSamePortBindsAtOnce) {
  SIAMFACE_REQUIRE_MODELS();
  int port = 0;
  {
    ServerProcess first;
    ASSERT_GT(first.port(), 0) << first.log();
    ASSERT_TRUE(first.wait_ready()) << first.log();
    port = first.port();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(status_of(port, "/health"), 200);
    EXPECT_EQ(first.stop(), 0) << first.log();
  }
  ServerProcess again({"--port", std::to_string(port)});
  EXPECT_EQ(again.port(), port) << again.log();
  EXPECT_TRUE(again.wait_ready()) << again.log();
}

std::string command_line_of(pid_t pid) {
  std::string bytes = read_binary_file("/proc/" + std::to_string(pid) + "/cmdline");
  for (char& c : bytes) c = c == '\0' ? ' ' : c;
  return bytes;
}

TEST(ServeStartup, AKeyOnTheCommandLineIsBlankedInPs) {
  SIAMFACE_REQUIRE_MODELS();
  const std::string key = "argv-s3cret-key";
  ServerProcess server({"--api-key", key});
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string cmdline = command_line_of(server.pid());
  EXPECT_NE(cmdline.find("--api-key"), std::string::npos) << cmdline;
  EXPECT_EQ(cmdline.find(key), std::string::npos) << "ps shows the key: " << cmdline;
  ASSERT_TRUE(server.wait_ready()) << server.log();
  EXPECT_EQ(status_of(server.port(), "/v1/people"), 401);
  EXPECT_EQ(status_of(server.port(), "/v1/people", {{"x-api-key", key}}), 200);
  EXPECT_NE(server.log().find("warning: a key given with --api-key can be read by other users"), std::string::npos)
      << server.log();
  EXPECT_EQ(server.log().find(key), std::string::npos);
}

TEST(ServeStartup, TheKeyComesFromTheEnvironment) {
  SIAMFACE_REQUIRE_MODELS();
  const std::string key = "env-s3cret-key";
  ::setenv("SIAMFACE_API_KEY", key.c_str(), 1);
  ServerProcess server;  // inherits the variable
  ::unsetenv("SIAMFACE_API_KEY");
  ASSERT_GT(server.port(), 0) << server.log();
  EXPECT_EQ(command_line_of(server.pid()).find(key), std::string::npos);
  ASSERT_TRUE(server.wait_ready()) << server.log();
  EXPECT_EQ(status_of(server.port(), "/v1/people"), 401);
  EXPECT_EQ(status_of(server.port(), "/v1/people", {{"x-api-key", "wrong"}}), 401);
  EXPECT_EQ(status_of(server.port(), "/v1/people", {{"x-api-key", key}}), 200);
  EXPECT_NE(server.log().find("API key from SIAMFACE_API_KEY"), std::string::npos) << server.log();
  EXPECT_EQ(server.log().find(key), std::string::npos);
}

TEST(ServeStartup, AKeyFileOthersCanReadIsRefusedAndAPrivateOneIsUsed) {
  SIAMFACE_REQUIRE_MODELS();
  const fs::path dir = fs::temp_directory_path() / ("siamface_keyfile_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path key_file = dir / "key";
  std::ofstream(key_file) << "file-s3cret-key\n";
  fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                fs::perms::others_read);
  const auto refused = run_command("timeout 60 " + kCli + " serve --host 127.0.0.1 --port 0 --gallery " +
                                   shell_quote((dir / "g.db").string()) + " --api-key-file " +
                                   shell_quote(key_file.string()));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("has mode 0644"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("chmod 600"), std::string::npos) << refused.output;
  EXPECT_EQ(refused.output.find("file-s3cret-key"), std::string::npos) << refused.output;

  fs::permissions(key_file, fs::perms::owner_read | fs::perms::owner_write);
  {
    ServerProcess server({"--api-key-file", key_file.string()});
    ASSERT_GT(server.port(), 0) << server.log();
    ASSERT_TRUE(server.wait_ready()) << server.log();
    EXPECT_EQ(status_of(server.port(), "/v1/people"), 401);
    EXPECT_EQ(status_of(server.port(), "/v1/people", {{"x-api-key", "file-s3cret-key"}}), 200);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace siamface::test
