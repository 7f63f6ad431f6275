// Issue 34: how `siamface serve` starts. A second server on a port already in use started anyway
// (httplib's SO_REUSEPORT) and the two answered in turn from different galleries.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <filesystem>
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

}  // namespace
}  // namespace siamface::test
