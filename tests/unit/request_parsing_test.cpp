// The server's pure request-parsing helpers (tools/server/request_parsing.hpp).
#include "server/request_parsing.hpp"

#include <gtest/gtest.h>

#include "siamface/errors.hpp"

namespace siamface::server {
namespace {

TEST(RequestParsing, Base64DecodesStandardUrlSafeAndDataUrls) {
  EXPECT_EQ(decode_base64("aGVsbG8=", "f"), "hello");
  EXPECT_EQ(decode_base64("aGVsbG8", "f"), "hello");
  EXPECT_EQ(decode_base64("aGVs\nbG8=", "f"), "hello");
  EXPECT_EQ(decode_base64("data:image/jpeg;base64,aGVsbG8=", "f"), "hello");
  EXPECT_EQ(decode_base64("-_8=", "f"), std::string("\xfb\xff", 2));
}

TEST(RequestParsing, Base64RejectsGarbageNamingTheField) {
  for (const char* bad : {"", "a", "this is *not* base64!", "aGVsbG8=x", "aGVsbG8===", "data:image/png,abc"}) {
    try {
      decode_base64(bad, "JSON field 'file'");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(std::string(e.what()).find("'file'"), std::string::npos) << e.what();
    }
  }
}

TEST(RequestParsing, NumbersAreWholeFiniteAndInRange) {
  EXPECT_FLOAT_EQ(parse_float_param("min_confidence", "0.67", 0, 1), 0.67F);
  EXPECT_FLOAT_EQ(parse_float_param("min_confidence", "1", 0, 1), 1.0F);
  for (const char* bad : {"", "1.5", "-0.1", "abc", "0.5x", "nan", "inf"}) {
    EXPECT_THROW(parse_float_param("min_confidence", bad, 0, 1), Error) << bad;
  }
  EXPECT_EQ(parse_int_param("size", "20", 1, 100), 20);
  EXPECT_THROW(parse_int_param("size", "0", 1, 100), Error);
  EXPECT_THROW(parse_int_param("size", "2.5", 1, 100), Error);
}

TEST(RequestParsing, FormSplitsFilesFromTextFields) {
  const FormData form = split_form({{"userid", "", "", "obama"},
                                    {"image", "a.jpg", "image/jpeg", "JPEG"},
                                    {"raw", "", "application/octet-stream", "BYTES"},
                                    {"api_key", "key.txt", "text/plain", "k"}},
                                   {"userid", "api_key"});
  ASSERT_EQ(form.files.size(), 2U);
  EXPECT_EQ(form.file("image")->content, "JPEG");
  EXPECT_EQ(form.file("raw")->content, "BYTES");
  EXPECT_EQ(form.field("userid"), "obama");
  EXPECT_EQ(form.field("api_key"), "k");
  EXPECT_FALSE(form.field("missing"));
}

TEST(RequestParsing, KeysCompareExactly) {
  EXPECT_TRUE(constant_time_equals("secret", "secret"));
  EXPECT_FALSE(constant_time_equals("secreT", "secret"));
  EXPECT_FALSE(constant_time_equals("secret1", "secret"));
  EXPECT_FALSE(constant_time_equals("", "secret"));
  EXPECT_EQ(bearer_token("Bearer abc"), "abc");
  EXPECT_EQ(bearer_token("Basic abc"), "");
}

TEST(RequestParsing, ConfidenceMappingIsMonotonicAndAnchoredAtTheDefaults) {
  EXPECT_NEAR(distance_to_confidence(0.6F), 0.67F, 1e-4);
  float previous = 2.0F;
  for (float d = 0.0F; d <= 2.0F; d += 0.05F) {
    const float c = distance_to_confidence(d);
    EXPECT_LT(c, previous);
    EXPECT_GT(c, 0.0F);
    EXPECT_LT(c, 1.0F);
    EXPECT_NEAR(confidence_to_distance(c), d, 1e-3);
    previous = c;
  }
  EXPECT_FLOAT_EQ(confidence_to_distance(0.0F), 4.0F);
  EXPECT_FLOAT_EQ(confidence_to_distance(1.0F), 0.0F);
}

TEST(RequestParsing, JsonBodiesMustBeObjects) {
  EXPECT_EQ(parse_json_object(R"({"a":1})")["a"], 1);
  for (const char* bad : {"", "[1]", "\"text\"", "{\"a\":", "null"}) {
    EXPECT_THROW(parse_json_object(bad), Error) << bad;
  }
}

TEST(RequestParsing, JsonImagesComeInFieldOrderFromStringsAndArrays) {
  const nlohmann::json body = parse_json_object(R"({"images":["aGk=","aGVsbG8="],"image":"b2s=","other":"eA=="})");
  const std::vector<UploadedFile> files = images_from_json(body, {"image", "images"});
  ASSERT_EQ(files.size(), 3U);
  EXPECT_EQ(files[0].field, "image");
  EXPECT_EQ(files[0].content, "ok");
  EXPECT_EQ(files[1].filename, "images[0]");
  EXPECT_EQ(files[2].content, "hello");
  EXPECT_TRUE(images_from_json(body, {"missing"}).empty());
  try {
    images_from_json(parse_json_object(R"({"images":["aGk=",7]})"), {"images"});
    ADD_FAILURE() << "accepted a number as an image";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("images[1]"), std::string::npos) << e.what();
  }
}

TEST(RequestParsing, JsonParamsAreStringsOrTheirJsonText) {
  const nlohmann::json body = parse_json_object(R"({"name":"Ada","top_k":2,"threshold":0.5})");
  EXPECT_EQ(json_param(body, "name"), "Ada");
  EXPECT_EQ(json_param(body, "top_k"), "2");
  EXPECT_EQ(parse_threshold(json_param(body, "threshold")), 0.5F);
  EXPECT_FALSE(json_param(body, "missing"));
}

// A parameter sent as a deeply nested array was dumped back to text recursively and overflowed
// the stack (200 KB of '[' crashed `siamface serve`; shown with fuzz/http_native_fuzz.cpp).
// Arrays and objects are refused instead, whatever their depth.
TEST(RequestParsing, NestedJsonParamsAreRefusedWithoutRecursion) {
  const std::size_t depth = 200'000;
  const std::string body = R"({"name":)" + std::string(depth, '[') + std::string(depth, ']') + "}";
  const nlohmann::json json = parse_json_object(body);
  EXPECT_THROW(json_param(json, "name"), Error);
  EXPECT_THROW(json_param(parse_json_object(R"({"top_k":{"a":1}})"), "top_k"), Error);
  EXPECT_EQ(json_param(parse_json_object(R"({"top_k":null})"), "top_k"), "null");
}

TEST(RequestParsing, ApiParametersHaveTheirDefaultsAndRanges) {
  EXPECT_EQ(parse_top_k(std::nullopt), 3U);
  EXPECT_EQ(parse_top_k("7"), 7U);
  EXPECT_THROW(parse_top_k("0"), Error);
  EXPECT_FALSE(parse_threshold(std::nullopt));
  EXPECT_THROW(parse_threshold("4.5"), Error);
  EXPECT_EQ(parse_min_score(std::nullopt), -1.0F);
  EXPECT_FALSE(parse_min_confidence(std::nullopt));
  EXPECT_EQ(parse_min_confidence("0.5"), 0.5F);
  EXPECT_THROW(parse_min_confidence("1.5"), Error);
  // CompreFace: an empty query value means the default.
  EXPECT_EQ(parse_det_prob_threshold(""), -1.0F);
  EXPECT_EQ(parse_det_prob_threshold("0.8"), 0.8F);
  EXPECT_EQ(parse_face_limit(""), 0);
  EXPECT_THROW(parse_face_limit("-1"), Error);
  EXPECT_EQ(parse_prediction_count(std::nullopt), 1U);
  EXPECT_THROW(parse_prediction_count("1001"), Error);
  const PageRequest page = parse_page_request("2", "");
  EXPECT_EQ(page.page, 2);
  EXPECT_EQ(page.size, 20);
  EXPECT_THROW(parse_page_request("0", "0"), Error);
}

TEST(RequestParsing, FacePluginsAreACommaList) {
  const FacePlugins both = parse_face_plugins("age,landmarks,,calculator");
  EXPECT_TRUE(both.landmarks);
  EXPECT_TRUE(both.calculator);
  EXPECT_TRUE(both.age);
  EXPECT_FALSE(both.gender);
  EXPECT_TRUE(both.needs_analysis());
  const FacePlugins spaced = parse_face_plugins(" gender , pose,liveness");
  EXPECT_TRUE(spaced.gender);
  EXPECT_TRUE(spaced.pose);
  EXPECT_TRUE(spaced.liveness);
  EXPECT_FALSE(spaced.landmarks);
  EXPECT_FALSE(parse_face_plugins(std::nullopt).landmarks);
  EXPECT_FALSE(parse_face_plugins("").needs_analysis());
  // Double Take interpolates its unset face_plugins setting into the URL as "undefined".
  const FacePlugins unset = parse_face_plugins("undefined");
  EXPECT_FALSE(unset.needs_analysis() || unset.landmarks || unset.calculator);
}

TEST(RequestParsing, AFacePluginSiamfaceLacksIsRefusedByName) {
  // Double Take's README suggests face_plugins=mask,gender,age: "mask" must not vanish silently.
  for (const char* list : {"mask,gender,age", "landmarks2d106", "age,Gender", "landmarks2, calculator"}) {
    try {
      parse_face_plugins(std::string(list));
      ADD_FAILURE() << list << " was accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      const std::string message = e.what();
      EXPECT_NE(message.find("is not available in siamface"), std::string::npos) << message;
      EXPECT_NE(message.find(kFacePluginNames), std::string::npos) << message;
    }
  }
  try {
    parse_face_plugins("age,mask");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'mask'"), std::string::npos) << e.what();
  }
}

TEST(RequestParsing, LivenessIsAskedOrLeftToTheServer) {
  EXPECT_FALSE(parse_liveness_request(std::nullopt, std::nullopt).asked.has_value());  // the server's default
  const LivenessRequest on = parse_liveness_request("true", "0.7");
  EXPECT_EQ(on.asked, true);
  ASSERT_TRUE(on.threshold.has_value());
  EXPECT_FLOAT_EQ(*on.threshold, 0.7F);
  EXPECT_EQ(parse_liveness_request("True", std::nullopt).asked, true);  // Python's str(True)
  EXPECT_EQ(parse_liveness_request("1", std::nullopt).asked, true);
  EXPECT_EQ(parse_liveness_request("false", std::nullopt).asked, false);
  EXPECT_THROW(parse_liveness_request("yes", std::nullopt), Error);
  EXPECT_THROW(parse_liveness_request("true", "1.5"), Error);
  // A threshold alone parses: whether the check is on is the server's to say (liveness_check).
  EXPECT_FLOAT_EQ(*parse_liveness_request(std::nullopt, "0.5").threshold, 0.5F);
}

// The message a Parsed value's read throws (empty when it holds a value).
template <typename T>
std::string error_of(const Parsed<T>& parsed) {
  try {
    parsed.value();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RequestParsing, NativeParamsComeFromTheQueryThenTheFormThenTheJsonBody) {
  RequestFields multipart;
  multipart.content_type = "multipart/form-data; boundary=x";
  multipart.params = {{"top_k", "5"}};
  // Text fields stay text even with a file name; the other parts are the images.
  multipart.parts = {{"top_k", "", "", "9"},
                     {"threshold", "t.txt", "application/octet-stream", "0.5"},
                     {"image", "a.jpg", "image/jpeg", "JPEG"}};
  const NativeRequest from_form = parse_native_request(multipart, {"image"});
  EXPECT_EQ(from_form.top_k.value(), 5U);
  EXPECT_EQ(from_form.threshold.value(), 0.5F);
  EXPECT_EQ(from_form.min_score.value(), -1.0F);
  EXPECT_FALSE(from_form.keep_unknown.value());
  ASSERT_EQ(from_form.images.value().size(), 1U);
  EXPECT_EQ(from_form.images.value().front().content, "JPEG");

  RequestFields json;
  json.content_type = "application/json";
  json.body = R"({"image":"aGVsbG8=","top_k":7,"keep_unknown":true,"name":"ada","min_score":"0.9","liveness":true})";
  json.params = {{"min_score", "0.3"}};
  const NativeRequest from_json = parse_native_request(json, {"image"});
  EXPECT_EQ(from_json.top_k.value(), 7U);
  EXPECT_TRUE(from_json.keep_unknown.value());
  EXPECT_EQ(from_json.liveness.value().asked, true);
  EXPECT_FALSE(from_form.liveness.value().asked.has_value());
  EXPECT_EQ(from_json.min_score.value(), 0.3F);
  EXPECT_EQ(from_json.name.value(), "ada");
  ASSERT_EQ(from_json.images.value().size(), 1U);
  EXPECT_EQ(from_json.images.value().front().content, "hello");

  RequestFields raw;
  raw.content_type = "image/png";
  raw.body = "PNG";
  const NativeRequest from_body = parse_native_request(raw, {"image"});
  ASSERT_EQ(from_body.images.value().size(), 1U);
  EXPECT_EQ(from_body.images.value().front().field, "body");
  EXPECT_EQ(from_body.images.value().front().content_type, "image/png");
  EXPECT_EQ(from_body.images.value().front().content, "PNG");
  EXPECT_TRUE(parse_native_request(RequestFields{}, {"image"}).images.value().empty());
}

TEST(RequestParsing, NativeErrorsWaitForTheValueThatHasThem) {
  RequestFields bad_body;
  bad_body.content_type = "application/json";
  bad_body.body = "[1]";
  bad_body.params = {{"name", "ada"}};
  const NativeRequest request = parse_native_request(bad_body, {"image"});
  EXPECT_EQ(request.name.value(), "ada");  // from the query: the body is never needed
  EXPECT_EQ(error_of(request.images), "request body is not a JSON object");
  EXPECT_EQ(error_of(request.top_k), "request body is not a JSON object");

  RequestFields bad_values;
  bad_values.content_type = "application/json";
  bad_values.body = R"({"image":"*","top_k":"0","keep_unknown":"yes","threshold":[1]})";
  const NativeRequest faults = parse_native_request(bad_values, {"image"});
  EXPECT_EQ(error_of(faults.images), "JSON field 'image' is not valid base64");
  EXPECT_NE(error_of(faults.top_k).find("top_k must be an integer between 1 and 1000"), std::string::npos);
  EXPECT_EQ(error_of(faults.keep_unknown), "keep_unknown must be true or false (got 'yes')");
  EXPECT_EQ(error_of(faults.threshold), "JSON field 'threshold' must be a string or a number");
  EXPECT_EQ(faults.min_score.value(), -1.0F);
}

}  // namespace
}  // namespace siamface::server
