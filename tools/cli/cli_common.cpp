#include "cli_common.hpp"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>

#include "cli_terms.hpp"
#include "siamface/identify.hpp"

namespace siamface::cli {

namespace fs = std::filesystem;

void EngineFlags::add_to(CLI::App& command) {
  command.add_option("--models", models_dir, "Models directory (env SIAMFACE_MODELS)")->capture_default_str();
  command.add_option("--recognizer", recognizer,
                     "Embedding network: dlib (ResNet, 128 values), mfn (MobileFaceNet, 512) or fused (both, 640; "
                     "`siamface models` lists them). Default: the gallery's, else " +
                         std::string(to_string(ModelOptions{}.recognizer)) + "; `reindex` converts a gallery")
      ->check(CLI::IsMember(names_of(kRecognizerNames)));
  command.add_option("--dlib-weights", dlib_weights,
                     "Weights of dlib's ResNet (dlib and fused): quantised (face-api's 8-bit copy) or float "
                     "(dlib's own, converted by scripts/setup.sh). Default: the gallery's, else " +
                         std::string(to_string(ModelOptions{}.dlib_weights)))
      ->check(CLI::IsMember(names_of(kDlibWeightsNames)));
  command.add_option("--detector", detector, "Face detector")->check(CLI::IsMember(names_of(kDetectorKindNames)))
      ->capture_default_str();
  command.add_option("--landmarks", landmarks, "68-point landmark model")->check(CLI::IsMember(names_of(kLandmarkKindNames)))
      ->capture_default_str();
  command.add_option("--min-score", min_score, "Minimum detector score (default: the detector's own)")
      ->check(CLI::Range(0.0F, 1.0F));
  command.add_option("--max-pixels", max_pixels, "Refuse images with more pixels than this")
      ->check(CLI::PositiveNumber)->capture_default_str();
  command.add_flag("--no-tiny-fallback", no_tiny_fallback,
                   "Do not ask the tiny face detector when the main detector finds no face");
  command.add_option("--landmark-box-scale", landmark_box_scale,
                     "Landmarks see the detection box enlarged by this factor (1 = face-api's crop)")
      ->check(CLI::Range(0.5F, 3.0F))->capture_default_str();
  command.add_flag("--no-landmark-flip", no_landmark_flip,
                   "Do not average the landmarks with those of the mirrored face");
  command.add_flag("--skip-checksums", skip_checksums, "Do not verify model checksums (for modified models)");
  command.add_option("--upsample", upsample,
                     "Small faces: detect on the image this many times larger (tiles for large images); 0 = auto, "
                     "1 = off")
      ->check(CLI::Range(0.0F, 4.0F))->capture_default_str();
  command.add_option("--border-pass", border_pass,
                     "Detect again on the image framed by a grey border (finds faces filling a tight crop): "
                     "off, empty (when nothing was found), always (merged with the first pass), auto (always "
                     "for images up to 1024 px, empty above), needed (auto, but on 513-1024 px images with faces only "
                     "when one is unsure, near the edge or large)")
      ->check(CLI::IsMember(names_of(kBorderPassNames)))->capture_default_str();
  command.add_option("--border-only-min-score", border_only_min_score,
                     "A face only the border pass finds, beside faces the first pass found, needs this score")
      ->check(CLI::Range(0.0F, 1.0F))->capture_default_str();
}

void EngineFlags::add_enhance_to(CLI::App& command) {
  command.add_option("--enhance", enhance,
                     "Enhance face chips: off, auto, or steps joined by '+' (denoise, gamma, clahe, sharpen)")
      ->capture_default_str();
  command.add_option("--chip-sampling", chip_sampling, "Chip sampler for faces smaller than the chip")
      ->check(CLI::IsMember(names_of(kChipSamplingNames)))->capture_default_str();
  command.add_option("--augment", augmentation,
                     "Test-time augmentation of embeddings: none, flip (2 chips per face) or flip-rotate (6)")
      ->check(CLI::IsMember(names_of(kEmbedAugmentationNames)))->capture_default_str();
}

ModelOptions EngineFlags::model_options() const {
  ModelOptions options;
  options.models_dir = models_dir;
  options.recognizer = chosen_recognizer().value_or(options.recognizer);
  options.dlib_weights = chosen_dlib_weights().value_or(options.dlib_weights);
  options.detector = parse_detector_kind(detector);
  options.landmarks = parse_landmark_kind(landmarks);
  options.verify_checksums = !skip_checksums;
  return options;
}

std::optional<Recognizer> EngineFlags::chosen_recognizer() const {
  if (recognizer.empty()) return std::nullopt;
  return parse_recognizer(recognizer);
}

std::optional<DlibWeights> EngineFlags::chosen_dlib_weights() const {
  if (dlib_weights.empty()) return std::nullopt;
  return parse_dlib_weights(dlib_weights);
}

ModelOptions EngineFlags::model_options_for(const Gallery& gallery) const {
  ModelOptions options = model_options();
  options.recognizer = resolve_recognizer(gallery, chosen_recognizer(), ModelOptions{}.recognizer);
  if (!chosen_dlib_weights()) {
    if (const auto model = gallery.model()) options.dlib_weights = dlib_weights_of(*model).value_or(options.dlib_weights);
  }
  return options;
}

DecodeOptions EngineFlags::decode_options() const {
  DecodeOptions options;
  options.max_pixels = max_pixels;
  return options;
}

PipelineOptions EngineFlags::pipeline_options() const {
  PipelineOptions options;
  options.detect.min_score = min_score;
  options.detect.upsample = upsample;
  options.detect.border_pass = parse_border_pass(border_pass);
  options.detect.border_only_min_score = border_only_min_score;
  options.detect.tiny_fallback = !no_tiny_fallback;
  options.landmarks.box_scale = landmark_box_scale;
  options.landmarks.flip = !no_landmark_flip;
  options.chip.enhancement = parse_enhancement(enhance);
  options.chip.small_face_sampling = parse_chip_sampling(chip_sampling);
  options.chip.augmentation = parse_embed_augmentation(augmentation);
  return options;
}

void GalleryFlags::add_to(CLI::App& command) {
  command.add_option("--gallery", path, "Gallery file, or a postgresql:// URL (env SIAMFACE_GALLERY; default " + default_gallery_path() + ")");
  command.add_option("--lock-timeout-ms", busy_timeout_ms, "Wait this long for another writer")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
}

std::string GalleryFlags::resolved_path() const { return path.empty() ? default_gallery_path() : path; }

Gallery GalleryFlags::open_read_only() const {
  GalleryOptions options;
  options.create = false;
  options.read_only = true;
  options.busy_timeout_ms = busy_timeout_ms;
  const std::string file = resolved_path();
  std::error_code ec;
  if (!is_postgres_gallery(file) && !fs::exists(file, ec)) {
    throw Error(ErrorCode::kNotFound, "no gallery at " + file + " (enroll people first: siamface enroll DATA_DIR)");
  }
  return Gallery::open(file, options);
}

Gallery GalleryFlags::open(bool create) const {
  GalleryOptions options;
  options.create = create;
  options.busy_timeout_ms = busy_timeout_ms;
  const std::string file = resolved_path();
  std::error_code ec;
  if (!create && !is_postgres_gallery(file) && !fs::exists(file, ec)) {
    throw Error(ErrorCode::kNotFound, "no gallery at " + file + " (enroll people first: siamface enroll DATA_DIR)");
  }
  return Gallery::open(file, options);
}

void set_runner(CLI::App& command, CommandRunner runner, int& exit_code) {
  command.callback([runner = std::move(runner), &exit_code] { exit_code = runner(); });
}

namespace {

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::vector<std::string> kExtensions = {".jpg",  ".jpeg", ".png", ".webp", ".bmp", ".tif",
                                                       ".tiff", ".gif",  ".pbm", ".pgm",  ".ppm", ".pnm",
                                                       ".heic", ".heif", ".hif", ".avif"};
  return std::find(kExtensions.begin(), kExtensions.end(), ext) != kExtensions.end();
}

}  // namespace

std::vector<std::string> collect_images(const std::vector<std::string>& paths) {
  std::vector<std::string> out;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (!fs::is_directory(path, ec)) {
      out.push_back(path);
      continue;
    }
    std::vector<std::string> found;
    for (fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec), end;
         !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec) && has_image_extension(it->path())) found.push_back(it->path().string());
    }
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

nlohmann::json error_json(const Error& error) {
  return {{"code", to_string(error.code())}, {"message", in_cli_terms(error.what())}};
}

void emit(const nlohmann::json& line) {
  std::cout << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n' << std::flush;
}

bool warn_if_implausible_threshold(float threshold, const std::string& what) {
  // Measured with `identify -k 40` on lfw_dev (one photo enrolled per person, two probes each)
  // and on face-api.js's eight characters: different people at 0.56-1.06 (dlib) and 0.62-0.85
  // (fused), the same person at 0.26-0.55.
  constexpr float kLowest = 0.25F, kHighest = 1.0F;
  if (threshold >= kLowest && threshold <= kHighest) return false;
  std::cerr << "siamface: warning: " << what << ' ' << threshold << " is outside the useful range " << kLowest << "-"
            << kHighest << " (default 0.6): "
            << (threshold > kHighest
                    ? "distances between different people lie at 0.56-1.06, so nearly every stranger would be named"
                    : "photos of one person lie 0.26-0.55 apart, so hardly anyone would be named")
            << '\n';
  return true;
}

AnnotatedPaths::AnnotatedPaths(const std::vector<std::string>& files, const std::string& out_dir) {
  if (files.empty() || out_dir.empty()) return;
  std::vector<fs::path> absolute;
  for (const std::string& file : files) absolute.push_back(fs::absolute(file).lexically_normal());
  // The deepest folder holding every input.
  fs::path common = absolute.front().parent_path();
  for (const fs::path& file : absolute) {
    const fs::path folder = file.parent_path();
    fs::path shared;
    for (auto a = common.begin(), b = folder.begin(); a != common.end() && b != folder.end() && *a == *b; ++a, ++b) {
      shared /= *a;
    }
    common = shared;
  }
  std::set<std::string> used;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const fs::path relative = absolute[i].lexically_relative(common);
    fs::path out = fs::path(out_dir) / relative;
    for (int n = 2; !used.insert(out.string()).second; ++n) {
      out = fs::path(out_dir) / relative.parent_path() /
            (relative.stem().string() + "-" + std::to_string(n) + relative.extension().string());
    }
    outputs_[files[i]].push_back(out.string());
  }
}

std::string AnnotatedPaths::take(const std::string& input) {
  fs::path out;
  {
    std::lock_guard lock(mutex_);
    auto found = outputs_.find(input);
    if (found == outputs_.end() || found->second.empty()) {
      throw Error(ErrorCode::kInternal, "no --annotate output was planned for " + input);
    }
    out = found->second.front();
    found->second.pop_front();
  }
  std::error_code ec;
  fs::create_directories(out.parent_path(), ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create output folder " + out.parent_path().string() + ": " + ec.message());
  if (fs::exists(out, ec) && fs::equivalent(out, input, ec)) {
    throw Error(ErrorCode::kInvalidArgument, "refusing to overwrite the input " + input);
  }
  return out.string();
}

std::string AnnotatedPaths::save(const std::string& input, Image& image, const std::vector<FaceLabel>& labels) {
  draw_faces(image, labels);
  const std::string out = take(input);
  save_image(image, out);
  return out;
}

}  // namespace siamface::cli

#include "parallel_map.hpp"

namespace siamface::cli {

int for_each_image(const std::vector<std::string>& files, int jobs,
                   const std::function<void(const std::string& file, nlohmann::json& line)>& describe,
                   const std::function<void(const nlohmann::json& line)>& sink) {
  if (files.empty()) throw Error(ErrorCode::kInvalidArgument, "no images found in the given paths");
  // Parallel images already fill the cores; nested OpenCV threads would only contend.
  if (jobs > 1) set_intra_op_threads(1);
  int failures = 0;
  parallel_map_ordered<nlohmann::json>(
      files.size(), jobs,
      [&](std::size_t i) {
        nlohmann::json line = {{"file", files[i]}};
        try {
          describe(files[i], line);
        } catch (const Error& e) {
          line["error"] = error_json(e);
        } catch (const std::exception& e) {
          line["error"] = error_json(Error(ErrorCode::kInternal, e.what()));
        }
        return line;
      },
      [&](std::size_t, const nlohmann::json& line) {
        if (line.contains("error")) {
          ++failures;
          std::cerr << "siamface: " << line["file"].get<std::string>() << ": "
                    << line["error"]["message"].get<std::string>() << '\n';
        }
        if (sink) {
          sink(line);
        } else {
          emit(line);
        }
      });
  return failures ? kExitError : kExitOk;
}

void ThresholdFlags::add_to(CLI::App& command) {
  command.add_option("--threshold", threshold,
                     "Accept a name below this distance; stricter than the gallery's (else 0.6) only, "
                     "unless --allow-looser-threshold")
      ->check(CLI::Range(0.0F, 4.0F));
  command.add_flag("--allow-looser-threshold", allow_looser,
                   "Use a --threshold above the gallery's (more strangers will be named)");
}

float ThresholdFlags::resolve(float own) const {
  if (threshold) warn_if_implausible_threshold(*threshold, "--threshold");
  const float decided = decision_threshold(threshold, own, allow_looser);
  if (threshold && decided != *threshold) {
    std::cerr << "siamface: --threshold " << *threshold << " is looser than the gallery's " << own
              << "; deciding with " << decided << " (add --allow-looser-threshold to use it)\n";
  }
  return decided;
}

void ThresholdFlags::apply_to(IdentifyOptions& options, const Gallery& gallery) const {
  options.threshold = threshold;
  options.allow_looser_threshold = allow_looser;
  // The gallery's threshold is read here for the warnings only (identify_image resolves it
  // itself), and so that a damaged setting stops the run before any photo.
  (void)resolve(gallery_threshold(gallery, options.rule.threshold));
}

}  // namespace siamface::cli
