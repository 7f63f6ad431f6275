// siamface detect IMAGE... : faces, scores and landmarks as JSON lines; optional annotated copies.
#include <algorithm>
#include <iostream>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "pipeline/augmented_chips.hpp"
#include "siamface/render.hpp"

namespace siamface::cli {
namespace {

struct DetectArgs {
  std::vector<std::string> inputs;
  EngineFlags engine;
  std::string annotate_dir;
  int jobs = 2;
};

int run_detect(const DetectArgs& args) {
  const Engine engine = Engine::open(args.engine.model_options());
  const std::vector<std::string> files = collect_images(args.inputs);
  AnnotatedPaths annotated(files, args.annotate_dir);
  return for_each_image(files, args.jobs, [&](const std::string& file, nlohmann::json& line) {
    Image image = load_image(file, args.engine.decode_options());
    const PipelineOptions pipeline = args.engine.pipeline_options();
    const std::vector<Face> faces = engine.detect(image, pipeline);
    line["width"] = image.width;
    line["height"] = image.height;
    line["faces"] = nlohmann::json::array();
    for (const Face& face : faces) {
      nlohmann::json json = to_json(face);
      if (pipeline.chip.enhancement.any()) {
        // The steps the chip of this face gets (auto decides from the chip's own measures).
        const ChipEnhancement chip = chip_enhancement(image, face, pipeline.chip);
        json["chip_quality"] = {{"brightness", chip.quality.brightness},
                                {"contrast", chip.quality.contrast},
                                {"sharpness", chip.quality.sharpness},
                                {"noise", chip.quality.noise}};
        json["enhancement"] = to_string(chip.steps);
      }
      line["faces"].push_back(json);
    }
    if (args.annotate_dir.empty()) return;
    std::vector<FaceLabel> labels;
    for (const Face& face : faces) {
      char score[32];
      std::snprintf(score, sizeof score, "%.2f", face.score);
      labels.push_back({face.box, "face", score, kDetectionColor, &face.landmarks});
    }
    line["annotated"] = annotated.save(file, image, labels);
  });
}

}  // namespace

void add_detect_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<DetectArgs>();
  CLI::App* command = app.add_subcommand("detect", "Detect faces and 68 landmarks; JSON line per image");
  command->add_option("inputs", args->inputs, "Images or folders (recursive)")->required();
  args->engine.add_to(*command);
  args->engine.add_enhance_to(*command);
  command->add_option("--annotate", args->annotate_dir,
                      "Write copies with boxes and landmarks here, at the inputs' paths relative to their common folder");
  command->add_option("-j,--jobs", args->jobs, "Worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  set_runner(*command, [args] { return run_detect(*args); }, exit_code);
}

}  // namespace siamface::cli
