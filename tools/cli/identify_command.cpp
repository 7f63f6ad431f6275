// siamface identify PATH... : name every face against the gallery, or say "unknown".
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "siamface/identify.hpp"
#include "siamface/render.hpp"
#include "util/sha256.hpp"

namespace siamface::cli {
namespace {

struct IdentifyArgs {
  std::vector<std::string> inputs;
  ThresholdFlags threshold;
  float margin = -1.0F;  // < 0: the default rule's
  std::string adaptive = "default";
  std::size_t top_k = 3;
  std::string distance = "min";
  bool csv = false;
  std::string annotate_dir;
  int jobs = 2;
  bool keep_unknown = false;
  bool liveness = false;
  float liveness_threshold = -1.0F;  // < 0: the library's default
  EngineFlags engine;
  GalleryFlags gallery;
};

// What the annotation says under an unknown face (Decision::reason in words).
std::string unknown_reason_in_words(const Decision& decision) {
  std::ostringstream distance;
  distance << std::fixed << std::setprecision(2) << decision.distance;
  switch (decision.reason) {
    case UnknownReason::kNoCandidate: return "gallery empty";
    case UnknownReason::kAboveThreshold: return "no match: dist " + distance.str();
    case UnknownReason::kNegativeExample: return "marked not this person";
    case UnknownReason::kNetworksDisagree: return "networks disagree";
    case UnknownReason::kAmbiguous: return "unsure: near " + decision.runner_up;
    case UnknownReason::kNameTaken: return "name taken by another face";
    case UnknownReason::kSpoof: return "SPOOF: photo or screen";
    case UnknownReason::kLivenessUnchecked: return "too small to check liveness";
    case UnknownReason::kNone: break;
  }
  return "No matching faces";
}

// --csv's columns: face_recognition's file,name,distance,top,right,bottom,left, then the reason.
constexpr const char* kCsvHeader = "file,name,distance,top,right,bottom,left,reason";

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

int run_identify(const IdentifyArgs& args) {
  // --keep-unknown writes (and may create) the gallery; an empty one is fine then: it collects
  // the faces to name later (docs/unknown-faces.md).
  Gallery gallery = args.keep_unknown ? args.gallery.open(/*create=*/true) : args.gallery.open_read_only();
  const Engine engine = Engine::open(args.engine.model_options_for(gallery));
  if (gallery.face_count() == 0 && !args.keep_unknown) {
    std::cerr << "siamface: the gallery " << gallery.path() << " is empty: every face will be unknown "
              << "(enroll people first: siamface enroll DATA_DIR)\n";
  }

  IdentifyOptions options;
  options.top_k = args.top_k;
  options.distance = parse_identity_distance(args.distance);
  options.pipeline = args.engine.pipeline_options();
  args.threshold.apply_to(options, gallery);
  if (args.margin >= 0) options.rule.margin = args.margin;
  if (args.adaptive != "default") options.rule.quality_adaptive = args.adaptive == "on";
  options.liveness.enabled = args.liveness;
  if (args.liveness_threshold >= 0) options.liveness.threshold = args.liveness_threshold;

  const std::vector<std::string> files = collect_images(args.inputs);
  AnnotatedPaths annotated(files, args.annotate_dir);
  const auto describe = [&](const std::string& file, nlohmann::json& line) {
    Image image = load_image(file, args.engine.decode_options());
    const std::vector<IdentifiedFace> faces = identify_image(engine, gallery, image, options);
    if (args.keep_unknown) {
      const std::string sha = sha256_hex_of_file(file);
      const KeptUnknown kept = keep_unknown_faces(gallery, engine.model_info(), image, faces, file, sha, sha);
      line["unknown_kept"] = kept.kept;
      if (kept.duplicates) line["unknown_duplicates"] = kept.duplicates;
      if (kept.low_quality) line["unknown_low_quality"] = kept.low_quality;
    }
    line["faces"] = nlohmann::json::array();
    std::vector<FaceLabel> labels;
    for (const IdentifiedFace& face : faces) {
      nlohmann::json out = to_json(face.face, /*with_landmarks=*/false);
      out["name"] = face.decision.person;
      out["known"] = face.decision.known;
      out["distance"] = face.decision.distance;
      out["threshold"] = face.decision.threshold;
      if (!face.decision.known) out["reason"] = to_string(face.decision.reason);
      if (!face.decision.runner_up.empty()) out["runner_up"] = face.decision.runner_up;
      if (face.liveness) out["liveness"] = to_json(*face.liveness);
      out["top"] = nlohmann::json::array();
      for (const IdentityMatch& match : face.top) out["top"].push_back({{"person", match.person}, {"distance", match.distance}});
      line["faces"].push_back(std::move(out));
      std::ostringstream distance;
      distance << "dist " << std::fixed << std::setprecision(2) << face.decision.distance;
      labels.push_back(face.decision.known
                           ? FaceLabel{face.face.box, face.decision.person, distance.str(), kKnownColor, nullptr}
                           : FaceLabel{face.face.box, kUnknownPerson, unknown_reason_in_words(face.decision),
                                       kUnknownColor, nullptr});
    }
    if (!args.annotate_dir.empty()) line["annotated"] = annotated.save(file, image, labels);
  };
  if (!args.csv) return for_each_image(files, args.jobs, describe);


  // face_recognition-compatible CSV rows: file,name,distance,top,right,bottom,left, then why an
  // unknown face is unknown (empty for a named one).
  const auto csv_row = [](const nlohmann::json& line) {
    if (!line.contains("faces")) return;
    const std::string file = csv_field(line["file"].get<std::string>());
    if (line["faces"].empty()) std::cout << file << ",no_persons_found,,,,,,\n";
    for (const auto& face : line["faces"]) {
      const auto& box = face["box"];
      const double left = box["left"], top = box["top"], width = box["width"], height = box["height"];
      std::cout << file << ',' << csv_field(face["name"].get<std::string>()) << ',' << std::fixed
                << std::setprecision(4) << face["distance"].get<double>() << std::setprecision(0) << ',' << top << ','
                << left + width << ',' << top + height << ',' << left << ',' << face.value("reason", "") << '\n';
    }
    std::cout << std::flush;
  };
  std::cout << kCsvHeader << '\n';  // issue 34: a header row, so the columns are named
  return for_each_image(files, args.jobs, describe, csv_row);
}

}  // namespace

void add_identify_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<IdentifyArgs>();
  CLI::App* command = app.add_subcommand("identify", "Name every face in images or folders (recursive)");
  command->add_option("inputs", args->inputs, "Images or folders")->required();
  args->threshold.add_to(*command);
  command->add_option("--margin", args->margin, "Require the next other identity this much further (0: off)")
      ->check(CLI::Range(0.0F, 4.0F));
  command->add_option("--adaptive", args->adaptive, "Quality-adaptive threshold")
      ->check(CLI::IsMember({"default", "on", "off"}))->capture_default_str();
  command->add_option("-k,--top-k", args->top_k, "Identities listed per face")->check(CLI::Range(1, 1000))
      ->capture_default_str();
  command->add_option("--distance", args->distance, "Identity distance: min over its faces, or to their mean")
      ->check(CLI::IsMember({"min", "mean"}))->capture_default_str();
  command->add_flag("--keep-unknown", args->keep_unknown,
                   "Keep the faces nobody was named for (embedding, thumbnail) for `siamface cluster`");
  command->add_flag("--liveness", args->liveness,
                   "Name only faces judged live: a photo or screen held up is reported as \"spoof\" "
                   "(off by default; error rates: docs/analysis.md)");
  command->add_option("--liveness-threshold", args->liveness_threshold,
                      "Liveness score at and above which a face is live (default: the library's)")
      ->check(CLI::Range(0.0F, 1.0F))
      ->needs("--liveness");
  command->add_flag("--csv", args->csv, std::string("CSV, after a header row: ") + kCsvHeader);
  command->add_option("--annotate", args->annotate_dir,
                      "Write labelled copies here, at the inputs' paths relative to their common folder");
  command->add_option("-j,--jobs", args->jobs, "Worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  args->engine.add_to(*command);
  args->engine.add_enhance_to(*command);
  args->gallery.add_to(*command);
  set_runner(*command, [args] { return run_identify(*args); }, exit_code);
}

}  // namespace siamface::cli
