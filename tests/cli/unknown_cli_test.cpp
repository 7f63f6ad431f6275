// Issue 20 through the siamface binary, on real photos: identify --keep-unknown on a gallery
// nobody is enrolled in, de-duplication, unknown list/purge, cluster --json with stable ids,
// promote, dismiss, not (--face and an image), split and merge, and the error exit codes.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/json_lines.hpp"
#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;

const std::string kCli = SIAMFACE_CLI_PATH;

fs::path characters() { return testdata_dir() / "face-api.js/examples/images"; }
std::string photo(const std::string& person, int n) {
  return (characters() / person / (person + std::to_string(n) + ".png")).string();
}

class UnknownCli : public TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    gallery_ = (temp_ / "gallery.db").string();
  }
  CommandResult cli(const std::string& args) { return run_command(kCli + " " + args + " --gallery " + shell_quote(gallery_)); }

  // The cluster holding the face whose source ends with `file`.
  static const nlohmann::json* cluster_with(const std::vector<nlohmann::json>& clusters, const std::string& file) {
    for (const auto& c : clusters) {
      for (const auto& f : c["faces"]) {
        const std::string source = f["source"];
        if (source.size() >= file.size() && source.compare(source.size() - file.size(), file.size(), file) == 0) return &c;
      }
    }
    return nullptr;
  }

  std::string gallery_;
};

TEST_F(UnknownCli, KeepClusterPromoteCorrect) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images");
  // Photos 1-4 of three people, and a group photo, into a gallery that does not exist yet.
  std::string inputs;
  for (const char* person : {"amy", "bernadette", "raj"}) {
    for (int n = 1; n <= 4; ++n) inputs += " " + shell_quote(photo(person, n));
  }
  const auto kept = cli("identify --keep-unknown" + inputs);
  ASSERT_EQ(kept.exit_code, 0) << kept.output;
  EXPECT_EQ(kept.output.find("is empty"), std::string::npos) << kept.output;
  int recorded = 0;
  for (const auto& line : json_lines(kept.output)) recorded += line.value("unknown_kept", 0);
  EXPECT_EQ(recorded, 12) << kept.output;
  // The same photos again: nothing new (de-duplicated per photo).
  const auto again = cli("identify --keep-unknown" + inputs);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  int duplicates = 0;
  for (const auto& line : json_lines(again.output)) duplicates += line.value("unknown_duplicates", 0);
  EXPECT_EQ(duplicates, 12) << again.output;
  const auto listed = cli("unknown list --json");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_EQ(json_lines(listed.output).size(), 12U);

  // Cluster: one per person, each face with its source path; the ids survive a second run.
  const auto clustered = cli("cluster --json");
  ASSERT_EQ(clustered.exit_code, 0) << clustered.output;
  const auto clusters = json_lines(clustered.output);
  ASSERT_EQ(clusters.size(), 3U) << clustered.output;
  std::map<std::string, std::int64_t> id_of;
  for (const char* person : {"amy", "bernadette", "raj"}) {
    const auto* c = cluster_with(clusters, std::string(person) + "1.png");
    ASSERT_NE(c, nullptr) << person;
    EXPECT_EQ((*c)["faces"].size(), 4U) << person << " " << c->dump();
    for (const auto& f : (*c)["faces"]) EXPECT_NE(f["source"].get<std::string>().find(person), std::string::npos);
    id_of[person] = (*c)["cluster"];
  }
  const auto reclustered = json_lines(cli("cluster --json").output);
  for (const auto& [person, id] : id_of) EXPECT_EQ((*cluster_with(reclustered, person + std::string("1.png")))["cluster"], id);

  // Promote amy's cluster: amy5 (never seen) is then named amy.
  const auto promoted = cli("promote " + std::to_string(id_of["amy"]) + " amy");
  ASSERT_EQ(promoted.exit_code, 0) << promoted.output;
  EXPECT_EQ(json_lines(promoted.output).at(0)["faces"].size(), 4U);
  auto named = json_lines(cli("identify " + shell_quote(photo("amy", 5))).output);
  ASSERT_EQ(named.size(), 1U);
  EXPECT_EQ(named[0]["faces"][0]["name"], "amy") << named[0].dump();
  // Dismiss raj's cluster: 4 unknown faces left (bernadette's).
  const auto dismissed = cli("dismiss " + std::to_string(id_of["raj"]));
  ASSERT_EQ(dismissed.exit_code, 0) << dismissed.output;
  EXPECT_EQ(json_lines(cli("unknown list --json").output).size(), 4U);

  // Promote bernadette, then split one of her faces off and merge it back.
  ASSERT_EQ(cli("promote " + std::to_string(id_of["bernadette"]) + " bernadette").exit_code, 0);
  const auto people = json_lines(cli("people --json").output);
  ASSERT_EQ(people.size(), 2U);
  EXPECT_TRUE(json_lines(cli("unknown list --json").output).empty());
}

TEST_F(UnknownCli, SplitMergeNotAndErrors) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images");
  std::string inputs;
  for (int n = 1; n <= 3; ++n) inputs += " " + shell_quote(photo("penny", n));
  ASSERT_EQ(cli("identify -j 1 --keep-unknown" + inputs).exit_code, 0);  // in order: faces[2] is penny3
  const auto clusters = json_lines(cli("cluster --json").output);
  ASSERT_EQ(clusters.size(), 1U);
  const std::int64_t id = clusters[0]["cluster"];
  const auto promoted = json_lines(cli("promote " + std::to_string(id) + " penny").output);
  ASSERT_EQ(promoted.size(), 1U);
  const std::vector<std::string> faces = promoted[0]["faces"];
  ASSERT_EQ(faces.size(), 3U);

  // Split one face off to "penny2", merge it back.
  const auto split = cli("split penny --faces " + faces[0] + " --to penny2");
  ASSERT_EQ(split.exit_code, 0) << split.output;
  EXPECT_EQ(json_lines(split.output).at(0)["moved"], 1);
  EXPECT_EQ(json_lines(cli("people --json").output).size(), 2U);
  const auto merged = cli("merge penny2 penny");
  ASSERT_EQ(merged.exit_code, 0) << merged.output;
  auto people = json_lines(cli("people --json").output);
  ASSERT_EQ(people.size(), 1U);
  EXPECT_EQ(people[0]["faces"], 3);

  // "Not penny" for a gallery face: removed and kept as a negative example.
  const auto not_face = cli("not --face " + faces[2]);
  ASSERT_EQ(not_face.exit_code, 0) << not_face.output;
  EXPECT_EQ(json_lines(not_face.output).at(0)["person"], "penny");
  people = json_lines(cli("people --json").output);
  EXPECT_EQ(people.at(0)["faces"], 2);
  // The same photo is now kept from being named penny (it is its own negative example).
  const auto probe = json_lines(cli("identify " + shell_quote(photo("penny", 3))).output);
  EXPECT_EQ(probe.at(0)["faces"][0]["name"], "unknown") << probe.at(0).dump();
  // ...while penny's other photos still are penny. penny4: 0.37 from penny1-2, 0.45 from the
  // negative example (penny5 lies 0.444-0.448 from all three, so which is nearest is a coin toss).
  EXPECT_EQ(json_lines(cli("identify " + shell_quote(photo("penny", 4))).output).at(0)["faces"][0]["name"], "penny");
  // "Not penny" from an image.
  const auto not_image = cli("not penny " + shell_quote(photo("raj", 1)));
  ASSERT_EQ(not_image.exit_code, 0) << not_image.output;
  const auto not_raj = json_lines(not_image.output).at(0);
  EXPECT_EQ(not_raj["negatives"].size(), 1U) << not_raj.dump();
  EXPECT_EQ(not_raj["chosen_because"], "the only face") << not_raj.dump();

  // Errors exit 2 with a message naming what is wrong.
  auto bad = cli("promote 9999 someone");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("no unknown-face cluster 9999"), std::string::npos) << bad.output;
  bad = cli("merge nobody penny");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("nobody"), std::string::npos) << bad.output;
  bad = cli("split penny --faces not-a-face --to x");
  EXPECT_EQ(bad.exit_code, 2);
  bad = cli("not --face not-a-face");
  EXPECT_EQ(bad.exit_code, 2);
  bad = cli("not nobody " + shell_quote(photo("raj", 1)));
  EXPECT_EQ(bad.exit_code, 2);
  bad = cli("dismiss 424242");
  EXPECT_EQ(bad.exit_code, 2);
  bad = cli("cluster --threshold -1");
  EXPECT_EQ(bad.exit_code, 2);

  // Settings: off by default, checked, changed.
  auto settings = json_lines(cli("unknown settings").output);
  ASSERT_EQ(settings.size(), 1U);
  EXPECT_EQ(settings[0]["keep_unknown"], false);
  EXPECT_EQ(settings[0]["unknown_max_faces"], 10000);
  EXPECT_EQ(cli("unknown settings --max-faces 0").exit_code, 2);
  settings = json_lines(cli("unknown settings --keep true --max-faces 3 --max-age-days 2").output);
  ASSERT_EQ(settings.size(), 1U);
  EXPECT_EQ(settings[0]["keep_unknown"], true);
  EXPECT_EQ(settings[0]["unknown_max_faces"], 3);
  EXPECT_EQ(settings[0]["unknown_max_age_days"], 2);
  // The count bound holds on every add: four photos, three kept.
  std::string four;
  for (int n = 1; n <= 4; ++n) four += " " + shell_quote(photo("howard", n + 1));
  ASSERT_EQ(cli("identify --keep-unknown" + four).exit_code, 0);
  EXPECT_EQ(json_lines(cli("unknown list --json").output).size(), 3U);
  ASSERT_EQ(cli("unknown purge --all").exit_code, 0);

  // Purge: everything.
  ASSERT_EQ(cli("identify --keep-unknown " + shell_quote(photo("raj", 2))).exit_code, 0);
  const auto purged = cli("unknown purge --all --json");
  ASSERT_EQ(purged.exit_code, 0) << purged.output;
  EXPECT_EQ(json_lines(purged.output).at(0)["removed"], 1);
  EXPECT_TRUE(json_lines(cli("unknown list --json").output).empty());
}

// Issue 34: in a group photo `not` corrects the face the gallery names PERSON now, not the
// largest one, and says which; with no such face among several it asks for --box.
TEST_F(UnknownCli, NotCorrectsTheFaceCurrentlyGivenTheName) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/bbt1.jpg");
  const std::string group = shell_quote((characters() / "bbt1.jpg").string());
  ASSERT_EQ(cli("enroll --name leonard " + shell_quote(photo("leonard", 1))).exit_code, 0);
  const auto before = json_lines(cli("identify " + group).output).at(0);
  nlohmann::json named_box, largest_box;
  double largest_area = 0;
  for (const auto& face : before["faces"]) {
    if (face["name"] == "leonard") named_box = face["box"];
    const double area = face["box"]["width"].get<double>() * face["box"]["height"].get<double>();
    if (area > largest_area) largest_area = area, largest_box = face["box"];
  }
  ASSERT_FALSE(named_box.is_null()) << "leonard must be named in bbt1 for this test: " << before.dump();
  ASSERT_GE(before["faces"].size(), 3U);

  const auto corrected = cli("not leonard " + group);
  ASSERT_EQ(corrected.exit_code, 0) << corrected.output;
  const auto report = json_lines(corrected.output).at(0);
  EXPECT_EQ(report["chosen_because"], "named leonard");
  ASSERT_EQ(report["negatives"].size(), 1U);
  EXPECT_EQ(report["negatives"][0]["box"], named_box) << "the named face, not the largest " << largest_box.dump();
  EXPECT_NE(corrected.output.find("is not leonard"), std::string::npos) << corrected.output;
  for (const auto& face : json_lines(cli("identify " + group).output).at(0)["faces"]) {
    EXPECT_NE(face["name"], "leonard") << "the correction took";
  }

  // Nobody is named leonard now and the photo has several faces: which one is meant?
  const auto ambiguous = cli("not leonard " + group);
  EXPECT_EQ(ambiguous.exit_code, 2);
  EXPECT_NE(ambiguous.output.find("--box"), std::string::npos) << ambiguous.output;
  // --box takes the JSON box identify printed.
  const auto by_box = cli("not leonard " + group + " --box " + shell_quote(largest_box.dump()));
  ASSERT_EQ(by_box.exit_code, 0) << by_box.output;
  EXPECT_EQ(json_lines(by_box.output).at(0)["chosen_because"], "--box");
  EXPECT_EQ(cli("not leonard " + group + " --box 1,2,three,4").exit_code, 2);
}

}  // namespace
}  // namespace siamface::test
