// siamface verify A B : are these the same person? Exit 0 same, 1 different, 2 error.
#include <iostream>
#include <limits>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "siamface/identify.hpp"

namespace siamface::cli {
namespace {

struct VerifyArgs {
  std::string first;
  std::string second;
  ThresholdFlags threshold;
  EngineFlags engine;
};

// Every face of one image with its embedding; an image without a face is an error.
std::vector<FaceEmbedding> faces_of(const Engine& engine, const EngineFlags& flags, const std::string& path) {
  const Image image = load_image(path, flags.decode_options());
  std::vector<FaceEmbedding> faces = engine.analyze(image, flags.pipeline_options());
  if (faces.empty()) throw Error(ErrorCode::kNoFace, "no face found in " + path);
  return faces;
}

nlohmann::json describe(const std::string& path, const std::vector<FaceEmbedding>& faces, std::size_t chosen) {
  nlohmann::json out = to_json(faces[chosen].face, /*with_landmarks=*/false);
  out["file"] = path;
  out["face"] = chosen;
  out["faces_in_image"] = faces.size();
  return out;
}

// Compares every face of A with every face of B (issue 34: a person in a group photo is not
// necessarily its largest face) and decides on the nearest pair.
int run_verify(const VerifyArgs& args) {
  const Engine engine = Engine::open(args.engine.model_options());
  const std::vector<FaceEmbedding> a = faces_of(engine, args.engine, args.first);
  const std::vector<FaceEmbedding> b = faces_of(engine, args.engine, args.second);
  nlohmann::json distances = nlohmann::json::array();
  std::size_t best_a = 0, best_b = 0;
  float best = std::numeric_limits<float>::infinity();
  for (std::size_t i = 0; i < a.size(); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (std::size_t j = 0; j < b.size(); ++j) {
      const float distance = euclidean_distance(a[i].embedding, b[j].embedding);
      row.push_back(distance);
      if (distance < best) best = distance, best_a = i, best_b = j;
    }
    distances.push_back(std::move(row));
  }
  const float threshold = args.threshold.resolve(IdentifyOptions::default_decision_rule().threshold);
  const bool same = best < threshold;
  nlohmann::json line;
  line["a"] = describe(args.first, a, best_a);
  line["b"] = describe(args.second, b, best_b);
  line["distance"] = best;
  line["threshold"] = threshold;
  line["same"] = same;
  line["distances"] = std::move(distances);  // [face of a][face of b], faces in detection order
  if (a.size() > 1 || b.size() > 1) {
    std::cerr << "verify: compared every pair of " << a.size() << " x " << b.size() << " faces; the nearest pair is face "
              << best_a << " of " << args.first << " and face " << best_b << " of " << args.second << '\n';
  }
  emit(line);
  return same ? kExitOk : kExitNegative;
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* command = app.add_subcommand(
      "verify", "Is someone in photo A also in photo B? Compares every pair of faces and decides on the nearest. "
                "Exit 0: same person, 1: different, 2: error");
  command->add_option("a", args->first, "First image")->required();
  command->add_option("b", args->second, "Second image")->required();
  args->threshold.add_to(*command);
  args->engine.add_to(*command);
  args->engine.add_enhance_to(*command);
  set_runner(*command, [args] { return run_verify(*args); }, exit_code);
}

}  // namespace siamface::cli
