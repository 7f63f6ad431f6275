// The recognizer choice end to end (issue 16): a dlib gallery converted to the fused
// recognizer by `reindex`, then used without --recognizer (the gallery says which), and
// `siamface models` naming every model's licence and state.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"

namespace {

namespace fs = std::filesystem;
using siamface::test::run_command;
using siamface::test::shell_quote;

class RecognizerCli : public siamface::test::TempDirTest {
 protected:
  std::string cli(const std::string& args) { return std::string(SIAMFACE_CLI_PATH) + " " + args; }
  std::string photo(const std::string& name) {
    return shell_quote((siamface::test::testdata_dir() / "face_recognition_ageitgey/tests/test_images" / name).string());
  }
};

TEST_F(RecognizerCli, ReindexToFusedThenEveryCommandUsesTheGallerysRecognizer) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images");
  const std::string gallery = " --gallery " + shell_quote((temp_ / "g.db").string());
  ASSERT_EQ(run_command(cli("enroll --recognizer dlib --name obama " + photo("obama.jpg") + gallery)).exit_code, 0);
  ASSERT_EQ(run_command(cli("enroll --name biden " + photo("biden.jpg") + gallery)).exit_code, 0);

  // Asking for another recognizer than the gallery's is refused with the way out named.
  const auto mismatch = run_command(cli("identify " + photo("obama2.jpg") + gallery + " --recognizer fused"));
  EXPECT_NE(mismatch.output.find("reindex"), std::string::npos) << mismatch.output;

  const auto reindex = run_command(cli("reindex --recognizer fused" + gallery));
  ASSERT_EQ(reindex.exit_code, 0) << reindex.output;
  const auto info = run_command(cli("gallery info" + gallery));
  const nlohmann::json gallery_info = nlohmann::json::parse(info.output.substr(0, info.output.find('\n')), nullptr, false);
  ASSERT_FALSE(gallery_info.is_discarded()) << info.output;
  EXPECT_EQ(gallery_info["model"]["name"].get<std::string>().rfind("fused: ", 0), 0U) << info.output;
  EXPECT_EQ(gallery_info["faces"], 2);

  // No --recognizer: the gallery's (fused) is used, and names are right.
  const auto identify = run_command(cli("identify " + photo("obama2.jpg") + " " + photo("biden.jpg") + gallery));
  ASSERT_EQ(identify.exit_code, 0) << identify.output;
  EXPECT_NE(identify.output.find("\"name\":\"obama\""), std::string::npos) << identify.output;
  EXPECT_NE(identify.output.find("\"name\":\"biden\""), std::string::npos) << identify.output;
  EXPECT_EQ(identify.output.find("model_mismatch"), std::string::npos) << identify.output;
  // Enrolling more into it also follows the gallery.
  const auto enroll = run_command(cli("enroll --name obama " + photo("obama3.jpg") + gallery));
  EXPECT_EQ(enroll.exit_code, 0) << enroll.output;
}

TEST_F(RecognizerCli, ModelsListsLicenceOriginAndState) {
  SIAMFACE_REQUIRE_MODELS();
  const auto listed = run_command(cli("models --json"));
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("faceplugin-face-recognition-js@0.0.1"), std::string::npos);
  EXPECT_NE(listed.output.find("does not say"), std::string::npos) << "the unknown provenance must be said";
  EXPECT_NE(listed.output.find("\"faceplugin_fr_feature.onnx\":\"ok\""), std::string::npos) << listed.output;
  // An empty models folder: every file missing, still a listing (exit 0).
  const auto empty = run_command(cli("models --json --models " + shell_quote(temp_.string())));
  EXPECT_EQ(empty.exit_code, 0);
  EXPECT_NE(empty.output.find("\"faceplugin_fr_feature.onnx\":\"missing\""), std::string::npos) << empty.output;
  EXPECT_EQ(empty.output.find("\":\"ok\""), std::string::npos) << empty.output;
  // The text listing names the inference engine: oneDNN, which setup installs, unless told otherwise.
  const auto text = run_command(cli("models"));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("networks run on: oneDNN"), std::string::npos) << text.output;
  const auto opencv = run_command("SIAMFACE_RECOGNITION_BACKEND=opencv " + cli("models"));
  EXPECT_NE(opencv.output.find("networks run on: OpenCV DNN"), std::string::npos) << opencv.output;
  EXPECT_NE(text.output.find("networks run on: oneDNN ("), std::string::npos) << "f32 unless asked: " << text.output;
  const auto bf16 = run_command("SIAMFACE_RECOGNITION_BACKEND=onednn-bf16 " + cli("models"));
  EXPECT_NE(bf16.output.find("networks run on: oneDNN, the ResNet and the SSD in bf16"), std::string::npos)
      << bf16.output;
  const auto wrong = run_command("SIAMFACE_RECOGNITION_BACKEND=gpu " + cli("models"));
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.output.find("SIAMFACE_RECOGNITION_BACKEND"), std::string::npos) << wrong.output;
}

}  // namespace
