#include "gallery/jsonl_codec.hpp"

#include <cmath>
#include <cstdint>
#include <istream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gallery/validation.hpp"
#include "siamface/errors.hpp"

namespace siamface::gallery {

using nlohmann::json;

namespace {

// Thumbnails travel as standard base64 with padding, in one canonical form, so a file the codec
// accepts encodes back to the same bytes.
constexpr char kBase64Alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// A thumbnail is ~112 px (make_face_thumbnail): a few KiB. Far larger is not one.
constexpr std::size_t kMaxThumbnailBytes = 256 * 1024;

std::string base64_encode(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) |
                            (i + 1 < bytes.size() ? std::uint32_t{bytes[i + 1]} << 8 : 0U) |
                            (i + 2 < bytes.size() ? std::uint32_t{bytes[i + 2]} : 0U);
    out += kBase64Alphabet[(n >> 18) & 63];
    out += kBase64Alphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kBase64Alphabet[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kBase64Alphabet[n & 63] : '=';
  }
  return out;
}

// nullopt unless `text` is exactly what base64_encode writes for some bytes.
std::optional<std::vector<std::uint8_t>> base64_decode(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t n = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size()) return std::nullopt;  // only in the last two places
      ++padding;
      continue;
    }
    if (padding > 0) return std::nullopt;  // data after padding
    const char* at = std::char_traits<char>::find(kBase64Alphabet, 64, c);
    if (!at) return std::nullopt;
    n = (n << 6) | static_cast<std::uint32_t>(at - kBase64Alphabet);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((n >> bits) & 0xFF));
    }
  }
  // Canonical: the bits left over after the last byte are zero.
  if ((n & ((1U << bits) - 1)) != 0) return std::nullopt;
  if (base64_encode(out) != text) return std::nullopt;
  return out;
}

json model_json(const ModelInfo& m) {
  return {{"name", m.name}, {"version", m.version}, {"weights_sha256", m.weights_sha256}};
}

json embedding_json(const Embedding& embedding) {
  json values = json::array();
  for (float v : embedding) values.push_back(double{v});
  return values;
}

json face_json(const GalleryFace& f) {
  json landmarks = json::array();
  for (const Point& p : f.face.landmarks) landmarks.push_back({double{p.x}, double{p.y}});
  const json embedding = embedding_json(f.embedding);
  const FaceQuality& q = f.face.quality;
  return {{"id", f.id},
          {"person", f.person},
          {"source_path", f.source_path},
          {"image_sha256", f.image_sha256},
          {"box", {double{f.face.box.left}, double{f.face.box.top}, double{f.face.box.width},
                   double{f.face.box.height}}},
          {"score", double{f.face.score}},
          {"landmarks", landmarks},
          {"quality",
           {{"face_size_px", double{q.face_size_px}},
            {"brightness", double{q.brightness}},
            {"contrast", double{q.contrast}},
            {"sharpness", double{q.sharpness}},
            {"noise", double{q.noise}},
            {"yaw", double{q.yaw}},
            {"grayscale", q.grayscale}}},
          {"embedding", embedding},
          {"model", model_json(f.model)},
          {"created_unix_ms", f.created_unix_ms}};
}

json face_json_with_thumbnail(const GalleryFace& f) {
  json out = face_json(f);
  if (!f.thumbnail_jpeg.empty()) out["thumbnail_jpeg"] = base64_encode(f.thumbnail_jpeg);
  return out;
}

// Field readers for import: each names the line and the field on failure.
struct LineReader {
  std::string where;  // "file:line: "

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw Error(ErrorCode::kInvalidArgument, where + "field '" + field + "' " + problem);
  }
  const json& get(const json& obj, const std::string& key, const std::string& field) const {
    if (!obj.is_object()) fail(field, "must be an object");
    const auto it = obj.find(key);
    if (it == obj.end()) fail(field, "is missing");
    return *it;
  }
  std::string str(const json& obj, const std::string& key, const std::string& prefix = "") const {
    const json& v = get(obj, key, prefix + key);
    if (!v.is_string()) fail(prefix + key, "must be a string");
    return v.get<std::string>();
  }
  float number(const json& v, const std::string& field) const {
    if (!v.is_number()) fail(field, "must be a number");
    const double d = v.get<double>();
    const float f = static_cast<float>(d);
    if (!std::isfinite(d) || !std::isfinite(f)) fail(field, "is not a finite float");
    return f;
  }
  float num(const json& obj, const std::string& key, const std::string& prefix = "") const {
    return number(get(obj, key, prefix + key), prefix + key);
  }
  ModelInfo model(const json& obj, const std::string& key) const {
    const json& m = get(obj, key, key);
    if (!m.is_object()) fail(key, "must be an object");
    ModelInfo info{str(m, "name", key + "."), str(m, "version", key + "."),
                   str(m, "weights_sha256", key + ".")};
    if (info.name.empty() || info.weights_sha256.empty()) {
      fail(key, "needs a non-empty name and weights_sha256");
    }
    return info;
  }

  Embedding embedding(const json& obj, const std::string& prefix) const {
    const std::string field = prefix + "embedding";
    const json& emb = get(obj, "embedding", field);
    if (!emb.is_array() || emb.empty() || emb.size() > kMaxEmbeddingFloats) {
      fail(field, "must hold 1 to " + std::to_string(kMaxEmbeddingFloats) + " numbers");
    }
    Embedding values(emb.size());
    for (std::size_t i = 0; i < emb.size(); ++i) values[i] = number(emb[i], field + "[" + std::to_string(i) + "]");
    return values;
  }

  std::string person(const json& obj, const std::string& prefix) const {
    std::string name = str(obj, "person", prefix);
    try {
      validate_person(name, "");
    } catch (const Error& e) {
      fail(prefix + "person", std::string("is invalid: ") + e.what());
    }
    return name;
  }

  std::int64_t created(const json& obj, const std::string& prefix) const {
    const json& value = get(obj, "created_unix_ms", prefix + "created_unix_ms");
    if (!value.is_number_integer()) fail(prefix + "created_unix_ms", "must be an integer");
    return value.get<std::int64_t>();
  }

  void refuse_unknown_keys(const json& obj, const std::set<std::string>& known, const std::string& prefix) const {
    for (const auto& [key, value] : obj.items()) {
      if (!known.count(key)) fail(prefix + key, "is unknown");
    }
  }

  NegativeExample negative(const json& line) const {
    const json& obj = get(line, "negative", "negative");
    if (!obj.is_object()) fail("negative", "must be an object");
    const std::string prefix = "negative.";
    NegativeExample n;
    n.id = str(obj, "id", prefix);
    if (!is_face_id(n.id)) fail(prefix + "id", "must be a lower-case UUID");
    n.person = person(obj, prefix);
    n.source_path = str(obj, "source_path", prefix);
    n.embedding = embedding(obj, prefix);
    n.created_unix_ms = created(obj, prefix);
    refuse_unknown_keys(obj, {"id", "person", "source_path", "embedding", "created_unix_ms"}, prefix);
    refuse_unknown_keys(line, {"negative"}, "");
    return n;
  }

  GalleryFace face(const json& obj) const {
    if (!obj.is_object()) throw Error(ErrorCode::kInvalidArgument, where + "not a JSON object");
    GalleryFace f;
    f.id = str(obj, "id");
    if (!is_face_id(f.id)) fail("id", "must be a lower-case UUID");
    f.person = person(obj, "");
    f.source_path = str(obj, "source_path");
    f.image_sha256 = str(obj, "image_sha256");
    if (!is_lower_hex(f.image_sha256, 64)) fail("image_sha256", "must be 64 lower-case hex digits");
    const json& box = get(obj, "box", "box");
    if (!box.is_array() || box.size() != 4) fail("box", "must be [left, top, width, height]");
    f.face.box = {number(box[0], "box[0]"), number(box[1], "box[1]"), number(box[2], "box[2]"),
                  number(box[3], "box[3]")};
    f.face.score = num(obj, "score");
    const json& lm = get(obj, "landmarks", "landmarks");
    if (!lm.is_array() || lm.size() != kLandmarkCount) fail("landmarks", "must hold 68 [x, y] pairs");
    for (std::size_t i = 0; i < lm.size(); ++i) {
      const std::string field = "landmarks[" + std::to_string(i) + "]";
      if (!lm[i].is_array() || lm[i].size() != 2) fail(field, "must be [x, y]");
      f.face.landmarks[i] = {number(lm[i][0], field), number(lm[i][1], field)};
    }
    const json& q = get(obj, "quality", "quality");
    if (!q.is_object()) fail("quality", "must be an object");
    FaceQuality& fq = f.face.quality;
    fq.face_size_px = num(q, "face_size_px", "quality.");
    fq.brightness = num(q, "brightness", "quality.");
    fq.contrast = num(q, "contrast", "quality.");
    fq.sharpness = num(q, "sharpness", "quality.");
    fq.noise = num(q, "noise", "quality.");
    fq.yaw = num(q, "yaw", "quality.");
    const json& gray = get(q, "grayscale", "quality.grayscale");
    if (!gray.is_boolean()) fail("quality.grayscale", "must be true or false");
    fq.grayscale = gray.get<bool>();
    f.embedding = embedding(obj, "");
    f.model = model(obj, "model");
    f.created_unix_ms = created(obj, "");
    // Optional (exports before issue 34 have none): the face's thumbnail, a JPEG, as base64.
    if (const auto it = obj.find("thumbnail_jpeg"); it != obj.end()) {
      if (!it->is_string()) fail("thumbnail_jpeg", "must be a base64 string");
      auto bytes = base64_decode(it->get<std::string>());
      if (!bytes) fail("thumbnail_jpeg", "is not canonical base64 (standard alphabet, with padding)");
      if (bytes->size() < 3 || (*bytes)[0] != 0xFF || (*bytes)[1] != 0xD8 || (*bytes)[2] != 0xFF) {
        fail("thumbnail_jpeg", "is not a JPEG");
      }
      if (bytes->size() > kMaxThumbnailBytes) {
        fail("thumbnail_jpeg", "is larger than " + std::to_string(kMaxThumbnailBytes) + " bytes");
      }
      f.thumbnail_jpeg = std::move(*bytes);
    }
    refuse_unknown_keys(obj,
                        {"id", "person", "source_path", "image_sha256", "box", "score", "landmarks", "quality",
                         "embedding", "model", "created_unix_ms", "thumbnail_jpeg"},
                        "");
    return f;
  }
};

}  // namespace

std::string header_line(const ExportHeader& header) {
  json settings = json::object();
  for (const auto& [key, value] : header.settings) settings[key] = value;
  return json{{"format", "siamface-gallery"},
              {"version", 1},
              {"model", header.model ? model_json(*header.model) : json(nullptr)},
              {"settings", settings}}
      .dump();
}

std::string face_line(const GalleryFace& face) { return face_json_with_thumbnail(face).dump(); }

std::string negative_line(const NegativeExample& n) {
  return json{{"negative",
               {{"id", n.id},
                {"person", n.person},
                {"source_path", n.source_path},
                {"embedding", embedding_json(n.embedding)},
                {"created_unix_ms", n.created_unix_ms}}}}
      .dump();
}

ParsedExport parse_export(std::istream& in, const std::string& file) {
  ParsedExport parsed;
  std::string line;
  std::size_t number = 0;
  bool header_seen = false;
  std::vector<std::size_t> negative_lines;
  while (std::getline(in, line)) {
    ++number;
    LineReader reader{file + ":" + std::to_string(number) + ": "};
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers past double (1e400)
      throw Error(ErrorCode::kInvalidArgument, reader.where + "invalid JSON: " + e.what());
    }
    if (!header_seen) {
      header_seen = true;
      if (!j.is_object() || !j.contains("format") || j["format"] != "siamface-gallery") {
        throw Error(ErrorCode::kInvalidArgument,
                    reader.where + "not a siamface gallery export (header line expected)");
      }
      if (!j.contains("version") || !j["version"].is_number_integer() || j["version"] != 1) {
        throw Error(ErrorCode::kInvalidArgument, reader.where + "unsupported export version");
      }
      if (j.contains("model") && !j["model"].is_null()) parsed.header.model = reader.model(j, "model");
      if (j.contains("settings")) {
        if (!j["settings"].is_object()) reader.fail("settings", "must be an object");
        for (const auto& [key, value] : j["settings"].items()) {
          if (!value.is_string()) reader.fail("settings." + key, "must be a string");
          try {
            validate_setting(key, value.get<std::string>());
          } catch (const Error& e) {
            throw Error(ErrorCode::kInvalidArgument, reader.where + e.what());
          }
          parsed.header.settings.emplace_back(key, value.get<std::string>());
        }
      }
      continue;
    }
    if (j.is_object() && j.contains("negative")) {
      parsed.negatives.push_back(reader.negative(j));
      negative_lines.push_back(number);
      continue;
    }
    GalleryFace f = reader.face(j);
    if (!parsed.header.model || !same_model(*parsed.header.model, f.model)) {
      reader.fail("model", "differs from the model in the header line");
    }
    parsed.faces.push_back(std::move(f));
  }
  if (in.bad()) throw Error(ErrorCode::kIo, "cannot read import file " + file);
  if (!header_seen) {
    throw Error(ErrorCode::kInvalidArgument, file + ": empty file, not a siamface gallery export");
  }
  // A negative example is compared with faces: it must have their size (checked once all are read,
  // since the lines may come in any order).
  for (std::size_t i = 0; i < parsed.negatives.size() && !parsed.faces.empty(); ++i) {
    const std::size_t expected = parsed.faces.front().embedding.size();
    if (parsed.negatives[i].embedding.size() != expected) {
      LineReader{file + ":" + std::to_string(negative_lines[i]) + ": "}.fail(
          "negative.embedding", "has " + std::to_string(parsed.negatives[i].embedding.size()) +
                                    " values, the faces have " + std::to_string(expected));
    }
  }
  return parsed;
}

}  // namespace siamface::gallery
