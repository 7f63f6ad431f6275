// The real face_recognition (PyPI 1.3.0 on dlib-bin, in the venv that scripts/setup.sh makes)
// run on exactly the photos a C++ bench produces, so that its encodings are scored by the
// bench's own code beside ours (issue 31, item 5). A PeerBatch collects the transformed photos as
// PNG files in a temporary folder, runs bench/face_recognition_peer.py over them once (split
// into `jobs` single-threaded processes), and reads back per photo: was a face found, the
// 128-d encoding of the chosen face, and whether that face is the labelled one. Nothing
// downloads: the venv and its models are installed by scripts/setup.sh.
#pragma once

#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "image/cv_image.hpp"
#include "pipeline/face_quality.hpp"
#include "siamface/types.hpp"

namespace siamface::peer {

namespace fs = std::filesystem;

inline constexpr const char* kRecognizerName = "face_recognition (real)";

// The venv's python: $SIAMFACE_VENV/bin/python, else ${XDG_CACHE_HOME:-~/.cache}/siamface/venv/bin/python.
inline fs::path default_python() {
  fs::path venv;
  if (const char* v = std::getenv("SIAMFACE_VENV"); v && *v) {
    venv = v;
  } else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) {
    venv = fs::path(x) / "siamface/venv";
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    venv = fs::path(h) / ".cache/siamface/venv";
  }
  return venv.empty() ? fs::path() : venv / "bin/python";
}

inline fs::path script_path() { return fs::path(SIAMFACE_SOURCE_DIR) / "bench/face_recognition_peer.py"; }

// One photo as the real face_recognition saw it.
struct PeerPhoto {
  bool found = false;
  bool wrong_choice = false;  // the chosen face's centre lies outside the labelled box
  int faces = 0;
  Embedding encoding;
  Box box;                    // the chosen face
  FaceQuality quality;        // measured by our measure_face_quality on the peer's box
  double ms = 0;              // load + detect + encode, as the script timed it
};

inline std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

class PeerBatch {
 public:
  // An empty `python` disables the batch: add() does nothing and run() returns nothing.
  PeerBatch(fs::path python, std::size_t photos, int jobs)
      : python_(std::move(python)), truth_(photos), checked_(photos, 0), jobs_(std::max(1, jobs)) {
    if (python_.empty()) return;
    std::random_device random;
    dir_ = fs::temp_directory_path() / ("siamface-peer-" + std::to_string(random()));
    fs::create_directories(dir_);
  }
  PeerBatch(const PeerBatch&) = delete;
  PeerBatch& operator=(const PeerBatch&) = delete;
  ~PeerBatch() {
    std::error_code ignored;
    if (!dir_.empty()) fs::remove_all(dir_, ignored);
  }

  bool enabled() const { return !python_.empty(); }

  // Photo i as PNG. Safe to call from several threads for distinct i. `truth`: the labelled
  // face (the chosen face's centre must lie inside it), or null for no check.
  void add(std::size_t i, const Image& image, const Box* truth) {
    if (!enabled()) return;
    if (!cv::imwrite(png(i).string(), as_mat(image))) throw std::runtime_error("cannot write " + png(i).string());
    if (truth) truth_[i] = *truth, checked_[i] = 1;
  }

  // Runs the script over every photo; `choose`: "largest" or "center".
  std::vector<PeerPhoto> run(const std::string& choose) {
    std::vector<PeerPhoto> out;
    if (!enabled()) return out;
    out.resize(truth_.size());
    const std::size_t n = truth_.size();
    const std::size_t jobs = std::min<std::size_t>(static_cast<std::size_t>(jobs_), std::max<std::size_t>(n, 1));
    std::vector<std::thread> threads;
    std::vector<int> status(jobs, 0);
    for (std::size_t j = 0; j < jobs; ++j) {
      const fs::path list = dir_ / ("list" + std::to_string(j) + ".txt");
      std::ofstream f(list);
      for (std::size_t i = j * n / jobs; i < (j + 1) * n / jobs; ++i) f << png(i).string() << "\n";
      f.close();
      const std::string command = "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 " + shell_quoted(python_.string()) + " " +
                                  shell_quoted(script_path().string()) + " --choose " + choose + " " +
                                  shell_quoted(list.string()) + " > " + shell_quoted(result(j).string());
      threads.emplace_back([&status, j, command] { status[j] = std::system(command.c_str()); });
    }
    for (auto& t : threads) t.join();
    for (std::size_t j = 0; j < jobs; ++j) {
      if (status[j] != 0) {
        throw std::runtime_error("face_recognition_peer.py failed (status " + std::to_string(status[j]) + ") with " +
                                 python_.string() + "; run scripts/setup.sh, or pass --peer none");
      }
      std::ifstream f(result(j));
      for (std::string line; std::getline(f, line);) {
        const nlohmann::json r = nlohmann::json::parse(line);
        const std::size_t i = std::stoul(fs::path(r.at("path").get<std::string>()).stem().string());
        PeerPhoto& p = out.at(i);
        p.faces = r.value("faces", 0);
        p.ms = r.value("ms", 0.0);
        if (r.contains("error")) std::fprintf(stderr, "face_recognition: %s\n", r["error"].get<std::string>().c_str());
        if (r.at("encoding").is_null()) continue;
        p.found = true;
        p.encoding = r["encoding"].get<Embedding>();
        const auto b = r["boxes"].at(r["chosen"].get<std::size_t>());  // top, right, bottom, left
        p.box = {b[3].get<float>(), b[0].get<float>(), b[1].get<float>() - b[3].get<float>(),
                 b[2].get<float>() - b[0].get<float>()};
        if (checked_[i]) {
          const Point c = p.box.center();
          const Box& t = truth_[i];
          p.wrong_choice = c.x < t.left || c.y < t.top || c.x > t.right() || c.y > t.bottom();
        }
        Face face;
        face.box = p.box;
        p.quality = measure_face_quality(cv::imread(png(i).string(), cv::IMREAD_COLOR), face);
      }
    }
    return out;
  }

 private:
  fs::path png(std::size_t i) const {
    char name[32];
    std::snprintf(name, sizeof name, "%07zu.png", i);
    return dir_ / name;
  }
  fs::path result(std::size_t j) const { return dir_ / ("result" + std::to_string(j) + ".jsonl"); }

  fs::path python_;
  fs::path dir_;
  std::vector<Box> truth_;
  std::vector<char> checked_;
  int jobs_;
};

}  // namespace siamface::peer
