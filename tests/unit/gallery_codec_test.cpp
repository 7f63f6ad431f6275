// The gallery's pure parts, without any database: the JSON-lines codec, the person-name rule
// and the threshold parser.
#include <gtest/gtest.h>

#include <sstream>

#include "gallery/jsonl_codec.hpp"
#include "siamface/errors.hpp"
#include "siamface/gallery.hpp"
#include "unit/gallery_test_util.hpp"

namespace siamface {
namespace {

using test::make_face;
using test::test_model;

using test::message_of;
TEST(GalleryCodec, LinesRoundTripExactlyWithoutADatabase) {
  std::vector<GalleryFace> faces = {make_face("alice", 1), make_face("bob", 2)};
  faces[0].id = "0a1b2c3d-0000-4000-8000-000000000001";
  faces[1].id = "0a1b2c3d-0000-4000-8000-000000000002";
  faces[0].embedding[0] = -3.4028235e38F;
  faces[1].embedding[1] = 1e-38F;
  faces[0].created_unix_ms = 1'700'000'000'000;
  faces[1].created_unix_ms = 1'700'000'000'001;
  const gallery::ExportHeader header{test_model(), {{"note", "x"}, {"threshold", "0.5"}}};
  std::string text = gallery::header_line(header) + "\n";
  for (const auto& f : faces) text += gallery::face_line(f) + "\n";

  std::istringstream in(text);
  const gallery::ParsedExport parsed = gallery::parse_export(in, "mem.jsonl");
  ASSERT_TRUE(parsed.header.model.has_value());
  EXPECT_EQ(parsed.header.model->weights_sha256, test_model().weights_sha256);
  EXPECT_EQ(parsed.header.settings, header.settings);
  ASSERT_EQ(parsed.faces.size(), 2U);
  for (std::size_t i = 0; i < faces.size(); ++i) test::expect_same_face(parsed.faces[i], faces[i]);
  // Encoding what was decoded gives the same bytes.
  std::string again = gallery::header_line(parsed.header) + "\n";
  for (const auto& f : parsed.faces) again += gallery::face_line(f) + "\n";
  EXPECT_EQ(again, text);
}

TEST(GalleryCodec, NegativeLinesRoundTripAndBadOnesNameTheField) {
  GalleryFace face = make_face("alice", 1);
  face.id = "0a1b2c3d-0000-4000-8000-000000000001";
  NegativeExample negative{"0a1b2c3d-0000-4000-8000-0000000000ff", "alice", "/wrong.jpg",
                           make_face("x", 2).embedding, 1'700'000'000'123};
  const std::string head = gallery::header_line({test_model(), {}}) + "\n";
  const std::string text = head + gallery::negative_line(negative) + "\n" + gallery::face_line(face) + "\n";
  std::istringstream in(text);
  const gallery::ParsedExport parsed = gallery::parse_export(in, "mem.jsonl");
  ASSERT_EQ(parsed.negatives.size(), 1U);
  EXPECT_EQ(parsed.negatives[0], negative);
  EXPECT_EQ(gallery::negative_line(parsed.negatives[0]), gallery::negative_line(negative));

  auto error_for = [&](const std::string& line) {
    return message_of([&] {
      std::istringstream bad(head + gallery::face_line(face) + "\n" + line + "\n");
      gallery::parse_export(bad, "bad.jsonl");
    });
  };
  NegativeExample wrong = negative;
  wrong.person = "unknown";
  EXPECT_NE(error_for(gallery::negative_line(wrong)).find("bad.jsonl:3: field 'negative.person'"), std::string::npos);
  wrong = negative;
  wrong.embedding.resize(64);
  EXPECT_NE(error_for(gallery::negative_line(wrong)).find("'negative.embedding' has 64 values"), std::string::npos);
  EXPECT_NE(error_for(R"({"negative":{"id":"nope"}})").find("'negative.id'"), std::string::npos);
  EXPECT_NE(error_for(R"({"negative":[]})").find("'negative' must be an object"), std::string::npos);
  std::string extra = gallery::negative_line(negative);
  extra.insert(extra.size() - 2, R"(,"mood":1)");
  EXPECT_NE(error_for(extra).find("'negative.mood' is unknown"), std::string::npos);
}

// Issue 34: exports carry the face thumbnails the web page shows (base64 of the JPEG); files
// without them still read.
TEST(GalleryCodec, ThumbnailsRoundTripAsCanonicalBase64AndBadOnesNameTheField) {
  GalleryFace face = make_face("alice", 1);
  face.id = "0a1b2c3d-0000-4000-8000-000000000001";
  const std::string head = gallery::header_line({test_model(), {}}) + "\n";
  const std::string without = gallery::face_line(face);
  EXPECT_EQ(without.find("thumbnail_jpeg"), std::string::npos) << without;
  // Every length modulo 3 (both paddings and none), and every byte value.
  for (std::size_t size : {3U, 4U, 5U, 300U}) {
    face.thumbnail_jpeg = {0xFF, 0xD8, 0xFF};
    for (std::size_t i = 3; i < size; ++i) face.thumbnail_jpeg.push_back(static_cast<std::uint8_t>(i * 37));
    const std::string line = gallery::face_line(face);
    ASSERT_NE(line.find("\"thumbnail_jpeg\":\"/9j/"), std::string::npos) << line;
    std::istringstream in(head + line + "\n");
    const gallery::ParsedExport parsed = gallery::parse_export(in, "mem.jsonl");
    ASSERT_EQ(parsed.faces.size(), 1U);
    EXPECT_EQ(parsed.faces[0].thumbnail_jpeg, face.thumbnail_jpeg) << size;
    EXPECT_EQ(gallery::face_line(parsed.faces[0]), line);
  }
  {
    std::istringstream in(head + without + "\n");
    EXPECT_TRUE(gallery::parse_export(in, "old.jsonl").faces.at(0).thumbnail_jpeg.empty());
  }
  auto error_for = [&](const std::string& value) {
    std::string line = without;
    line.insert(line.size() - 1, ",\"thumbnail_jpeg\":" + value);
    return message_of([&] {
      std::istringstream bad(head + line + "\n");
      gallery::parse_export(bad, "bad.jsonl");
    });
  };
  EXPECT_NE(error_for("12").find("bad.jsonl:2: field 'thumbnail_jpeg' must be a base64 string"), std::string::npos);
  for (const char* text : {"\"/9j/4A\"", "\"/9j/4B==\"", "\"/9j/4A=A\"", "\"/9j_4AAA\"", "\"/9j/ 4AA\""}) {
    EXPECT_NE(error_for(text).find("'thumbnail_jpeg' is not canonical base64"), std::string::npos) << text;
  }
  EXPECT_NE(error_for("\"\"").find("'thumbnail_jpeg' is not a JPEG"), std::string::npos);
  EXPECT_NE(error_for("\"iVBORw0KGgo=\"").find("'thumbnail_jpeg' is not a JPEG"), std::string::npos);  // a PNG
}

TEST(GalleryCodec, RefusesReservedOverlongAndInvalidUtf8PersonNames) {
  GalleryFace face = make_face("alice", 1);
  face.id = "0a1b2c3d-0000-4000-8000-000000000001";
  const std::string header = gallery::header_line({test_model(), {}}) + "\n";
  for (const std::string& name : {std::string("unknown"), std::string(129, 'x'), std::string("caf\xc3", 4),
                                  std::string("\xc0\xaf")}) {
    // Raw bytes: the JSON encoder itself refuses to write invalid UTF-8.
    face.person = "alice";
    std::string line = gallery::face_line(face);
    line.replace(line.find("\"person\":\"alice\""), 16, "\"person\":\"" + name + "\"");
    std::istringstream in(header + line + "\n");
    ErrorCode code = ErrorCode::kInternal;
    const std::string message = message_of([&] { gallery::parse_export(in, "names.jsonl"); }, &code);
    EXPECT_EQ(code, ErrorCode::kInvalidArgument) << message;
    EXPECT_NE(message.find("names.jsonl:2: "), std::string::npos) << message;
    if (name == "unknown") EXPECT_NE(message.find("field 'person' is invalid"), std::string::npos) << message;
  }
  face.person = std::string(128, 'x');  // the limit itself is fine
  std::istringstream in(header + gallery::face_line(face) + "\n");
  EXPECT_EQ(gallery::parse_export(in, "names.jsonl").faces.size(), 1U);
}

TEST(GalleryRules, PersonNameRule) {
  for (const std::string& good : {std::string("Ada"), std::string("Zo\xc3\xab"), std::string(128, 'a'),
                                  std::string("unknown person"), std::string("\xe6\x9d\x8e")}) {
    EXPECT_NO_THROW(check_person_name(good)) << good;
  }
  const struct {
    std::string name, why;
  } bad[] = {{"", "empty"},
             {"unknown", "reserved"},
             {std::string(129, 'a'), "128 bytes"},
             {"caf\xc3", "UTF-8"},
             {"\xc0\xaf", "UTF-8"},
             {"a\tb", "control"},
             {"a/b", "path separator"},
             {"..", "not a name"}};
  for (const auto& c : bad) {
    ErrorCode code = ErrorCode::kInternal;
    const std::string message = message_of([&] { check_person_name(c.name); }, &code);
    EXPECT_EQ(code, ErrorCode::kInvalidArgument);
    EXPECT_NE(message.find(c.why), std::string::npos) << message;
  }
}

TEST(GalleryRules, ThresholdParser) {
  EXPECT_FLOAT_EQ(parse_distance_threshold("0.6"), 0.6F);
  EXPECT_FLOAT_EQ(parse_distance_threshold("1e-1"), 0.1F);
  EXPECT_FLOAT_EQ(parse_distance_threshold("2"), 2.0F);
  for (const std::string& bad : {std::string(""), std::string("abc"), std::string("0,6"), std::string("-1"),
                                 std::string("0"), std::string("inf"), std::string("nan"), std::string(" 0.6"),
                                 std::string("0.6 "), std::string("0.5\0x", 5), std::string("1e999")}) {
    ErrorCode code = ErrorCode::kInternal;
    const std::string message = message_of([&] { parse_distance_threshold(bad, "--threshold"); }, &code);
    EXPECT_EQ(code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(message.find("--threshold must be a positive number"), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace siamface
