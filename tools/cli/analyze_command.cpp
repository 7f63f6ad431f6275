// siamface analyze PHOTO|FOLDER... : age, gender, expression, liveness and head pose of every
// face, one JSON line per photo (docs/analysis.md).
#include <cstdio>
#include <memory>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"
#include "siamface/analysis.hpp"
#include "siamface/render.hpp"

namespace siamface::cli {
namespace {

struct AnalyzeArgs {
  std::vector<std::string> inputs;
  std::string attributes = "age,gender,expression,liveness,pose";
  std::optional<float> liveness_threshold;
  bool landmarks = false;
  std::string annotate_dir;
  int jobs = 2;
  EngineFlags engine;
};

// What the annotation says of a face: "female 31" over "happy, live 0.93".
FaceLabel label_of(const FaceAnalysis& a) {
  std::string title, subtitle;
  const auto add = [](std::string& to, const std::string& part) { to += (to.empty() ? "" : ", ") + part; };
  if (a.gender) add(title, a.gender->value);
  if (a.age) add(title, std::to_string(static_cast<int>(std::lround(*a.age))));
  if (a.expression) add(subtitle, a.expression->value);
  Color color = kDetectionColor;
  if (a.liveness) {
    char text[32];
    std::snprintf(text, sizeof text, "%s %.2f", name_of(kLivenessVerdictNames, a.liveness->verdict), a.liveness->score);
    add(subtitle, text);
    color = a.liveness->verdict == LivenessVerdict::kLive ? kKnownColor : kUnknownColor;
  }
  if (a.too_small) add(subtitle, "too small");
  if (title.empty()) title = "face";
  return {a.face.box, title, subtitle, color, nullptr};
}

int run_analyze(const AnalyzeArgs& args) {
  AnalyzeOptions options;
  options.attributes = AttributeSet::parse(args.attributes);  // a bad name fails before the models load
  options.liveness_threshold = args.liveness_threshold;
  options.pipeline = args.engine.pipeline_options();
  const Engine engine = Engine::open(args.engine.model_options());
  const std::vector<std::string> files = collect_images(args.inputs);
  AnnotatedPaths annotated(files, args.annotate_dir);
  return for_each_image(files, args.jobs, [&](const std::string& file, nlohmann::json& line) {
    Image image = load_image(file, args.engine.decode_options());
    const std::vector<FaceAnalysis> faces = analyze_faces(engine, image, options);
    line["faces"] = nlohmann::json::array();
    std::vector<FaceLabel> labels;
    for (const FaceAnalysis& face : faces) {
      line["faces"].push_back(to_json(face, args.landmarks));
      labels.push_back(label_of(face));
    }
    if (args.annotate_dir.empty()) return;
    line["annotated"] = annotated.save(file, image, labels);
  });
}

}  // namespace

void add_analyze_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<AnalyzeArgs>();
  CLI::App* command =
      app.add_subcommand("analyze", "Age, gender, expression, liveness and head pose of every face; JSON line per image");
  command->add_option("inputs", args->inputs, "Images or folders (recursive)")->required();
  command->add_option("--attributes", args->attributes,
                      "Comma-separated: age, gender, expression, liveness, pose (an empty list: faces only)")
      ->capture_default_str();
  command->add_option("--liveness-threshold", args->liveness_threshold,
                      "Live at and above this score (default: the measured default, docs/analysis.md)")
      ->check(CLI::Range(0.0F, 1.0F));
  command->add_flag("--print-landmarks", args->landmarks, "Print the 68 landmarks of each face too");
  command->add_option("--annotate", args->annotate_dir,
                      "Write labelled copies here, at the inputs' paths relative to their common folder");
  command->add_option("-j,--jobs", args->jobs, "Worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  args->engine.add_to(*command);
  set_runner(*command, [args] { return run_analyze(*args); }, exit_code);
}

}  // namespace siamface::cli
