// Pure request-parsing helpers for the HTTP server: no httplib types, so they can be unit- and
// fuzz-tested. Thread safety: stateless functions, safe to call concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace siamface::server {

// One part of a multipart body (or a file decoded from base64 JSON).
struct UploadedFile {
  std::string field;  // the form field name
  std::string filename;
  std::string content_type;
  std::string content;  // raw bytes
};

struct FormPart {
  std::string name;
  std::string filename;
  std::string content_type;
  std::string content;
};

// A form split into text fields and files. A part counts as a file when it has a file name or
// a non-text content type, unless its name is one of `text_fields` (those are always text).
struct FormData {
  std::vector<std::pair<std::string, std::string>> fields;
  std::vector<UploadedFile> files;

  std::optional<std::string> field(std::string_view name) const;  // the first with that name
  const UploadedFile* file(std::string_view name) const;           // the first with that name
};

FormData split_form(const std::vector<FormPart>& parts, const std::vector<std::string>& text_fields);

// Strict base64 (standard or URL-safe alphabet, padding optional, whitespace ignored); a
// "data:...;base64," prefix is accepted. Throws Error(kInvalidArgument) naming `what`.
std::string decode_base64(std::string_view text, std::string_view what);

// Parses a whole string as a finite float / integer within [min, max]. Throws
// Error(kInvalidArgument) "<name> must be a number between ..." naming the parameter.
float parse_float_param(std::string_view name, std::string_view text, float min, float max);
std::int64_t parse_int_param(std::string_view name, std::string_view text, std::int64_t min, std::int64_t max);

// Compares without an early exit, so the time taken does not reveal how much of a key matched.
bool constant_time_equals(std::string_view a, std::string_view b);

// "Bearer KEY" -> "KEY"; anything else -> empty.
std::string bearer_token(std::string_view authorization);

// The one distance -> confidence mapping of the DeepStack and CompreFace APIs: a logistic
// 1 / (1 + exp(kConfidenceSlope * (d - kConfidenceMidpoint))), decreasing in d, in (0, 1), with
// confidence(0.6) == 0.67 (DeepStack's default min_confidence at our default threshold).
inline constexpr float kConfidenceSlope = 10.0F;
float distance_to_confidence(float distance);
// The inverse, clamped to [0, 4]: the distance threshold a min_confidence stands for.
float confidence_to_distance(float confidence);

}  // namespace siamface::server
