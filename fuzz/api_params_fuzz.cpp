// Fuzzes what the DeepStack and CompreFace handlers parse (tools/server/request_parsing.*):
// a multipart form as cpp-httplib hands it over (parts with name, file name, content type and
// bytes; httplib's own multipart parser lives in Debian's compiled libcpp-httplib, outside our
// reach), split into text fields and files with each API's text-field list; then DeepStack's
// min_confidence / userid / api_key, CompreFace's query parameters (det_prob_threshold, limit,
// prediction_count, face_plugins, page, size, subject), base64 file bodies and the API key checks.
// Input: consumed with FuzzedDataProvider.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "attempt.hpp"
#include "server/request_parsing.hpp"
#include "siamface/errors.hpp"
#include "siamface/identify.hpp"

using namespace siamface::server;

using siamface::fuzz::attempt;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);

  // Query parameters: (name, value) pairs; lookups take the first with that name, as httplib does.
  std::vector<std::pair<std::string, std::string>> query_params;
  const std::size_t query_count = input.ConsumeIntegralInRange<std::size_t>(0, 8);
  for (std::size_t i = 0; i < query_count; ++i) {
    std::string name = input.ConsumeRandomLengthString(24);
    query_params.emplace_back(std::move(name), input.ConsumeRandomLengthString(64));
  }
  const auto query = [&](std::string_view name) -> std::optional<std::string> {
    for (const auto& [key, value] : query_params) {
      if (key == name) return value;
    }
    return std::nullopt;
  };

  std::vector<FormPart> parts;
  const std::size_t part_count = input.ConsumeIntegralInRange<std::size_t>(0, 6);
  for (std::size_t i = 0; i < part_count; ++i) {
    FormPart part;
    part.name = input.ConsumeRandomLengthString(24);
    part.filename = input.ConsumeRandomLengthString(24);
    part.content_type = input.ConsumeRandomLengthString(24);
    part.content = input.ConsumeRandomLengthString(256);
    parts.push_back(std::move(part));
  }
  const std::string key = input.ConsumeRandomLengthString(32);
  const std::string authorization = input.ConsumeRemainingBytesAsString();

  // DeepStack: a form field wins over the query string (api_common.cpp param()).
  const FormData form = split_form(parts, kDeepStackTextFields);
  if (form.fields.size() + form.files.size() != parts.size()) __builtin_trap();
  const auto deepstack_param = [&](std::string_view name) { return form.field(name) ? form.field(name) : query(name); };
  attempt([&] { parse_min_confidence(deepstack_param("min_confidence")); });
  attempt([&] {
    if (const auto userid = deepstack_param("userid"); userid && !userid->empty()) siamface::check_person_name(*userid);
  });
  constant_time_equals(deepstack_param("api_key").value_or(""), key);
  for (const std::string& text_field : kDeepStackTextFields) {
    if (form.file(text_field) != nullptr) __builtin_trap();  // text fields never become files
  }

  // Native API multipart: the same split with its own text fields; read once, the query string
  // first, then the form.
  const FormData native_form = split_form(parts, kNativeTextFields);
  attempt([&] { parse_top_k(native_form.field("top_k")); });
  attempt([&] { parse_threshold(native_form.field("threshold")); });
  attempt([&] { parse_min_score(native_form.field("min_score")); });
  attempt([&] { parse_keep_unknown(native_form.field("keep_unknown")); });
  RequestFields native_request;
  native_request.content_type = "multipart/form-data; boundary=fuzz";
  native_request.params = query_params;
  native_request.parts = parts;
  const NativeRequest native = parse_native_request(native_request, {"image"});
  if (native.images.value().size() != native_form.files.size()) __builtin_trap();  // a form never fails
  attempt([&] {
    if (native.top_k.value() != parse_top_k(query("top_k") ? query("top_k") : native_form.field("top_k"))) __builtin_trap();
  });
  attempt([&] { native.threshold.value(); });
  attempt([&] { native.min_score.value(); });
  attempt([&] { native.keep_unknown.value(); });
  if (native.name.value() != (query("name") ? query("name") : native_form.field("name"))) __builtin_trap();

  // CompreFace query parameters, and a file sent as base64 JSON.
  attempt([&] { parse_det_prob_threshold(query("det_prob_threshold")); });
  attempt([&] { parse_face_limit(query("limit")); });
  attempt([&] { parse_prediction_count(query("prediction_count")); });
  // An unknown plugin is the client's error (a 400 naming it): an Error, never a crash.
  attempt([&] { parse_face_plugins(query("face_plugins")); });
  attempt([&] {
    const PageRequest page = parse_page_request(query("page"), query("size"));
    if (page.size < 1 || page.page < 0) __builtin_trap();
  });
  attempt([&] {
    if (const auto subject = query("subject")) siamface::check_person_name(*subject);
  });
  attempt([&] {
    if (const UploadedFile* file = form.file("file")) decode_base64(file->content, "JSON field 'file'");
  });

  // Native API keys: x-api-key or Authorization: Bearer.
  constant_time_equals(bearer_token(authorization), key);
  return 0;
}
