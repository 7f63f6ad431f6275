// siamface eval lfw: the 10-fold protocol end to end on the LFW dev slice (report, ROC, per-pair CSV).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;

const std::string kCli = SIAMFACE_CLI_PATH;

// The lfw_dev identities, each with at least 3 photos (MANIFEST.md).
std::vector<std::string> dev_people() {
  std::vector<std::string> people;
  for (const auto& entry : fs::directory_iterator(testdata_dir() / "lfw_dev/lfw-deepfunneled")) {
    if (entry.is_directory()) people.push_back(entry.path().filename().string());
  }
  std::sort(people.begin(), people.end());
  return people;
}

// A View 2 style pairs.txt: 10 folds of one same pair (photos 1 and 2 of person f) and one
// different pair (photo 1 of person f against photo 1 of person f+1).
std::string ten_fold_pairs(const std::vector<std::string>& people) {
  std::ostringstream out;
  out << "10\t1\n";
  for (std::size_t f = 0; f < 10; ++f) {
    out << people[f] << "\t1\t2\n";
    out << people[f] << "\t1\t" << people[(f + 1) % people.size()] << "\t1\n";
  }
  return out.str();
}

std::vector<std::vector<std::string>> read_csv(const fs::path& file) {
  std::vector<std::vector<std::string>> rows;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream fields(line);
    for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.emplace_back();
    rows.push_back(cells);
  }
  return rows;
}

using EvalCli = TempDirTest;

// Runs `eval lfw` on the dev slice with temp_/pairs.txt, writing into temp_/report.
CommandResult run_eval(const fs::path& temp, const std::string& extra_flags) {
  return run_command(kCli + " eval lfw --root " + shell_quote((testdata_dir() / "lfw_dev/lfw-deepfunneled").string()) +
                     " --pairs " + shell_quote((temp / "pairs.txt").string()) + " --out " +
                     shell_quote((temp / "report").string()) + " " + extra_flags);
}

TEST_F(EvalCli, TenFoldsOnTheDevSliceWriteReportRocAndEveryPair) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const std::vector<std::string> people = dev_people();
  ASSERT_EQ(people.size(), 10U);
  std::ofstream(temp_ / "pairs.txt") << ten_fold_pairs(people);
  const fs::path out = temp_ / "report";
  const auto result = run_eval(temp_, "--flip -j2");
  ASSERT_EQ(result.exit_code, 0) << result.output;

  const nlohmann::json report = nlohmann::json::parse(std::ifstream(out / "report.json"));
  EXPECT_EQ(report["images"].get<int>(), 20);  // 10 people x photo 1 and 2
  EXPECT_EQ(report["images_without_face"].get<int>(), 0);
  ASSERT_EQ(report["results"].size(), 2U);  // plain and flip
  for (const auto& r : report["results"]) {
    EXPECT_EQ(r["pairs"].get<int>(), 20);
    EXPECT_EQ(r["failed_pairs"].get<int>(), 0);
    EXPECT_EQ(r["fold_accuracy"].size(), 10U);
    EXPECT_GE(r["mean_accuracy"].get<double>(), 0.85) << r["variant"];
    EXPECT_LE(r["mean_accuracy"].get<double>(), 1.0);
  }
  for (const char* file : {"roc_plain.csv", "roc_plain.png", "roc_plain_flip.csv", "roc_plain_flip.png"}) {
    EXPECT_TRUE(fs::exists(out / file)) << file;
  }

  // Every pair's call agrees with its distance and fold threshold, and the correct column
  // reproduces the reported mean accuracy (each fold holds 2 pairs).
  const auto rows = read_csv(out / "pairs_plain.csv");
  ASSERT_EQ(rows.size(), 21U);
  EXPECT_EQ(rows[0].front(), "fold");
  int correct = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), 8U) << i;
    const bool same = rows[i][1] == "1";
    const double distance = std::stod(rows[i][4]);
    const double threshold = std::stod(rows[i][5]);
    EXPECT_EQ(rows[i][6] == "1", distance < threshold) << i;
    EXPECT_EQ(rows[i][7] == "1", (distance < threshold) == same) << i;
    EXPECT_EQ(same, (i - 1) % 2 == 0) << i;  // same pair first in every fold
    correct += rows[i][7] == "1";
  }
  EXPECT_NEAR(correct / 20.0, report["results"][0]["mean_accuracy"].get<double>(), 1e-9);
}

TEST_F(EvalCli, AMissingPhotoIsAFailedPairNotACrash) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  std::vector<std::string> people = dev_people();
  ASSERT_EQ(people.size(), 10U);
  std::string pairs = ten_fold_pairs(people);
  const std::string first_same = people[0] + "\t1\t2\n";
  pairs.replace(pairs.find(first_same), first_same.size(), people[0] + "\t1\t9\n");  // no photo 9
  std::ofstream(temp_ / "pairs.txt") << pairs;
  const fs::path out = temp_ / "report";
  const auto result = run_eval(temp_, "-j2");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json report = nlohmann::json::parse(std::ifstream(out / "report.json"));
  EXPECT_EQ(report["results"][0]["failed_pairs"].get<int>(), 1);
  ASSERT_EQ(report["failures"].size(), 1U);
  EXPECT_NE(report["failures"][0].get<std::string>().find(people[0] + "_0009.jpg"), std::string::npos);
  const auto rows = read_csv(out / "pairs_plain.csv");
  ASSERT_EQ(rows.size(), 21U);
  EXPECT_EQ(rows[1][4], "");   // no distance
  EXPECT_EQ(rows[1][7], "0");  // counted wrong
}

TEST_F(EvalCli, ATruncatedPairsFileIsAClearError) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("lfw_dev/lfw-deepfunneled");
  const std::vector<std::string> people = dev_people();
  ASSERT_GE(people.size(), 2U);
  std::ofstream(temp_ / "pairs.txt") << "10\t1\n" << people[0] << "\t1\t2\n";
  const auto result = run_eval(temp_, "");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("truncated at fold 1"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace siamface::test
