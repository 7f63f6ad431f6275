// `siamface enroll` on real photos (issue 34): the exit code says whether anything was stored,
// the summary says why photos were not (grouped reasons), and a photo's face is stored once,
// under one person, so enrolling a renamed person's old folder again does not bring the old
// name back.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/json_lines.hpp"
#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kCli = SIAMFACE_CLI_PATH;

fs::path lfw_dev(const std::string& person, int n) {
  return testdata_dir() / "lfw_dev/lfw-deepfunneled" / person / (person + "_000" + std::to_string(n) + ".jpg");
}
fs::path giraffe() { return testdata_dir() / "dlib_examples/non_face/giraffe.jpg"; }
fs::path group_photo() { return testdata_dir() / "face-api.js/examples/images/bbt1.jpg"; }

#define REQUIRE_PHOTOS()                                                         \
  SIAMFACE_REQUIRE_MODELS();                                                     \
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled/Mary_Carey/Mary_Carey_0004.jpg"); \
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled/Martha_Burk/Martha_Burk_0002.jpg"); \
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/non_face/giraffe.jpg");              \
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/bbt1.jpg")

class EnrollCli : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    gallery_ = (temp_ / "gallery.db").string();
  }

  CommandResult cli(const std::string& args) {
    return run_command(kCli + " " + args + " --gallery " + shell_quote(gallery_));
  }

  // The {"summary":..} line enroll ends with; a test failure (and an empty object) when missing.
  static json summary_of(const CommandResult& result) {
    for (const json& line : json_lines(result.output)) {
      if (line.contains("summary")) return line["summary"];
    }
    ADD_FAILURE() << "no summary line in: " << result.output;
    return json::object();
  }

  // The per-photo lines, by file name.
  static std::map<std::string, json> photos_of(const CommandResult& result) {
    std::map<std::string, json> out;
    for (const json& line : json_lines(result.output)) {
      if (line.contains("file")) out[fs::path(line["file"].get<std::string>()).filename().string()] = line;
    }
    return out;
  }

  void put(const fs::path& photo, const fs::path& folder) {
    fs::create_directories(folder);
    fs::copy_file(photo, folder / photo.filename());
  }

  std::string gallery_;
};

// Issue 34, item 6: exit 1 when nothing was stored, 0 when something was; the summary groups why.
TEST_F(EnrollCli, ExitCodeSaysWhetherAFaceWasStoredAndTheSummaryGroupsTheReasons) {
  REQUIRE_PHOTOS();
  const std::string mary = shell_quote(lfw_dev("Mary_Carey", 1).string());

  // No face at all: nothing stored, exit 1, and the summary says why.
  const auto none = cli("enroll --name Mary " + shell_quote(giraffe().string()));
  EXPECT_EQ(none.exit_code, 1) << none.output;
  json summary = summary_of(none);
  EXPECT_EQ(summary["enrolled"], 0) << summary;
  EXPECT_EQ(summary["skipped"], 1) << summary;
  EXPECT_EQ(summary["not_stored"], json({{"no_face", 1}})) << summary;
  EXPECT_NE(none.output.find("not stored: 1 no face found"), std::string::npos) << none.output;
  EXPECT_NE(none.output.find("nothing was enrolled"), std::string::npos) << none.output;

  // Several faces without --largest.
  const auto group = cli("enroll --name Mary " + shell_quote(group_photo().string()));
  EXPECT_EQ(group.exit_code, 1) << group.output;
  EXPECT_EQ(summary_of(group)["not_stored"], json({{"several_faces", 1}})) << group.output;
  EXPECT_NE(group.output.find("several faces (--largest takes the largest)"), std::string::npos) << group.output;

  // A face under the quality gate.
  const auto small = cli("enroll --name Mary --min-face 1000 " + mary);
  EXPECT_EQ(small.exit_code, 1) << small.output;
  EXPECT_EQ(summary_of(small)["not_stored"], json({{"face_too_small", 1}})) << small.output;

  // One photo stored among two that are not: exit 0, and the two reasons counted.
  const auto mixed =
      cli("enroll --name Mary " + shell_quote(giraffe().string()) + " " + shell_quote(group_photo().string()) + " " + mary);
  EXPECT_EQ(mixed.exit_code, 0) << mixed.output;
  summary = summary_of(mixed);
  EXPECT_EQ(summary["enrolled"], 1) << summary;
  EXPECT_EQ(summary["skipped"], 2) << summary;
  EXPECT_EQ(summary["not_stored"], json({{"no_face", 1}, {"several_faces", 1}})) << summary;
  EXPECT_EQ(mixed.output.find("nothing was enrolled"), std::string::npos) << mixed.output;

  // Duplicates only: nothing new was stored, exit 1.
  const auto again = cli("enroll --name Mary " + mary);
  EXPECT_EQ(again.exit_code, 1) << again.output;
  summary = summary_of(again);
  EXPECT_EQ(summary["duplicates"], 1) << summary;
  EXPECT_EQ(summary["not_stored"], json({{"already_enrolled", 1}})) << summary;

  // The same photo under another name: refused, naming who has it.
  const auto other = cli("enroll --name Ada " + mary);
  EXPECT_EQ(other.exit_code, 1) << other.output;
  EXPECT_NE(other.output.find("already enrolled as Mary"), std::string::npos) << other.output;
  summary = summary_of(other);
  EXPECT_EQ(summary["not_stored"], json({{"enrolled_as_another_person", 1}})) << summary;
  EXPECT_EQ(summary["enrolled_as_another_person"], json({{"Mary", 1}})) << summary;
  const auto people = cli("people");
  EXPECT_NE(people.output.find("1\tMary"), std::string::npos) << people.output;
  EXPECT_EQ(people.output.find("Ada"), std::string::npos) << people.output;

  // Errors still win: an unreadable photo is exit 2 even beside a stored one.
  std::ofstream(temp_ / "broken.jpg") << "not an image";
  const auto broken = cli("enroll --name Martha " + shell_quote((temp_ / "broken.jpg").string()) + " " +
                          shell_quote(lfw_dev("Martha_Burk", 1).string()));
  EXPECT_EQ(broken.exit_code, 2) << broken.output;
  EXPECT_EQ(summary_of(broken)["enrolled"], 1) << broken.output;

  // --largest says which face of the group photo it took: the JSON box identify prints.
  const auto largest = cli("enroll --name Crowd --largest " + shell_quote(group_photo().string()));
  ASSERT_EQ(largest.exit_code, 0) << largest.output;
  const auto lines = json_lines(largest.output);
  ASSERT_FALSE(lines.empty()) << largest.output;
  const json& taken = lines.front();
  ASSERT_TRUE(taken.contains("box")) << taken;
  for (const char* field : {"left", "top", "width", "height"}) EXPECT_TRUE(taken["box"][field].is_number()) << taken;
  EXPECT_GT(taken["box"]["width"].get<double>(), 20.0) << taken;
}

// Issue 34, item 1, the story as a user met it: rename person01 to "Ada", then `enroll people/`
// with the folder still called person01/. Before, her photos were stored again under
// "person01", both names tied on her probes and she came back "unknown".
TEST_F(EnrollCli, EnrollingARenamedPersonsFolderAgainReportsTheNewNameAndStoresNothing) {
  REQUIRE_PHOTOS();
  const fs::path people = temp_ / "people";
  put(lfw_dev("Mary_Carey", 1), people / "person01");
  put(lfw_dev("Mary_Carey", 2), people / "person01");
  put(lfw_dev("Martha_Burk", 1), people / "person02");
  put(lfw_dev("Martha_Burk", 2), people / "person02");
  const auto first = cli("enroll " + shell_quote(people.string()));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  ASSERT_EQ(summary_of(first)["enrolled"], 4) << first.output;
  ASSERT_EQ(cli("rename person01 Ada").exit_code, 0);

  const auto again = cli("enroll " + shell_quote(people.string()));
  EXPECT_EQ(again.exit_code, 1) << again.output;  // nothing was stored
  const auto lines = photos_of(again);
  for (const char* file : {"Mary_Carey_0001.jpg", "Mary_Carey_0002.jpg"}) {
    ASSERT_TRUE(lines.count(file)) << again.output;
    const json& line = lines.at(file);
    EXPECT_EQ(line["status"], "duplicate") << line;
    EXPECT_EQ(line["person"], "person01") << line;
    EXPECT_EQ(line["enrolled_as"], "Ada") << line;
    EXPECT_EQ(line["reason_code"], "enrolled_as_another_person") << line;
    EXPECT_NE(line["reason"].get<std::string>().find("already enrolled as Ada"), std::string::npos) << line;
    EXPECT_NE(again.output.find(std::string(file) + ": already enrolled as Ada"), std::string::npos) << again.output;
  }
  const json summary = summary_of(again);
  EXPECT_EQ(summary["enrolled"], 0) << summary;
  EXPECT_EQ(summary["duplicates"], 4) << summary;
  EXPECT_EQ(summary["not_stored"], json({{"already_enrolled", 2}, {"enrolled_as_another_person", 2}})) << summary;
  EXPECT_EQ(summary["enrolled_as_another_person"], json({{"Ada", 2}})) << summary;
  EXPECT_NE(again.output.find("2 already enrolled under another name (2 as Ada)"), std::string::npos) << again.output;

  const auto listed = cli("people");
  EXPECT_NE(listed.output.find("2\tAda"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("2\tperson02"), std::string::npos) << listed.output;
  EXPECT_EQ(listed.output.find("person01"), std::string::npos) << listed.output;

  // Her probe is named: one person, no tie with a second name.
  const auto probe = cli("identify " + shell_quote(lfw_dev("Mary_Carey", 3).string()));
  ASSERT_EQ(probe.exit_code, 0) << probe.output;
  const auto identified = json_lines(probe.output);
  ASSERT_EQ(identified.size(), 1U) << probe.output;
  ASSERT_FALSE(identified[0]["faces"].empty()) << probe.output;
  bool named = false;
  for (const json& face : identified[0]["faces"]) named = named || (face["known"] == true && face["name"] == "Ada");
  EXPECT_TRUE(named) << probe.output;

  // A photo new to the old folder is stored under the folder's name (docs/usage.md): rename the
  // folder too, or merge the names afterwards.
  put(lfw_dev("Mary_Carey", 4), people / "person01");
  const auto added = cli("enroll " + shell_quote(people.string()));
  EXPECT_EQ(added.exit_code, 0) << added.output;
  EXPECT_EQ(summary_of(added)["enrolled"], 1) << added.output;
  ASSERT_EQ(cli("rename person01 Ada").exit_code, 0);
  EXPECT_NE(cli("people").output.find("3\tAda"), std::string::npos);
}

// Issue 34: import keeps the rule and says which faces the gallery holds under another name;
// export/import keeps the thumbnails the web page shows.
TEST_F(EnrollCli, ImportNamesFacesHeldUnderAnotherNameAndKeepsThumbnails) {
  REQUIRE_PHOTOS();
  const std::string mary1 = shell_quote(lfw_dev("Mary_Carey", 1).string());
  const std::string mary2 = shell_quote(lfw_dev("Mary_Carey", 2).string());
  ASSERT_EQ(cli("enroll --name Mary " + mary1 + " " + mary2).exit_code, 0);
  const std::string exported = (temp_ / "export.jsonl").string();
  ASSERT_EQ(cli("export " + shell_quote(exported)).exit_code, 0);
  std::ifstream in(exported);
  std::size_t with_thumbnail = 0;
  for (std::string line; std::getline(in, line);) {
    const json parsed = json::parse(line);
    if (parsed.contains("thumbnail_jpeg")) {
      ++with_thumbnail;
      EXPECT_EQ(parsed["thumbnail_jpeg"].get<std::string>().rfind("/9j/", 0), 0U);  // a JPEG, base64
    }
  }
  EXPECT_EQ(with_thumbnail, 2U);

  // Another gallery that has one of her photos as "Ada".
  gallery_ = (temp_ / "other.db").string();
  ASSERT_EQ(cli("enroll --name Ada " + mary1).exit_code, 0);
  const auto imported = cli("import " + shell_quote(exported));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  const auto lines = json_lines(imported.output);
  ASSERT_EQ(lines.size(), 1U) << imported.output;
  EXPECT_EQ(lines[0]["added"], 1) << lines[0];
  EXPECT_EQ(lines[0]["duplicates"], 1) << lines[0];
  ASSERT_EQ(lines[0]["enrolled_as_another_person"].size(), 1U) << lines[0];
  EXPECT_EQ(lines[0]["enrolled_as_another_person"][0]["person"], "Mary") << lines[0];
  EXPECT_EQ(lines[0]["enrolled_as_another_person"][0]["enrolled_as"], "Ada") << lines[0];
  EXPECT_NE(imported.output.find("1 of Mary as Ada"), std::string::npos) << imported.output;
  EXPECT_NE(imported.output.find("already enrolled as Ada"), std::string::npos) << imported.output;

  // Into an empty gallery, then out again: the thumbnails came along.
  gallery_ = (temp_ / "copy.db").string();
  ASSERT_EQ(cli("import " + shell_quote(exported)).exit_code, 0);
  const std::string again = (temp_ / "again.jsonl").string();
  ASSERT_EQ(cli("export " + shell_quote(again)).exit_code, 0);
  std::ifstream a(exported), b(again);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}), std::string(std::istreambuf_iterator<char>(b), {}));
}

}  // namespace
}  // namespace siamface::test
