// --dlib-weights end to end (issue 31): a gallery enrolled with face-api's 8-bit dlib weights
// refuses float embeddings, `reindex --dlib-weights float` converts it, later commands follow the
// gallery's weights without the flag; `siamface models` lists dlib's .dat and the converted files
// with their licence and origin. Needs the models and the float files that scripts/setup.sh
// installs and converts: without them it skips with the reason, or fails under CI.
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

class DlibWeightsCli : public siamface::test::TempDirTest {
 protected:
  std::string cli(const std::string& args) { return std::string(SIAMFACE_CLI_PATH) + " " + args; }
  std::string photo(const std::string& name) {
    return shell_quote((siamface::test::testdata_dir() / "face_recognition_ageitgey/tests/test_images" / name).string());
  }
  std::string model_name(const std::string& gallery) {
    const auto info = run_command(cli("gallery info" + gallery));
    const auto json = nlohmann::json::parse(info.output.substr(0, info.output.find('\n')), nullptr, false);
    return json.is_discarded() ? info.output : json["model"]["name"].get<std::string>();
  }
};

#define REQUIRE_FLOAT_WEIGHTS()                                                                              \
  SIAMFACE_REQUIRE_PATH(siamface::test::models_dir() / "dlib_float_recognition_model.bin",                   \
                        "dlib's float weights converted by scripts/setup.sh (build/siamface-dlib-convert)")

TEST_F(DlibWeightsCli, GalleryRefusesTheOtherWeightsUntilReindexedThenFollowsThem) {
  SIAMFACE_REQUIRE_MODELS();
  REQUIRE_FLOAT_WEIGHTS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images");
  const std::string gallery = " --gallery " + shell_quote((temp_ / "g.db").string());
  ASSERT_EQ(run_command(cli("enroll --recognizer dlib --name obama " + photo("obama.jpg") + gallery)).exit_code, 0);
  ASSERT_EQ(run_command(cli("enroll --name biden " + photo("biden.jpg") + gallery)).exit_code, 0);
  EXPECT_EQ(model_name(gallery), "dlib_face_recognition_resnet_model_v1 (face-api port)");

  const auto mismatch = run_command(cli("identify " + photo("obama2.jpg") + gallery + " --dlib-weights float"));
  EXPECT_NE(mismatch.output.find("model_mismatch"), std::string::npos) << mismatch.output;
  EXPECT_NE(mismatch.output.find("(dlib float)"), std::string::npos) << mismatch.output;
  EXPECT_NE(mismatch.output.find("reindex"), std::string::npos) << mismatch.output;

  const auto reindex = run_command(cli("reindex --recognizer dlib --dlib-weights float" + gallery));
  ASSERT_EQ(reindex.exit_code, 0) << reindex.output;
  EXPECT_EQ(model_name(gallery), "dlib_face_recognition_resnet_model_v1 (dlib float)");

  // No flag: the gallery's weights (float), and names are right.
  const auto identify = run_command(cli("identify " + photo("obama2.jpg") + " " + photo("biden.jpg") + gallery));
  ASSERT_EQ(identify.exit_code, 0) << identify.output;
  EXPECT_NE(identify.output.find("\"name\":\"obama\""), std::string::npos) << identify.output;
  EXPECT_NE(identify.output.find("\"name\":\"biden\""), std::string::npos) << identify.output;
  EXPECT_EQ(identify.output.find("model_mismatch"), std::string::npos) << identify.output;
  // Asking for the quantised weights now is refused.
  const auto back = run_command(cli("identify " + photo("obama2.jpg") + gallery + " --dlib-weights quantised"));
  EXPECT_NE(back.output.find("model_mismatch"), std::string::npos) << back.output;

  // A bad value names the choices.
  const auto bad = run_command(cli("identify " + photo("obama2.jpg") + gallery + " --dlib-weights half"));
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("quantised"), std::string::npos) << bad.output;
}

TEST_F(DlibWeightsCli, ModelsListsTheDatAndTheConvertedFilesWithLicenceAndOrigin) {
  SIAMFACE_REQUIRE_MODELS();
  REQUIRE_FLOAT_WEIGHTS();
  const auto listed = run_command(cli("models --json"));
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("\"dlib_face_recognition_resnet_model_v1.dat\":\"ok\""), std::string::npos)
      << listed.output;
  EXPECT_NE(listed.output.find("\"dlib_float_recognition_model.bin\":\"ok\""), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("\"dlib_float_recognition_model-weights_manifest.json\":\"ok\""), std::string::npos)
      << listed.output;
  EXPECT_NE(listed.output.find("face_recognition_models==0.3.0"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("CC0"), std::string::npos) << listed.output;
  EXPECT_NE(listed.output.find("siamface-dlib-convert"), std::string::npos) << listed.output;

  // Missing: listed as such, and --dlib-weights float names the folder and the setup command.
  const auto empty = run_command(cli("models --json --models " + shell_quote(temp_.string())));
  EXPECT_NE(empty.output.find("\"dlib_face_recognition_resnet_model_v1.dat\":\"missing\""), std::string::npos)
      << empty.output;
  const auto embed = run_command(cli("embed --recognizer dlib --dlib-weights float --models " +
                                     shell_quote(temp_.string()) + " " + photo("obama.jpg")));
  EXPECT_EQ(embed.exit_code, 2) << embed.output;
  EXPECT_NE(embed.output.find(temp_.string()), std::string::npos) << embed.output;
  EXPECT_NE(embed.output.find("scripts/setup.sh"), std::string::npos) << embed.output;
}

}  // namespace
