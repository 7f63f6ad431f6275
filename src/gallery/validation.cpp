#include "gallery/validation.hpp"

#include <algorithm>

#include <charconv>
#include <cmath>

#include "siamface/errors.hpp"
#include "siamface/decision.hpp"

namespace siamface {

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 if it is malformed.
std::size_t utf8_sequence_length(const std::string& s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
  if (length == 0 || i + length > s.size()) return 0;
  for (std::size_t k = 1; k < length; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  if (length == 2 && lead < 0xC2) return 0;  // overlong
  return length;
}

}  // namespace

void check_person_name(const std::string& name) {
  const auto refuse = [&](const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument, "invalid person name: " + why);
  };
  if (name.empty()) refuse("it is empty");
  if (name.size() > 128) refuse("longer than 128 bytes");
  if (name == "." || name == "..") refuse("'" + name + "' is not a name");
  if (name == kUnknownPerson) refuse("'unknown' is reserved for faces nobody enrolled");
  for (std::size_t i = 0; i < name.size();) {
    const std::size_t length = utf8_sequence_length(name, i);
    if (length == 0) refuse("not valid UTF-8");
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (length == 1 && (c < 0x20 || c == 0x7F)) refuse("it contains a control character");
    if (c == '/' || c == '\\') refuse("it contains a path separator");
    i += length;
  }
}

float parse_distance_threshold(std::string_view text, std::string_view field) {
  float value = 0.0F;
  const char* end = text.data() + text.size();
  // from_chars reads the C locale's format whatever the process locale is (strtof would read
  // "0,6" in a German locale), and must consume the whole text (an embedded NUL included).
  const auto [ptr, ec] = std::from_chars(text.data(), end, value, std::chars_format::general);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value) || value <= 0.0F) {
    throw Error(ErrorCode::kInvalidArgument, std::string(field) + " must be a positive number, got '" +
                                                 std::string(text.substr(0, 64)) + "'");
  }
  return value;
}

std::string format_distance_threshold(float threshold) {
  char text[32];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, threshold);
  if (ec != std::errc()) throw Error(ErrorCode::kInvalidArgument, "threshold cannot be written");
  return std::string(text, end);
}

namespace gallery {

bool is_lower_hex(const std::string& s, std::size_t size) {
  if (s.size() != size) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool is_face_id(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  }
  return true;
}

void validate_person(const std::string& person, const std::string& where) {
  try {
    check_person_name(person);
  } catch (const Error& e) {
    throw Error(ErrorCode::kInvalidArgument, where + e.what());
  }
}

void require_finite(float v, const std::string& where, const char* field) {
  if (!std::isfinite(v)) {
    throw Error(ErrorCode::kInvalidArgument, where + field + " is not a finite number");
  }
}

void validate_model(const ModelInfo& model, const std::string& where) {
  if (model.name.empty() || model.weights_sha256.empty()) {
    throw Error(ErrorCode::kInvalidArgument, where + "model name and weights_sha256 are required");
  }
}

void validate_face(const GalleryFace& f, const std::string& where) {
  validate_person(f.person, where);
  if (!f.id.empty() && !is_face_id(f.id)) {
    throw Error(ErrorCode::kInvalidArgument, where + "face id '" + f.id + "' is not a UUID");
  }
  if (!is_lower_hex(f.image_sha256, 64)) {
    throw Error(ErrorCode::kInvalidArgument, where + "image_sha256 must be 64 lower-case hex digits");
  }
  require_finite(f.face.box.left, where, "box.left");
  require_finite(f.face.box.top, where, "box.top");
  require_finite(f.face.box.width, where, "box.width");
  require_finite(f.face.box.height, where, "box.height");
  require_finite(f.face.score, where, "score");
  for (const Point& p : f.face.landmarks) {
    require_finite(p.x, where, "landmarks");
    require_finite(p.y, where, "landmarks");
  }
  const FaceQuality& q = f.face.quality;
  for (float v : {q.face_size_px, q.brightness, q.contrast, q.sharpness, q.noise, q.yaw}) {
    require_finite(v, where, "quality");
  }
  for (float v : f.embedding) require_finite(v, where, "embedding");
  validate_model(f.model, where);
}

void validate_setting(const std::string& key, const std::string& value) {
  if (key.empty()) throw Error(ErrorCode::kInvalidArgument, "setting key is empty");
  if (key == kThresholdSetting) parse_distance_threshold(value, "setting 'threshold'");
  if (key == kKeepUnknownSetting && value != "true" && value != "false") {
    throw Error(ErrorCode::kInvalidArgument, "setting 'keep_unknown' must be true or false, not '" + value + "'");
  }
  if (key == kUnknownMaxFacesSetting || key == kUnknownMaxAgeDaysSetting) {
    const bool digits = !value.empty() && value.size() <= 9 &&
                        std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoll(value) < 1) {
      throw Error(ErrorCode::kInvalidArgument, "setting '" + key + "' must be a whole number from 1 to 999999999, not '" + value + "'");
    }
  }
}

bool same_model(const ModelInfo& a, const ModelInfo& b) {
  return a.name == b.name && a.version == b.version && a.weights_sha256 == b.weights_sha256;
}

namespace {

std::string describe(const ModelInfo& m) {
  return m.name + " " + m.version + " (weights sha256 " + m.weights_sha256.substr(0, 12) + ")";
}

}  // namespace

void throw_model_mismatch(const std::string& gallery, const ModelInfo& stored, const ModelInfo& given) {
  throw Error(ErrorCode::kModelMismatch,
              "gallery " + gallery + " holds embeddings from model " + describe(stored) +
                  " but this request uses " + describe(given) +
                  "; run `siamface reindex` to recompute the gallery with the current model");
}

}  // namespace gallery
}  // namespace siamface
