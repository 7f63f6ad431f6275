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

}  // namespace
}  // namespace siamface::server
