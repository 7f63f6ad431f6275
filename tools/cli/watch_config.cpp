#include "watch_config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "siamface/errors.hpp"

namespace siamface::cli {

namespace {

// yaml-cpp counts lines from 0; people and editors from 1.
std::string at(const std::string& path, const YAML::Mark& mark) {
  if (mark.is_null()) return path;
  return path + ":" + std::to_string(mark.line + 1);
}

Error bad(const std::string& path, const YAML::Node& node, const std::string& why) {
  return Error(ErrorCode::kInvalidArgument, at(path, node.Mark()) + ": " + why);
}

std::string scalar(const std::string& path, const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar() || node.Scalar().empty()) throw bad(path, node, key + " must be a non-empty text");
  return node.Scalar();
}

int whole_number(const std::string& path, const YAML::Node& node, const std::string& key, int lowest, int highest) {
  int value = 0;
  if (!node.IsScalar() || !YAML::convert<int>::decode(node, value) || value < lowest || value > highest) {
    throw bad(path, node, key + " must be a whole number in [" + std::to_string(lowest) + ", " +
                              std::to_string(highest) + "]");
  }
  return value;
}

bool boolean(const std::string& path, const YAML::Node& node, const std::string& key) {
  bool value = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) throw bad(path, node, key + " must be true or false");
  return value;
}

// Each key of a mapping must be one of `known`; returns the keys in file order.
void check_keys(const std::string& path, const YAML::Node& map, const std::set<std::string>& known,
                const std::string& what) {
  for (const auto& entry : map) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    if (!known.contains(key)) {
      std::string list;
      for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
      throw bad(path, entry.first, "unknown key '" + key + "' in " + what + " (known: " + list + ")");
    }
  }
}

CameraSpec camera_at(const std::string& path, const YAML::Node& node, std::size_t index) {
  const std::string what = "camera " + std::to_string(index + 1);
  if (!node.IsMap()) throw bad(path, node, what + " must be a mapping with name and source");
  check_keys(path, node, {"name", "source", "detect_every", "min_face"}, what);
  CameraSpec camera;
  if (!node["name"]) throw bad(path, node, what + " has no name");
  camera.name = scalar(path, node["name"], "name");
  check_camera_name(camera.name, at(path, node["name"].Mark()));
  if (!node["source"]) throw bad(path, node, "camera '" + camera.name + "' has no source");
  camera.source = scalar(path, node["source"], "source");
  if (node["detect_every"]) camera.detect_every = whole_number(path, node["detect_every"], "detect_every", 1, 1000);
  if (node["min_face"]) camera.min_face_px = static_cast<float>(whole_number(path, node["min_face"], "min_face", 0, 10000));
  return camera;
}

}  // namespace

void check_camera_name(const std::string& name, const std::string& where) {
  const bool ok_chars = !name.empty() && name.size() <= 64 && name.front() != '.' && name.front() != '-' &&
                        std::all_of(name.begin(), name.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
                        });
  if (!ok_chars) {
    throw Error(ErrorCode::kInvalidArgument, where + ": camera name '" + name +
                                                 "' must be 1-64 letters, digits, '_', '-' or '.' (not first)");
  }
}

WatchConfig load_watch_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(ErrorCode::kIo, "cannot read the config " + path);
  std::stringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::ParserException& e) {
    throw Error(ErrorCode::kInvalidArgument, at(path, e.mark) + ": malformed YAML: " + e.msg);
  }
  if (!root.IsMap()) throw Error(ErrorCode::kInvalidArgument, path + ": expected a mapping with a cameras list");
  try {
    check_keys(path, root, {"gallery", "mqtt", "ha_discovery", "detect_every", "cameras"}, "the config");
    WatchConfig config;
    if (root["gallery"]) config.gallery = scalar(path, root["gallery"], "gallery");
    if (root["mqtt"]) config.mqtt = scalar(path, root["mqtt"], "mqtt");
    if (root["ha_discovery"]) config.ha_discovery = boolean(path, root["ha_discovery"], "ha_discovery");
    if (root["detect_every"]) config.detect_every = whole_number(path, root["detect_every"], "detect_every", 1, 1000);
    const YAML::Node cameras = root["cameras"];
    if (!cameras) throw Error(ErrorCode::kInvalidArgument, path + ": no cameras (a list of name/source mappings)");
    if (!cameras.IsSequence() || cameras.size() == 0) throw bad(path, cameras, "cameras must be a non-empty list");
    std::set<std::string> names;
    for (std::size_t i = 0; i < cameras.size(); ++i) {
      CameraSpec camera = camera_at(path, cameras[i], i);
      if (!names.insert(camera.name).second) {
        throw bad(path, cameras[i]["name"], "two cameras are named '" + camera.name + "'");
      }
      config.cameras.push_back(std::move(camera));
    }
    return config;
  } catch (const YAML::Exception& e) {  // a type yaml-cpp could not convert
    throw Error(ErrorCode::kInvalidArgument, at(path, e.mark) + ": " + e.msg);
  }
}

}  // namespace siamface::cli
