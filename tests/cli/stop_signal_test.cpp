// SIGTERM / SIGINT stop `serve` and `watch` gracefully even when libraries started threads
// before main() (issue 22: with OpenBLAS as the system BLAS, `serve` was killed by SIGTERM,
// exit 143, because its pthread_sigmask could not cover threads started before main).
// The children preload a library that starts such threads (tests/common/threads_before_main.cpp),
// so this holds whatever BLAS the machine has.
#include <fcntl.h>
#include <gtest/gtest.h>
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

#include "common/run_command.hpp"
#include "common/test_env.hpp"

namespace fs = std::filesystem;
using siamface::test::run_command;
using siamface::test::shell_quote;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Threads of `pid` named by the preloaded library.
int threads_started_before_main(pid_t pid) {
  int count = 0;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::string name = read_text(task.path() / "comm");
    if (name.rfind("before-main", 0) == 0) ++count;
  }
  return count;
}

// A child process with the preload library, stdout to a file we poll, stderr to another.
class Child {
 public:
  Child(std::vector<std::string> args, const fs::path& dir) : dir_(dir) {
    const std::string preload = std::string("LD_PRELOAD=") + SIAMFACE_THREADS_BEFORE_MAIN;
    pid_ = ::fork();
    if (pid_ == 0) {
      const int out = ::open((dir / "stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = ::open((dir / "stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      ::dup2(out, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::putenv(const_cast<char*>(preload.c_str()));
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  std::string stdout_text() const { return read_text(dir_ / "stdout"); }
  std::string stderr_text() const { return read_text(dir_ / "stderr"); }

  // Waits until `file` ("stdout"/"stderr") contains `text`; false after the timeout or if the
  // child exited first.
  bool wait_for_output(const std::string& file, const std::string& text, std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (read_text(dir_ / file).find(text) != std::string::npos) return true;
      if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
        exited_ = true;
        return read_text(dir_ / file).find(text) != std::string::npos;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // The exit status (128 + signal when killed), or -1 when it did not end within the timeout.
  int wait_exit(std::chrono::seconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!exited_ && Clock::now() < deadline) {
      if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
        exited_ = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!exited_) return -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }

 private:
  fs::path dir_;
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
};

class StopSignalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("siamface_stop_signal_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// 20 rounds, SIGTERM and SIGINT alternating, delivered at different moments: while the models
// load, just after, and while idle. Every round must end with exit 0 and the "stopped" event.
TEST_F(StopSignalTest, ServeStopsCleanlyOnEverySignalWithThreadsStartedBeforeMain) {
  SIAMFACE_REQUIRE_MODELS();
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const fs::path round_dir = dir_ / std::to_string(round);
    fs::create_directories(round_dir);
    Child serve({SIAMFACE_CLI_PATH, "serve", "--host", "127.0.0.1", "--port", "0", "--gallery",
                 (round_dir / "gallery.db").string(), "--workers", "2"},
                round_dir);
    ASSERT_TRUE(serve.wait_for_output("stdout", "\"listening\"", std::chrono::seconds(60)))
        << serve.stderr_text();
    // The precondition of the bug: threads that existed before main() are running.
    ASSERT_GE(threads_started_before_main(serve.pid()), 4);
    std::this_thread::sleep_for(std::chrono::milliseconds(150 * (round % 8)));
    const int signal_number = round % 2 == 0 ? SIGTERM : SIGINT;
    ASSERT_EQ(::kill(serve.pid(), signal_number), 0);
    const int status = serve.wait_exit(std::chrono::seconds(60));
    EXPECT_EQ(status, 0) << "signal " << signal_number << "; stderr:\n" << serve.stderr_text();
    EXPECT_NE(serve.stdout_text().find("\"stopped\""), std::string::npos) << serve.stdout_text();
    if (HasFailure()) return;
  }
}

// Ctrl-C on `watch` ends the run cleanly: the summary says "interrupted", the exit is 0 and the
// annotated video is closed properly (ffprobe reads its frames).
TEST_F(StopSignalTest, WatchFlushesEventsAndClosesTheVideoOnCtrlC) {
  SIAMFACE_REQUIRE_MODELS();
  if (run_command("ffmpeg -version >/dev/null && ffprobe -version >/dev/null").exit_code != 0) {
    if (siamface::test::data_required()) FAIL() << "ffmpeg/ffprobe not installed (scripts/setup.sh installs them)";
    GTEST_SKIP() << "ffmpeg/ffprobe not installed";
  }
  const fs::path video = dir_ / "clip.mp4";
  ASSERT_EQ(run_command("ffmpeg -y -v error -f lavfi -i testsrc=size=320x240:rate=25 -t 60 -pix_fmt yuv420p " +
                        shell_quote(video.string()))
                .exit_code,
            0);
  for (const int signal_number : {SIGINT, SIGTERM}) {
    SCOPED_TRACE("signal " + std::to_string(signal_number));
    const fs::path run_dir = dir_ / ("watch" + std::to_string(signal_number));
    fs::create_directories(run_dir);
    const fs::path out = run_dir / "annotated.mp4";
    const fs::path gallery = run_dir / "gallery.db";
    ASSERT_EQ(run_command(std::string(SIAMFACE_CLI_PATH) + " gallery set-threshold 0.6 --gallery " +
                          shell_quote(gallery.string()))
                  .exit_code,
              0);
    Child watch({SIAMFACE_CLI_PATH, "watch", video.string(), "--realtime", "--out", out.string(), "--gallery",
                 gallery.string()},
                run_dir);
    ASSERT_TRUE(watch.wait_for_output("stderr", "siamface: watching", std::chrono::seconds(60)))
        << watch.stderr_text();
    ASSERT_GE(threads_started_before_main(watch.pid()), 4);
    std::this_thread::sleep_for(std::chrono::seconds(3));  // models loaded, frames being written
    ASSERT_EQ(::kill(watch.pid(), signal_number), 0);
    const int status = watch.wait_exit(std::chrono::seconds(60));
    EXPECT_EQ(status, 0) << watch.stderr_text();

    std::string last_line;
    std::istringstream lines(watch.stdout_text());
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) last_line = line;
    }
    const nlohmann::json summary = nlohmann::json::parse(last_line, nullptr, false);
    ASSERT_FALSE(summary.is_discarded()) << watch.stdout_text();
    EXPECT_EQ(summary.value("event", ""), "summary");
    EXPECT_EQ(summary.value("end", ""), "interrupted");
    const long long frames = summary.value("frames", 0LL);
    EXPECT_GT(frames, 0);
    EXPECT_LT(frames, 60 * 25) << "the whole clip was played: the signal did not stop it";

    const auto probe = run_command("ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                                   "stream=nb_read_frames -of csv=p=0 " + shell_quote(out.string()));
    ASSERT_EQ(probe.exit_code, 0) << probe.output;
    EXPECT_GT(std::atoll(probe.output.c_str()), 0) << probe.output;
  }
}

}  // namespace
