#include "server/request_parsing.hpp"

#include <algorithm>
#include <charconv>
#include <cctype>
#include <cmath>
#include <string>

#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"

namespace siamface::server {
namespace {

// ln(0.67 / 0.33) / slope above 0.6, so that confidence(0.6) == 0.67.
const float kConfidenceMidpoint = 0.6F + std::log(0.67F / 0.33F) / kConfidenceSlope;

bool is_text_type(const std::string& content_type) {
  return content_type.empty() || content_type.rfind("text/", 0) == 0;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// CompreFace sends empty query values for parameters a client left blank.
std::optional<std::string> non_empty(const std::optional<std::string>& text) {
  return text && !text->empty() ? text : std::nullopt;
}

}  // namespace

std::optional<std::string> FormData::field(std::string_view name) const {
  for (const auto& [key, value] : fields) {
    if (key == name) return value;
  }
  return std::nullopt;
}

const UploadedFile* FormData::file(std::string_view name) const {
  for (const UploadedFile& f : files) {
    if (f.field == name) return &f;
  }
  return nullptr;
}

FormData split_form(std::vector<FormPart> parts, const std::vector<std::string>& text_fields) {
  FormData form;
  for (FormPart& part : parts) {
    const bool forced_text = std::find(text_fields.begin(), text_fields.end(), part.name) != text_fields.end();
    if (!forced_text && (!part.filename.empty() || !is_text_type(part.content_type))) {
      form.files.push_back(
          {std::move(part.name), std::move(part.filename), std::move(part.content_type), std::move(part.content)});
    } else {
      form.fields.emplace_back(std::move(part.name), std::move(part.content));
    }
  }
  return form;
}

bool is_json_content(std::string_view content_type) { return content_type.rfind("application/json", 0) == 0; }

bool is_multipart_content(std::string_view content_type) {
  return content_type.rfind("multipart/form-data", 0) == 0;
}

NativeRequest parse_native_request(RequestFields request, const std::vector<std::string>& image_fields) {
  const bool multipart = is_multipart_content(request.content_type);
  const bool json = !multipart && is_json_content(request.content_type);
  FormData form = multipart ? split_form(std::move(request.parts), kNativeTextFields) : FormData{};
  const auto body = Parsed<nlohmann::json>::of([&] { return json ? parse_json_object(request.body) : nlohmann::json(); });
  const auto param = [&](const std::string& name) {
    return Parsed<std::optional<std::string>>::of([&]() -> std::optional<std::string> {
      for (const auto& [key, value] : request.params) {
        if (key == name) return value;
      }
      if (multipart) return form.field(name);
      if (json) return json_param(body.value(), name);
      return std::nullopt;
    });
  };
  // Each value is parsed from its text only when the text could be read.
  const auto parsed = [](const Parsed<std::optional<std::string>>& text, auto parse) {
    return Parsed<decltype(parse(text.value()))>::of([&] { return parse(text.value()); });
  };
  auto images = Parsed<std::vector<UploadedFile>>::of([&]() -> std::vector<UploadedFile> {
    if (multipart) return std::move(form.files);
    if (json) return images_from_json(body.value(), image_fields);
    if (request.content_type.rfind("image/", 0) == 0) {
      return {{"body", "body", request.content_type, std::string(request.body)}};
    }
    return {};
  });
  const auto liveness_text = param("liveness");
  const auto liveness_threshold_text = param("liveness_threshold");
  auto liveness = Parsed<LivenessRequest>::of(
      [&] { return parse_liveness_request(liveness_text.value(), liveness_threshold_text.value()); });
  auto threshold_alone = Parsed<std::optional<float>>::of([&]() -> std::optional<float> {
    const auto& text = liveness_threshold_text.value();
    if (!text) return std::nullopt;
    return parse_float_param("liveness_threshold", *text, 0.0F, 1.0F);
  });
  return {std::move(images),
          parsed(param("top_k"), parse_top_k),
          parsed(param("threshold"), parse_threshold),
          parsed(param("min_score"), parse_min_score),
          parsed(param("keep_unknown"), parse_keep_unknown),
          std::move(liveness),
          std::move(threshold_alone),
          param("attributes"),
          param("name")};
}

nlohmann::json parse_json_object(std::string_view body) {
  nlohmann::json json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    throw Error(ErrorCode::kInvalidArgument, "request body is not a JSON object");
  }
  return json;
}

std::vector<UploadedFile> images_from_json(const nlohmann::json& body, const std::vector<std::string>& fields) {
  std::vector<UploadedFile> files;
  for (const std::string& field : fields) {
    const auto it = body.find(field);
    if (it == body.end()) continue;
    const auto add = [&](const nlohmann::json& item, const std::string& name) {
      if (!item.is_string()) throw Error(ErrorCode::kInvalidArgument, "JSON field '" + name + "' must be a base64 string");
      files.push_back({field, name, "", decode_base64(item.get_ref<const std::string&>(), "JSON field '" + name + "'")});
    };
    if (it->is_array()) {
      for (std::size_t i = 0; i < it->size(); ++i) add((*it)[i], field + "[" + std::to_string(i) + "]");
    } else {
      add(*it, field);
    }
  }
  return files;
}

std::optional<std::string> json_param(const nlohmann::json& body, const std::string& name) {
  const auto it = body.find(name);
  if (it == body.end()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  // No parameter is an array or object; and dumping a deeply nested one recursed until the
  // stack overflowed: a 200 KB body of nested arrays crashed the server.
  if (it->is_structured()) throw Error(ErrorCode::kInvalidArgument, "JSON field '" + name + "' must be a string or a number");
  return it->dump();
}

std::string decode_base64(std::string_view text, std::string_view what) {
  if (text.rfind("data:", 0) == 0) {
    const auto comma = text.find(',');
    if (comma == std::string_view::npos || text.substr(0, comma).find(";base64") == std::string_view::npos) {
      throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is a data URL without ';base64,'");
    }
    text.remove_prefix(comma + 1);
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t buffer = 0;
  int bits = 0;
  std::size_t symbols = 0;
  std::size_t padding = 0;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    const int value = base64_value(c);
    if (value < 0 || padding > 0) {
      throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not valid base64");
    }
    ++symbols;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
    }
  }
  if (symbols == 0 || symbols % 4 == 1 || padding > 2 || (padding > 0 && (symbols + padding) % 4 != 0)) {
    throw Error(ErrorCode::kInvalidArgument, std::string(what) + " is not valid base64");
  }
  return out;
}

float parse_float_param(std::string_view name, std::string_view text, float min, float max) {
  const std::string message = std::string(name) + " must be a number between " + std::to_string(min) + " and " +
                              std::to_string(max) + " (got '" + std::string(text.substr(0, 64)) + "')";
  float value = 0.0F;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value) || value < min || value > max) {
    throw Error(ErrorCode::kInvalidArgument, message);
  }
  return value;
}

std::int64_t parse_int_param(std::string_view name, std::string_view text, std::int64_t min, std::int64_t max) {
  std::int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < min || value > max) {
    throw Error(ErrorCode::kInvalidArgument, std::string(name) + " must be an integer between " +
                                                 std::to_string(min) + " and " + std::to_string(max) + " (got '" +
                                                 std::string(text.substr(0, 64)) + "')");
  }
  return value;
}

std::size_t parse_top_k(const std::optional<std::string>& text) {
  return text ? static_cast<std::size_t>(parse_int_param("top_k", *text, 1, 1000)) : 3;
}

std::optional<float> parse_threshold(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  const float threshold = parse_distance_threshold(*text);  // the gallery's own rule, then the range
  if (threshold > 4.0F) throw Error(ErrorCode::kInvalidArgument, "threshold must be at most 4 (got '" + *text + "')");
  return threshold;
}

float parse_min_score(const std::optional<std::string>& text) {
  return text ? parse_float_param("min_score", *text, 0.0F, 1.0F) : -1.0F;
}

bool parse_keep_unknown(const std::optional<std::string>& text) { return parse_bool_param("keep_unknown", text); }

bool parse_bool_param(std::string_view name, const std::optional<std::string>& text, bool fallback) {
  if (!text) return fallback;
  std::string lower = *text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "true" || lower == "1") return true;
  if (lower == "false" || lower == "0") return false;
  throw Error(ErrorCode::kInvalidArgument,
              std::string(name) + " must be true or false (got '" + text->substr(0, 64) + "')");
}

LivenessRequest parse_liveness_request(const std::optional<std::string>& liveness,
                                       const std::optional<std::string>& threshold) {
  LivenessRequest request;
  if (liveness) request.asked = parse_bool_param("liveness", liveness);
  if (threshold) request.threshold = parse_float_param("liveness_threshold", *threshold, 0.0F, 1.0F);
  return request;
}

std::optional<float> parse_min_confidence(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return parse_float_param("min_confidence", *text, 0.0F, 1.0F);
}

float parse_det_prob_threshold(const std::optional<std::string>& text) {
  const auto given = non_empty(text);
  return given ? parse_float_param("det_prob_threshold", *given, 0.0F, 1.0F) : -1.0F;
}

int parse_face_limit(const std::optional<std::string>& text) {
  const auto given = non_empty(text);
  return given ? static_cast<int>(parse_int_param("limit", *given, 0, 10000)) : 0;
}

std::size_t parse_prediction_count(const std::optional<std::string>& text) {
  const auto given = non_empty(text);
  return given ? static_cast<std::size_t>(parse_int_param("prediction_count", *given, 1, 1000)) : 1;
}

FacePlugins parse_face_plugins(const std::optional<std::string>& text) {
  FacePlugins plugins;
  const std::string_view list = text ? std::string_view(*text) : std::string_view();
  const std::pair<std::string_view, bool FacePlugins::*> known[] = {
      {"landmarks", &FacePlugins::landmarks}, {"calculator", &FacePlugins::calculator}, {"age", &FacePlugins::age},
      {"gender", &FacePlugins::gender},       {"pose", &FacePlugins::pose},             {"liveness", &FacePlugins::liveness}};
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    std::string_view name = list.substr(start, comma - start);
    start = comma + 1;
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.front()))) name.remove_prefix(1);
    while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.remove_suffix(1);
    if (name.empty() || name == "undefined") continue;
    const auto* found = std::find_if(std::begin(known), std::end(known), [&](const auto& k) { return k.first == name; });
    if (found == std::end(known)) {
      throw Error(ErrorCode::kInvalidArgument, "face plugin '" + std::string(name.substr(0, 64)) +
                                                   "' is not available in siamface (face_plugins may name: " +
                                                   kFacePluginNames + ")");
    }
    plugins.*(found->second) = true;
  }
  return plugins;
}

PageRequest parse_page_request(const std::optional<std::string>& page, const std::optional<std::string>& size) {
  PageRequest request;
  if (const auto given = non_empty(page)) request.page = parse_int_param("page", *given, 0, 1'000'000'000);
  if (const auto given = non_empty(size)) request.size = parse_int_param("size", *given, 1, 100'000);
  return request;
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  // Walk the expected key's full length whatever the input; the length itself is not secret.
  unsigned diff = a.size() == b.size() ? 0U : 1U;
  for (std::size_t i = 0; i < b.size(); ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0U;
    diff |= x ^ static_cast<unsigned char>(b[i]);
  }
  return diff == 0;
}

std::string bearer_token(std::string_view authorization) {
  constexpr std::string_view kPrefix = "Bearer ";
  if (authorization.size() <= kPrefix.size() || authorization.substr(0, kPrefix.size()) != kPrefix) return {};
  return std::string(authorization.substr(kPrefix.size()));
}

float distance_to_confidence(float distance) {
  return 1.0F / (1.0F + std::exp(kConfidenceSlope * (distance - kConfidenceMidpoint)));
}

float confidence_to_distance(float confidence) {
  if (confidence <= 0.0F) return 4.0F;
  if (confidence >= 1.0F) return 0.0F;
  const float d = kConfidenceMidpoint + std::log((1.0F - confidence) / confidence) / kConfidenceSlope;
  return std::clamp(d, 0.0F, 4.0F);
}

}  // namespace siamface::server
