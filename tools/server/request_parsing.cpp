#include "server/request_parsing.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "siamface/errors.hpp"

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

FormData split_form(const std::vector<FormPart>& parts, const std::vector<std::string>& text_fields) {
  FormData form;
  for (const FormPart& part : parts) {
    const bool forced_text = std::find(text_fields.begin(), text_fields.end(), part.name) != text_fields.end();
    if (!forced_text && (!part.filename.empty() || !is_text_type(part.content_type))) {
      form.files.push_back({part.name, part.filename, part.content_type, part.content});
    } else {
      form.fields.emplace_back(part.name, part.content);
    }
  }
  return form;
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
