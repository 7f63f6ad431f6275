// Home Assistant MQTT discovery of watch's cameras (issue 36) against a real mosquitto started
// here: each camera is a device with a "Last person seen" sensor and a presence binary_sensor
// per enrolled person, retained, with the fields Home Assistant requires of those components
// and availability on this process's last will and the camera's own topic; the state topics
// carry the names; a camera dropped from the config has its configs cleared at the next start.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/face_clips.hpp"
#include "common/json_lines.hpp"
#include "common/mqtt_broker.hpp"
#include "common/run_command.hpp"
#include "common/test_env.hpp"

namespace fs = std::filesystem;
using siamface::test::MosquittoBroker;
using siamface::test::MqttRecorder;
using siamface::test::run_command;
using siamface::test::shell_quote;

namespace {

// Every retained message under `filter` now, as a fresh subscriber gets them: topic -> payload.
std::map<std::string, std::string> retained_under(int port, const std::string& filter) {
  const fs::path file = fs::temp_directory_path() / ("siamface_retained_all_" + std::to_string(::getpid()));
  const std::string cmd = siamface::test::kMosquittoSub.string() + " -h 127.0.0.1 -p " + std::to_string(port) +
                          " --retained-only -W 2 -t '" + filter + "' -F '%t\t%p' >" + file.string() + " 2>/dev/null";
  std::system(cmd.c_str());
  std::map<std::string, std::string> out;
  std::istringstream in(siamface::test::read_text(file));
  for (std::string line; std::getline(in, line);) {
    const auto tab = line.find('\t');
    if (tab != std::string::npos) out[line.substr(0, tab)] = line.substr(tab + 1);
  }
  fs::remove(file);
  return out;
}

class MqttDiscoveryTest : public siamface::test::WatchInputsTest {
 protected:
  MqttDiscoveryTest() : WatchInputsTest("mqtt_discovery") {}
  void SetUp() override {
    SIAMFACE_REQUIRE_MQTT();
    WatchInputsTest::SetUp();
  }

  // sheldon and penny enrolled; door shows sheldon, yard penny (2 s, then 1 s of grey).
  void make_inputs() {
    gallery_ = dir_ / "gallery.db";
    ASSERT_NO_FATAL_FAILURE(
        siamface::test::enroll_padded_crops(gallery_, dir_, {{"sheldon", {3, 4, 5}}, {"penny", {2, 3, 4}}}));
    ASSERT_NO_FATAL_FAILURE(siamface::test::make_face_clip(dir_ / "door.mp4", {{"sheldon", 2}}));
    ASSERT_NO_FATAL_FAILURE(siamface::test::make_face_clip(dir_ / "yard.mp4", {{"penny", 1}}));
  }

  fs::path config(const std::vector<std::string>& cameras, int port) {
    std::string text = "gallery: " + gallery_.string() + "\nmqtt: mqtt://127.0.0.1:" + std::to_string(port) +
                       "/cams?presence_s=0.5\nha_discovery: true\ncameras:\n";
    for (const std::string& camera : cameras) {
      text += "  - name: " + camera + "\n    source: " + (dir_ / (camera + ".mp4")).string() + "\n";
    }
    const fs::path path = dir_ / "cameras.yaml";
    std::ofstream(path) << text;
    return path;
  }

  fs::path gallery_;
};

TEST_F(MqttDiscoveryTest, CamerasAreDevicesWithTheFieldsHomeAssistantRequires) {
  ASSERT_NO_FATAL_FAILURE(make_inputs());
  MosquittoBroker broker(dir_, siamface::test::free_port());
  ASSERT_TRUE(broker.start()) << broker.log();
  MqttRecorder recorder(dir_ / "messages.txt", broker.port(), {"cams/#"});
  ASSERT_TRUE(recorder.wait_subscribed()) << recorder.dump();

  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch --config " +
                                  shell_quote(config({"door", "yard"}, broker.port()).string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;

  const auto configs = retained_under(broker.port(), "homeassistant/#");
  std::set<std::string> unique_ids;
  for (const std::string camera : {"door", "yard"}) {
    const std::string device = "siamface_cams_" + camera;
    // The sensor: Home Assistant's MQTT sensor needs state_topic; discovery needs unique_id for
    // the device registry, and the device needs identifiers.
    const std::string sensor_topic = "homeassistant/sensor/" + device + "/last_person/config";
    ASSERT_TRUE(configs.contains(sensor_topic)) << sensor_topic << "\n" << result.output;
    std::vector<nlohmann::json> entities{nlohmann::json::parse(configs.at(sensor_topic))};
    EXPECT_EQ(entities[0]["state_topic"], "cams/cameras/" + camera + "/last_person");
    EXPECT_EQ(entities[0]["value_template"], "{{ value_json.name }}");
    for (const std::string person : {"sheldon", "penny"}) {
      const std::string topic = "homeassistant/binary_sensor/" + device + "/" + person + "/config";
      ASSERT_TRUE(configs.contains(topic)) << topic;
      const nlohmann::json presence = nlohmann::json::parse(configs.at(topic));
      EXPECT_EQ(presence["state_topic"], "cams/cameras/" + camera + "/presence/" + person);
      EXPECT_EQ(presence["device_class"], "presence");
      EXPECT_EQ(presence["payload_on"], "ON");
      EXPECT_EQ(presence["payload_off"], "OFF");
      EXPECT_EQ(presence["name"], person);
      entities.push_back(presence);
    }
    for (const nlohmann::json& entity : entities) {
      for (const char* field : {"name", "unique_id", "state_topic", "device", "availability"}) {
        EXPECT_TRUE(entity.contains(field)) << field << " missing: " << entity.dump();
      }
      EXPECT_TRUE(unique_ids.insert(entity["unique_id"].get<std::string>()).second) << "unique_id repeated";
      EXPECT_EQ(entity["device"]["identifiers"], nlohmann::json::array({device}));
      EXPECT_EQ(entity["device"]["name"], camera);
      EXPECT_FALSE(entity.contains("availability_topic")) << "Home Assistant refuses both availability forms";
      EXPECT_EQ(entity["availability_mode"], "all");
      EXPECT_EQ(entity["availability"],
                nlohmann::json::parse(R"([{"topic":"cams/available"},{"topic":"cams/cameras/)" + camera +
                                      R"(/available"}])"));
    }
  }

  // The states carry the names: last person seen per camera (retained), presence ON then OFF.
  const auto door_last = siamface::test::retained(broker.port(), "cams/cameras/door/last_person");
  ASSERT_TRUE(door_last.has_value()) << recorder.dump();
  EXPECT_EQ(door_last->json()["name"], "sheldon");
  const auto yard_last = siamface::test::retained(broker.port(), "cams/cameras/yard/last_person");
  ASSERT_TRUE(yard_last.has_value());
  EXPECT_EQ(yard_last->json()["name"], "penny");
  ASSERT_TRUE(siamface::test::eventually([&] { return recorder.on("cams/cameras/door/presence/sheldon").size() >= 2; },
                                         std::chrono::seconds(5)))
      << recorder.dump();
  const auto door_sheldon = recorder.on("cams/cameras/door/presence/sheldon");
  EXPECT_EQ(door_sheldon.front().payload, "ON");
  EXPECT_EQ(door_sheldon.back().payload, "OFF");
  EXPECT_TRUE(recorder.on("cams/cameras/door/presence/penny").empty()) << "penny was never at the door";
  const auto door_online = recorder.on("cams/cameras/door/available");
  ASSERT_FALSE(door_online.empty());
  bool was_online = false;
  for (const auto& m : door_online) was_online = was_online || m.payload == "online";
  EXPECT_TRUE(was_online) << recorder.dump();
  EXPECT_EQ(door_online.back().payload, "offline") << "offline after the run";
  const auto available = siamface::test::retained(broker.port(), "cams/available");
  ASSERT_TRUE(available.has_value());
  EXPECT_EQ(available->payload, "offline");

  // yard leaves the config: its entities and states go at the next start; door's stay.
  const auto again = run_command(std::string(SIAMFACE_CLI_PATH) + " watch --config " +
                                 shell_quote(config({"door"}, broker.port()).string()));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  const auto after = retained_under(broker.port(), "homeassistant/#");
  for (const auto& [topic, payload] : after) {
    EXPECT_EQ(topic.find("siamface_cams_yard"), std::string::npos) << "not cleared: " << topic;
  }
  EXPECT_TRUE(after.contains("homeassistant/sensor/siamface_cams_door/last_person/config"));
  EXPECT_TRUE(after.contains("homeassistant/binary_sensor/siamface_cams_door/penny/config"));
  const auto states = retained_under(broker.port(), "cams/cameras/#");
  for (const auto& [topic, payload] : states) {
    EXPECT_NE(topic.rfind("cams/cameras/yard/", 0), 0U) << "yard's retained state stays: " << topic;
  }
  const auto registry = siamface::test::retained(broker.port(), "cams/discovery/announced");
  ASSERT_TRUE(registry.has_value());
  for (const auto& topic : registry->json()["topics"]) {
    EXPECT_EQ(topic.get<std::string>().find("yard"), std::string::npos) << topic;
  }
}

TEST_F(MqttDiscoveryTest, OneSourceWithTheFlagIsOneDevice) {
  ASSERT_NO_FATAL_FAILURE(make_inputs());
  MosquittoBroker broker(dir_, siamface::test::free_port());
  ASSERT_TRUE(broker.start()) << broker.log();
  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " +
                                  shell_quote((dir_ / "door.mp4").string()) + " --camera front --gallery " +
                                  shell_quote(gallery_.string()) + " --ha-discovery --mqtt mqtt://127.0.0.1:" +
                                  std::to_string(broker.port()) + "/cams");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto configs = retained_under(broker.port(), "homeassistant/#");
  EXPECT_TRUE(configs.contains("homeassistant/sensor/siamface_cams_front/last_person/config")) << result.output;
  const auto last = siamface::test::retained(broker.port(), "cams/cameras/front/last_person");
  ASSERT_TRUE(last.has_value()) << result.output;
  EXPECT_EQ(last->json()["name"], "sheldon");
}

}  // namespace
