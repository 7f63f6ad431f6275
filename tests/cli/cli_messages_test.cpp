// Issue 34, item 8: what the CLI says when the user slips: a mistyped subcommand.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "common/json_lines.hpp"
#include "common/run_command.hpp"
#include "common/temp_dir_test.hpp"
#include "common/test_env.hpp"

namespace siamface::test {
namespace {

namespace fs = std::filesystem;

const std::string kCli = SIAMFACE_CLI_PATH;

fs::path obama_dir() { return testdata_dir() / "face_recognition_ageitgey/tests/test_images"; }

using CliMessages = TempDirTest;

// "siamface identfy photos/" said "A subcommand is required".
TEST_F(CliMessages, AMistypedCommandIsNamedWithTheNearestOne) {
  const auto typo = run_command(kCli + " identfy photos/");
  EXPECT_EQ(typo.exit_code, 2) << typo.output;
  EXPECT_NE(typo.output.find("unknown command 'identfy'"), std::string::npos) << typo.output;
  EXPECT_NE(typo.output.find("did you mean 'identify'?"), std::string::npos) << typo.output;
  EXPECT_EQ(typo.output.find("A subcommand is required"), std::string::npos) << typo.output;

  const auto swapped = run_command(kCli + " ernoll people/");
  EXPECT_EQ(swapped.exit_code, 2);
  EXPECT_NE(swapped.output.find("did you mean 'enroll'?"), std::string::npos) << swapped.output;

  const auto nested = run_command(kCli + " gallery inf");
  EXPECT_EQ(nested.exit_code, 2);
  EXPECT_NE(nested.output.find("siamface gallery: unknown command 'inf'; did you mean 'info'?"), std::string::npos)
      << nested.output;

  // Nothing near: no guess, but the list of commands.
  const auto far = run_command(kCli + " xyzzy");
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_NE(far.output.find("unknown command 'xyzzy'"), std::string::npos) << far.output;
  EXPECT_EQ(far.output.find("did you mean"), std::string::npos) << far.output;
  EXPECT_NE(far.output.find("identify"), std::string::npos) << far.output;

  // Real commands and options are untouched.
  EXPECT_EQ(run_command(kCli + " --version").exit_code, 0);
  EXPECT_EQ(run_command(kCli + " gallery info --help").exit_code, 0);
}

}  // namespace
}  // namespace siamface::test
