// Inputs of the watch tests: the face-api.js character crops, galleries enrolled from padded
// crops through the CLI, and short clips made with Debian's ffmpeg (each person for a few
// seconds on grey, then a second of grey).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/run_command.hpp"
#include "common/test_env.hpp"

namespace siamface::test {

inline std::filesystem::path face_api_crop(const std::string& person, int n) {
  return testdata_dir() / "face-api.js" / "examples" / "images" / person / (person + std::to_string(n) + ".png");
}

// ffmpeg is needed: skipped without it, a failure under CI.
#define SIAMFACE_REQUIRE_FFMPEG()                                                      \
  do {                                                                                 \
    if (siamface::test::run_command("ffmpeg -version").exit_code != 0) {               \
      if (siamface::test::data_required()) FAIL() << "ffmpeg not installed";           \
      GTEST_SKIP() << "ffmpeg not installed";                                          \
    }                                                                                  \
  } while (false)

// Enrols each person from their crops `numbers` into `gallery` with `siamface enroll`. The crops
// are tight (no room around the face for the detector): each is padded on grey first, in `dir`.
inline void enroll_padded_crops(const std::filesystem::path& gallery, const std::filesystem::path& dir,
                                const std::vector<std::pair<std::string, std::vector<int>>>& people) {
  for (const auto& [person, numbers] : people) {
    std::string enroll = std::string(SIAMFACE_CLI_PATH) + " enroll --largest --name " + person + " --gallery " +
                         shell_quote(gallery.string());
    for (int n : numbers) {
      const std::filesystem::path padded = dir / (person + std::to_string(n) + ".png");
      const auto pad = run_command("ffmpeg -v error -y -i " + shell_quote(face_api_crop(person, n).string()) +
                                   " -vf scale=110:110,pad=240:240:65:65:color=gray " + shell_quote(padded.string()));
      ASSERT_EQ(pad.exit_code, 0) << pad.output;
      enroll += " " + shell_quote(padded.string());
    }
    const auto enrolled = run_command(enroll);
    ASSERT_EQ(enrolled.exit_code, 0) << enrolled.output;
  }
}

// A 320x240 H.264 clip at 25 fps: each crop (person, number) for `seconds`, a 100 px face in the
// middle, then 1 s of grey, in turn.
inline void make_face_clip(const std::filesystem::path& out, const std::vector<std::pair<std::string, int>>& crops,
                           int seconds = 2) {
  std::string inputs, filter, concat;
  int index = 0;
  for (const auto& [person, n] : crops) {
    const std::string face = std::to_string(index), gap = std::to_string(index + 1);
    inputs += " -loop 1 -framerate 25 -t " + std::to_string(seconds) + " -i " +
              shell_quote(face_api_crop(person, n).string()) + " -f lavfi -t 1 -i color=c=gray:s=320x240:r=25";
    filter += "[" + face + ":v]scale=100:100,pad=320:240:110:70:color=gray,setsar=1,format=yuv420p[v" + face + "];[" +
              gap + ":v]setsar=1,format=yuv420p[v" + gap + "];";
    concat += "[v" + face + "][v" + gap + "]";
    index += 2;
  }
  const auto made = run_command("ffmpeg -v error -y" + inputs + " -filter_complex " +
                                shell_quote(filter + concat + "concat=n=" + std::to_string(index) + ":v=1:a=0[out]") +
                                " -map '[out]' -c:v libx264 -preset veryfast " + shell_quote(out.string()));
  ASSERT_EQ(made.exit_code, 0) << made.output;
}

// A watch test's own temporary folder, after what every watch test needs: the models, the
// crops and ffmpeg (skipped without them, failing under CI). MQTT tests check the broker first.
class WatchInputsTest : public ::testing::Test {
 protected:
  explicit WatchInputsTest(std::string name) : name_(std::move(name)) {}
  void SetUp() override {
    SIAMFACE_REQUIRE_MODELS();
    SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images/sheldon");
    SIAMFACE_REQUIRE_FFMPEG();
    dir_ = std::filesystem::temp_directory_path() / ("siamface_" + name_ + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::filesystem::path dir_;

 private:
  std::string name_;
};

}  // namespace siamface::test
