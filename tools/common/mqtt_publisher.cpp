#include "common/mqtt_publisher.hpp"

#include <mosquitto.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "siamface/errors.hpp"
#include "siamface/decision.hpp"

namespace siamface::tools {

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kQos = 1;
constexpr int kKeepaliveS = 30;

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string percent_decode(const std::string& text, const std::string& option) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      throw Error(ErrorCode::kInvalidArgument, option + ": bad percent-escape in '" + text + "'");
    }
    out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

// Home Assistant wants discovery object ids of [a-zA-Z0-9_-]; others become '_' plus a short
// hash so two names that differ only there stay apart.
std::string ascii_id(const std::string& name) {
  std::string out;
  bool changed = false;
  for (const char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-';
    out += ok ? c : '_';
    changed = changed || !ok;
  }
  if (changed) {
    std::uint32_t h = 2166136261U;
    for (const char c : name) h = (h ^ static_cast<unsigned char>(c)) * 16777619U;
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "_%08x", h);
    out += suffix;
  }
  return out;
}

struct Message {
  std::string topic;
  std::string payload;
  bool retain = false;
};

}  // namespace

MqttSettings parse_mqtt_url(const std::string& url, const std::string& option) {
  const auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, option + " '" + url + "': " + why +
                                                  " (expected mqtt://[user[:password]@]host[:port][/prefix])");
  };
  MqttSettings s;
  std::string rest;
  if (url.rfind("mqtt://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("mqtts://", 0) == 0) {
    rest = url.substr(8);
    s.tls = true;
    s.port = 8883;
  } else {
    throw bad("the scheme must be mqtt:// or mqtts://");
  }
  std::string query;
  if (const auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  std::string authority = rest;
  if (const auto slash = rest.find('/'); slash != std::string::npos) {
    authority = rest.substr(0, slash);
    std::string prefix = rest.substr(slash + 1);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
    if (!prefix.empty()) s.prefix = prefix;
  }
  if (s.prefix.find_first_of("+#") != std::string::npos) throw bad("the prefix may not hold '+' or '#'");
  if (const auto at = authority.rfind('@'); at != std::string::npos) {
    const std::string userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const auto colon = userinfo.find(':');
    s.username = percent_decode(userinfo.substr(0, colon), option);
    if (colon != std::string::npos) s.password = percent_decode(userinfo.substr(colon + 1), option);
    if (s.username.empty()) throw bad("the user name is empty");
  }
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:port
    const auto close = authority.find(']');
    if (close == std::string::npos) throw bad("unclosed '[' in the host");
    s.host = authority.substr(1, close - 1);
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority.front() != ':') throw bad("junk after the host");
    if (!authority.empty()) authority = "x" + authority;  // parsed as host:port below
  }
  if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    const std::string port = authority.substr(colon + 1);
    char* end = nullptr;
    const long value = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || value < 1 || value > 65535) throw bad("the port must be 1..65535");
    s.port = static_cast<int>(value);
    if (s.host.empty()) s.host = authority.substr(0, colon);
  } else if (s.host.empty()) {
    s.host = authority;
  }
  if (s.host.empty()) throw bad("the host is empty");
  std::size_t start = 0;
  while (start < query.size()) {
    const auto amp = query.find('&', start);
    const std::string pair = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    start = amp == std::string::npos ? query.size() : amp + 1;
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const std::string key = pair.substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : percent_decode(pair.substr(eq + 1), option);
    if (key == "presence_s") {
      char* end = nullptr;
      s.presence_hold_s = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !(s.presence_hold_s >= 0) || s.presence_hold_s > 86400) {
        throw bad("presence_s must be a number of seconds in [0, 86400]");
      }
    } else if (key == "discovery") {
      s.discovery_prefix = value == "off" ? "" : value;
    } else if (key == "client_id") {
      if (value.empty()) throw bad("client_id is empty");
      s.client_id = value;
    } else {
      throw bad("unknown parameter '" + key + "' (known: presence_s, discovery, client_id)");
    }
  }
  if (s.client_id.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    // A random part too: containers on the host's network share the host name and run as PID 1,
    // and a broker drops the older of two connections with one id.
    char random_part[9] = {};
    std::snprintf(random_part, sizeof random_part, "%08x", static_cast<unsigned>(std::random_device{}()));
    s.client_id = "siamface-" + std::string(host) + "-" + std::to_string(::getpid()) + "-" + random_part;
  }
  return s;
}

std::string topic_level(const std::string& name) {
  std::string out;
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    out += (c == '/' || c == '+' || c == '#' || c == ' ' || u < 0x20 || u == 0x7F) ? '_' : c;
  }
  return out.empty() ? "_" : out;
}

std::string camera_name_for_source(const std::string& source) {
  if (!source.empty() && source.find_first_not_of("0123456789") == std::string::npos) return "video" + source;
  if (const auto scheme = source.find("://"); scheme != std::string::npos) {
    std::string host = source.substr(scheme + 3);
    host = host.substr(0, host.find_first_of("/?"));
    if (const auto at = host.rfind('@'); at != std::string::npos) host = host.substr(at + 1);  // no credentials
    return topic_level(host.substr(0, host.rfind(':') == std::string::npos ? host.size() : host.rfind(':')));
  }
  return topic_level(std::filesystem::path(source).stem().string());
}

struct MqttPublisher::Impl {
  MqttSettings settings;
  Log log;
  mosquitto* client = nullptr;
  std::atomic<bool> connected{false};
  std::atomic<int> in_flight{0};

  // Presence: who this process sees now. A person is present while a track names them, and for
  // presence_hold_s after they were last seen.
  struct Person {
    std::string name;
    int live_tracks = 0;
    bool present = false;
    Clock::time_point last_seen;
    std::int64_t since_unix_ms = 0, last_seen_unix_ms = 0;
    std::string camera;
    double distance = 0;
  };
  std::mutex mutex;
  std::map<std::string, Person> people;                        // by name
  std::map<std::pair<std::string, long long>, std::string> track_names;  // (camera, track) -> name
  std::map<std::string, int> camera_tracks;                    // known-person tracks live per camera
  // Cameras as Home Assistant devices (announce_cameras): what they show, and the retained
  // topics announced for them, remembered in registry_topic() so that a later run can clear them.
  struct CameraPresence {
    int live_tracks = 0;
    bool on = false;
    Clock::time_point last_seen;
  };
  std::vector<std::string> ha_cameras;
  std::set<std::string> ha_people;
  std::map<std::string, bool> camera_online;
  std::map<std::pair<std::string, std::string>, CameraPresence> camera_presence;  // (camera, person)
  std::map<std::string, std::string> last_person;                                 // camera -> payload
  std::set<std::string> announced;                // retained topics of the camera devices
  std::set<std::string> previously_announced;     // read back from registry_topic() at start
  bool registry_checked = false;                  // the old registry was read and cleared
  std::string probe_topic;
  std::condition_variable wake;
  bool stopping = false;
  std::thread presence_thread;
  std::atomic<Clock::rep> last_drop_log{0};  // when a failed publish was last logged

  std::string topic(const std::string& tail) const { return settings.prefix + "/" + tail; }
  std::string availability_topic() const { return topic("available"); }
  std::string presence_topic(const std::string& name) const { return topic("person/" + topic_level(name) + "/presence"); }

  std::string camera_topic(const std::string& camera, const std::string& tail) const {
    return topic("cameras/" + topic_level(camera) + "/" + tail);
  }
  std::string registry_topic() const { return topic("discovery/announced"); }
  std::string camera_presence_topic(const std::string& camera, const std::string& name) const {
    return camera_topic(camera, "presence/" + topic_level(name));
  }
  std::string camera_device_id(const std::string& camera) const {
    return ascii_id("siamface_" + settings.prefix + "_" + camera);
  }

  // The parts every entity of a camera device shares: the device, and availability of both
  // this process (its last will) and the camera.
  nlohmann::json camera_entity(const std::string& camera) const {
    return {{"device", {{"identifiers", {camera_device_id(camera)}}, {"name", camera}, {"manufacturer", "siamface"},
                        {"model", "siamface watch camera"}}},
            {"availability", {{{"topic", availability_topic()}}, {{"topic", camera_topic(camera, "available")}}}},
            {"availability_mode", "all"}};
  }

  // Under `mutex`: the discovery configs of one camera (for `people`, or every person known),
  // each topic noted in `announced`.
  std::vector<Message> camera_configs(const std::string& camera, const std::vector<std::string>& people) {
    std::vector<Message> out;
    const std::string device = camera_device_id(camera);
    for (const std::string& state :
         {camera_topic(camera, "available"), camera_topic(camera, "last_person"), camera_topic(camera, "person")}) {
      announced.insert(state);
    }
    if (settings.discovery_prefix.empty()) return out;
    if (people.empty() || std::find(people.begin(), people.end(), "") != people.end()) {
      nlohmann::json sensor = camera_entity(camera);
      sensor["name"] = "Last person seen";
      sensor["unique_id"] = device + "_last_person";
      sensor["state_topic"] = camera_topic(camera, "last_person");
      sensor["value_template"] = "{{ value_json.name }}";
      sensor["json_attributes_topic"] = camera_topic(camera, "last_person");
      sensor["icon"] = "mdi:account-eye";
      out.push_back({settings.discovery_prefix + "/sensor/" + device + "/last_person/config", sensor.dump(), true});
    }
    for (const std::string& name : people) {
      if (name.empty()) continue;
      nlohmann::json presence = camera_entity(camera);
      presence["name"] = name;
      presence["unique_id"] = device + "_" + ascii_id(name);
      presence["device_class"] = "presence";
      presence["state_topic"] = camera_presence_topic(camera, name);
      presence["payload_on"] = "ON";
      presence["payload_off"] = "OFF";
      out.push_back({settings.discovery_prefix + "/binary_sensor/" + device + "/" + ascii_id(name) + "/config",
                     presence.dump(), true});
      announced.insert(camera_presence_topic(camera, name));
    }
    for (const Message& m : out) announced.insert(m.topic);
    return out;
  }

  // Under `mutex`: every camera's configs for every person known ("" = the sensor too).
  std::vector<Message> all_camera_configs() {
    std::vector<std::string> people{""};
    people.insert(people.end(), ha_people.begin(), ha_people.end());
    std::vector<Message> out;
    for (const std::string& camera : ha_cameras) {
      for (Message& m : camera_configs(camera, people)) out.push_back(std::move(m));
    }
    return out;
  }

  Message registry_message() const {
    return {registry_topic(), nlohmann::json{{"topics", announced}}.dump(), true};
  }

  // Under `mutex`: a person seen for the first time gets a presence entity on every camera.
  void note_person(const std::string& name, std::vector<Message>& out) {
    if (ha_cameras.empty() || !ha_people.insert(name).second) return;
    for (const std::string& camera : ha_cameras) {
      for (Message& m : camera_configs(camera, {name})) out.push_back(std::move(m));
    }
    if (registry_checked) out.push_back(registry_message());
  }

  // Under `mutex`: a track on `camera` named `name` (+1) or lost it (-1).
  void camera_track(const std::string& camera, const std::string& name, int delta, std::vector<Message>& out) {
    if (ha_cameras.empty()) return;
    CameraPresence& p = camera_presence[{camera, name}];
    p.live_tracks = std::max(0, p.live_tracks + delta);
    p.last_seen = Clock::now();
    if (delta > 0 && !p.on) {
      p.on = true;
      out.push_back({camera_presence_topic(camera, name), "ON", true});
    }
  }

  std::string presence_payload(const Person& p) const {
    return nlohmann::json{{"name", p.name}, {"present", p.present}, {"camera", p.camera},
                          {"distance", p.distance}, {"since_unix_ms", p.since_unix_ms},
                          {"last_seen_unix_ms", p.last_seen_unix_ms}}.dump();
  }

  // Home Assistant MQTT discovery: one presence binary_sensor per person.
  std::optional<Message> discovery(const Person& p) const {
    if (settings.discovery_prefix.empty()) return std::nullopt;
    const std::string node = ascii_id("siamface_" + settings.prefix);
    const std::string object = ascii_id(p.name);
    nlohmann::json config = {
        {"name", p.name},
        {"unique_id", node + "_" + object},
        {"object_id", node + "_" + object},
        {"device_class", "presence"},
        {"state_topic", presence_topic(p.name)},
        {"value_template", "{{ 'ON' if value_json.present else 'OFF' }}"},
        {"json_attributes_topic", presence_topic(p.name)},
        {"availability_topic", availability_topic()},
        {"payload_available", "online"},
        {"payload_not_available", "offline"},
        {"icon", "mdi:account"},
        {"device", {{"identifiers", {node}}, {"name", "siamface " + settings.prefix}, {"manufacturer", "siamface"}}},
    };
    return Message{settings.discovery_prefix + "/binary_sensor/" + node + "/" + object + "/config", config.dump(), true};
  }

  void send(const std::vector<Message>& messages) {
    for (const Message& m : messages) {
      int mid = 0;
      const int rc = mosquitto_publish(client, &mid, m.topic.c_str(), static_cast<int>(m.payload.size()),
                                       m.payload.data(), kQos, m.retain);
      if (rc == MOSQ_ERR_SUCCESS) {
        ++in_flight;
      } else if (const auto now = Clock::now().time_since_epoch().count();
                 now - last_drop_log.load() > std::chrono::duration_cast<Clock::duration>(std::chrono::seconds(10)).count()) {
        last_drop_log = now;  // once in a while, not once per event
        log(std::string("MQTT: cannot publish to ") + m.topic + ": " + mosquitto_strerror(rc) +
            " (events are lost until the broker is back)");
      }
    }
  }

  // Marks `name` seen now (by a track when `track_delta` > 0); returns the messages to send.
  void seen(const std::string& name, const std::string& camera, double distance, int track_delta,
            std::vector<Message>& out) {
    Person& p = people[name];
    const bool first = p.name.empty();
    p.name = name;
    p.live_tracks += track_delta;
    p.last_seen = Clock::now();
    p.last_seen_unix_ms = unix_ms();
    p.camera = camera;
    p.distance = distance;
    if (first) {
      if (auto config = discovery(p)) out.push_back(*config);
    }
    if (!p.present) {
      p.present = true;
      p.since_unix_ms = p.last_seen_unix_ms;
      out.push_back({presence_topic(name), presence_payload(p), true});
    }
  }

  void track_lost(const std::string& name) {
    auto it = people.find(name);
    if (it == people.end()) return;
    it->second.live_tracks = std::max(0, it->second.live_tracks - 1);
    it->second.last_seen = Clock::now();
    it->second.last_seen_unix_ms = unix_ms();
  }

  std::vector<Message> expire(bool everyone) {
    std::vector<Message> out;
    const auto hold = std::chrono::duration<double>(settings.presence_hold_s);
    const std::lock_guard lock(mutex);
    for (auto& [name, p] : people) {
      if (!p.present) continue;
      if (everyone || (p.live_tracks == 0 && Clock::now() - p.last_seen >= hold)) {
        p.present = false;
        out.push_back({presence_topic(name), presence_payload(p), true});
      }
    }
    for (auto& [key, p] : camera_presence) {
      if (p.on && (everyone || (p.live_tracks == 0 && Clock::now() - p.last_seen >= hold))) {
        p.on = false;
        out.push_back({camera_presence_topic(key.first, key.second), "OFF", true});
      }
    }
    return out;
  }

  // On every (re)connect: the broker may have restarted without its retained messages.
  std::vector<Message> retained_state() {
    std::vector<Message> out{{availability_topic(), "online", true}};
    const std::lock_guard lock(mutex);
    for (const auto& [name, p] : people) {
      if (auto config = discovery(p)) out.push_back(*config);
      out.push_back({presence_topic(name), presence_payload(p), true});
    }
    for (const auto& [camera, count] : camera_tracks) {
      out.push_back({topic("cameras/" + topic_level(camera) + "/person"), std::to_string(count), true});
    }
    for (Message& m : all_camera_configs()) out.push_back(std::move(m));
    for (const auto& [camera, online] : camera_online) {
      out.push_back({camera_topic(camera, "available"), online ? "online" : "offline", true});
    }
    for (const auto& [camera, payload] : last_person) out.push_back({camera_topic(camera, "last_person"), payload, true});
    for (const auto& [key, p] : camera_presence) {
      out.push_back({camera_presence_topic(key.first, key.second), p.on ? "ON" : "OFF", true});
    }
    return out;
  }

  // At the first connection with cameras announced: read the registry a previous run left
  // (retained, so the broker sends it on subscribing), then a probe published after the
  // subscription: once the probe is back, the registry, if any, has arrived before it.
  void check_registry() {
    {
      const std::lock_guard lock(mutex);
      if (ha_cameras.empty() || registry_checked) return;
    }
    mosquitto_subscribe(client, nullptr, registry_topic().c_str(), kQos);
    mosquitto_subscribe(client, nullptr, probe_topic.c_str(), kQos);
    send({{probe_topic, "probe", false}});
  }

  static void on_message(mosquitto*, void* self, const mosquitto_message* message) {
    auto* impl = static_cast<Impl*>(self);
    const std::string topic_name = message->topic;
    const std::string payload(static_cast<const char*>(message->payload), static_cast<std::size_t>(message->payloadlen));
    std::vector<Message> out;
    {
      const std::lock_guard lock(impl->mutex);
      if (impl->registry_checked) return;
      if (topic_name == impl->registry_topic()) {
        const nlohmann::json old = nlohmann::json::parse(payload, nullptr, false);
        if (old.is_object() && old.contains("topics") && old["topics"].is_array()) {
          for (const auto& t : old["topics"]) {
            if (t.is_string()) impl->previously_announced.insert(t.get<std::string>());
          }
        }
        return;
      }
      if (topic_name != impl->probe_topic) return;
      // Whatever was announced before and not now goes: empty retained payloads delete both
      // the entity (its config) and the retained state.
      for (const std::string& t : impl->previously_announced) {
        if (!impl->announced.contains(t)) out.push_back({t, "", true});
      }
      impl->registry_checked = true;
      out.push_back(impl->registry_message());
    }
    if (!out.empty() && out.size() > 1) {
      impl->log("MQTT: removed " + std::to_string(out.size() - 1) + " retained topic(s) of cameras or people no longer announced");
    }
    mosquitto_unsubscribe(impl->client, nullptr, impl->probe_topic.c_str());
    mosquitto_unsubscribe(impl->client, nullptr, impl->registry_topic().c_str());
    impl->send(out);
  }

  static void on_connect(mosquitto*, void* self, int rc) {
    auto* impl = static_cast<Impl*>(self);
    if (rc != 0) {
      impl->log(std::string("MQTT: broker refused the connection: ") + mosquitto_connack_string(rc));
      return;
    }
    impl->connected = true;
    impl->log("MQTT: connected to " + impl->settings.host + ":" + std::to_string(impl->settings.port));
    impl->send(impl->retained_state());
    impl->check_registry();
  }
  static void on_disconnect(mosquitto*, void* self, int rc) {
    auto* impl = static_cast<Impl*>(self);
    impl->connected = false;
    if (rc != 0 && !impl->stopping_flag()) {
      impl->log(std::string("MQTT: connection lost (") + mosquitto_strerror(rc) + "); reconnecting");
    }
  }
  static void on_publish(mosquitto*, void* self, int) { --static_cast<Impl*>(self)->in_flight; }

  std::atomic<bool> loop_running{false};
  std::string last_error;

  // Connects (asynchronously) and starts the network loop; false, with last_error, when the
  // connection is refused at once. Called by the constructor, then by the presence thread only.
  bool try_first_connect() {
    const int rc = mosquitto_connect_async(client, settings.host.c_str(), settings.port, kKeepaliveS);
    if (rc != MOSQ_ERR_SUCCESS) {
      last_error = rc == MOSQ_ERR_ERRNO ? std::string(std::strerror(errno)) : std::string(mosquitto_strerror(rc));
      return false;
    }
    const int loop = mosquitto_loop_start(client);
    if (loop != MOSQ_ERR_SUCCESS) {
      last_error = mosquitto_strerror(loop);
      return false;
    }
    loop_running = true;
    return true;
  }

  bool stopping_flag() {
    const std::lock_guard lock(mutex);
    return stopping;
  }
};

MqttPublisher::MqttPublisher(MqttSettings settings, Log log) : impl_(std::make_unique<Impl>()) {
  static std::once_flag init;
  std::call_once(init, [] { mosquitto_lib_init(); });
  Impl& im = *impl_;
  im.settings = std::move(settings);
  im.log = log ? std::move(log) : Log([](const std::string&) {});
  im.client = mosquitto_new(im.settings.client_id.c_str(), true, &im);
  if (im.client == nullptr) throw Error(ErrorCode::kInternal, "MQTT: cannot create a client");
  const auto check = [&](int rc, const char* what) {
    if (rc != MOSQ_ERR_SUCCESS) {
      mosquitto_destroy(im.client);
      throw Error(ErrorCode::kInvalidArgument, std::string("MQTT: ") + what + ": " + mosquitto_strerror(rc));
    }
  };
  if (!im.settings.username.empty()) {
    check(mosquitto_username_pw_set(im.client, im.settings.username.c_str(),
                                    im.settings.password.empty() ? nullptr : im.settings.password.c_str()),
          "user name");
  }
  if (im.settings.tls) check(mosquitto_tls_set(im.client, nullptr, "/etc/ssl/certs", nullptr, nullptr, nullptr), "TLS");
  // Whoever watches the availability topic learns when this process dies without saying goodbye.
  const std::string offline = "offline";
  check(mosquitto_will_set(im.client, im.availability_topic().c_str(), static_cast<int>(offline.size()),
                           offline.data(), kQos, true),
        "last will");
  mosquitto_reconnect_delay_set(im.client, 1, 30, true);
  mosquitto_connect_callback_set(im.client, &Impl::on_connect);
  mosquitto_disconnect_callback_set(im.client, &Impl::on_disconnect);
  mosquitto_publish_callback_set(im.client, &Impl::on_publish);
  mosquitto_message_callback_set(im.client, &Impl::on_message);
  im.probe_topic = im.topic("discovery/probe/" + topic_level(im.settings.client_id));
  // libmosquitto's loop thread reconnects a connection it once had, but gives up on a first
  // connect that failed (broker down at start): retry that here until it goes through.
  if (!im.try_first_connect()) {
    im.log("MQTT: broker " + im.settings.host + ":" + std::to_string(im.settings.port) + " not reachable (" +
           im.last_error + "); retrying in the background");
  }
  im.presence_thread = std::thread([&im] {
    std::unique_lock lock(im.mutex);
    auto retry_at = Clock::now() + std::chrono::seconds(1);
    auto retry_delay = std::chrono::seconds(1);
    while (!im.stopping) {
      im.wake.wait_for(lock, std::chrono::milliseconds(250));
      if (im.stopping) break;
      lock.unlock();
      if (!im.loop_running && Clock::now() >= retry_at) {
        if (!im.try_first_connect()) {
          retry_delay = std::min<std::chrono::seconds>(retry_delay * 2, std::chrono::seconds(30));
          retry_at = Clock::now() + retry_delay;
        }
      }
      im.send(im.expire(false));
      lock.lock();
    }
  });
}

MqttPublisher::~MqttPublisher() {
  Impl& im = *impl_;
  {
    const std::lock_guard lock(im.mutex);
    im.stopping = true;
  }
  im.wake.notify_all();
  im.presence_thread.join();
  std::vector<Message> goodbye = im.expire(true);
  {
    const std::lock_guard lock(im.mutex);
    for (auto& [camera, count] : im.camera_tracks) {
      count = 0;
      goodbye.push_back({im.topic("cameras/" + topic_level(camera) + "/person"), "0", true});
    }
  }
  {
    const std::lock_guard lock(im.mutex);
    for (auto& [camera, online] : im.camera_online) {
      online = false;
      goodbye.push_back({im.camera_topic(camera, "available"), "offline", true});
    }
  }
  goodbye.push_back({im.availability_topic(), "offline", true});
  im.send(goodbye);
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (im.connected && im.in_flight > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  mosquitto_disconnect(im.client);
  if (im.loop_running) mosquitto_loop_stop(im.client, !im.connected);
  mosquitto_destroy(im.client);
}

const MqttSettings& MqttPublisher::settings() const { return impl_->settings; }

void MqttPublisher::announce_cameras(const std::vector<std::string>& cameras, const std::vector<std::string>& people) {
  Impl& im = *impl_;
  std::vector<Message> out;
  bool connected_now = false;
  {
    const std::lock_guard lock(im.mutex);
    im.ha_cameras = cameras;
    for (const std::string& name : people) {
      if (!name.empty() && name != kUnknownPerson) im.ha_people.insert(name);
    }
    for (const std::string& camera : cameras) {
      im.camera_online.emplace(camera, false);
      out.push_back({im.camera_topic(camera, "available"), "offline", true});
    }
    for (Message& m : im.all_camera_configs()) out.push_back(std::move(m));
    connected_now = im.connected;
  }
  if (settings().discovery_prefix.empty()) im.log("MQTT: discovery=off: the cameras' states are published without configs");
  im.send(out);
  // Connected before the cameras were known: read the registry now (else on_connect does).
  if (connected_now) im.check_registry();
}

void MqttPublisher::camera_available(const std::string& camera, bool online) {
  Impl& im = *impl_;
  {
    const std::lock_guard lock(im.mutex);
    im.camera_online[camera] = online;
  }
  im.send({{im.camera_topic(camera, "available"), online ? "online" : "offline", true}});
}

void MqttPublisher::publish_track_event(const std::string& camera, const nlohmann::json& event) {
  try {
    Impl& im = *impl_;
    nlohmann::json payload = event;
    payload["camera"] = camera;
    payload["time_unix_ms"] = unix_ms();
    const std::string kind = event.value("event", "");
    const std::string name = event.value("name", "");
    const bool known = !name.empty() && name != kUnknownPerson;
    const long long track = event.value("track", -1LL);
    const std::string text = payload.dump();
    std::vector<Message> out{{im.topic("cameras/" + topic_level(camera) + "/events"), text, false}};
    {
      const std::lock_guard lock(im.mutex);
      const auto key = std::make_pair(camera, track);
      int& camera_count = im.camera_tracks[camera];
      const int before = camera_count;
      const auto forget_track = [&] {
        if (auto it = im.track_names.find(key); it != im.track_names.end()) {
          im.track_lost(it->second);
          im.camera_track(camera, it->second, -1, out);
          im.track_names.erase(it);
          camera_count = std::max(0, camera_count - 1);
        }
      };
      if (kind == "identified" || kind == "identity_changed") {
        forget_track();  // identity_changed: the previous name loses this track
        if (known) {
          im.track_names[key] = name;
          ++camera_count;
          im.seen(name, camera, event.value("distance", 0.0), 1, out);
          if (!im.ha_cameras.empty()) {
            im.note_person(name, out);
            im.camera_track(camera, name, 1, out);
            const std::string last = nlohmann::json{{"name", name}, {"distance", payload.value("distance", 0.0)},
                                                    {"track", track}, {"time_unix_ms", payload["time_unix_ms"]}}.dump();
            im.last_person[camera] = last;
            out.push_back({im.camera_topic(camera, "last_person"), last, true});
          }
        }
      } else if (kind == "ended") {
        forget_track();
      }
      if (known && kind != "appeared") out.push_back({im.topic("person/" + topic_level(name)), text, false});
      if (camera_count != before) {
        out.push_back({im.topic("cameras/" + topic_level(camera) + "/person"), std::to_string(camera_count), true});
      }
    }
    im.send(out);
  } catch (const std::exception& e) {
    impl_->log(std::string("MQTT: event not published: ") + e.what());
  }
}

void MqttPublisher::publish_recognition(const std::string& camera, const nlohmann::json& faces) {
  try {
    Impl& im = *impl_;
    const nlohmann::json payload = {{"event", "recognized"}, {"camera", camera}, {"time_unix_ms", unix_ms()},
                                    {"faces", faces}};
    std::vector<Message> out{{im.topic("cameras/" + topic_level(camera) + "/events"), payload.dump(), false}};
    {
      const std::lock_guard lock(im.mutex);
      for (const auto& face : faces) {
        const std::string name = face.value("name", "");
        if (name.empty() || name == kUnknownPerson) continue;
        nlohmann::json one = face;
        one["event"] = "recognized";
        one["camera"] = camera;
        one["time_unix_ms"] = payload["time_unix_ms"];
        out.push_back({im.topic("person/" + topic_level(name)), one.dump(), false});
        im.seen(name, camera, face.value("distance", 0.0), 0, out);
      }
    }
    im.send(out);
  } catch (const std::exception& e) {
    impl_->log(std::string("MQTT: recognition not published: ") + e.what());
  }
}

}  // namespace siamface::tools
