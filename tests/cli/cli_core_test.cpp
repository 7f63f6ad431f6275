// The siamface binary end to end: exit codes, JSON output and error messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;

const std::string kCli = SIAMFACE_CLI_PATH;

fs::path obama_dir() { return testdata_dir() / "face_recognition_ageitgey/tests/test_images"; }

using CliTest = TempDirTest;

TEST_F(CliTest, VerifySamePersonExitsZeroAndDifferentExitsOne) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const auto same = run_command(kCli + " verify " + shell_quote((obama_dir() / "obama.jpg").string()) + " " +
                                shell_quote((obama_dir() / "obama2.jpg").string()));
  EXPECT_EQ(same.exit_code, 0) << same.output;
  const auto line = nlohmann::json::parse(same.output.substr(same.output.find('{')));
  EXPECT_LT(line["distance"].get<double>(), 0.6);
  EXPECT_TRUE(line["same"].get<bool>());

  const auto different = run_command(kCli + " verify " + shell_quote((obama_dir() / "obama.jpg").string()) + " " +
                                     shell_quote((obama_dir() / "biden.jpg").string()));
  EXPECT_EQ(different.exit_code, 1) << different.output;
  EXPECT_NE(different.output.find("\"same\":false"), std::string::npos) << different.output;
}

// Issue 34: `verify group.jpg portrait.png` said "different" when the person was not the
// largest face of the group photo. Every pair is compared now: each of bbt1's four people is
// found, each in another face, and the JSON has every distance.
TEST_F(CliTest, VerifyFindsThePersonAnywhereInAGroupPhoto) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/bbt1.jpg");
  const fs::path images = testdata_dir() / "face-api.js/examples/images";
  std::set<int> faces_found;
  for (const char* portrait : {"raj/raj1.png", "leonard/leonard1.png", "howard/howard2.png", "sheldon/sheldon2.png"}) {
    const auto result = run_command(kCli + " verify " + shell_quote((images / "bbt1.jpg").string()) + " " +
                                    shell_quote((images / portrait).string()));
    EXPECT_EQ(result.exit_code, 0) << portrait << ": " << result.output;
    const auto line = nlohmann::json::parse(result.output.substr(result.output.find('{')));
    const std::size_t faces = line["a"]["faces_in_image"];
    EXPECT_EQ(faces, 4U) << result.output;
    ASSERT_EQ(line["distances"].size(), faces);
    EXPECT_EQ(line["distances"][0].size(), 1U);
    EXPECT_NEAR(line["distances"][line["a"]["face"].get<int>()][0].get<double>(), line["distance"].get<double>(), 1e-6);
    EXPECT_NE(result.output.find("compared every pair of 4 x 1 faces"), std::string::npos) << result.output;
    faces_found.insert(line["a"]["face"].get<int>());
  }
  EXPECT_EQ(faces_found.size(), 4U) << "each person is another face of the group photo";
}

TEST_F(CliTest, VerifyWithoutAFaceIsAnErrorNamingTheFile) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("dlib_examples/non_face/giraffe.jpg");
  const fs::path giraffe = testdata_dir() / "dlib_examples/non_face/giraffe.jpg";
  const auto result = run_command(kCli + " verify " + shell_quote(giraffe.string()) + " " + shell_quote(giraffe.string()));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("no face found in"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("giraffe.jpg"), std::string::npos) << result.output;
}

TEST_F(CliTest, DetectReportsBadFilesAndGoesOn) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  std::ofstream(temp_ / "notes.jpg") << "this is not an image";
  std::ofstream(temp_ / "empty.jpg");
  fs::copy_file(obama_dir() / "obama.jpg", temp_ / "obama.jpg");
  const auto result = run_command(kCli + " detect " + shell_quote(temp_.string()) + " --annotate " +
                                  shell_quote((temp_ / "annotated").string()));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  int lines = 0, errors = 0, faces = 0;
  std::istringstream in(result.output);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] != '{') continue;
    const auto json = nlohmann::json::parse(line);
    ++lines;
    if (json.contains("error")) ++errors;
    if (json.contains("faces")) faces += static_cast<int>(json["faces"].size());
  }
  EXPECT_EQ(lines, 3);
  EXPECT_EQ(errors, 2);
  EXPECT_EQ(faces, 1);
  EXPECT_TRUE(fs::exists(temp_ / "annotated" / "obama.jpg"));
}

TEST_F(CliTest, MissingModelDirectoryIsAClearError) {
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const auto result = run_command(kCli + " detect --models " + shell_quote((temp_ / "nowhere").string()) + " " +
                                  shell_quote((obama_dir() / "obama.jpg").string()));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("models directory not found"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("scripts/setup.sh"), std::string::npos) << result.output;
  // The CLI's flag, not the library's option name (tools/cli/cli_terms.hpp).
  EXPECT_NE(result.output.find("--models / SIAMFACE_MODELS"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("ModelOptions::"), std::string::npos) << result.output;
}

TEST_F(CliTest, ChangedModelFileIsRefusedByChecksumAndNamed) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const fs::path models = temp_ / "models";
  fs::copy(models_dir(), models, fs::copy_options::recursive);
  {
    std::fstream bin(models / "face_recognition_model.bin", std::ios::in | std::ios::out | std::ios::binary);
    bin.seekp(1000);
    bin.put('\x5a');
  }
  const auto result = run_command(kCli + " detect --models " + shell_quote(models.string()) + " " +
                                  shell_quote((obama_dir() / "obama.jpg").string()));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("face_recognition_model.bin"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("checksum"), std::string::npos) << result.output;
}

TEST_F(CliTest, BadArgumentsExitTwo) {
  EXPECT_EQ(run_command(kCli + " verify only_one.jpg").exit_code, 2);
  EXPECT_EQ(run_command(kCli + " detect x.jpg --detector nonsense").exit_code, 2);
  EXPECT_EQ(run_command(kCli + " verify a.jpg b.jpg --threshold 9").exit_code, 2);
  EXPECT_EQ(run_command(kCli + " frobnicate").exit_code, 2);
}

}  // namespace
}  // namespace siamface::test
