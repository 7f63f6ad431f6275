// Each subcommand lives in its own file and registers itself here.
#pragma once

#include <CLI/CLI.hpp>

namespace siamface::cli {

void add_detect_command(CLI::App& app, int& exit_code);
void add_embed_command(CLI::App& app, int& exit_code);
void add_verify_command(CLI::App& app, int& exit_code);
void add_eval_command(CLI::App& app, int& exit_code);

inline void add_commands(CLI::App& app, int& exit_code) {
  add_detect_command(app, exit_code);
  add_embed_command(app, exit_code);
  add_verify_command(app, exit_code);
  add_eval_command(app, exit_code);
}

}  // namespace siamface::cli
