// A real mosquitto broker on a loopback port, started and stopped by the test, and a
// mosquitto_sub subscriber that records every message (docs/mqtt.md; Debian: mosquitto,
// mosquitto-clients). SIAMFACE_REQUIRE_MQTT() skips the test with the reason when either binary
// is missing, and fails under CI=true.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/test_env.hpp"

namespace siamface::test {

inline const std::filesystem::path kMosquitto = "/usr/sbin/mosquitto";
inline const std::filesystem::path kMosquittoSub = "/usr/bin/mosquitto_sub";

#define SIAMFACE_REQUIRE_MQTT()                                                          \
  do {                                                                                   \
    SIAMFACE_REQUIRE_PATH(::siamface::test::kMosquitto, "mosquitto (Debian: mosquitto)"); \
    SIAMFACE_REQUIRE_PATH(::siamface::test::kMosquittoSub,                               \
                          "mosquitto_sub (Debian: mosquitto-clients)");                  \
  } while (0)

// A port nobody listens on right now (the kernel's pick; closed again at once).
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t length = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// Runs argv with stdout and stderr to `log`; returns the child's pid.
inline pid_t spawn(std::vector<std::string> argv, const std::filesystem::path& log) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

inline void stop_child(pid_t& pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Polls `done` every 50 ms until it holds or `timeout` passes.
inline bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

// mosquitto on 127.0.0.1:port with a config file in `dir`; no persistence, so a restart
// forgets retained messages (the publisher must publish them again).
class MosquittoBroker {
 public:
  MosquittoBroker(std::filesystem::path dir, int port) : dir_(std::move(dir)), port_(port) {}
  ~MosquittoBroker() { stop(); }
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  // `extra_config`: more mosquitto.conf lines (replacing allow_anonymous true when it sets it).
  bool start(const std::string& extra_config = "") {
    const auto config = dir_ / "mosquitto.conf";
    std::ofstream(config) << "listener " << port_ << " 127.0.0.1\npersistence false\nlog_dest stdout\n"
                          << (extra_config.find("allow_anonymous") == std::string::npos ? "allow_anonymous true\n" : "")
                          << extra_config;
    pid_ = spawn({kMosquitto.string(), "-c", config.string()}, dir_ / "mosquitto.log");
    return eventually([this] { return port_open(port_); }, std::chrono::seconds(10));
  }
  void stop() { stop_child(pid_); }
  int port() const { return port_; }
  std::string log() const { return read_text(dir_ / "mosquitto.log"); }

 private:
  std::filesystem::path dir_;
  int port_;
  pid_t pid_ = -1;
};

struct MqttMessage {
  bool retained = false;  // delivered from the broker's retained store (on subscribing)
  std::string topic;
  std::string payload;
  nlohmann::json json() const { return nlohmann::json::parse(payload, nullptr, false); }
};

// mosquitto_sub on `filters`, recording "retain<TAB>topic<TAB>payload" lines to a file.
class MqttRecorder {
 public:
  MqttRecorder(const std::filesystem::path& file, int port, const std::vector<std::string>& filters)
      : file_(file), port_(port) {
    std::vector<std::string> argv = {kMosquittoSub.string(), "-h", "127.0.0.1", "-p", std::to_string(port),
                                     "-q", "1", "-F", "%r\t%t\t%p"};
    for (const auto& f : filters) argv.insert(argv.end(), {"-t", f});
    argv.insert(argv.end(), {"-t", "siamface-test/ready"});
    pid_ = spawn(argv, file_);
  }
  ~MqttRecorder() { stop_child(pid_); }
  MqttRecorder(const MqttRecorder&) = delete;
  MqttRecorder& operator=(const MqttRecorder&) = delete;

  // True once the subscription is live: a marker published after it arrives.
  bool wait_subscribed() {
    return eventually(
        [this] {
          const std::string pub = (kMosquittoSub.parent_path() / "mosquitto_pub").string();
          std::system((pub + " -h 127.0.0.1 -p " + std::to_string(port_) +
                       " -t siamface-test/ready -m ready >/dev/null 2>&1").c_str());
          for (const auto& m : messages()) {
            if (m.topic == "siamface-test/ready") return true;
          }
          return false;
        },
        std::chrono::seconds(10));
  }

  std::vector<MqttMessage> messages() const {
    std::vector<MqttMessage> out;
    std::istringstream in(read_text(file_));
    for (std::string line; std::getline(in, line);) {
      const auto a = line.find('\t');
      const auto b = a == std::string::npos ? a : line.find('\t', a + 1);
      if (b == std::string::npos) continue;
      out.push_back({line.substr(0, a) == "1", line.substr(a + 1, b - a - 1), line.substr(b + 1)});
    }
    return out;
  }
  std::vector<MqttMessage> on(const std::string& topic) const {
    std::vector<MqttMessage> out;
    for (auto& m : messages()) {
      if (m.topic == topic) out.push_back(m);
    }
    return out;
  }
  std::string dump() const { return read_text(file_); }

 private:
  std::filesystem::path file_;
  int port_;
  pid_t pid_ = -1;
};

// The retained message of `topic` now, as a fresh subscriber gets it; nullopt after 3 s.
inline std::optional<MqttMessage> retained(int port, const std::string& topic) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("siamface_retained_" + std::to_string(::getpid()) + "_" + std::to_string(port));
  const std::string cmd = kMosquittoSub.string() + " -h 127.0.0.1 -p " + std::to_string(port) + " -C 1 -W 3 -t '" +
                          topic + "' -F '%r\t%t\t%p' >" + file.string() + " 2>/dev/null";
  std::system(cmd.c_str());
  const std::string line = read_text(file);
  std::filesystem::remove(file);
  const auto a = line.find('\t');
  const auto b = a == std::string::npos ? a : line.find('\t', a + 1);
  if (b == std::string::npos) return std::nullopt;
  std::string payload = line.substr(b + 1);
  while (!payload.empty() && payload.back() == '\n') payload.pop_back();
  return MqttMessage{line.substr(0, a) == "1", line.substr(a + 1, b - a - 1), payload};
}

}  // namespace siamface::test
