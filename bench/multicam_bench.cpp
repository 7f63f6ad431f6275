// Several cameras in one `siamface watch` process against one `watch` process per camera, on the
// same generated H.264 clips (720p and 1080p, 1-4 moving faces, a different group of people per
// camera): frames per second per camera, latency from a frame's read to its events, peak
// resident memory, and whether every camera names the people its single-camera run names.
// Decoding is included (files read as fast as they decode). Medians over --repeats runs.
//
//   build/bench/multicam_bench [--cameras 8] [--frames 150] [--detect-every 5] [--repeats 3]
//                              [--sizes 720,1080] [--faces 1,4] [--cli build/siamface] [--testdata DIR]
//
// docs/speed.md, "Several cameras in one process", has the figures and what limits them.
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::vector<std::string> kPeople = {"sheldon", "penny", "leonard", "raj", "amy", "bernadette", "howard", "stuart"};

fs::path video_crop(const fs::path& crops, const std::string& person) {
  for (int n : {1, 2}) {
    const fs::path file = crops / person / (person + std::to_string(n) + ".png");
    if (fs::exists(file)) return file;
  }
  throw std::runtime_error("no crop 1 or 2 of " + person + " in " + crops.string());
}

// Faces pan on a grey background and zoom in by half over the clip; H.264 (libx264) as cameras send.
void make_clip(const fs::path& path, const fs::path& crops, const std::vector<std::string>& people, int width,
               int height, int frames) {
  cv::VideoWriter writer(path.string(), cv::CAP_FFMPEG, cv::VideoWriter::fourcc('a', 'v', 'c', '1'), 25,
                         cv::Size(width, height));
  if (!writer.isOpened()) throw std::runtime_error("cannot write H.264 to " + path.string() + " (libx264 missing?)");
  std::vector<cv::Mat> pictures;
  for (const std::string& person : people) pictures.push_back(cv::imread(video_crop(crops, person).string()));
  const int columns = people.size() == 1 ? 1 : 2;
  const int rows = people.size() <= 2 ? 1 : 2;
  for (int f = 0; f < frames; ++f) {
    cv::Mat frame(height, width, CV_8UC3, cv::Scalar(128, 128, 128));
    const double zoom = 1.0 + 0.5 * f / frames;
    for (std::size_t i = 0; i < pictures.size(); ++i) {
      const int side = static_cast<int>(height / (2 * 2.2) * zoom);
      cv::Mat scaled;
      cv::resize(pictures[i], scaled, cv::Size(side, side));
      const int cx = width * (2 * static_cast<int>(i % columns) + 1) / (2 * columns) +
                     static_cast<int>(width * 0.05 * std::sin(f / 9.0));
      const int cy = height * (2 * static_cast<int>(i / columns) + 1) / (2 * rows) +
                     static_cast<int>(height * 0.03 * std::cos(f / 11.0));
      const cv::Rect where(cx - side / 2, cy - side / 2, side, side);
      const cv::Rect inside = where & cv::Rect(0, 0, width, height);
      scaled(cv::Rect(inside.x - where.x, inside.y - where.y, inside.width, inside.height)).copyTo(frame(inside));
    }
    writer.write(frame);
  }
}

struct Process {
  pid_t pid = -1;
  fs::path out;
};

Process start(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err) {
  Process p;
  p.out = out;
  p.pid = ::fork();
  if (p.pid == 0) {
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(o, STDOUT_FILENO);
    ::dup2(e, STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return p;
}

// Waits for the process; its peak resident memory in MiB, and the CPU seconds it used.
double finish(const Process& p, int& status, double& cpu_s) {
  rusage usage{};
  ::wait4(p.pid, &status, 0, &usage);
  cpu_s = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// Decoding alone, on this thread as watch reads a file: milliseconds of CPU per frame.
double decode_cpu_ms_per_frame(const fs::path& clip) {
  rusage before{}, after{};
  getrusage(RUSAGE_SELF, &before);
  cv::VideoCapture capture(clip.string(), cv::CAP_FFMPEG);
  int frames = 0;
  for (cv::Mat frame; capture.read(frame);) ++frames;
  getrusage(RUSAGE_SELF, &after);
  const auto seconds = [](const rusage& u) {
    return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
  };
  return frames > 0 ? (seconds(after) - seconds(before)) * 1000.0 / frames : 0.0;
}

struct CameraResult {
  double fps = 0;
  double latency_ms = 0;  // median, frames with events
  std::set<std::string> names;
  double read_ms = 0, detect_ms = 0, embed_ms = 0, wait_ms = 0, seconds = 0;
};

std::map<std::string, CameraResult> parse(const fs::path& out) {
  std::map<std::string, CameraResult> cameras;
  std::ifstream in(out);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("camera")) continue;
    CameraResult& c = cameras[j["camera"].get<std::string>()];
    const std::string kind = j.value("event", "");
    if ((kind == "identified" || kind == "identity_changed") && j.value("name", "") != "unknown") {
      c.names.insert(j["name"].get<std::string>());
    }
    if (kind == "summary" && j.contains("fps")) {
      c.fps = j["fps"];
      c.seconds = j["seconds"];
      if (j["latency_ms"].is_object()) c.latency_ms = j["latency_ms"]["median"];
      c.read_ms = j["ms"]["read"];
      c.detect_ms = j["ms"]["detect"];
      c.embed_ms = j["ms"]["embed"];
      c.wait_ms = j["ms"].value("wait", 0.0);
    }
  }
  return cameras;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string config_text(const fs::path& gallery, int detect_every, const std::vector<std::pair<std::string, fs::path>>& cams) {
  std::string text = "gallery: " + gallery.string() + "\ndetect_every: " + std::to_string(detect_every) + "\ncameras:\n";
  for (const auto& [name, clip] : cams) text += "  - name: " + name + "\n    source: " + clip.string() + "\n";
  return text;
}

void write_file(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

struct RunFigures {
  std::vector<double> fps, latency;  // per camera
  double rss_sum_mb = 0, rss_max_mb = 0, cpu_s = 0;
  double wall_s = 0;
  std::map<std::string, std::set<std::string>> names;
  double read_ms = 0, detect_ms = 0, embed_ms = 0, wait_ms = 0, camera_s = 0;
};

Process start_process(const std::string& cli, const fs::path& config, const fs::path& dir, const std::string& tag,
                      std::size_t i) {
  const std::string stem = tag + "_" + std::to_string(i);
  return start({cli, "watch", "--config", config.string()}, dir / (stem + ".jsonl"), dir / (stem + ".err"));
}

RunFigures run_watch(const std::string& cli, const std::vector<fs::path>& configs, const fs::path& dir, const std::string& tag) {
  RunFigures r;
  std::vector<Process> processes;
  const auto start = Clock::now();
  for (std::size_t i = 0; i < configs.size(); ++i) {
    processes.push_back(start_process(cli, configs[i], dir, tag, i));
  }
  for (const Process& p : processes) {
    int status = 0;
    double cpu_s = 0;
    const double rss = finish(p, status, cpu_s);
    r.cpu_s += cpu_s;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error("watch failed: see " + p.out.string());
    r.rss_sum_mb += rss;
    r.rss_max_mb = std::max(r.rss_max_mb, rss);
  }
  r.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  for (const Process& p : processes) {
    for (const auto& [camera, c] : parse(p.out)) {
      r.fps.push_back(c.fps);
      r.latency.push_back(c.latency_ms);
      r.names[camera] = c.names;
      r.read_ms += c.read_ms;
      r.detect_ms += c.detect_ms;
      r.embed_ms += c.embed_ms;
      r.wait_ms += c.wait_ms;
      r.camera_s += c.seconds;
    }
  }
  return r;
}

}  // namespace


int main(int argc, char** argv) {
  int cameras = 8, frames = 150, detect_every = 5, repeats = 3;
  std::vector<int> sizes = {720, 1080}, face_counts = {1, 4};
  fs::path testdata = std::getenv("SIAMFACE_TESTDATA") ? std::getenv("SIAMFACE_TESTDATA") : SIAMFACE_SOURCE_DIR "/../shared/testdata";
  std::string cli = (fs::path(argv[0]).parent_path() / ".." / "siamface").lexically_normal().string();
  const auto list = [](const std::string& text) {
    std::vector<int> out;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
    return out;
  };
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--cameras") cameras = std::stoi(value);
    else if (flag == "--frames") frames = std::stoi(value);
    else if (flag == "--detect-every") detect_every = std::stoi(value);
    else if (flag == "--repeats") repeats = std::stoi(value);
    else if (flag == "--sizes") sizes = list(value);
    else if (flag == "--faces") face_counts = list(value);
    else if (flag == "--cli") cli = value;
    else if (flag == "--testdata") testdata = value;
    else {
      std::fprintf(stderr, "multicam_bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    const fs::path crops = testdata / "face-api.js" / "examples" / "images";
    if (!fs::exists(crops)) throw std::runtime_error(crops.string() + " not found (use --testdata DIR)");
    if (!fs::exists(cli)) throw std::runtime_error(cli + " not found (use --cli PATH)");
    const fs::path dir = fs::temp_directory_path() / ("siamface_multicam_bench_" + std::to_string(::getpid()));
    fs::create_directories(dir);

    // Everyone enrolled from crops 3-5, padded as the tests do (the crops are tight).
    const fs::path gallery = dir / "gallery.db";
    for (const std::string& person : kPeople) {
      std::string cmd = cli + " enroll --largest --name " + person + " --gallery " + gallery.string();
      for (int n = 3; n <= 5; ++n) {
        cv::Mat padded;
        cv::resize(cv::imread((crops / person / (person + std::to_string(n) + ".png")).string()), padded, cv::Size(110, 110));
        cv::copyMakeBorder(padded, padded, 65, 65, 65, 65, cv::BORDER_CONSTANT, cv::Scalar(128, 128, 128));
        const fs::path file = dir / (person + std::to_string(n) + ".png");
        cv::imwrite(file.string(), padded);
        cmd += " " + file.string();
      }
      if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) throw std::runtime_error("enrol failed: " + cmd);
    }

    std::printf("multicam_bench: %d cameras, %d frames each (H.264), detect every %d, %d repeats (medians), %ld cores\n",
                cameras, frames, detect_every, repeats, sysconf(_SC_NPROCESSORS_ONLN));
    std::printf("baseline: one `watch --config` process per camera, all at once; ours: one process, all cameras\n");
    std::printf("%-6s %5s | %9s %9s %6s | %10s %10s | %9s %9s %9s %6s | %5s %7s | %s\n", "video", "faces", "fps/cam", "fps/cam",
                "ratio", "latency", "latency", "RSS sum", "RSS one", "RSS 1cam", "x1cam", "names", "named", "fps all cams incl. start sep, one | CPU ms/frame sep, one, decode | one process: wall ms/frame read, detect, embed, wait | one camera alone: ms/frame read, detect, embed");
    std::printf("%-6s %5s | %9s %9s %6s | %10s %10s | %9s %9s %9s %6s | %5s %7s |\n", "", "", "separate", "one proc", "", "sep (ms)",
                "one (ms)", "separate", "process", "", "", "equal", "");
    for (int height : sizes) {
      const int width = height * 16 / 9;
      for (int faces : face_counts) {
        std::vector<std::pair<std::string, fs::path>> cams;
        for (int c = 0; c < cameras; ++c) {
          std::vector<std::string> people;
          for (int f = 0; f < faces; ++f) people.push_back(kPeople[(c + f) % kPeople.size()]);
          const fs::path clip = dir / ("cam" + std::to_string(c) + "_" + std::to_string(height) + "p_" +
                                       std::to_string(faces) + ".mp4");
          make_clip(clip, crops, people, width, height, frames);
          cams.emplace_back("cam" + std::to_string(c), clip);
        }
        std::vector<fs::path> separate;
        for (int c = 0; c < cameras; ++c) {
          separate.push_back(dir / ("one_" + std::to_string(c) + ".yaml"));
          write_file(separate.back(), config_text(gallery, detect_every, {cams[c]}));
        }
        const fs::path together = dir / "all.yaml";
        write_file(together, config_text(gallery, detect_every, cams));

        double alone_read = 0, alone_detect = 0, alone_embed = 0;
        std::vector<double> sep_all, one_all, sep_fps, one_fps, sep_lat, one_lat, sep_rss, one_rss, alone_rss;
        double read = 0, detect = 0, embed = 0, wait = 0, total_frames = 0, cpu_one = 0, cpu_sep = 0;
        const double decode_ms = decode_cpu_ms_per_frame(cams[0].second);
        bool names_equal = true;
        std::size_t named = 0, expected_names = 0;
        for (int r = 0; r < repeats; ++r) {
          // One camera alone: the memory of one camera.
          const RunFigures lone = run_watch(cli, {separate[0]}, dir, "alone");
          alone_rss.push_back(lone.rss_max_mb);
          alone_read += lone.read_ms / frames / repeats;
          alone_detect += lone.detect_ms / frames / repeats;
          alone_embed += lone.embed_ms / frames / repeats;
          const RunFigures sep = run_watch(cli, separate, dir, "sep");
          const RunFigures one = run_watch(cli, {together}, dir, "one");
          sep_all.push_back(static_cast<double>(frames) * cameras / sep.wall_s);
          one_all.push_back(static_cast<double>(frames) * cameras / one.wall_s);
          sep_fps.push_back(median(sep.fps));
          one_fps.push_back(median(one.fps));
          sep_lat.push_back(median(sep.latency));
          one_lat.push_back(median(one.latency));
          sep_rss.push_back(sep.rss_sum_mb);
          one_rss.push_back(one.rss_max_mb);
          names_equal = names_equal && sep.names == one.names;
          for (const auto& [camera, names] : one.names) {
            named += names.size();
            expected_names += static_cast<std::size_t>(faces);
          }
          read += one.read_ms;
          detect += one.detect_ms;
          embed += one.embed_ms;
          wait += one.wait_ms;
          cpu_one += one.cpu_s * 1000;
          cpu_sep += sep.cpu_s * 1000;
          total_frames += frames * cameras;
        }
        const double alone = median(alone_rss);
        std::printf("%4dp  %5d | %9.1f %9.1f %5.2fx | %10.0f %10.0f | %9.0f %9.0f %9.0f %5.2fx | %5s %3zu/%-3zu | %.1f %.1f | %.1f %.1f %.1f | %.1f %.1f %.1f %.1f | %.1f %.1f %.1f\n",
                    height, faces, median(sep_fps), median(one_fps), median(one_fps) / median(sep_fps), median(sep_lat),
                    median(one_lat), median(sep_rss), median(one_rss), alone, median(one_rss) / alone,
                    names_equal ? "yes" : "NO", named, expected_names, median(sep_all), median(one_all), cpu_sep / total_frames, cpu_one / total_frames, decode_ms, read / total_frames, detect / total_frames, embed / total_frames,
                    wait / total_frames, alone_read, alone_detect, alone_embed);
        std::fflush(stdout);
      }
    }
    fs::remove_all(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "multicam_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
