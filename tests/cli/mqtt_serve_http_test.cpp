// siamface serve --mqtt against a real mosquitto started here: serve starts while the broker is
// still down, a recognize request is published once the broker is up (camera and person topics,
// retained presence), and after the broker restarts (forgetting every retained message) the
// publisher reconnects, republishes its retained state and publishes new recognitions again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "common/mqtt_broker.hpp"
#include "common/server_process.hpp"
#include "common/test_env.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using siamface::test::eventually;
using siamface::test::file_part;
using siamface::test::MosquittoBroker;
using siamface::test::MqttRecorder;
using siamface::test::reply_of;
using siamface::test::ServerProcess;

namespace {

fs::path photos() { return siamface::test::testdata_dir() / "face_recognition_ageitgey/tests/test_images"; }
std::string photo(const std::string& name) { return siamface::test::read_binary_file(photos() / name); }

bool published_obama(const MqttRecorder& recorder) {
  for (const auto& m : recorder.on("desk/cameras/frontdesk/events")) {
    const auto event = m.json();
    if (event.is_object() && event.value("event", "") == "recognized" && !event["faces"].empty() &&
        event["faces"][0].value("name", "") == "obama") {
      return true;
    }
  }
  return false;
}

TEST(MqttServe, PublishesRecognitionsAndSurvivesABrokerThatIsDownOrRestarts) {
  SIAMFACE_REQUIRE_MQTT();
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_PATH(photos() / "obama.jpg", "test photos");
  const fs::path dir = fs::temp_directory_path() / ("siamface_mqtt_serve_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const int port = siamface::test::free_port();

  // The broker is not running yet: serve must come up anyway.
  ServerProcess server({"--mqtt", "mqtt://127.0.0.1:" + std::to_string(port) + "/desk?presence_s=60",
                        "--camera", "frontdesk"});
  ASSERT_GT(server.port(), 0) << server.log();
  ASSERT_TRUE(server.wait_ready()) << server.log();
  httplib::Client client("127.0.0.1", server.port());
  client.set_read_timeout(60, 0);
  const auto post = [&](const std::string& path, const std::string& image) {
    return reply_of(client.Post(path.c_str(), httplib::MultipartFormDataItems{file_part("image", image)}));
  };
  ASSERT_EQ(post("/v1/people/obama/faces", photo("obama.jpg")).status, 200);
  EXPECT_EQ(post("/v1/identify", photo("obama2.jpg")).status, 200) << "a recognition while the broker is down";
  EXPECT_NE(server.log().find("MQTT: broker 127.0.0.1:" + std::to_string(port)), std::string::npos) << server.log();

  {
    MosquittoBroker broker(dir, port);
    ASSERT_TRUE(broker.start()) << broker.log();
    MqttRecorder recorder(dir / "first.txt", port, {"desk/#"});
    ASSERT_TRUE(recorder.wait_subscribed()) << recorder.dump();
    // The publisher's backoff is at most 30 s; it says "online" as soon as it is connected.
    ASSERT_TRUE(eventually([&] { return !recorder.on("desk/available").empty(); }, 40s))
        << server.log() << recorder.dump();
    const auto identified = post("/v1/identify", photo("obama2.jpg"));
    ASSERT_EQ(identified.status, 200);
    ASSERT_EQ(identified.body["faces"][0]["name"], "obama");
    ASSERT_TRUE(eventually([&] { return published_obama(recorder); }, 5s)) << recorder.dump();
    const auto person = recorder.on("desk/person/obama");
    ASSERT_FALSE(person.empty()) << recorder.dump();
    EXPECT_EQ(person.back().json()["camera"], "frontdesk");
    EXPECT_NEAR(person.back().json()["distance"].get<double>(),
                identified.body["faces"][0]["distance"].get<double>(), 1e-5);
    const auto presence = siamface::test::retained(port, "desk/person/obama/presence");
    ASSERT_TRUE(presence.has_value()) << recorder.dump();
    EXPECT_TRUE(presence->retained);
    EXPECT_EQ(presence->json()["present"], true);
    // A photo without a known face is published on the camera topic only.
    EXPECT_EQ(post("/v1/identify", photo("biden.jpg")).status, 200);
    ASSERT_TRUE(eventually([&] { return recorder.on("desk/cameras/frontdesk/events").size() >= 2; }, 5s));
    EXPECT_TRUE(recorder.on("desk/person/unknown").empty());
    broker.stop();  // mid-run: the broker goes away, and with it every retained message
  }
  EXPECT_EQ(post("/v1/identify", photo("obama2.jpg")).status, 200) << "serve keeps answering";

  MosquittoBroker restarted(dir, port);
  ASSERT_TRUE(restarted.start()) << restarted.log();
  MqttRecorder recorder(dir / "second.txt", port, {"desk/#"});
  ASSERT_TRUE(recorder.wait_subscribed()) << recorder.dump();
  ASSERT_TRUE(eventually([&] { return !recorder.on("desk/available").empty(); }, 40s))
      << "no reconnect\n" << server.log() << recorder.dump();
  // Republished on reconnect although the new broker never saw it.
  const auto presence = siamface::test::retained(port, "desk/person/obama/presence");
  ASSERT_TRUE(presence.has_value()) << recorder.dump();
  EXPECT_EQ(presence->json()["present"], true);
  ASSERT_EQ(post("/v1/identify", photo("obama2.jpg")).status, 200);
  EXPECT_TRUE(eventually([&] { return published_obama(recorder); }, 5s)) << recorder.dump();

  // SIGTERM: presence absent and availability offline, retained for whoever subscribes later.
  EXPECT_EQ(server.stop(), 0) << server.log();
  const auto gone = siamface::test::retained(port, "desk/person/obama/presence");
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->json()["present"], false);
  const auto available = siamface::test::retained(port, "desk/available");
  ASSERT_TRUE(available.has_value());
  EXPECT_EQ(available->payload, "offline");
  fs::remove_all(dir);
}

}  // namespace
