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
  const auto result = run_command(kCli + " calibrate --folder " +
                                  shell_quote((testdata_dir() / "lfw_dev/lfw-deepfunneled").string()) + " --out " +
                                  shell_quote((temp_ / "plots").string()) + " --save --gallery " + shell_quote(gallery));
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
