// One `siamface serve` child process on a loopback port with its own temporary gallery, and
// small cpp-httplib helpers, for tests that talk to the server over HTTP.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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

inline std::string read_binary_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// How to start one `siamface serve`: extra arguments, and optionally the gallery file (to
// restart on it) and the stderr log (appended to, so it survives a restart).
struct ServeConfig {
  std::vector<std::string> args;
  std::filesystem::path gallery;  // empty: <temporary dir>/gallery.db
  std::filesystem::path log;      // empty: <temporary dir>/server.log
};

// The one `siamface serve` child process of the tests: `--port 0` on loopback, `--workers 8`
// unless the arguments say otherwise (`--port`, `--workers`); the port comes from its
// "listening" line.
class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& extra_args = {}) : ServerProcess(ServeConfig{extra_args, {}, {}}) {}
  explicit ServerProcess(ServeConfig config) {
    namespace fs = std::filesystem;
    dir_ = fs::temp_directory_path() / ("siamface_server_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(dir_);
    log_ = config.log.empty() ? dir_ / "server.log" : config.log;
    const fs::path gallery = config.gallery.empty() ? dir_ / "gallery.db" : config.gallery;
    std::vector<std::string> args = {SIAMFACE_CLI_PATH, "serve", "--host", "127.0.0.1"};
    if (std::find(config.args.begin(), config.args.end(), "--port") == config.args.end()) {  // else theirs
      args.insert(args.end(), {"--port", "0"});
    }
    if (std::find(config.args.begin(), config.args.end(), "--gallery") == config.args.end()) {  // else theirs
      args.insert(args.end(), {"--gallery", gallery.string()});
    }
    if (std::find(config.args.begin(), config.args.end(), "--workers") == config.args.end()) {
      args.insert(args.end(), {"--workers", "8"});
    }
    args.insert(args.end(), config.args.begin(), config.args.end());
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      const int err = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(err, STDERR_FILENO);
      ::close(out[0]);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    stdout_ = ::fdopen(out[0], "r");
    char line[512] = {};
    if (stdout_ && std::fgets(line, sizeof line, stdout_)) {
      const nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
      if (!event.is_discarded() && event.value("event", "") == "listening") port_ = event["port"];
    }
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) kill_now();
    if (stdout_) std::fclose(stdout_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string log() const { return read_binary_file(log_); }

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

  // SIGTERM (graceful), then the exit status (128 + signal when killed by one).
  int stop() {
    ::kill(pid_, SIGTERM);
    return wait_exit();
  }
  // Waits for the process to end by itself (or by a signal the test sent) and returns its status.
  int wait_exit() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  void kill_now() {  // SIGKILL, and reap
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    exited_ = true;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
  FILE* stdout_ = nullptr;
  int port_ = -1;
  bool exited_ = false;
};

struct Reply {
  int status = 0;  // 0: no answer (connection failed or timed out)
  nlohmann::json body;
};

inline Reply reply_of(const httplib::Result& result) {
  Reply r;
  if (!result) {
    r.body = {{"client_error", httplib::to_string(result.error())}};  // why there is no answer
    return r;
  }
  r.status = result->status;
  r.body = nlohmann::json::parse(result->body, nullptr, false);
  return r;
}

inline httplib::MultipartFormData file_part(const std::string& name, const std::string& content,
                                            const std::string& filename = "photo.jpg") {
  return {name, content, filename, "application/octet-stream"};
}
inline httplib::MultipartFormData text_part(const std::string& name, const std::string& value) {
  return {name, value, "", ""};
}

}  // namespace siamface::test
