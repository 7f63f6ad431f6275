// siamface calibrate: distance distributions, ROC, EER and saved thresholds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;

const std::string kCli = SIAMFACE_CLI_PATH;

nlohmann::json last_json_line(const std::string& output) {
  nlohmann::json last;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{') last = nlohmann::json::parse(line);
  return last;
}

using CalibrateCli = TempDirTest;

TEST_F(CalibrateCli, LabelledFolderGivesSeparatedDistributionsAndSavesTheThreshold) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const std::string gallery = (temp_ / "gallery.db").string();
  // --force: ten people's 550 impostor pairs are too few to vouch for a looser threshold at
  // FAR 1 % (TinyFolderDoesNotLoosenTheThreshold); this test is about what is measured and saved.
  const auto result = run_command(kCli + " calibrate --folder " +
                                  shell_quote((testdata_dir() / "lfw_dev/lfw-deepfunneled").string()) + " --out " +
                                  shell_quote((temp_ / "plots").string()) + " --save --force --gallery " + shell_quote(gallery));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto report = last_json_line(result.output);
  EXPECT_EQ(report["people"].get<int>(), 10);
  EXPECT_EQ(report["genuine_pairs"].get<int>(), 45);   // all pairs within each identity (pairs.tsv)
  EXPECT_GT(report["impostor_pairs"].get<int>(), 500);
  EXPECT_LT(report["equal_error_rate"].get<double>(), 0.05);
  const double strict = report["threshold_far_1e-3"].get<double>();
  const double loose = report["threshold_far_1e-2"].get<double>();
  EXPECT_LE(strict, loose);
  EXPECT_GT(strict, 0.3);
  EXPECT_LT(loose, 0.8);
  EXPECT_TRUE(fs::exists(temp_ / "plots/histogram.png"));
  EXPECT_TRUE(fs::exists(temp_ / "plots/roc.png"));
  EXPECT_TRUE(fs::exists(temp_ / "plots/roc.csv"));

  const auto info = last_json_line(run_command(kCli + " gallery info --gallery " + shell_quote(gallery)).output);
  EXPECT_EQ(info["threshold_source"], "gallery");
  EXPECT_NEAR(info["threshold"].get<double>(), report["chosen_threshold"].get<double>(), 1e-4);
}

// Issue 34: five people, 16 photos, ~100 impostor pairs saved 0.669 and a stranger was named.
TEST_F(CalibrateCli, TinyFolderDoesNotLoosenTheThreshold) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  std::size_t people = 0;
  for (const auto& person : fs::directory_iterator(testdata_dir() / "lfw_dev/lfw-deepfunneled")) {
    if (people++ == 5) break;
    fs::create_directories(temp_ / "people" / person.path().filename());
    for (const auto& photo : fs::directory_iterator(person.path())) {
      fs::copy_file(photo.path(), temp_ / "people" / person.path().filename() / photo.path().filename());
    }
  }
  const std::string gallery = shell_quote((temp_ / "gallery.db").string());
  ASSERT_EQ(run_command(kCli + " gallery set-threshold 0.3 --gallery " + gallery).exit_code, 0);
  const std::string calibrate = kCli + " calibrate --folder " + shell_quote((temp_ / "people").string()) + " --out " +
                                shell_quote((temp_ / "plots").string()) + " --save --gallery " + gallery;
  const auto refused = run_command(calibrate);
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  const auto report = last_json_line(refused.output);
  EXPECT_LT(report["impostor_pairs"].get<int>(), 200);
  EXPECT_FALSE(report["enough_impostor_pairs"].get<bool>());
  EXPECT_FALSE(report["saved"].get<bool>());
  const auto interval = report["false_accept_rate_ci95"];
  ASSERT_EQ(interval.size(), 2U);
  EXPECT_LE(interval[0].get<double>(), report["false_accept_rate_at_chosen"].get<double>());
  EXPECT_GT(interval[1].get<double>(), 0.02) << "the upper end is what makes it too few";
  EXPECT_NE(refused.output.find("95% interval"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("--force"), std::string::npos) << refused.output;
  auto info = last_json_line(run_command(kCli + " gallery info --gallery " + gallery).output);
  EXPECT_NEAR(info["threshold"].get<double>(), 0.3, 1e-6) << "the gallery's threshold is kept";

  const auto forced = run_command(calibrate + " --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  info = last_json_line(run_command(kCli + " gallery info --gallery " + gallery).output);
  EXPECT_NEAR(info["threshold"].get<double>(), last_json_line(forced.output)["chosen_threshold"].get<double>(), 1e-4);

  // A stricter threshold is saved from few pairs too: it can only name fewer people.
  ASSERT_EQ(run_command(kCli + " gallery set-threshold 1.5 --gallery " + gallery).exit_code, 0);
  EXPECT_EQ(run_command(calibrate).exit_code, 0);
}

TEST_F(CalibrateCli, NeedsSomeoneWithTwoPhotos) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/amy/amy1.png");
  for (const char* name : {"amy", "penny"}) {
    fs::create_directories(temp_ / "people" / name);
    fs::copy_file(testdata_dir() / "face-api.js/examples/images" / name / (std::string(name) + "1.png"),
                  temp_ / "people" / name / "1.png");
  }
  const auto result = run_command(kCli + " calibrate --folder " + shell_quote((temp_ / "people").string()) +
                                  " --out " + shell_quote((temp_ / "plots").string()));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("two or more photos"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace siamface::test
