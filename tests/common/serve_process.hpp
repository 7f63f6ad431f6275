// One `siamface serve` child process on a free loopback port, for tests that need to choose the
// gallery file (to restart on it) and read the server's stderr log. Include after <httplib.h>
// (only *http*_test.cpp files link cpp-httplib).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace siamface::test {

class ServeProcess {
 public:
  // stderr goes to `log`; `extra` is appended to the arguments.
  ServeProcess(const std::string& gallery, const std::filesystem::path& log, const std::vector<std::string>& extra = {})
      : log_(log) {
    std::vector<std::string> args = {SIAMFACE_CLI_PATH, "serve", "--host", "127.0.0.1", "--port", "0", "--gallery", gallery};
    args.insert(args.end(), extra.begin(), extra.end());
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      const int err = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(err, STDERR_FILENO);
      close(out[0]);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    stdout_ = fdopen(out[0], "r");
    char line[512] = {};
    if (stdout_ && fgets(line, sizeof line, stdout_)) {
      const auto event = nlohmann::json::parse(line, nullptr, false);
      if (!event.is_discarded() && event.value("event", "") == "listening") port_ = event["port"];
    }
  }
  ~ServeProcess() {
    if (pid_ > 0 && !exited_) kill_now();
    if (stdout_) fclose(stdout_);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string log() const {
    std::ifstream in(log_, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Polls /health until 200 (models loaded); false after `timeout`.
  bool wait_ready(std::chrono::seconds timeout = std::chrono::seconds(120)) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    httplib::Client client("127.0.0.1", port_);
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto res = client.Get("/health"); res && res->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  void kill_now() {  // SIGKILL, and reap
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    exited_ = true;
  }

  int stop() {  // SIGTERM (graceful), and the exit status
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  FILE* stdout_ = nullptr;
  int port_ = -1;
  bool exited_ = false;
};

}  // namespace siamface::test
