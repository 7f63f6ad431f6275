// Shared pieces of the siamface subcommands: engine flags, input collection, the JSON codecs
// (common/json_codecs.hpp, shared with the server) and the single mapping from errors to exit codes.
#pragma once

#include <CLI/CLI.hpp>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/json_codecs.hpp"
#include "siamface/engine.hpp"
#include "siamface/gallery.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"
#include "siamface/identify.hpp"
#include "siamface/render.hpp"

namespace siamface::cli {

// Exit statuses, documented in the README.
inline constexpr int kExitOk = 0;
inline constexpr int kExitNegative = 1;  // a clean "no": verify found different people
inline constexpr int kExitError = 2;     // bad input, missing models, any failure

// Flags every model-using subcommand shares.
struct EngineFlags {
  std::string models_dir = default_models_dir();
  std::string recognizer;  // empty: the gallery's recognizer, else ModelOptions' default
  std::string dlib_weights;  // empty: the gallery's dlib weights, else ModelOptions' default
  std::string detector = to_string(ModelOptions{}.detector);
  std::string landmarks = "full";
  float min_score = -1.0F;
  std::int64_t max_pixels = DecodeOptions{}.max_pixels;
  bool skip_checksums = false;
  bool no_tiny_fallback = false;
  float landmark_box_scale = LandmarkOptions{}.box_scale;
  bool no_landmark_flip = false;
  float upsample = 1.0F;              // DetectOptions::upsample
  std::string border_pass = to_string(DetectOptions{}.border_pass);  // DetectOptions::border_pass
  float border_only_min_score = DetectOptions{}.border_only_min_score;
  std::string enhance = "off";        // ChipOptions::enhancement
  std::string chip_sampling = to_string(ChipOptions{}.small_face_sampling);
  std::string augmentation = to_string(ChipOptions{}.augmentation);

  void add_to(CLI::App& command);
  // --enhance, --chip-sampling and --augment, for commands that embed one setting (eval sweeps its own).
  void add_enhance_to(CLI::App& command);
  ModelOptions model_options() const;
  // model_options() with, unless --recognizer was given, the recognizer of the gallery's faces.
  ModelOptions model_options_for(const Gallery& gallery) const;
  std::optional<Recognizer> chosen_recognizer() const;  // --recognizer, if given
  std::optional<DlibWeights> chosen_dlib_weights() const;  // --dlib-weights, if given
  DecodeOptions decode_options() const;
  // Every per-call choice the flags make: detection, landmarks and chips.
  PipelineOptions pipeline_options() const;
};

// --gallery and its lock timeout, shared by every gallery command.
struct GalleryFlags {
  std::string path;  // empty: default_gallery_path() ($SIAMFACE_GALLERY or the data dir)
  int busy_timeout_ms = 5000;

  void add_to(CLI::App& command);
  std::string resolved_path() const;
  // Opens the gallery; `create` false refuses a missing file with a hint to enroll first.
  Gallery open(bool create) const;
  // For commands that only read (people, export, identify, watch...): works on a gallery
  // whose file or folder is not writable.
  Gallery open_read_only() const;
};

// --threshold and --allow-looser-threshold (issue 31): a threshold may make decisions stricter
// than the gallery's; a looser one is used only with --allow-looser-threshold, else the
// gallery's is kept and stderr says so.
struct ThresholdFlags {
  std::optional<float> threshold;
  bool allow_looser = false;

  void add_to(CLI::App& command);
  // Puts the request into `options` (identify_image resolves it against the gallery) and says
  // on stderr when the gallery's threshold will replace a looser --threshold.
  void apply_to(IdentifyOptions& options, const Gallery& gallery) const;
  // The threshold a comparison without a gallery (verify) decides with against `own`, with the
  // same warnings: decision_threshold.
  float resolve(float own) const;
};

// The subcommand registry: each subcommand file adds itself through one of these.
using CommandRunner = std::function<int()>;
void set_runner(CLI::App& command, CommandRunner runner, int& exit_code);

// Expands files and folders (recursively) into image paths, sorted; folders keep only
// files with image extensions. Missing paths are returned too, so they get reported.
std::vector<std::string> collect_images(const std::vector<std::string>& paths);

using tools::to_json;
nlohmann::json error_json(const Error& error);

// Writes one JSON line to stdout and flushes.
void emit(const nlohmann::json& line);

// Distances run 0..4, but a useful threshold lies near 0.6 (issue 34): above 1.0 nearly every
// stranger would be named, below 0.25 hardly anyone. Warns on stderr, saying why, when
// `threshold` (given as `what`, e.g. "--threshold") lies outside that range; true if it did.
bool warn_if_implausible_threshold(float threshold, const std::string& what);

// Where --annotate writes each input (issue 34, item 7): under out_dir at its path relative to
// the folder all inputs share (photos/ada/1.jpg and photos/bob/1.jpg: out/ada/1.jpg and
// out/bob/1.jpg; one folder of photos: out/<file name>, as before), so two inputs with one file
// name never overwrite each other; an input listed twice gets "<name>-2.<ext>". take() is
// thread-safe, creates the output's folder and refuses to overwrite the input itself.
class AnnotatedPaths {
 public:
  AnnotatedPaths(const std::vector<std::string>& files, const std::string& out_dir);
  std::string take(const std::string& input);
  // Draws `labels` on `image`, saves it where take() says, and returns that path.
  std::string save(const std::string& input, Image& image, const std::vector<FaceLabel>& labels);

 private:
  std::mutex mutex_;
  std::map<std::string, std::deque<std::string>> outputs_;  // per input, in input order
};

}  // namespace siamface::cli

namespace siamface::cli {

// The per-image loop shared by detect, embed, identify...: runs `describe(file, line)` on
// `jobs` threads, catches each image's Error into an "error" field so one bad file never
// stops the run, prints one JSON line per image in input order, and returns kExitError if
// any image failed. A `sink` replaces the JSON printing: it sees each finished line on the
// calling thread, in order.
int for_each_image(const std::vector<std::string>& files, int jobs,
                   const std::function<void(const std::string& file, nlohmann::json& line)>& describe,
                   const std::function<void(const nlohmann::json& line)>& sink = {});

}  // namespace siamface::cli
