// siamface watch --mqtt against a real mosquitto started here: every stdout event line is
// published on the camera topic, named ones on the person topic, presence is retained and goes
// from present to absent, Home Assistant discovery and availability are retained; a broker that
// is down does not stop watch. The clip is made with ffmpeg from a face-api.js crop (as in
// watch_cli_test.cpp).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/mqtt_broker.hpp"
#include "common/face_clips.hpp"
#include "common/json_lines.hpp"
#include "common/run_command.hpp"
#include "common/test_env.hpp"

namespace fs = std::filesystem;
using siamface::test::MosquittoBroker;
using siamface::test::MqttRecorder;
using siamface::test::json_lines;
using siamface::test::run_command;
using siamface::test::shell_quote;

namespace {

class MqttWatchTest : public siamface::test::WatchInputsTest {
 protected:
  MqttWatchTest() : WatchInputsTest("mqtt_watch") {}
  void SetUp() override {
    SIAMFACE_REQUIRE_MQTT();
    WatchInputsTest::SetUp();
  }

  // sheldon enrolled from padded crops 3-5; the clip: sheldon (crop 2) for 2 s, then 1 s of grey.
  void make_inputs() {
    gallery_ = dir_ / "gallery.db";
    ASSERT_NO_FATAL_FAILURE(siamface::test::enroll_padded_crops(gallery_, dir_, {{"sheldon", {3, 4, 5}}}));
    clip_ = dir_ / "door.mp4";
    ASSERT_NO_FATAL_FAILURE(siamface::test::make_face_clip(clip_, {{"sheldon", 2}}));
  }

  fs::path gallery_, clip_;
};

TEST_F(MqttWatchTest, PublishesEveryEventWithTopicsPresenceAndDiscovery) {
  ASSERT_NO_FATAL_FAILURE(make_inputs());
  MosquittoBroker broker(dir_, siamface::test::free_port());
  ASSERT_TRUE(broker.start()) << broker.log();
  MqttRecorder recorder(dir_ / "messages.txt", broker.port(), {"cams/#", "homeassistant/#"});
  ASSERT_TRUE(recorder.wait_subscribed()) << recorder.dump();

  const std::string url = "mqtt://127.0.0.1:" + std::to_string(broker.port()) + "/cams?presence_s=0.5";
  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote(clip_.string()) +
                                  " --gallery " + shell_quote(gallery_.string()) + " --mqtt '" + url +
                                  "' --camera door 2>" + shell_quote((dir_ / "watch.err").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output << siamface::test::read_text(dir_ / "watch.err");

  // stdout's event lines (all but the summary), in order.
  std::vector<nlohmann::json> printed;
  for (const auto& line : json_lines(result.output)) {
    if (line.is_object() && line.value("event", "") != "summary") printed.push_back(line);
  }
  ASSERT_FALSE(printed.empty()) << result.output;
  bool named = false;
  for (const auto& e : printed) named = named || e.value("name", "") == "sheldon";
  ASSERT_TRUE(named) << "the clip should name sheldon\n" << result.output;

  // Delivered with QoS 1 before watch exits (it waits for the acknowledgements).
  ASSERT_TRUE(siamface::test::eventually([&] { return recorder.on("cams/cameras/door/events").size() >= printed.size(); },
                                         std::chrono::seconds(5)))
      << recorder.dump() << "\nstdout:\n" << result.output;
  const auto camera_events = recorder.on("cams/cameras/door/events");
  ASSERT_EQ(camera_events.size(), printed.size()) << recorder.dump();
  for (std::size_t i = 0; i < printed.size(); ++i) {
    nlohmann::json published = camera_events[i].json();
    ASSERT_TRUE(published.is_object()) << camera_events[i].payload;
    EXPECT_EQ(published["camera"], "door");
    EXPECT_GT(published["time_unix_ms"].get<std::int64_t>(), 1'600'000'000'000);
    published.erase("camera");
    published.erase("time_unix_ms");
    EXPECT_EQ(published, printed[i]) << "the MQTT payload is the event line plus camera and time";
    EXPECT_FALSE(camera_events[i].retained);
  }

  // The person topic: sheldon's naming and track end, nothing about anyone else.
  const auto person = recorder.on("cams/person/sheldon");
  ASSERT_FALSE(person.empty()) << recorder.dump();
  EXPECT_EQ(person.front().json()["event"], "identified");
  EXPECT_EQ(person.back().json()["event"], "ended");
  for (const auto& m : recorder.messages()) {
    EXPECT_TRUE(m.topic.rfind("cams/person/unknown", 0) != 0) << "unknown faces have no person topic";
  }

  // Presence: present while the track lived, absent afterwards, and retained as absent.
  const auto presence = recorder.on("cams/person/sheldon/presence");
  ASSERT_GE(presence.size(), 2U) << recorder.dump();
  EXPECT_EQ(presence.front().json()["present"], true);
  EXPECT_EQ(presence.front().json()["camera"], "door");
  EXPECT_EQ(presence.back().json()["present"], false);
  const auto kept = siamface::test::retained(broker.port(), "cams/person/sheldon/presence");
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(kept->retained);
  EXPECT_EQ(kept->json()["present"], false);

  // Camera person count, availability (online, then offline at exit) and discovery.
  const auto count = recorder.on("cams/cameras/door/person");
  ASSERT_GE(count.size(), 2U) << recorder.dump();
  EXPECT_EQ(count.front().payload, "1");
  EXPECT_EQ(count.back().payload, "0");
  const auto available = recorder.on("cams/available");
  ASSERT_FALSE(available.empty());
  EXPECT_EQ(available.front().payload, "online");
  EXPECT_EQ(available.back().payload, "offline");
  const auto config = siamface::test::retained(broker.port(), "homeassistant/binary_sensor/siamface_cams/sheldon/config");
  ASSERT_TRUE(config.has_value()) << recorder.dump();
  EXPECT_TRUE(config->retained);
  const nlohmann::json discovery = config->json();
  EXPECT_EQ(discovery["state_topic"], "cams/person/sheldon/presence");
  EXPECT_EQ(discovery["device_class"], "presence");
  EXPECT_EQ(discovery["availability_topic"], "cams/available");
  EXPECT_EQ(discovery["name"], "sheldon");
}

TEST_F(MqttWatchTest, LogsInWithUserAndPasswordAndHonoursPrefixAndDiscoveryOff) {
  ASSERT_NO_FATAL_FAILURE(make_inputs());
  const auto passwords = dir_ / "passwords";
  const auto made = run_command("mosquitto_passwd -b -c " + shell_quote(passwords.string()) + " watcher 'p@ss:w/rd'");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  MosquittoBroker broker(dir_, siamface::test::free_port());
  ASSERT_TRUE(broker.start("allow_anonymous false\npassword_file " + passwords.string() + "\n")) << broker.log();
  // mosquitto_sub logs in too (the broker refuses anonymous clients).
  const auto file = dir_ / "auth.txt";
  const pid_t sub = siamface::test::spawn({siamface::test::kMosquittoSub.string(), "-h", "127.0.0.1", "-p",
                                           std::to_string(broker.port()), "-u", "watcher", "-P", "p@ss:w/rd", "-t",
                                           "#", "-F", "%t"},
                                          file);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::string url = "mqtt://watcher:p%40ss%3Aw%2Frd@127.0.0.1:" + std::to_string(broker.port()) +
                          "/site/door?discovery=off&client_id=door-node";
  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote(clip_.string()) +
                                  " --gallery " + shell_quote(gallery_.string()) + " --camera door --mqtt '" + url + "'");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("MQTT: connected"), std::string::npos) << result.output;
  ASSERT_TRUE(siamface::test::eventually(
      [&] { return siamface::test::read_text(file).find("site/door/person/sheldon/presence") != std::string::npos; },
      std::chrono::seconds(5)))
      << siamface::test::read_text(file) << result.output;
  const std::string topics = siamface::test::read_text(file);
  EXPECT_NE(topics.find("site/door/cameras/door/events"), std::string::npos) << topics;
  EXPECT_EQ(topics.find("homeassistant/"), std::string::npos) << "discovery=off\n" << topics;
  pid_t running = sub;
  siamface::test::stop_child(running);
}

TEST_F(MqttWatchTest, ABrokerThatIsDownDoesNotStopWatch) {
  ASSERT_NO_FATAL_FAILURE(make_inputs());
  const int port = siamface::test::free_port();  // nobody listens there
  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote(clip_.string()) +
                                  " --gallery " + shell_quote(gallery_.string()) + " --mqtt mqtt://127.0.0.1:" +
                                  std::to_string(port) + "/cams");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("MQTT: broker 127.0.0.1:" + std::to_string(port)), std::string::npos) << result.output;
  bool named = false;
  for (const auto& e : json_lines(result.output)) named = named || (e.is_object() && e.value("name", "") == "sheldon");
  EXPECT_TRUE(named) << "events still reach stdout\n" << result.output;
}

TEST_F(MqttWatchTest, BadUrlsAreRefusedNamingTheOption) {
  for (const std::string url : {"http://host/x", "mqtt://host:99999/x", "mqtt://host/x?colour=red", "mqtt://:1883"}) {
    const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch /nonexistent.mp4 --mqtt '" + url + "'");
    EXPECT_NE(result.exit_code, 0) << url;
    EXPECT_NE(result.output.find("--mqtt"), std::string::npos) << url << ": " << result.output;
  }
}

}  // namespace
