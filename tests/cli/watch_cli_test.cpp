// siamface watch end to end: videos are generated here with Debian's ffmpeg from the face-api.js
// character crops (enrolled from other crops of the same people), then watched as a file, a
// truncated file and an HTTP stream served on loopback that drops once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/videoio.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_lines.hpp"
#include "common/run_command.hpp"
#include "common/test_env.hpp"

namespace fs = std::filesystem;
using siamface::test::shell_quote;
using siamface::test::json_lines;
using siamface::test::run_command;

namespace {

constexpr int kFps = 25;
constexpr int kWidth = 320;
constexpr int kHeight = 240;

struct Segment {
  std::string image;  // empty: a gap with no face
  double seconds = 2.0;
};

fs::path crops() { return siamface::test::testdata_dir() / "face-api.js" / "examples" / "images"; }
std::string crop(const std::string& person, int n) {
  return (crops() / person / (person + std::to_string(n) + ".png")).string();
}

bool have_ffmpeg() { return run_command("ffmpeg -version >/dev/null && ffprobe -version >/dev/null").exit_code == 0; }

// One clip per segment (the face pans and zooms in), concatenated, H.264 in MP4 with the index
// at the front (so a truncated copy still opens) or MPEG-TS.
void make_video(const fs::path& out, const std::vector<Segment>& segments) {
  std::ostringstream cmd, filter;
  cmd << "ffmpeg -y -v error";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Segment& s = segments[i];
    const int frames = static_cast<int>(s.seconds * kFps);
    if (s.image.empty()) {
      cmd << " -f lavfi -t " << s.seconds << " -i color=c=gray:s=" << kWidth << "x" << kHeight << ":r=" << kFps;
      filter << "[" << i << ":v]setsar=1,format=yuv420p[v" << i << "];";
    } else {
      cmd << " -loop 1 -framerate " << kFps << " -t " << s.seconds << " -i " << shell_quote(s.image);
      filter << "[" << i << ":v]scale=100:100,pad=" << kWidth << ":" << kHeight
             << ":(ow-iw)/2:(oh-ih)/2:color=gray,zoompan=z='1+0.5*in/" << frames
             << "':x='(iw-iw/zoom)/2+25*sin(in/9)':y='(ih-ih/zoom)/2+10*cos(in/11)':d=1:s=" << kWidth << "x"
             << kHeight << ":fps=" << kFps << ",trim=end_frame=" << frames << ",setsar=1,format=yuv420p[v" << i
             << "];";
    }
  }
  for (std::size_t i = 0; i < segments.size(); ++i) filter << "[v" << i << "]";
  filter << "concat=n=" << segments.size() << ":v=1:a=0[out]";
  cmd << " -filter_complex " << shell_quote(filter.str()) << " -map '[out]' -c:v libx264 -preset veryfast -g 25 -r "
      << kFps;
  if (out.extension() == ".mp4") cmd << " -movflags +faststart";
  cmd << " " << shell_quote(out.string());
  const auto result = run_command(cmd.str());
  ASSERT_EQ(result.exit_code, 0) << cmd.str() << "\n" << result.output;
}

// Names given to tracks (identified / identity_changed), with the time they were given.
std::vector<std::pair<std::string, double>> namings(const std::vector<nlohmann::json>& events) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& e : events) {
    if (!e.is_object() || !e.contains("event")) continue;
    const std::string kind = e["event"];
    if (kind == "identified" || kind == "identity_changed") out.emplace_back(e["name"], e["time_s"]);
  }
  return out;
}

const nlohmann::json* summary_of(const std::vector<nlohmann::json>& events) {
  for (const auto& e : events)
    if (e.is_object() && e.value("event", "") == "summary") return &e;
  return nullptr;
}

class WatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("siamface_watch_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  void SetUp() override {
    if (!have_ffmpeg()) GTEST_SKIP() << "ffmpeg/ffprobe not installed";
  }

  // sheldon, penny and leonard enrolled from crops that the videos do not use; raj is a stranger.
  static std::string gallery() {
    const fs::path path = dir_ / "gallery.db";
    if (fs::exists(path)) return path.string();
    const std::vector<std::pair<std::string, std::vector<int>>> people = {
        {"sheldon", {3, 4, 5}}, {"penny", {2, 3, 4, 5}}, {"leonard", {2, 3, 4, 5}}};
    // The crops are tight (no room around the face for the detector): pad them as the videos do.
    for (const auto& [person, numbers] : people) {
      std::string cmd = std::string(SIAMFACE_CLI_PATH) + " enroll --gallery " + shell_quote(path.string()) +
                        " --largest --name " + person;
      for (int n : numbers) {
        const fs::path padded = dir_ / "enroll" / (person + std::to_string(n) + ".png");
        fs::create_directories(padded.parent_path());
        const auto pad = run_command("ffmpeg -v error -y -i " + shell_quote(crop(person, n)) +
                                     " -vf scale=110:110,pad=240:240:65:65:color=gray " + shell_quote(padded.string()));
        EXPECT_EQ(pad.exit_code, 0) << pad.output;
        cmd += " " + shell_quote(padded.string());
      }
      const auto result = run_command(cmd);
      EXPECT_EQ(result.exit_code, 0) << cmd << "\n" << result.output;
    }
    return path.string();
  }

  static fs::path dir_;
};

fs::path WatchTest::dir_;

// Segments: sheldon 0-2 s, no face 2-3 s, penny 3-5 s, leonard 5-7 s, raj (stranger) 7-9 s.
const std::vector<Segment>& main_segments() {
  static const std::vector<Segment> segments = {
      {crop("sheldon", 2), 2.0}, {"", 1.0}, {crop("penny", 1), 2.0}, {crop("leonard", 1), 2.0}, {crop("raj", 1), 2.0}};
  return segments;
}
constexpr int kMainFrames = 9 * kFps;

TEST_F(WatchTest, NamesEachPersonInTheirSegmentAndWritesSameSizeVideo) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images");
  const fs::path video = dir_ / "people.mp4";
  make_video(video, main_segments());
  const fs::path annotated = dir_ / "annotated.mp4";
  const fs::path unknown = dir_ / "unknown";
  const std::string cmd = std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote(video.string()) + " --gallery " +
                          shell_quote(gallery()) + " --out " + shell_quote(annotated.string()) + " --unknown-dir " +
                          shell_quote(unknown.string());
  const auto result = run_command(cmd);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto events = json_lines(result.output);

  const auto names = namings(events);
  const struct {
    std::string name;
    double from, to;
  } expected[] = {{"sheldon", 0.0, 2.0}, {"penny", 3.0, 5.0}, {"leonard", 5.0, 7.0}};
  for (const auto& person : expected) {
    bool named_in_segment = false;
    for (const auto& [name, time] : names) {
      if (name != person.name) continue;
      if (time >= person.from && time < person.to) named_in_segment = true;
      // A name given outside its own segment is a wrong identification (0.3 s slack at cuts).
      EXPECT_TRUE(time >= person.from - 0.3 && time < person.to + 0.3)
          << person.name << " named at " << time << " s\n" << result.output;
    }
    EXPECT_TRUE(named_in_segment) << person.name << " never named in " << person.from << "-" << person.to << " s\n"
                                  << result.output;
  }
  bool stranger_unknown = false;
  for (const auto& [name, time] : names) {
    if (time >= 7.0 && name == "unknown") stranger_unknown = true;
    if (time >= 7.3) {
      EXPECT_EQ(name, "unknown") << "the stranger was named " << name << "\n" << result.output;
    }
  }
  EXPECT_TRUE(stranger_unknown) << result.output;
  for (const auto& [name, time] : names) EXPECT_FALSE(time >= 2.3 && time < 3.0) << "a face named in the gap";

  // Every track that appeared also ended, with its visible frame count.
  int appeared = 0, ended = 0;
  for (const auto& e : events) {
    if (!e.is_object()) continue;
    if (e.value("event", "") == "appeared") ++appeared;
    if (e.value("event", "") == "ended") {
      ++ended;
      EXPECT_GT(e["frames"].get<int>(), 0);
      EXPECT_LE(e["first_s"].get<double>(), e["last_s"].get<double>());
    }
  }
  EXPECT_GE(appeared, 4);
  EXPECT_EQ(appeared, ended);

  const nlohmann::json* summary = summary_of(events);
  ASSERT_NE(summary, nullptr) << result.output;
  EXPECT_EQ((*summary)["frames"].get<int>(), kMainFrames);
  EXPECT_LT((*summary)["detect_frames"].get<int>(), kMainFrames / 2) << "detection should not run on every frame";

  cv::VideoCapture in(video.string()), out(annotated.string());
  ASSERT_TRUE(out.isOpened());
  EXPECT_EQ(out.get(cv::CAP_PROP_FRAME_WIDTH), in.get(cv::CAP_PROP_FRAME_WIDTH));
  EXPECT_EQ(out.get(cv::CAP_PROP_FRAME_HEIGHT), in.get(cv::CAP_PROP_FRAME_HEIGHT));
  EXPECT_NEAR(out.get(cv::CAP_PROP_FPS), in.get(cv::CAP_PROP_FPS), 0.01);
  int out_frames = 0;
  for (cv::Mat frame; out.read(frame);) ++out_frames;
  EXPECT_EQ(out_frames, kMainFrames);

  // One best crop per unknown track (the stranger at least).
  int crops_written = 0;
  for (const auto& entry : fs::directory_iterator(unknown)) crops_written += entry.path().extension() == ".jpg";
  EXPECT_GE(crops_written, 1);
}

TEST_F(WatchTest, TruncatedFileFailsCleanlyAfterFlushingEvents) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images");
  const fs::path video = dir_ / "to_cut.mp4";
  make_video(video, {{crop("sheldon", 2), 2.0}, {crop("penny", 1), 2.0}, {crop("leonard", 1), 2.0}});
  const fs::path cut = dir_ / "cut.mp4";
  fs::copy_file(video, cut, fs::copy_options::overwrite_existing);
  fs::resize_file(cut, fs::file_size(video) / 2);
  const fs::path annotated = dir_ / "cut_annotated.avi";
  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote(cut.string()) +
                                  " --gallery " + shell_quote(gallery()) + " --out " + shell_quote(annotated.string()));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("truncated or corrupt"), std::string::npos) << result.output;
  const auto events = json_lines(result.output);
  bool sheldon = false;
  for (const auto& [name, time] : namings(events)) sheldon |= name == "sheldon";
  EXPECT_TRUE(sheldon) << "events before the cut must be flushed\n" << result.output;
  int ended = 0;
  for (const auto& e : events) ended += e.is_object() && e.value("event", "") == "ended";
  EXPECT_GE(ended, 1);
  const nlohmann::json* summary = summary_of(events);
  ASSERT_NE(summary, nullptr);
  const int frames = (*summary)["frames"];
  EXPECT_GT(frames, 10);
  EXPECT_LT(frames, 6 * kFps);
  // The annotated output holds every frame read before the cut.
  cv::VideoCapture out(annotated.string());
  int out_frames = 0;
  for (cv::Mat frame; out.read(frame);) ++out_frames;
  EXPECT_EQ(out_frames, frames);
}

TEST_F(WatchTest, LoopbackStreamIsReadAndItsDisconnectSurvived) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images");
  const fs::path first = dir_ / "stream1.ts";
  const fs::path second = dir_ / "stream2.ts";
  make_video(first, {{crop("sheldon", 2), 3.0}});
  make_video(second, {{crop("penny", 1), 3.0}});
  const int port = 20000 + ::getpid() % 20000;
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/live.ts";
  // Serve one clip in real time, drop the connection, come back a second later with another.
  const std::string serve = "ffmpeg -v error -re -i %s -c copy -f mpegts -listen 1 " + url;
  const auto serve_one = [&](const fs::path& clip) {
    std::string s = serve;
    return s.replace(s.find("%s"), 2, shell_quote(clip.string()));
  };
  const std::string server = "( " + serve_one(first) + "; sleep 1; " + serve_one(second) + " ) >/dev/null 2>&1 &";
  const std::string cmd = "( " + server + " sleep 0.5; " + std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote(url) +
                          " --gallery " + shell_quote(gallery()) + " --detect-every 3 --reconnect-for 5; rc=$?; wait; exit $rc )";
  const auto result = run_command(cmd);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("stream reopened"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("stream ended"), std::string::npos) << result.output;
  const auto events = json_lines(result.output);
  bool sheldon = false, penny = false;
  for (const auto& [name, time] : namings(events)) {
    sheldon |= name == "sheldon";
    penny |= name == "penny";
  }
  EXPECT_TRUE(sheldon) << "before the disconnect\n" << result.output;
  EXPECT_TRUE(penny) << "after the reconnect\n" << result.output;
  const nlohmann::json* summary = summary_of(events);
  ASSERT_NE(summary, nullptr) << result.output;
  EXPECT_GE((*summary)["reconnects"].get<int>(), 1);
  EXPECT_GT((*summary)["frames"].get<int>(), 10);
}

TEST_F(WatchTest, ShowWithoutDisplayIsAClearError) {
  const auto result = run_command("env -u DISPLAY -u WAYLAND_DISPLAY " + std::string(SIAMFACE_CLI_PATH) +
                                  " watch nothing.mp4 --show");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("DISPLAY"), std::string::npos) << result.output;
}

TEST_F(WatchTest, MissingOrBrokenFileIsAClearError) {
  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote((dir_ / "absent.mp4").string()));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("absent.mp4"), std::string::npos) << result.output;

  const fs::path garbage = dir_ / "garbage.mp4";
  std::ofstream(garbage) << "this is not a video";
  const auto broken = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote(garbage.string()));
  EXPECT_EQ(broken.exit_code, 2) << broken.output;
  EXPECT_NE(broken.output.find("cannot open file"), std::string::npos) << broken.output;
  EXPECT_NE(broken.output.find("garbage.mp4"), std::string::npos) << broken.output;
}

}  // namespace

namespace {

// Issue 20: --keep-unknown on a gallery nobody is enrolled in (it does not exist yet) keeps one
// face per unknown track, which `siamface cluster` then groups by person.
TEST_F(WatchTest, KeepUnknownOnAnEmptyGalleryKeepsOneFacePerTrack) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images");
  const fs::path video = dir_ / "unknowns.mp4";
  make_video(video, {{crop("raj", 1), 2.0}, {"", 1.0}, {crop("penny", 1), 2.0}, {"", 1.0}, {crop("raj", 2), 2.0}});
  const fs::path empty = dir_ / "empty_gallery.db";
  fs::remove(empty);
  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote(video.string()) +
                                  " --keep-unknown --gallery " + shell_quote(empty.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output.find("is empty"), std::string::npos) << "an empty gallery is expected here\n" << result.output;
  const auto events = json_lines(result.output);
  int ended = 0, kept = 0;
  for (const auto& e : events) {
    if (!e.is_object() || e.value("event", "") != "ended") continue;
    ++ended;
    kept += e.value("unknown_kept", 0);
  }
  EXPECT_GE(ended, 3) << result.output;
  EXPECT_GE(kept, 3) << result.output;
  const auto listed = run_command(std::string(SIAMFACE_CLI_PATH) + " unknown list --json --gallery " + shell_quote(empty.string()));
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  const auto faces = json_lines(listed.output);
  EXPECT_EQ(static_cast<int>(faces.size()), kept);
  for (const auto& f : faces) EXPECT_NE(f["source"].get<std::string>().find("#track"), std::string::npos) << f.dump();
  // raj's two tracks cluster together, penny's alone.
  const auto clustered = run_command(std::string(SIAMFACE_CLI_PATH) + " cluster --json --gallery " + shell_quote(empty.string()));
  ASSERT_EQ(clustered.exit_code, 0) << clustered.output;
  const auto clusters = json_lines(clustered.output);
  EXPECT_GE(clusters.size(), 2U) << clustered.output;
  EXPECT_LT(clusters.size(), static_cast<std::size_t>(kept)) << clustered.output;
}

}  // namespace

namespace {

// Issue 34: --out wrote MPEG-4 Part 2 into .mp4, which browsers do not play. Where the FFmpeg
// that OpenCV links has an H.264 encoder (Debian's ffmpeg has libx264) the file is H.264; the
// run says which codec it used, and ffprobe agrees. Its missing folder is created.
TEST_F(WatchTest, OutIsH264WhereTheEncoderHasItAndSaysWhichCodec) {
  SIAMFACE_REQUIRE_MODELS();
  SIAMFACE_REQUIRE_TESTDATA("face-api.js/examples/images");
  const fs::path video = dir_ / "short.mp4";
  make_video(video, {{crop("penny", 1), 1.0}});
  const fs::path annotated = dir_ / "new_folder" / "below" / "annotated.mp4";
  fs::remove_all(dir_ / "new_folder");
  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote(video.string()) +
                                  " --gallery " + shell_quote(gallery()) + " --out " + shell_quote(annotated.string()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  ASSERT_TRUE(fs::exists(annotated)) << result.output;
  const auto events = json_lines(result.output);
  const nlohmann::json* summary = summary_of(events);
  ASSERT_NE(summary, nullptr) << result.output;
  const std::string codec = (*summary)["codec"];
  EXPECT_NE(result.output.find("writing " + annotated.string() + " (" + codec + ")"), std::string::npos) << result.output;

  const auto probe = run_command("ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of "
                                 "default=noprint_wrappers=1:nokey=1 " + shell_quote(annotated.string()));
  ASSERT_EQ(probe.exit_code, 0) << probe.output;
  EXPECT_EQ(probe.output, codec + "\n");
  const bool have_h264_encoder = run_command("ffmpeg -hide_banner -encoders 2>/dev/null | grep -q ' libx264 '").exit_code == 0;
  if (have_h264_encoder) {
    EXPECT_EQ(codec, "h264") << result.output;
  } else {
    EXPECT_EQ(codec, "mpeg4") << result.output;
  }
}

// --out into a place that cannot hold the file said only "cannot write video": now it fails
// before the models load and says why.
TEST_F(WatchTest, OutWhereNoFolderCanBeMadeSaysWhy) {
  const fs::path blocker = dir_ / "a_file";
  std::ofstream(blocker) << "not a folder";
  const fs::path out = blocker / "annotated.mp4";
  const auto result = run_command(std::string(SIAMFACE_CLI_PATH) + " watch " + shell_quote((dir_ / "absent.mp4").string()) +
                                  " --out " + shell_quote(out.string()));
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("cannot write video " + out.string() + ": cannot create its folder " + blocker.string()),
            std::string::npos)
      << result.output;
  EXPECT_NE(result.output.find("Not a directory"), std::string::npos) << result.output;
}

}  // namespace
