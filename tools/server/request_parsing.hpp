// Pure request-parsing helpers for the HTTP server: no httplib types, so they can be unit- and
// fuzz-tested. Thread safety: stateless functions, safe to call concurrently.
#pragma once

#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
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

FormData split_form(std::vector<FormPart> parts, const std::vector<std::string>& text_fields);

// Form fields each API always reads as text, even when sent with a file name or content type.
inline const std::vector<std::string> kNativeTextFields = {"top_k",      "threshold", "min_score",         "name",
                                                          "keep_unknown", "liveness", "liveness_threshold", "attributes"};
inline const std::vector<std::string> kDeepStackTextFields = {"userid", "min_confidence", "api_key", "liveness",
                                                              "liveness_threshold"};

// A JSON request body that must be an object. Throws Error(kInvalidArgument) otherwise.
nlohmann::json parse_json_object(std::string_view body);

// Images sent as JSON: each of `fields` present in `body` holds one base64 string or an array
// of them, decoded in field order. Throws Error(kInvalidArgument) naming the field for a value
// that is not a string or not valid base64.
std::vector<UploadedFile> images_from_json(const nlohmann::json& body, const std::vector<std::string>& fields);

// A parameter from a JSON body: a string as it is, a number, boolean or null as its JSON text.
// Throws Error(kInvalidArgument) for an array or object.
std::optional<std::string> json_param(const nlohmann::json& body, const std::string& name);

// What the parsers read of an HTTP request, as plain values: the server fills it from httplib's
// request (request_fields in api_common.cpp), the tests and fuzzers by hand.
struct RequestFields {
  std::string content_type;  // the Content-Type header
  std::string_view body;     // the raw body; must outlive the parse
  // The query string and a url-encoded body, in httplib's order; a lookup takes the first.
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<FormPart> parts;  // the parts of a multipart/form-data body
};

bool is_json_content(std::string_view content_type);       // application/json
bool is_multipart_content(std::string_view content_type);  // multipart/form-data

// A value parsed from a request up front, or the error its parse raised. value() throws that
// error, so a request with several faults is answered with the one its handler reaches first,
// as when each value was parsed where it was used.
template <typename T>
class Parsed {
 public:
  template <typename Parse>
  static Parsed of(Parse&& parse) {
    Parsed parsed;
    try {
      parsed.value_.emplace(parse());
    } catch (...) {
      parsed.error_ = std::current_exception();
    }
    return parsed;
  }

  const T& value() const {
    if (error_) std::rethrow_exception(error_);
    return *value_;
  }

 private:
  Parsed() = default;

  std::optional<T> value_;
  std::exception_ptr error_;
};

// The liveness check a recognize request asks for: `liveness` "true" or "false" (absent: the
// server's default, serve --liveness), `liveness_threshold` 0..1 (absent: the server's, else the
// library's). api_common's liveness_check resolves it against the server's options.
struct LivenessRequest {
  std::optional<bool> asked;
  std::optional<float> threshold;
};
LivenessRequest parse_liveness_request(const std::optional<std::string>& liveness,
                                       const std::optional<std::string>& threshold);

// A request of the native API, read once. Each parameter comes from the query string (or a
// url-encoded body) first, then a multipart text field, then the JSON body. The images are the
// multipart files, the base64 strings of `image_fields` in a JSON body (images_from_json), or a
// raw image/* body (one file named "body").
struct NativeRequest {
  Parsed<std::vector<UploadedFile>> images;
  Parsed<std::size_t> top_k;                 // parse_top_k
  Parsed<std::optional<float>> threshold;    // parse_threshold
  Parsed<float> min_score;                   // parse_min_score
  Parsed<bool> keep_unknown;                 // parse_keep_unknown
  Parsed<LivenessRequest> liveness;          // parse_liveness_request (liveness, liveness_threshold)
  Parsed<std::optional<float>> liveness_threshold;  // alone (POST /v1/analyze): 0..1
  Parsed<std::optional<std::string>> attributes;  // as sent (POST /v1/analyze: a comma list)
  Parsed<std::optional<std::string>> name;   // as sent (PUT /v1/people/NAME: the new name)
};
NativeRequest parse_native_request(RequestFields request, const std::vector<std::string>& image_fields);

// Strict base64 (standard or URL-safe alphabet, padding optional, whitespace ignored); a
// "data:...;base64," prefix is accepted. Throws Error(kInvalidArgument) naming `what`.
std::string decode_base64(std::string_view text, std::string_view what);

// Parses a whole string as a finite float / integer within [min, max]. Throws
// Error(kInvalidArgument) "<name> must be a number between ..." naming the parameter.
float parse_float_param(std::string_view name, std::string_view text, float min, float max);
std::int64_t parse_int_param(std::string_view name, std::string_view text, std::int64_t min, std::int64_t max);

// The APIs' parameters, from their raw text (absent: the default). Each throws
// Error(kInvalidArgument) naming the parameter for a value out of range or not a number.
// Native API.
std::size_t parse_top_k(const std::optional<std::string>& text);              // 1..1000, default 3
std::optional<float> parse_threshold(const std::optional<std::string>& text);  // distance 0..4
float parse_min_score(const std::optional<std::string>& text);  // 0..1; -1 (the detector's own) when absent
bool parse_keep_unknown(const std::optional<std::string>& text);  // "true" or "false"; false when absent
// "true"/"false" (any case) or "1"/"0"; `fallback` when absent. Error(kInvalidArgument) naming `name` otherwise.
bool parse_bool_param(std::string_view name, const std::optional<std::string>& text, bool fallback = false);
// DeepStack.
std::optional<float> parse_min_confidence(const std::optional<std::string>& text);  // 0..1
// CompreFace query parameters; an empty value counts as absent there.
float parse_det_prob_threshold(const std::optional<std::string>& text);  // 0..1; -1 when absent
int parse_face_limit(const std::optional<std::string>& text);            // "limit": 0 (all)..10000
std::size_t parse_prediction_count(const std::optional<std::string>& text);  // 1..1000, default 1
struct FacePlugins {
  bool landmarks = false;   // "landmarks": five points per face
  bool calculator = false;  // "calculator": the embedding
  bool age = false;         // "age": {"probability","high","low"}
  bool gender = false;      // "gender": {"probability","value"}
  bool pose = false;        // "pose": {"pitch","roll","yaw"}
  bool liveness = false;    // siamface's own: the liveness gate, and {"value","score"} per face

  bool needs_analysis() const { return age || gender || pose || liveness; }
};
// The names CompreFace clients send that siamface computes (parse_face_plugins' message lists them).
inline constexpr const char* kFacePluginNames = "age, gender, landmarks, calculator, pose, liveness";
// A comma list; names are trimmed, empty ones skipped, and "undefined" too (what Double Take
// sends when its face_plugins setting is unset). Any other name (CompreFace's "mask",
// "landmarks2d106", a typo) is refused: Error(kInvalidArgument) naming it and listing ours.
FacePlugins parse_face_plugins(const std::optional<std::string>& text);
struct PageRequest {
  std::int64_t page = 0;   // 0..1e9
  std::int64_t size = 20;  // 1..100000
};
PageRequest parse_page_request(const std::optional<std::string>& page, const std::optional<std::string>& size);

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
