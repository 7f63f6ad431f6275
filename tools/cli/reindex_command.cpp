// siamface reindex : re-embed every stored face from its source photo with the current model.
#include <iostream>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "parallel_map.hpp"
#include "progress.hpp"
#include "siamface/identify.hpp"

namespace siamface::cli {
namespace {

struct ReindexArgs {
  bool drop_missing = false;
  int jobs = 2;
  EngineFlags engine;
  GalleryFlags gallery;
};

int run_reindex(const ReindexArgs& args) {
  const Engine engine = Engine::open(args.engine.model_options());
  Gallery gallery = args.gallery.open(/*create=*/false);
  const std::vector<FaceSource> sources = gallery.face_sources();
  if (args.jobs > 1) set_intra_op_threads(1);
  EnrollOptions options;
  options.take_largest = true;
  options.gate = QualityGate{0.0F, 0.0F, 1.0F};  // already accepted once; only re-embed
  options.decode = args.engine.decode_options();
  options.pipeline = args.engine.pipeline_options();

  std::vector<ReindexUpdate> updates;
  std::vector<std::string> problems;
  Progress progress("reindex", sources.size());
  parallel_map_ordered<EnrollResult>(
      sources.size(), args.jobs,
      [&](std::size_t i) { return prepare_enrollment(engine, sources[i].person, sources[i].source_path, options); },
      [&](std::size_t i, EnrollResult& result) {
        progress.step(i + 1);
        if (!result.face) {
          problems.push_back(sources[i].source_path + ": " + result.reason);
          return;
        }
        if (result.face->image_sha256 != sources[i].image_sha256) {
          problems.push_back(sources[i].source_path + ": the file changed since it was enrolled");
          return;
        }
        updates.push_back({sources[i].id, result.face->embedding, result.face->face});
      });
  for (const std::string& problem : problems) std::cerr << "siamface: reindex: " << problem << '\n';
  if (!problems.empty() && !args.drop_missing) {
    throw Error(ErrorCode::kInvalidArgument, std::to_string(problems.size()) +
                                                 " faces could not be re-embedded; nothing changed (rerun with "
                                                 "--drop-missing to remove them)");
  }
  gallery.reindex(updates, engine.model_info(), /*remove_unlisted=*/args.drop_missing);
  std::cerr << "reindexed " << updates.size() << " faces with " << engine.model_info().version << '\n';
  emit({{"reindexed", updates.size()}, {"dropped", problems.size()}});
  return kExitOk;
}

}  // namespace

void add_reindex_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ReindexArgs>();
  CLI::App* command = app.add_subcommand("reindex", "Re-embed every face from its source photo (after a model change)");
  command->add_flag("--drop-missing", args->drop_missing, "Remove faces whose photo is gone or changed");
  command->add_option("-j,--jobs", args->jobs, "Worker threads")->check(CLI::Range(1, 256))->capture_default_str();
  args->engine.add_to(*command);
  args->gallery.add_to(*command);
  set_runner(*command, [args] { return run_reindex(*args); }, exit_code);
}

}  // namespace siamface::cli
