// Each subcommand lives in its own file and registers itself here.
#pragma once

#include <CLI/CLI.hpp>

namespace siamface::cli {

void add_detect_command(CLI::App& app, int& exit_code);
void add_embed_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);
void add_eval_command(CLI::App& app, int& exit_code);
void add_enroll_command(CLI::App& app, int& exit_code);
void add_identify_command(CLI::App& app, int& exit_code);
void add_analyze_command(CLI::App& app, int& exit_code);
void add_people_command(CLI::App& app, int& exit_code);
void add_remove_command(CLI::App& app, int& exit_code);
void add_rename_command(CLI::App& app, int& exit_code);
void add_export_import_commands(CLI::App& app, int& exit_code);
void add_gallery_command(CLI::App& app, int& exit_code);
void add_reindex_command(CLI::App& app, int& exit_code);
void add_calibrate_command(CLI::App& app, int& exit_code);
void add_serve_command(CLI::App& app, int& exit_code);
void add_watch_command(CLI::App& app, int& exit_code);
void add_models_command(CLI::App& app, int& exit_code);
void add_unknown_commands(CLI::App& app, int& exit_code);  // unknown, cluster, promote, dismiss, merge, split, not

inline void add_commands(CLI::App& app, int& exit_code) {
  add_detect_command(app, exit_code);
  add_embed_command(app, exit_code);
  add_verify_command(app, exit_code);
  add_eval_command(app, exit_code);
  add_enroll_command(app, exit_code);
  add_identify_command(app, exit_code);
  add_analyze_command(app, exit_code);
  add_people_command(app, exit_code);
  add_remove_command(app, exit_code);
  add_rename_command(app, exit_code);
  add_export_import_commands(app, exit_code);
  add_gallery_command(app, exit_code);
  add_reindex_command(app, exit_code);
  add_calibrate_command(app, exit_code);
  add_serve_command(app, exit_code);
  add_watch_command(app, exit_code);
  add_models_command(app, exit_code);
  add_unknown_commands(app, exit_code);
}

}  // namespace siamface::cli
