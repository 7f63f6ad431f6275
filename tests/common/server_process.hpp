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

class ServerProcess {
 public:
  // Starts `siamface serve --port 0 --gallery <temp>/gallery.db --workers 8 <extra_args>` (the
  // --gallery of extra_args instead, when it has one) and
  // reads the port from its "listening" line; port() is -1 when that failed (see log()).
  explicit ServerProcess(const std::vector<std::string>& extra_args = {}) {
    namespace fs = std::filesystem;
    dir_ = fs::temp_directory_path() / ("siamface_server_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    fs::create_directories(dir_);
    std::vector<std::string> args = {SIAMFACE_CLI_PATH, "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "8"};
    if (std::find(extra_args.begin(), extra_args.end(), "--gallery") == extra_args.end()) {  // else theirs
      args.insert(args.end(), {"--gallery", (dir_ / "gallery.db").string()});
    }
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    int out[2];
    if (::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      const int err = ::open((dir_ / "server.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
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
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (stdout_) std::fclose(stdout_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string log() const { return read_binary_file(dir_ / "server.log"); }

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

  // SIGTERM, then the exit status (128 + signal when killed by one).
  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
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

}  // namespace siamface::test
