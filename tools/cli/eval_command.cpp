// siamface eval lfw : the standard LFW View 2 10-fold verification protocol.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <opencv2/core.hpp>
#include <sstream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "degrade/degrade.hpp"
#include "enhance/enhance.hpp"
#include "pipeline/augmented_chips.hpp"
#include "eval/lfw_pairs.hpp"
#include "eval/verification_protocol.hpp"
#include "image/cv_image.hpp"
#include "pipeline/face_quality.hpp"
#include "parallel_map.hpp"
#include "eval/plots.hpp"

namespace siamface::cli {
namespace {

namespace fs = std::filesystem;

struct LfwArgs {
  std::string root;
  std::string pairs_file;
  std::string out_dir = "out/lfw";
  std::string face_choice = "center";
  bool flip = false;
  bool flip_rotate = false;
  int per_fold = 0;
  int jobs = 2;
  float threshold = 0.6F;
  std::vector<std::string> degrade = {"none"};
  std::vector<std::string> enhance = {"off"};
  std::vector<std::string> chip_sampling;  // empty: the engine default
  std::string enhance_stage = "both";
  EngineFlags engine;
};

// One evaluated configuration: degradation x chip sampling x enhancement.
struct Variant {
  Degradation degrade = Degradation::kNone;
  ChipSampling sampling = ChipSampling::kDlib;
  Enhancement enhancement;
  std::string label() const {
    return std::string(to_string(degrade)) + "/" + to_string(sampling) + "/" + to_string(enhancement);
  }
};

// One embedding per test-time augmentation (EmbedAugmentation order), as the engine makes them.
struct ImageEmbedding {
  std::array<std::optional<Embedding>, 3> by_augmentation;
};

std::vector<ScoredPair> score_pairs(const LfwImagePairs& lfw, const std::vector<ImageEmbedding>& embeddings,
                                    EmbedAugmentation augmentation) {
  const auto index = static_cast<std::size_t>(augmentation);
  std::vector<ScoredPair> scored;
  for (const IndexedLfwPair& pair : lfw.pairs) {
    const auto& a = embeddings[pair.image_a].by_augmentation[index];
    const auto& b = embeddings[pair.image_b].by_augmentation[index];
    ScoredPair s;
    s.same = pair.same;
    s.fold = pair.fold;
    s.valid = a && b;
    if (s.valid) s.distance = euclidean_distance(*a, *b);
    scored.push_back(s);
  }
  return scored;
}

// Every pair with its distance and the call at its fold's threshold, for error analysis.
void write_pair_csv(const fs::path& file, const LfwImagePairs& lfw, const std::vector<ScoredPair>& pairs,
                    const TenFoldResult& folds) {
  std::ofstream csv(file);
  csv << "fold,same,image_a,image_b,distance,fold_threshold,called_same,correct\n";
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const ScoredPair& p = pairs[i];
    if (static_cast<std::size_t>(p.fold) >= folds.fold_threshold.size()) continue;  // beyond the 10 folds
    const double threshold = folds.fold_threshold[p.fold];
    const bool called_same = p.valid && p.distance < threshold;
    csv << p.fold + 1 << ',' << p.same << ',' << lfw.images[lfw.pairs[i].image_a] << ','
        << lfw.images[lfw.pairs[i].image_b] << ',';
    if (p.valid) csv << p.distance;
    csv << ',' << threshold << ',' << called_same << ',' << (p.valid && called_same == p.same) << '\n';
  }
}

nlohmann::json report(const std::string& label, const LfwImagePairs& lfw, const std::vector<ScoredPair>& pairs,
                      float threshold, const std::string& out_dir) {
  const TenFoldResult folds = ten_fold(pairs);
  write_pair_csv(fs::path(out_dir) / ("pairs_" + label + ".csv"), lfw, pairs, folds);
  const std::vector<RocPoint> roc = roc_curve(pairs);
  std::ofstream csv(fs::path(out_dir) / ("roc_" + label + ".csv"));
  csv << "threshold,false_accept_rate,true_accept_rate\n";
  for (const RocPoint& p : roc) csv << p.threshold << ',' << p.false_accept_rate << ',' << p.true_accept_rate << '\n';
  std::ostringstream title;
  title << std::fixed << std::setprecision(2) << "LFW ROC (" << label << "): " << 100 * folds.mean_accuracy << "%";
  save_image(plot_roc(roc, title.str()), (fs::path(out_dir) / ("roc_" + label + ".png")).string());
  std::size_t invalid = 0;
  for (const ScoredPair& p : pairs) invalid += p.valid ? 0 : 1;
  return {{"variant", label},
          {"mean_accuracy", folds.mean_accuracy},
          {"std_accuracy", folds.std_accuracy},
          {"mean_accuracy_without_failed_pairs", folds.mean_accuracy_valid_only},
          {"accuracy_at_threshold", accuracy_at(pairs, threshold)},
          {"threshold", threshold},
          {"fold_thresholds", folds.fold_threshold},
          {"fold_accuracy", folds.fold_accuracy},
          {"pairs", pairs.size()},
          {"failed_pairs", invalid},
          {"equal_error_rate", equal_error_rate(roc).rate}};
}

int run_lfw(const LfwArgs& args) {
  const LfwImagePairs lfw = read_lfw_image_pairs(args.root, args.pairs_file, args.per_fold);
  const Engine engine = Engine::open(args.engine.model_options());
  const FaceChoice choice = args.face_choice == "largest" ? FaceChoice::kLargest : FaceChoice::kNearestCenter;
  if (args.jobs > 1) set_intra_op_threads(1);
  std::error_code ec;
  fs::create_directories(args.out_dir, ec);
  if (ec) throw Error(ErrorCode::kIo, "cannot create " + args.out_dir + ": " + ec.message());

  std::vector<Degradation> degradations;
  for (const std::string& name : args.degrade) {
    if (name == "all") {
      degradations.push_back(Degradation::kNone);
      for (Degradation d : all_degradations()) degradations.push_back(d);
    } else {
      degradations.push_back(parse_degradation(name));
    }
  }
  std::vector<ChipSampling> samplings;
  for (const std::string& name : args.chip_sampling) samplings.push_back(parse_chip_sampling(name));
  if (samplings.empty()) samplings.push_back(args.engine.pipeline_options().chip.small_face_sampling);
  std::vector<Enhancement> enhancements;
  for (const std::string& spec : args.enhance) enhancements.push_back(parse_enhancement(spec));
  enum class Stage { kChip, kImage, kBoth };
  const Stage stage = args.enhance_stage == "image" ? Stage::kImage
                      : args.enhance_stage == "chip" ? Stage::kChip
                                                     : Stage::kBoth;
  std::vector<Variant> variants;
  for (Degradation d : degradations)
    for (ChipSampling s : samplings)
      for (const Enhancement& e : enhancements) variants.push_back({d, s, e});
  const auto variant_index = [&](std::size_t d, std::size_t s, std::size_t e) {
    return (d * samplings.size() + s) * enhancements.size() + e;
  };

  // Per image: one decode, per degradation one detection (per enhancement too when the
  // enhancement runs before detection), then every chip variant.
  struct PerImage {
    std::vector<ImageEmbedding> by_variant;
    std::vector<bool> found;  // per degradation (first enhancement)
    std::string error;
  };
  std::vector<std::vector<ImageEmbedding>> embeddings(variants.size(), std::vector<ImageEmbedding>(lfw.images.size()));
  std::vector<std::size_t> found_per_degradation(degradations.size(), 0);
  std::vector<std::string> failures;
  // Enhancement and sampling are swept below; detection and landmarks follow the flags.
  const PipelineOptions pipeline = args.engine.pipeline_options();
  const auto start = std::chrono::steady_clock::now();
  const EmbedAugmentation widest = args.flip_rotate ? EmbedAugmentation::kFlipRotate
                                   : args.flip      ? EmbedAugmentation::kFlip
                                                    : EmbedAugmentation::kNone;
  // The chips of the widest augmentation hold those of the smaller ones as prefixes.
  const auto embed_into = [&](const cv::Mat& chip_source, const Face& face, ChipSampling sampling,
                              const Enhancement& enhancement, ImageEmbedding& out) {
    const std::vector<Embedding> views = engine.embed_views(from_mat(chip_source), face, {sampling, enhancement, widest});
    for (EmbedAugmentation a : {EmbedAugmentation::kNone, EmbedAugmentation::kFlip, EmbedAugmentation::kFlipRotate}) {
      if (chip_count(a) <= views.size())
        out.by_augmentation[static_cast<std::size_t>(a)] = mean_embedding(views, 0, chip_count(a));
    }
  };
  parallel_map_ordered<PerImage>(
      lfw.images.size(), args.jobs,
      [&](std::size_t i) -> PerImage {
        PerImage result;
        result.by_variant.resize(variants.size());
        result.found.assign(degradations.size(), false);
        try {
          const Image original = load_image(lfw.images[i], args.engine.decode_options());
          const cv::Mat original_bgr = as_mat(original);
          for (std::size_t d = 0; d < degradations.size(); ++d) {
            const cv::Mat degraded = degrade(original_bgr, degradations[d], seed_for(lfw.images[i]));
            bool detected_on_degraded = false;
            std::optional<Face> chosen_on_degraded;
            for (std::size_t e = 0; e < enhancements.size(); ++e) {
              // detect_input feeds detection and landmarks, chip_source the chip.
              cv::Mat detect_input = degraded, chip_source = degraded;
              if (stage == Stage::kImage && enhancements[e].any()) {
                // Whole-image enhancement: measures from the central half, where LFW faces sit.
                Face centre;
                centre.box = {degraded.cols / 4.0F, degraded.rows / 4.0F, degraded.cols / 2.0F, degraded.rows / 2.0F};
                detect_input = chip_source = enhance(degraded, enhancements[e], measure_face_quality(degraded, centre));
              } else if (stage == Stage::kBoth && enhancements[e].automatic) {
                detect_input = enhance_for_detection(degraded);  // what Engine::detect does under auto
              }
              // One detection on the degraded image serves every setting that leaves it as is.
              const bool on_degraded = detect_input.data == degraded.data;
              std::optional<Face> chosen;
              if (on_degraded && detected_on_degraded) {
                chosen = chosen_on_degraded;
              } else {
                const Image image = from_mat(detect_input);
                const std::vector<Face> faces = engine.detect(image, pipeline);
                const int index = engine.choose_subject(image, faces, choice, pipeline);
                if (index >= 0) chosen = faces[index];
                if (on_degraded) detected_on_degraded = true, chosen_on_degraded = chosen;
              }
              if (e == 0) result.found[d] = chosen.has_value();
              if (!chosen) continue;
              // Image-stage enhancement already ran on chip_source; otherwise each chip is enhanced.
              const Enhancement chip_enhancement = stage == Stage::kImage ? Enhancement{} : enhancements[e];
              for (std::size_t s = 0; s < samplings.size(); ++s) {
                embed_into(chip_source, *chosen, samplings[s], chip_enhancement,
                           result.by_variant[variant_index(d, s, e)]);
              }
            }
          }
        } catch (const Error& e) {
          result.error = e.what();
        }
        return result;
      },
      [&](std::size_t i, const PerImage& result) {
        for (std::size_t v = 0; v < variants.size(); ++v) embeddings[v][i] = result.by_variant[v];
        for (std::size_t d = 0; d < degradations.size(); ++d) {
          if (result.found[d]) ++found_per_degradation[d];
          else if (result.error.empty() && degradations[d] == Degradation::kNone) failures.push_back(lfw.images[i] + ": no face");
        }
        if (!result.error.empty()) failures.push_back(lfw.images[i] + ": " + result.error);
        if ((i + 1) % 100 == 0 || i + 1 == lfw.images.size()) {
          const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
          std::cerr << "eval: " << i + 1 << "/" << lfw.images.size() << " images, "
                    << std::setprecision(3) << (i + 1) / seconds << " images/s\n";
        }
      });

  nlohmann::json out = {{"root", args.root},
                        {"pairs_file", args.pairs_file},
                        {"detector", args.engine.detector},
                        {"landmarks", args.engine.landmarks},
                        {"face_choice", args.face_choice},
                        {"enhance_stage", args.enhance_stage},
                        {"upsample", args.engine.upsample},
                        {"border_pass", args.engine.border_pass},
                        {"images", lfw.images.size()},
                        {"images_without_face", failures.size()},
                        {"failures", failures}};
  for (std::size_t d = 0; d < degradations.size(); ++d) {
    out["detection_recall"][to_string(degradations[d])] =
        lfw.images.empty() ? 0.0 : static_cast<double>(found_per_degradation[d]) / lfw.images.size();
  }
  const bool single = variants.size() == 1;
  for (std::size_t v = 0; v < variants.size(); ++v) {
    std::string label = single ? "plain" : variants[v].label();
    std::string file_label = label;
    std::replace(file_label.begin(), file_label.end(), '/', '_');
    for (EmbedAugmentation a : {EmbedAugmentation::kNone, EmbedAugmentation::kFlip, EmbedAugmentation::kFlipRotate}) {
      if (chip_count(a) > chip_count(widest)) continue;
      const bool none = a == EmbedAugmentation::kNone;
      const std::string suffix = none ? "" : std::string("_") + to_string(a);
      nlohmann::json r = report(file_label + suffix, lfw, score_pairs(lfw, embeddings[v], a), args.threshold, args.out_dir);
      r["variant"] = none ? label : single ? to_string(a) : label + "/" + to_string(a);
      out["results"].push_back(r);
    }
  }
  std::ofstream(fs::path(args.out_dir) / "report.json") << out.dump(2) << '\n';

  for (const auto& r : out["results"]) {
    std::cerr << std::fixed << std::setprecision(2) << "LFW " << r["variant"].get<std::string>() << ": "
              << 100 * r["mean_accuracy"].get<double>() << "% +- " << 100 * r["std_accuracy"].get<double>()
              << " (10-fold, failed pairs wrong), " << 100 * r["mean_accuracy_without_failed_pairs"].get<double>()
              << "% without them, " << 100 * r["accuracy_at_threshold"].get<double>() << "% at "
              << args.threshold << "; " << r["failed_pairs"].get<std::size_t>() << " failed pairs\n";
  }
  out.erase("failures");  // listed in report.json; too long for the terminal
  emit(out);
  return kExitOk;
}

}  // namespace

void add_eval_command(CLI::App& app, int& exit_code) {
  CLI::App* eval = app.add_subcommand("eval", "Accuracy evaluations");
  eval->require_subcommand(1);
  auto args = std::make_shared<LfwArgs>();
  CLI::App* lfw = eval->add_subcommand("lfw", "LFW View 2: 10-fold verification accuracy, ROC");
  lfw->add_option("--root", args->root, "Image folder: <root>/<Name>/<Name>_NNNN.jpg")->required()
      ->check(CLI::ExistingDirectory);
  lfw->add_option("--pairs", args->pairs_file, "pairs.txt (View 2)")->required()->check(CLI::ExistingFile);
  lfw->add_option("--out", args->out_dir, "Report folder (report.json, roc_*.csv, roc_*.png, pairs_*.csv: every pair's distance and call)")->capture_default_str();
  lfw->add_option("--face", args->face_choice, "Which face of a photo")->check(CLI::IsMember({"center", "largest"}))
      ->capture_default_str();
  lfw->add_flag("--flip", args->flip, "Also report horizontal-flip test-time augmentation");
  lfw->add_flag("--flip-rotate", args->flip_rotate,
                "Also report flip + rotation test-time augmentation (6 chips per face; implies --flip)");
  lfw->add_option("--per-fold", args->per_fold, "Use only N pairs per fold (quick runs)")->check(CLI::NonNegativeNumber);
  lfw->add_option("--threshold", args->threshold, "Fixed threshold also reported")->check(CLI::Range(0.0F, 4.0F))
      ->capture_default_str();
  lfw->add_option("-j,--jobs", args->jobs, "Worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  lfw->add_option("--degrade", args->degrade,
                  "Degrade both images of every pair (comma list, one result each): none, down3, down4, down6, "
                  "blur1.5, blur3, lowlight, jpeg10, motion9, small3, small4, small6, or all")
      ->delimiter(',')->capture_default_str();
  lfw->add_option("--enhance", args->enhance,
                  "Enhancement settings to evaluate (comma list; steps joined by '+'): off, auto, denoise, gamma, "
                  "clahe, sharpen, e.g. off,auto,gamma+clahe")
      ->delimiter(',')->capture_default_str();
  lfw->add_option("--enhance-stage", args->enhance_stage,
                  "chip: enhance each chip only; image: enhance the whole image, detect and cut chips from it; "
                  "both: what the engine does (auto also brightens a dark photo for detection, chips are "
                  "enhanced each)")
      ->check(CLI::IsMember({"chip", "image", "both"}))->capture_default_str();
  lfw->add_option("--chip-sampling", args->chip_sampling,
                  "Chip samplers for faces smaller than the chip to evaluate (comma list): dlib, bicubic, lanczos, "
                  "area, sharpened")
      ->delimiter(',');
  args->engine.add_to(*lfw);
  set_runner(*lfw, [args] { return run_lfw(*args); }, exit_code);
}

}  // namespace siamface::cli
