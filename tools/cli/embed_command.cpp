// siamface embed IMAGE... : one embedding per face, JSON line per image. Its length depends on
// the recognizer: dlib 128 values, mfn 512, fused (the default) 640 (Engine::embedding_size).
#include <iostream>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"

namespace siamface::cli {
namespace {

struct EmbedArgs {
  std::vector<std::string> inputs;
  EngineFlags engine;
  int jobs = 2;
};

int run_embed(const EmbedArgs& args) {
  const Engine engine = Engine::open(args.engine.model_options());
  const std::string recognizer = to_string(engine.options().recognizer);
  const std::size_t dimensions = engine.embedding_size();
  return for_each_image(collect_images(args.inputs), args.jobs, [&](const std::string& file, nlohmann::json& line) {
    const Image image = load_image(file, args.engine.decode_options());
    line["recognizer"] = recognizer;
    line["dimensions"] = dimensions;
    line["faces"] = nlohmann::json::array();
    for (const FaceEmbedding& result : engine.analyze(image, args.engine.pipeline_options())) {
      nlohmann::json face = to_json(result.face, /*with_landmarks=*/false);
      face["embedding"] = to_json(result.embedding);
      line["faces"].push_back(std::move(face));
    }
  });
}

}  // namespace

void add_embed_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* command = app.add_subcommand(
      "embed", "Embedding of every face; JSON line per image. Values per face: 640 with the default fused "
               "recognizer (dlib's 128 and the MobileFaceNet's 512, weighted), 128 with --recognizer dlib, "
               "512 with mfn");
  command->add_option("inputs", args->inputs, "Images or folders (recursive)")->required();
  args->engine.add_to(*command);
  args->engine.add_enhance_to(*command);
  command->add_option("-j,--jobs", args->jobs, "Worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  set_runner(*command, [args] { return run_embed(*args); }, exit_code);
}

}  // namespace siamface::cli
