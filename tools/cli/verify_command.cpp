// siamface verify A B : are these the same person? Exit 0 same, 1 different, 2 error.
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "siamface/recognizer.hpp"

namespace siamface::cli {
namespace {

struct VerifyArgs {
  std::string first;
  std::string second;
  ThresholdFlags threshold;
  EngineFlags engine;
};

nlohmann::json describe(const Engine& engine, const EngineFlags& flags, const std::string& path,
                        Embedding& embedding) {
  const Image image = load_image(path, flags.decode_options());
  const PipelineOptions pipeline = flags.pipeline_options();
  const std::vector<Face> faces = engine.detect(image, pipeline);
  const int chosen = engine.choose_subject(image, faces, FaceChoice::kLargest, pipeline);
  if (chosen < 0) throw Error(ErrorCode::kNoFace, "no face found in " + path);
  embedding = engine.embed(image, faces[chosen], pipeline.chip);
  nlohmann::json out = to_json(faces[chosen], /*with_landmarks=*/false);
  out["file"] = path;
  out["faces_in_image"] = faces.size();
  return out;
}

int run_verify(const VerifyArgs& args) {
  const Engine engine = Engine::open(args.engine.model_options());
  Embedding a{}, b{};
  nlohmann::json line;
  line["a"] = describe(engine, args.engine, args.first, a);
  line["b"] = describe(engine, args.engine, args.second, b);
  const float distance = euclidean_distance(a, b);
  const float threshold = args.threshold.resolve(IdentifyOptions::default_decision_rule().threshold);
  const bool same = distance < threshold;
  line["distance"] = distance;
  line["threshold"] = threshold;
  line["same"] = same;
  emit(line);
  return same ? kExitOk : kExitNegative;
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* command = app.add_subcommand(
      "verify", "Compare the largest face of two photos. Exit 0: same person, 1: different, 2: error");
  command->add_option("a", args->first, "First image")->required();
  command->add_option("b", args->second, "Second image")->required();
  args->threshold.add_to(*command);
  args->engine.add_to(*command);
  args->engine.add_enhance_to(*command);
  set_runner(*command, [args] { return run_verify(*args); }, exit_code);
}

}  // namespace siamface::cli
