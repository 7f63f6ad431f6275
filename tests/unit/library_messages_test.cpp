// The library names its own options in its messages, never a CLI flag (issue 35); the CLI
// swaps in its flags through one table (tools/cli/cli_terms.hpp).
#include <gtest/gtest.h>

#include <string>

#include "../../tools/cli/cli_terms.hpp"
#include "siamface/engine.hpp"
#include "siamface/errors.hpp"

namespace siamface {
namespace {

TEST(LibraryMessages, MissingModelsNameTheLibraryOptionNotAFlag) {
  ModelOptions options;
  options.models_dir = "/nonexistent/siamface-models";
  try {
    (void)Engine::open(options);
    FAIL() << "opened a missing models folder";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(e.code(), ErrorCode::kModelMissing);
    EXPECT_NE(message.find("ModelOptions::models_dir"), std::string::npos) << message;
    EXPECT_EQ(message.find("--"), std::string::npos) << message;
    EXPECT_EQ(cli::in_cli_terms(message).find("ModelOptions::"), std::string::npos);
    EXPECT_NE(cli::in_cli_terms(message).find("--models / SIAMFACE_MODELS"), std::string::npos);
  }
}

TEST(LibraryMessages, CliTermsReplaceEveryOccurrenceAndLeaveOtherTextAlone) {
  EXPECT_EQ(cli::in_cli_terms("3 faces found (EnrollOptions::take_largest takes the largest)"),
            "3 faces found (use --largest to take the largest)");
  EXPECT_EQ(cli::in_cli_terms("ModelOptions::models_dir, ModelOptions::models_dir"), "--models, --models");
  EXPECT_EQ(cli::in_cli_terms("recognizer dlib, float weights (ModelOptions::dlib_weights float)"),
            "recognizer dlib, float weights (--dlib-weights float)");
  EXPECT_EQ(cli::in_cli_terms("no option named here"), "no option named here");
}

}  // namespace
}  // namespace siamface
