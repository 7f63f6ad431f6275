// siamface analyze (issue 32) through the binary, on real photos: the JSON shape, the
// attribute choice, --annotate, and bad inputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/json_lines.hpp"
#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;

const std::string kCli = SIAMFACE_CLI_PATH;

fs::path photos_dir() { return testdata_dir() / "face_recognition_ageitgey/tests/test_images"; }

class AnalyzeCli : public TempDirTest {};

#define REQUIRE_ANALYSIS()                                                                       \
  SIAMFACE_REQUIRE_MODELS();                                                                     \
  SIAMFACE_REQUIRE_PATH(models_dir() / "faceplugin_fr_liveness.onnx", "the analysis models"); \
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg")

TEST_F(AnalyzeCli, PrintsEveryAttributeInIdentifysShape) {
  REQUIRE_ANALYSIS();
  const auto result = run_command(kCli + " analyze " + shell_quote((photos_dir() / "obama.jpg").string()) + " " +
                                  shell_quote((photos_dir() / "biden.jpg").string()) + " --annotate " +
                                  shell_quote((temp_ / "annotated").string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto lines = json_lines(result.output);
  ASSERT_EQ(lines.size(), 2U) << result.output;
  for (const auto& line : lines) {
    ASSERT_TRUE(line.contains("file")) << line;
    ASSERT_EQ(line["faces"].size(), 1U) << line;
    const auto& face = line["faces"][0];
    EXPECT_TRUE(face.contains("box"));
    EXPECT_TRUE(face["age"].is_number_integer()) << face;
    EXPECT_EQ(face["gender"]["value"], "male") << face;
    EXPECT_GE(face["gender"]["probability"].get<double>(), 0.5);
    EXPECT_EQ(face["expression"]["scores"].size(), 7U);
    EXPECT_TRUE(face["expression"]["scores"].contains(face["expression"]["value"].get<std::string>()));
    const std::string verdict = face["liveness"]["value"];
    EXPECT_TRUE(verdict == "live" || verdict == "spoof") << verdict;
    EXPECT_EQ(verdict == "live", face["liveness"]["score"].get<double>() >= face["liveness"]["threshold"].get<double>());
    for (const char* angle : {"pitch", "roll", "yaw"}) EXPECT_TRUE(face["pose"][angle].is_number()) << face;
    EXPECT_FALSE(face.contains("landmarks"));
    ASSERT_TRUE(line.contains("annotated")) << line;
    EXPECT_GT(fs::file_size(line["annotated"].get<std::string>()), 1000U);
  }
}

TEST_F(AnalyzeCli, ComputesOnlyTheAttributesAsked) {
  REQUIRE_ANALYSIS();
  const auto result = run_command(kCli + " analyze " + shell_quote((photos_dir() / "obama.jpg").string()) +
                                  " --attributes age,liveness --liveness-threshold 0 --print-landmarks");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto lines = json_lines(result.output);
  ASSERT_EQ(lines.size(), 1U);
  const auto& face = lines[0]["faces"].at(0);
  EXPECT_TRUE(face.contains("age"));
  EXPECT_TRUE(face.contains("liveness"));
  EXPECT_EQ(face["liveness"]["value"], "live");  // threshold 0: every face is live
  EXPECT_FALSE(face.contains("gender") || face.contains("expression") || face.contains("pose")) << face;
  EXPECT_EQ(face["landmarks"].size(), 68U);
}

TEST_F(AnalyzeCli, BadInputsGetClearErrors) {
  REQUIRE_ANALYSIS();
  const auto unknown = run_command(kCli + " analyze " + shell_quote((photos_dir() / "obama.jpg").string()) +
                                   " --attributes age,mask");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.output.find("'mask'"), std::string::npos) << unknown.output;
  EXPECT_NE(unknown.output.find("liveness"), std::string::npos) << unknown.output;

  const auto threshold = run_command(kCli + " analyze " + shell_quote((photos_dir() / "obama.jpg").string()) +
                                     " --liveness-threshold 2");
  EXPECT_EQ(threshold.exit_code, 2) << threshold.output;

  std::ofstream(temp_ / "broken.jpg") << "not a jpeg";
  const auto broken = run_command(kCli + " analyze " + shell_quote((temp_ / "broken.jpg").string()) + " " +
                                  shell_quote((photos_dir() / "obama.jpg").string()) + " " +
                                  shell_quote((temp_ / "missing.jpg").string()));
  EXPECT_EQ(broken.exit_code, 2);
  const auto lines = json_lines(broken.output);
  int errors = 0, analysed = 0;
  for (const auto& line : lines) {
    if (line.contains("error")) ++errors;
    if (line.contains("faces")) ++analysed;
  }
  EXPECT_EQ(errors, 2) << broken.output;
  EXPECT_EQ(analysed, 1) << broken.output;  // one bad file never stops the run
}

TEST_F(AnalyzeCli, ModelsListsTheAnalysisModelsWithOriginAndAccuracy) {
  REQUIRE_ANALYSIS();
  const auto listed = run_command(kCli + " models --json");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  for (const char* file : {"faceplugin_fr_liveness.onnx", "age_gender_model.bin", "face_expression_model.bin"}) {
    EXPECT_NE(listed.output.find("\"" + std::string(file) + "\":\"ok\""), std::string::npos) << file << listed.output;
  }
  EXPECT_NE(listed.output.find("provenance unknown"), std::string::npos) << "the liveness net's origin must be said";
  EXPECT_NE(listed.output.find("4.54 years"), std::string::npos) << "face-api's published age error";
}

}  // namespace
}  // namespace siamface::test
