// Fuzzes the native API's JSON request bodies (tools/server/request_parsing.*): the object check,
// base64 images under "image"/"images"/"image1"/"image2" (strings or arrays), and the parameters
// read from the body (top_k, threshold, min_score, keep_unknown, name), parsed by the handlers' own
// functions; then the whole request read once (parse_native_request), which must agree with them.
// Input: the raw request body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "attempt.hpp"
#include "server/request_parsing.hpp"
#include "siamface/errors.hpp"
#include "siamface/identify.hpp"

using namespace siamface::server;

using siamface::fuzz::attempt;

namespace {

// Reads every value of a request parsed once; each may hold a clean rejection.
void read_all(const NativeRequest& request) {
  attempt([&] { request.images.value(); });
  attempt([&] { request.top_k.value(); });
  attempt([&] { request.threshold.value(); });
  attempt([&] { request.min_score.value(); });
  attempt([&] { request.keep_unknown.value(); });
  attempt([&] { request.name.value(); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  RequestFields request;
  request.content_type = "application/json";
  request.body = body;
  const NativeRequest parsed = parse_native_request(request, {"image"});
  read_all(parsed);
  nlohmann::json json;
  try {
    json = parse_json_object(body);
  } catch (const siamface::Error&) {
    return 0;
  }
  // Read once, a value is what the handlers' own functions give.
  attempt([&] {
    if (parsed.top_k.value() != parse_top_k(json_param(json, "top_k"))) __builtin_trap();
  });
  attempt([&] {
    if (parsed.images.value().size() != images_from_json(json, {"image"}).size()) __builtin_trap();
  });
  attempt([&] { parse_keep_unknown(json_param(json, "keep_unknown")); });
  // The field lists of /v1/detect|embed|identify, /v1/verify and /v1/people/NAME/faces.
  for (const auto& fields : {std::vector<std::string>{"image"}, std::vector<std::string>{"image1", "image2"},
                             std::vector<std::string>{"image", "images"}}) {
    attempt([&] {
      for (const UploadedFile& file : images_from_json(json, fields)) {
        if (file.content.empty()) __builtin_trap();  // decode_base64 never yields empty bytes
      }
    });
  }
  attempt([&] { parse_top_k(json_param(json, "top_k")); });
  attempt([&] { parse_threshold(json_param(json, "threshold")); });
  attempt([&] { parse_min_score(json_param(json, "min_score")); });
  attempt([&] {
    if (const auto name = json_param(json, "name")) siamface::check_person_name(*name);
  });
  return 0;
}
