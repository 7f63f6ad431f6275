// siamface watch with several cameras in one process (issue 36): clips of different people made
// here with ffmpeg from the face-api.js crops (enrolled from other crops of the same people),
// watched together; each camera names only its own people, in order; a source that is missing,
// refused or never answers is retried and reported without stopping the others; --config and
// its errors (named by line); SIGTERM stops every camera cleanly.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/face_clips.hpp"
#include "common/json_lines.hpp"
#include "common/mqtt_broker.hpp"
#include "common/run_command.hpp"
#include "common/test_env.hpp"

namespace fs = std::filesystem;
using siamface::test::json_lines;
using siamface::test::run_command;
using siamface::test::shell_quote;

namespace {

// The events of one camera (lines carrying "camera": NAME), in output order.
std::vector<nlohmann::json> events_of(const std::vector<nlohmann::json>& lines, const std::string& camera) {
  std::vector<nlohmann::json> out;
  for (const auto& line : lines) {
    if (line.is_object() && line.value("camera", "") == camera && line.value("event", "") != "summary") out.push_back(line);
  }
  return out;
}

const nlohmann::json* line_of(const std::vector<nlohmann::json>& lines, const std::string& event,
                              const std::string& camera = "") {
  for (const auto& line : lines) {
    if (line.is_object() && line.value("event", "") == event && (camera.empty() || line.value("camera", "") == camera)) {
      return &line;
    }
  }
  return nullptr;
}

// Names given by identified / identity_changed, in order.
std::vector<std::string> namings(const std::vector<nlohmann::json>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) {
    const std::string kind = e.value("event", "");
    if (kind == "identified" || kind == "identity_changed") out.push_back(e["name"]);
  }
  return out;
}

// A local TCP port that accepts connections and never answers (a stalled camera).
class SilentServer {
 public:
  SilentServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t length = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class WatchCamerasTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("siamface_watch_cameras_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  void SetUp() override {
    SIAMFACE_REQUIRE_FFMPEG();
  }

  // Needs models and photos: sheldon, penny, leonard and raj enrolled from padded crops that the
  // clips do not use; door shows sheldon, yard penny, hall leonard and then raj.
  void make_inputs() {
    SIAMFACE_REQUIRE_MODELS();
    SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/sheldon");
    if (fs::exists(dir_ / "hall.mp4")) return;
    gallery_ = dir_ / "gallery.db";
    ASSERT_NO_FATAL_FAILURE(siamface::test::enroll_padded_crops(
        gallery_, dir_, {{"sheldon", {3, 4, 5}}, {"penny", {2, 3, 4}}, {"leonard", {2, 3, 4}}, {"raj", {2, 3, 4}}}));
    ASSERT_NO_FATAL_FAILURE(siamface::test::make_face_clip(clip("door"), {{"sheldon", 2}}));
    ASSERT_NO_FATAL_FAILURE(siamface::test::make_face_clip(clip("yard"), {{"penny", 1}}));
    ASSERT_NO_FATAL_FAILURE(siamface::test::make_face_clip(clip("hall"), {{"leonard", 1}, {"raj", 1}}));
  }

  static fs::path clip(const std::string& name) { return dir_ / (name + ".mp4"); }
  static std::string cli() { return SIAMFACE_CLI_PATH; }

  fs::path write_config(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  static fs::path dir_;
  static fs::path gallery_;
};

fs::path WatchCamerasTest::dir_;
fs::path WatchCamerasTest::gallery_;

TEST_F(WatchCamerasTest, EachCameraNamesOnlyItsOwnPeopleInOrder) {
  ASSERT_NO_FATAL_FAILURE(make_inputs());
  const auto result = run_command(cli() + " watch " + shell_quote(clip("door").string()) + " " +
                                  shell_quote(clip("yard").string()) + " " + shell_quote(clip("hall").string()) +
                                  " --camera door --camera yard --camera hall --gallery " + shell_quote(gallery_.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto lines = json_lines(result.output);
  const std::map<std::string, std::vector<std::string>> expected = {
      {"door", {"sheldon"}}, {"yard", {"penny"}}, {"hall", {"leonard", "raj"}}};
  for (const auto& [camera, names] : expected) {
    const auto events = events_of(lines, camera);
    ASSERT_FALSE(events.empty()) << camera << "\n" << result.output;
    EXPECT_EQ(namings(events), names) << camera << "\n" << result.output;
    // Per camera: frames never go back; a track appears, is named, then ends, once each.
    std::int64_t frame = -1;
    std::map<int, std::vector<std::string>> per_track;
    for (const auto& e : events) {
      EXPECT_GE(e["frame"].get<std::int64_t>(), frame) << camera << ": " << e.dump();
      frame = e["frame"];
      per_track[e["track"].get<int>()].push_back(e["event"]);
    }
    for (const auto& [track, kinds] : per_track) {
      EXPECT_EQ(kinds, (std::vector<std::string>{"appeared", "identified", "ended"})) << camera << " track " << track;
    }
    const nlohmann::json* summary = line_of(lines, "summary", camera);
    ASSERT_NE(summary, nullptr) << camera;
    EXPECT_EQ((*summary)["end"], "end of file");
    EXPECT_GT((*summary)["frames"].get<int>(), 50);
    EXPECT_TRUE((*summary)["latency_ms"].is_object()) << summary->dump();
  }
  const nlohmann::json* run = line_of(lines, "run_summary");
  ASSERT_NE(run, nullptr) << result.output;
  EXPECT_EQ((*run)["cameras"], 3);
  EXPECT_TRUE((*run)["failed"].empty());
  EXPECT_GT((*run)["embedding_queue"]["faces"].get<int>(), 0) << "faces went through the shared queue";
  EXPECT_EQ(lines.back().value("event", ""), "run_summary") << "the run's summary is the last line";

  // The names equal the single-camera run's, whose lines carry no camera (as before).
  const auto single = run_command(cli() + " watch " + shell_quote(clip("hall").string()) + " --gallery " +
                                  shell_quote(gallery_.string()));
  ASSERT_EQ(single.exit_code, 0) << single.output;
  std::vector<nlohmann::json> alone;
  for (const auto& line : json_lines(single.output)) {
    EXPECT_FALSE(line.contains("camera")) << "one source keeps its output: " << line.dump();
    if (line.value("event", "") != "summary") alone.push_back(line);
  }
  EXPECT_EQ(namings(alone), expected.at("hall"));
}

TEST_F(WatchCamerasTest, SourcesThatFailAreRetriedAndReportedWithoutStoppingTheOthers) {
  ASSERT_NO_FATAL_FAILURE(make_inputs());
  SilentServer silent;  // accepts, never answers: the open times out
  const int refused = siamface::test::free_port();  // nobody listens there
  const auto result = run_command(
      cli() + " watch " + shell_quote(clip("door").string()) + " " + shell_quote((dir_ / "missing.mp4").string()) +
      " http://127.0.0.1:" + std::to_string(refused) + "/stream http://127.0.0.1:" + std::to_string(silent.port()) +
      "/stream --camera door --camera missing --camera refused --camera silent --reconnect-for 6 --gallery " +
      shell_quote(gallery_.string()));
  EXPECT_EQ(result.exit_code, 2) << "cameras that never opened make the run fail at its end\n" << result.output;
  const auto lines = json_lines(result.output);
  EXPECT_EQ(namings(events_of(lines, "door")), std::vector<std::string>{"sheldon"}) << result.output;
  const nlohmann::json* door = line_of(lines, "summary", "door");
  ASSERT_NE(door, nullptr) << result.output;
  EXPECT_EQ((*door)["end"], "end of file");
  for (const std::string camera : {"missing", "refused", "silent"}) {
    const nlohmann::json* summary = line_of(lines, "summary", camera);
    ASSERT_NE(summary, nullptr) << camera << "\n" << result.output;
    EXPECT_EQ((*summary)["frames"], 0);
    EXPECT_GE((*summary)["open_attempts"].get<int>(), 2) << camera << ": retried\n" << summary->dump();
    EXPECT_NE((*summary)["end"].get<std::string>().find("could not open"), std::string::npos) << summary->dump();
    EXPECT_NE(result.output.find("camera " + camera + ": "), std::string::npos) << "reported on stderr";
  }
  EXPECT_NE(result.output.find("retrying in"), std::string::npos) << result.output;
  const nlohmann::json* run = line_of(lines, "run_summary");
  ASSERT_NE(run, nullptr) << result.output;
  EXPECT_EQ((*run)["failed"], nlohmann::json({"missing", "refused", "silent"}));
}

TEST_F(WatchCamerasTest, ConfigGivesEachCameraItsSettingsAndOutputs) {
  ASSERT_NO_FATAL_FAILURE(make_inputs());
  const fs::path config = write_config("cameras.yaml", "gallery: " + gallery_.string() +
                                                           "\ndetect_every: 5\ncameras:\n"
                                                           "  - name: door\n    source: " + clip("door").string() +
                                                           "\n    detect_every: 1\n"
                                                           "  - name: yard\n    source: " + clip("yard").string() +
                                                           "\n"
                                                           "  - name: far\n    source: " + clip("hall").string() +
                                                           "\n    min_face: 400\n");
  const fs::path out = dir_ / "annotated" / "watch.mp4";
  const auto result = run_command(cli() + " watch --config " + shell_quote(config.string()) + " --out " +
                                  shell_quote(out.string()) + " --workers 3");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto lines = json_lines(result.output);
  const nlohmann::json* door = line_of(lines, "summary", "door");
  const nlohmann::json* yard = line_of(lines, "summary", "yard");
  ASSERT_TRUE(door && yard) << result.output;
  EXPECT_EQ((*door)["detect_frames"], (*door)["frames"]) << "door detects every frame";
  EXPECT_LT((*yard)["detect_frames"].get<int>(), (*yard)["frames"].get<int>() / 2) << "yard every 5th";
  EXPECT_EQ(namings(events_of(lines, "yard")), std::vector<std::string>{"penny"});
  EXPECT_TRUE(events_of(lines, "far").empty()) << "faces under min_face are ignored\n" << result.output;
  for (const std::string camera : {"door", "yard", "far"}) {
    EXPECT_TRUE(fs::exists(dir_ / "annotated" / ("watch." + camera + ".mp4"))) << camera << ": its own --out file";
  }
  const nlohmann::json* run = line_of(lines, "run_summary");
  ASSERT_NE(run, nullptr) << result.output;
  EXPECT_EQ((*run)["inference_places"], 3) << "--workers";
}

TEST_F(WatchCamerasTest, SigtermStopsEveryCameraCleanly) {
  ASSERT_NO_FATAL_FAILURE(make_inputs());
  const fs::path log = dir_ / "sigterm.log";
  pid_t pid = siamface::test::spawn({cli(), "watch", clip("door").string(), clip("yard").string(), "--camera", "door",
                                     "--camera", "yard", "--realtime", "--gallery", gallery_.string()},
                                    log);
  ASSERT_GT(pid, 0);
  // Both cameras named someone: they run; then stop them all.
  ASSERT_TRUE(siamface::test::eventually(
      [&] {
        const std::string text = siamface::test::read_text(log);
        return text.find("\"sheldon\"") != std::string::npos && text.find("\"penny\"") != std::string::npos;
      },
      std::chrono::seconds(120)))
      << siamface::test::read_text(log);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string text = siamface::test::read_text(log);
  ASSERT_TRUE(WIFEXITED(status)) << text;
  EXPECT_EQ(WEXITSTATUS(status), 0) << text;
  const auto lines = json_lines(text);
  for (const std::string camera : {"door", "yard"}) {
    const nlohmann::json* summary = line_of(lines, "summary", camera);
    ASSERT_NE(summary, nullptr) << camera << "\n" << text;
    EXPECT_EQ((*summary)["end"], "interrupted") << summary->dump();
    const auto events = events_of(lines, camera);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["event"], "ended") << camera << ": live tracks end on the way out";
  }
  const nlohmann::json* run = line_of(lines, "run_summary");
  ASSERT_NE(run, nullptr) << text;
  EXPECT_EQ((*run)["end"], "interrupted");
}

// Bad command lines and configs fail at once (before the models load), naming what and where.
TEST_F(WatchCamerasTest, ConfigAndCameraErrorsNameTheLine) {
  struct Case {
    std::string name, text, expected;
  };
  const std::vector<Case> cases = {
      {"unknown_key.yaml", "gallery: g.db\ncameras:\n  - name: door\n    source: a.mp4\n    colour: red\n",
       "unknown_key.yaml:5: unknown key 'colour' in camera 1"},
      {"unknown_top.yaml", "gallery: g.db\nzones: []\ncameras:\n  - name: door\n    source: a.mp4\n",
       "unknown_top.yaml:2: unknown key 'zones' in the config"},
      {"malformed.yaml", "gallery: g.db\ncameras:\n  - name: door\n    source: [a.mp4\n", "malformed.yaml:"},
      {"no_source.yaml", "cameras:\n  - name: door\n  - name: yard\n    source: b.mp4\n",
       "no_source.yaml:2: camera 'door' has no source"},
      {"no_cameras.yaml", "gallery: g.db\n", "no_cameras.yaml: no cameras"},
      {"twice.yaml", "cameras:\n  - {name: door, source: a.mp4}\n  - {name: door, source: b.mp4}\n",
       "twice.yaml:3: two cameras are named 'door'"},
      {"bad_every.yaml", "detect_every: 0\ncameras:\n  - {name: door, source: a.mp4}\n",
       "bad_every.yaml:1: detect_every must be a whole number in [1, 1000]"},
      {"bad_name.yaml", "cameras:\n  - {name: front door, source: a.mp4}\n", "bad_name.yaml:2: camera name 'front door'"},
      {"no_mqtt.yaml", "ha_discovery: true\ncameras:\n  - {name: door, source: a.mp4}\n", "ha_discovery needs mqtt"},
  };
  for (const Case& c : cases) {
    const fs::path path = write_config(c.name, c.text);
    const auto result = run_command(cli() + " watch --config " + shell_quote(path.string()));
    EXPECT_EQ(result.exit_code, 2) << c.name << ": " << result.output;
    EXPECT_NE(result.output.find(c.expected), std::string::npos) << c.name << ": expected '" << c.expected << "' in\n"
                                                                  << result.output;
  }
  // The malformed file's message names the line the parser stopped at (4 or 5, by yaml-cpp).
  const auto malformed = run_command(cli() + " watch --config " + shell_quote((dir_ / "malformed.yaml").string()));
  EXPECT_NE(malformed.output.find("malformed YAML"), std::string::npos) << malformed.output;
  EXPECT_TRUE(malformed.output.find("malformed.yaml:4:") != std::string::npos ||
              malformed.output.find("malformed.yaml:5:") != std::string::npos)
      << malformed.output;

  const std::vector<std::pair<std::string, std::string>> command_lines = {
      {"a.mp4 b.mp4 --camera door", "--camera was given 1 time(s) for 2 source(s)"},
      {"a.mp4 --camera door --camera yard", "--camera was given 2 times for 1 source"},
      {"a.mp4 b.mp4 --camera door --camera door", "two sources are named 'door'"},
      {"dir1/clip.mp4 dir2/clip.mp4", "two sources are named 'clip'"},
      {"a.mp4 --config " + (dir_ / "twice.yaml").string(), "give no SOURCE or --camera"},
      {"", "watch needs a SOURCE"},
      {"a.mp4 b.mp4 --show", "--show takes one source"},
      {"a.mp4 --ha-discovery", "--ha-discovery needs --mqtt"},
      {"--config " + (dir_ / "absent.yaml").string(), "cannot read the config"},
  };
  for (const auto& [arguments, expected] : command_lines) {
    const auto result = run_command(cli() + " watch " + arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments << ": " << result.output;
    EXPECT_NE(result.output.find(expected), std::string::npos) << arguments << ": expected '" << expected << "' in\n"
                                                               << result.output;
  }
}

}  // namespace
