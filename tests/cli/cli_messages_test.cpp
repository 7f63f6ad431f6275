// Issue 34, items 7, 8 and 9: what the CLI says and writes when the user slips: a mistyped
// subcommand, two inputs with one file name under --annotate, the CSV's header row, implausible
// thresholds, and how long `embed`'s embeddings are.
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

// 9 photos in, 8 files out: two inputs with one file name in different folders overwrote each
// other. Every command with --annotate keeps the inputs' paths below their common folder.
TEST_F(CliMessages, AnnotateWritesOneFilePerInputEvenWhenNamesRepeat) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const fs::path photos = temp_ / "photos";
  for (const char* folder : {"ada", "bob", "bob/old"}) fs::create_directories(photos / folder);
  fs::copy_file(obama_dir() / "obama.jpg", photos / "ada" / "1.jpg");
  fs::copy_file(obama_dir() / "obama2.jpg", photos / "bob" / "1.jpg");
  fs::copy_file(obama_dir() / "obama3.jpg", photos / "bob" / "old" / "1.jpg");
  const std::string gallery = (temp_ / "gallery.db").string();
  ASSERT_EQ(run_command(kCli + " gallery set-threshold 0.6 --gallery " + shell_quote(gallery)).exit_code, 0);

  for (const std::string& command : std::vector<std::string>{"detect", "identify --gallery " + shell_quote(gallery)}) {
    const fs::path out = temp_ / ("out_" + command.substr(0, command.find(' ')));
    // A folder, and a file of it given again on its own: four inputs, four files.
    const auto result = run_command(kCli + " " + command + " " + shell_quote(photos.string()) + " " +
                                    shell_quote((photos / "bob" / "1.jpg").string()) + " --annotate " +
                                    shell_quote(out.string()));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto lines = json_lines(result.output);
    ASSERT_EQ(lines.size(), 4U) << result.output;
    std::set<std::string> written;
    for (const auto& line : lines) {
      ASSERT_TRUE(line.contains("annotated")) << line.dump();
      const std::string path = line["annotated"];
      EXPECT_TRUE(fs::exists(path)) << path;
      written.insert(path);
    }
    EXPECT_EQ(written.size(), 4U) << result.output;
    EXPECT_TRUE(fs::exists(out / "ada" / "1.jpg")) << result.output;
    EXPECT_TRUE(fs::exists(out / "bob" / "1.jpg")) << result.output;
    EXPECT_TRUE(fs::exists(out / "bob" / "old" / "1.jpg")) << result.output;
    EXPECT_TRUE(fs::exists(out / "bob" / "1-2.jpg")) << result.output;
    int files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(out)) files += entry.is_regular_file();
    EXPECT_EQ(files, 4) << command;
  }
}

TEST_F(CliMessages, CsvStartsWithAHeaderRow) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const std::string gallery = (temp_ / "gallery.db").string();
  ASSERT_EQ(run_command(kCli + " gallery set-threshold 0.6 --gallery " + shell_quote(gallery)).exit_code, 0);
  const auto result = run_command(kCli + " identify --csv " + shell_quote((obama_dir() / "obama.jpg").string()) +
                                  " --gallery " + shell_quote(gallery));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::vector<std::string> csv;  // stdout's lines (the output also holds stderr's "siamface: ..." notes)
  std::istringstream lines(result.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("siamface", 0) != 0) csv.push_back(line);
  }
  ASSERT_EQ(csv.size(), 2U) << result.output;
  const std::string& header = csv[0];
  const std::string& row = csv[1];
  EXPECT_EQ(header.rfind("file,name,distance,top,right,bottom,left", 0), 0U) << result.output;
  EXPECT_EQ(std::count(header.begin(), header.end(), ','), std::count(row.begin(), row.end(), ','))
      << "the header names every column\n" << result.output;
  EXPECT_NE(row.find("obama.jpg,unknown,"), std::string::npos) << result.output;
}

// `verify --threshold 3` was accepted without a word; distances between strangers stay near 1.
TEST_F(CliMessages, ImplausibleThresholdsGetAWarningThatSaysWhy) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const std::string pair =
      shell_quote((obama_dir() / "obama.jpg").string()) + " " + shell_quote((obama_dir() / "biden.jpg").string());
  for (const std::string flags : {std::string("--threshold 3"), std::string("--threshold 3 --allow-looser-threshold")}) {
    const auto loose = run_command(kCli + " verify " + pair + " " + flags);
    EXPECT_NE(loose.output.find("warning: --threshold 3 is outside the useful range"), std::string::npos)
        << loose.output;
    EXPECT_NE(loose.output.find("nearly every stranger would be named"), std::string::npos) << loose.output;
  }
  const auto strict = run_command(kCli + " verify " + pair + " --threshold 0.1");
  EXPECT_EQ(strict.exit_code, 1) << strict.output;
  EXPECT_NE(strict.output.find("warning: --threshold 0.1 is outside"), std::string::npos) << strict.output;
  EXPECT_NE(strict.output.find("hardly anyone would be named"), std::string::npos) << strict.output;

  const auto sane = run_command(kCli + " verify " + pair + " --threshold 0.5");
  EXPECT_EQ(sane.exit_code, 1) << sane.output;
  EXPECT_EQ(sane.output.find("warning"), std::string::npos) << sane.output;

  const std::string gallery = (temp_ / "gallery.db").string();
  const auto saved = run_command(kCli + " gallery set-threshold 1.5 --gallery " + shell_quote(gallery));
  EXPECT_EQ(saved.exit_code, 0) << saved.output;
  EXPECT_NE(saved.output.find("warning: threshold 1.5 is outside"), std::string::npos) << saved.output;
}

// README, --help and the HTTP docs said 128 values per face; the default recognizer gives 640.
TEST_F(CliMessages, EmbedSaysWhichRecognizerAndHowManyValues) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face_recognition_ageitgey/tests/test_images/obama.jpg");
  const std::string photo = shell_quote((obama_dir() / "obama.jpg").string());
  for (const auto& [flags, recognizer, size] : std::vector<std::tuple<std::string, std::string, std::size_t>>{
           {"", "fused", 640}, {"--recognizer dlib", "dlib", 128}, {"--recognizer mfn", "mfn", 512}}) {
    const auto result = run_command(kCli + " embed " + photo + " " + flags);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto lines = json_lines(result.output);
    ASSERT_EQ(lines.size(), 1U) << result.output;
    EXPECT_EQ(lines[0]["recognizer"], recognizer) << result.output;
    EXPECT_EQ(lines[0]["dimensions"], size) << result.output;
    ASSERT_EQ(lines[0]["faces"].size(), 1U) << result.output;
    EXPECT_EQ(lines[0]["faces"][0]["embedding"].size(), size) << flags;
  }
  const auto help = run_command(kCli + " embed --help");
  EXPECT_NE(help.output.find("640 with the default fused"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("128 with --recognizer dlib"), std::string::npos) << help.output;
}

}  // namespace
}  // namespace siamface::test
