// `siamface watch --config cameras.yaml`: the cameras of one watch process and their shared
// settings (docs/watch.md, "Several cameras").
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace siamface::cli {

struct CameraSpec {
  std::string name;    // in events, MQTT topics, output file names
  std::string source;  // a file, a camera index or /dev/videoN, or a stream URL
  std::optional<int> detect_every;  // else the run's --detect-every
  float min_face_px = 0.0F;         // smaller faces are ignored (0: none)
};

struct WatchConfig {
  std::optional<std::string> gallery;  // as --gallery
  std::optional<std::string> mqtt;     // as --mqtt
  std::optional<bool> ha_discovery;    // as --ha-discovery
  std::optional<int> detect_every;     // as --detect-every
  std::vector<CameraSpec> cameras;
};

// Reads and checks the file. Throws Error(kInvalidArgument) naming the file and line for
// malformed YAML, an unknown key, a value of the wrong type or out of range, a camera without
// a source, and two cameras of one name; Error(kIo) when the file cannot be read.
WatchConfig load_watch_config(const std::string& path);

// The camera name rule: 1-64 characters of letters, digits, '_' and '-' (they become MQTT
// topic levels, Home Assistant ids and file names). Throws Error(kInvalidArgument) naming `where`.
void check_camera_name(const std::string& name, const std::string& where);

}  // namespace siamface::cli
