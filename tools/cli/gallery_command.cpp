// siamface gallery info | set-threshold T | clear-threshold
#include <iostream>
#include <memory>

#include "cli_common.hpp"
#include "commands.hpp"
#include "siamface/identify.hpp"

namespace siamface::cli {

void add_gallery_command(CLI::App& app, int& exit_code) {
  CLI::App* gallery_command = app.add_subcommand("gallery", "Gallery information and settings");
  gallery_command->require_subcommand(1);

  auto flags = std::make_shared<GalleryFlags>();
  CLI::App* info = gallery_command->add_subcommand("info", "Model, counts, threshold (JSON)");
  flags->add_to(*info);
  set_runner(*info, [flags] {
    const Gallery gallery = flags->open_read_only();
    const GalleryInfo data = gallery.info();
    nlohmann::json out = {{"path", data.path},
                          {"schema_version", data.schema_version},
                          {"people", data.person_count},
                          {"faces", data.face_count},
                          {"file_bytes", data.file_bytes},
                          {"threshold", data.threshold ? *data.threshold : IdentifyOptions::default_decision_rule().threshold},
                          {"threshold_source", data.threshold ? "gallery" : "default"}};
    if (data.model) {
      out["model"] = {{"name", data.model->name}, {"version", data.model->version},
                      {"weights_sha256", data.model->weights_sha256}};
    }
    emit(out);
    return kExitOk;
  }, exit_code);

  auto set_flags = std::make_shared<GalleryFlags>();
  auto threshold = std::make_shared<float>(0.6F);
  CLI::App* set = gallery_command->add_subcommand("set-threshold", "Save the default threshold in the gallery");
  set->add_option("threshold", *threshold, "Euclidean distance, 0..4")->required()->check(CLI::Range(0.0F, 4.0F));
  set_flags->add_to(*set);
  set_runner(*set, [set_flags, threshold] {
    warn_if_implausible_threshold(*threshold, "threshold");
    Gallery gallery = set_flags->open(/*create=*/true);
    gallery.set_setting(kThresholdSetting, format_distance_threshold(*threshold));
    std::cerr << "threshold " << *threshold << " saved in " << gallery.path() << '\n';
    return kExitOk;
  }, exit_code);
}

}  // namespace siamface::cli
