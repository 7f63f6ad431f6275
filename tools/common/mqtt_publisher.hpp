// Recognition events to an MQTT broker (libmosquitto) for `watch --mqtt` and `serve --mqtt`:
// per-camera and per-person topics, a retained per-person presence topic and Home Assistant MQTT
// discovery, in the conventions Double Take users already wire up. docs/mqtt.md lists the topics.
//
// The broker may be down at start or go away at any time: publishing never blocks or throws;
// the client reconnects in the background (libmosquitto's loop thread, 1 s backoff doubling to
// 30 s) and republishes the retained state (availability, discovery, presence) on every connect.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace siamface::tools {

struct MqttSettings {
  bool tls = false;  // mqtts://: TLS with the system's CA certificates
  std::string host;
  int port = 1883;   // 8883 for mqtts
  std::string username;
  std::string password;
  std::string prefix = "siamface";             // the URL's path; topics start with it
  double presence_hold_s = 30.0;               // ?presence_s=: absent this long after last seen
  std::string discovery_prefix = "homeassistant";  // ?discovery=: Home Assistant's; "off" disables
  std::string client_id;                       // ?client_id=: default siamface-HOST-PID-RANDOM
};

// mqtt[s]://[user[:password]@]host[:port][/prefix][?presence_s=N&discovery=P&client_id=C].
// User and password may be percent-encoded. Throws Error(kInvalidArgument) naming `option`.
MqttSettings parse_mqtt_url(const std::string& url, const std::string& option = "--mqtt");

// A name as one topic level: '/', '+', '#', spaces and control characters become '_'.
std::string topic_level(const std::string& name);

// A camera name for a video source: a file's stem, "video0" for /dev/video0 or 0, a URL's host.
std::string camera_name_for_source(const std::string& source);

// Thread safety: every method may be called from any thread at once.
class MqttPublisher {
 public:
  using Log = std::function<void(const std::string& message)>;

  // Starts connecting in the background; returns at once, even when the broker is unreachable.
  MqttPublisher(MqttSettings settings, Log log);
  // Marks everyone this process saw as absent and itself offline, then disconnects (waiting up
  // to 2 s for the broker to acknowledge what is still in flight).
  ~MqttPublisher();
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  // One `watch` event line (appeared / identified / identity_changed / ended) seen by `camera`.
  void publish_track_event(const std::string& camera, const nlohmann::json& event);
  // One recognition request's faces (`serve`): [{"name","known","distance","box",..}, ..].
  void publish_recognition(const std::string& camera, const nlohmann::json& faces);

  // Home Assistant: each of `cameras` becomes a device with a "Last person seen" sensor and a
  // presence binary_sensor per person (`people` now, and anyone seen later), available while
  // this process and the camera are (docs/mqtt.md, "Cameras as devices"). The retained topic
  // PREFIX/discovery/announced remembers what was announced: at the first connection the
  // configs of cameras (and people) announced before but not now are cleared, so their
  // entities go. Call once, before the first event.
  void announce_cameras(const std::vector<std::string>& cameras, const std::vector<std::string>& people);
  // PREFIX/cameras/CAMERA/available: online while the camera delivers, offline when it ended or
  // failed (and for every camera at exit).
  void camera_available(const std::string& camera, bool online);

  const MqttSettings& settings() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace siamface::tools
