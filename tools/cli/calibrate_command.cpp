// siamface calibrate [--folder DIR] : genuine/impostor distances, ROC, EER and thresholds at
// fixed false-accept rates, from the gallery or a labelled folder tree; optionally saved.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "eval/verification_protocol.hpp"
#include "parallel_map.hpp"
#include "eval/plots.hpp"
#include "siamface/identify.hpp"

namespace siamface::cli {
namespace {

namespace fs = std::filesystem;

struct CalibrateArgs {
  std::string folder;
  std::string out_dir = "out/calibrate";
  double target_far = 0.01;
  bool save = false;
  bool force = false;
  int jobs = 2;
  EngineFlags engine;
  GalleryFlags gallery;
};

using Labelled = std::map<std::string, std::vector<Embedding>>;

Labelled embed_folder(const CalibrateArgs& args) {
  const Engine engine = Engine::open(args.engine.model_options());
  std::vector<std::pair<std::string, std::string>> items;  // person, photo
  for (const auto& entry : fs::directory_iterator(args.folder)) {
    if (!entry.is_directory()) continue;
    for (const std::string& photo : collect_images({entry.path().string()}))
      items.emplace_back(entry.path().filename().string(), photo);
  }
  if (args.jobs > 1) set_intra_op_threads(1);
  EnrollOptions options;
  options.take_largest = true;
  options.gate = QualityGate{0.0F, 0.0F, 1.0F};
  options.decode = args.engine.decode_options();
  options.pipeline = args.engine.pipeline_options();
  Labelled labelled;
  parallel_map_ordered<EnrollResult>(
      items.size(), args.jobs,
      [&](std::size_t i) { return prepare_enrollment(engine, items[i].first, items[i].second, options); },
      [&](std::size_t i, EnrollResult& result) {
        if (result.face) {
          labelled[items[i].first].push_back(result.face->embedding);
        } else {
          std::cerr << "siamface: calibrate: skipped " << items[i].second << ": " << result.reason << '\n';
        }
      });
  return labelled;
}

Labelled from_gallery(const Gallery& gallery) {
  Labelled labelled;
  for (const PersonSummary& person : gallery.people())
    for (const GalleryFace& face : gallery.faces_of(person.person)) labelled[person.person].push_back(face.embedding);
  return labelled;
}

int run_calibrate(const CalibrateArgs& args) {
  std::optional<Gallery> gallery;
  if (args.save) gallery = args.gallery.open(/*create=*/true);
  else if (args.folder.empty()) gallery = args.gallery.open_read_only();
  const Labelled labelled = args.folder.empty() ? from_gallery(*gallery) : embed_folder(args);

  std::vector<ScoredPair> pairs;
  std::vector<float> genuine, impostor;
  std::vector<std::pair<std::string, const Embedding*>> all;
  std::size_t people_with_pairs = 0;
  for (const auto& [person, embeddings] : labelled) {
    people_with_pairs += embeddings.size() >= 2 ? 1 : 0;
    for (const Embedding& e : embeddings) all.emplace_back(person, &e);
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    for (std::size_t j = i + 1; j < all.size(); ++j) {
      const float distance = euclidean_distance(*all[i].second, *all[j].second);
      const bool same = all[i].first == all[j].first;
      (same ? genuine : impostor).push_back(distance);
      pairs.push_back({distance, same, 0, true});
    }
  }
  if (genuine.empty() || impostor.empty()) {
    throw Error(ErrorCode::kInvalidArgument,
                "calibration needs at least one person with two or more photos and two people (found " +
                    std::to_string(people_with_pairs) + " people with 2+ photos among " +
                    std::to_string(labelled.size()) + ")");
  }
  const std::vector<RocPoint> roc = roc_curve(pairs);
  const EqualErrorRate eer = equal_error_rate(roc);
  const double at_far_1 = threshold_at_far(roc, 0.01);
  const double at_far_01 = threshold_at_far(roc, 0.001);
  const double chosen = threshold_at_far(roc, args.target_far);
  // How well the impostor pairs pin the false-accept rate down at the chosen threshold: a
  // threshold for FAR 1 % from 100 impostor pairs rests on one pair (issue 34).
  const auto false_accepts = static_cast<std::size_t>(
      std::count_if(impostor.begin(), impostor.end(), [&](float d) { return d < chosen; }));
  const RateInterval far_at_chosen = wilson_interval(false_accepts, impostor.size());
  const bool enough_pairs = far_at_chosen.high <= 2 * args.target_far;

  std::error_code ec;
  fs::create_directories(args.out_dir, ec);
  save_image(plot_distance_histogram(genuine, impostor, chosen, "genuine vs impostor distances"),
             (fs::path(args.out_dir) / "histogram.png").string());
  save_image(plot_roc(roc, "calibration ROC"), (fs::path(args.out_dir) / "roc.png").string());
  std::ofstream csv(fs::path(args.out_dir) / "roc.csv");
  csv << "threshold,false_accept_rate,true_accept_rate\n";
  for (const RocPoint& p : roc) csv << p.threshold << ',' << p.false_accept_rate << ',' << p.true_accept_rate << '\n';

  nlohmann::json out = {{"people", labelled.size()},
                        {"genuine_pairs", genuine.size()},
                        {"impostor_pairs", impostor.size()},
                        {"equal_error_rate", eer.rate},
                        {"eer_threshold", eer.threshold},
                        {"threshold_far_1e-2", at_far_1},
                        {"threshold_far_1e-3", at_far_01},
                        {"target_far", args.target_far},
                        {"chosen_threshold", chosen},
                        {"false_accept_rate_at_chosen", far_at_chosen.rate},
                        {"false_accept_rate_ci95", {far_at_chosen.low, far_at_chosen.high}},
                        {"enough_impostor_pairs", enough_pairs},
                        {"plots", args.out_dir}};
  std::cerr << std::fixed << std::setprecision(3) << "calibrate: " << genuine.size() << " genuine, " << impostor.size()
            << " impostor pairs; EER " << 100 * eer.rate << "% at " << eer.threshold << "; threshold at FAR 1%: "
            << at_far_1 << ", at FAR 0.1%: " << at_far_01 << "\n"
            << "calibrate: at the chosen threshold " << chosen << " the false-accept rate is " << 100 * far_at_chosen.rate
            << "% (" << false_accepts << " of " << impostor.size() << " impostor pairs; 95% interval "
            << 100 * far_at_chosen.low << "-" << 100 * far_at_chosen.high << "%)\n";
  if (!enough_pairs) {
    std::cerr << "calibrate: too few impostor pairs to aim at a false-accept rate of " << 100 * args.target_far
              << "%: the interval's upper end is over twice the target (more people and photos narrow it)\n";
  }
  int exit_code = kExitOk;
  if (args.save) {
    const float current = gallery_threshold(*gallery, IdentifyOptions::default_decision_rule().threshold);
    if (!enough_pairs && chosen > current && !args.force) {
      // A looser threshold from too little evidence names strangers: keep the current one.
      out["saved"] = false;
      out["kept_threshold"] = current;
      std::cerr << "calibrate: not saved: " << chosen << " is looser than the gallery's " << current
                << " and rests on too few impostor pairs (--force saves it anyway)\n";
      exit_code = kExitNegative;
    } else {
      gallery->set_setting(kThresholdSetting, format_distance_threshold(chosen));
      out["saved"] = true;
      out["saved_to"] = gallery->path();
      std::cerr << "calibrate: saved threshold " << chosen << " in " << gallery->path() << '\n';
    }
  }
  emit(out);
  return exit_code;
}

}  // namespace

void add_calibrate_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* command = app.add_subcommand(
      "calibrate", "Distance distributions, ROC, EER and thresholds from the gallery or --folder DIR/<person>/");
  command->add_option("--folder", args->folder, "Labelled folder tree instead of the gallery")
      ->check(CLI::ExistingDirectory);
  command->add_option("--out", args->out_dir, "Where histogram.png, roc.png and roc.csv go")->capture_default_str();
  command->add_option("--target-far", args->target_far, "False-accept rate the saved threshold aims at")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str();
  command->add_flag("--save", args->save,
                    "Save the threshold at --target-far into the gallery (a looser one only with enough impostor "
                    "pairs: the 95% upper end of its false-accept rate at most twice the target)");
  command->add_flag("--force", args->force, "With --save: save a looser threshold even from too few impostor pairs");
  command->add_option("-j,--jobs", args->jobs, "Worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  args->engine.add_to(*command);
  args->gallery.add_to(*command);
  set_runner(*command, [args] { return run_calibrate(*args); }, exit_code);
}

}  // namespace siamface::cli
