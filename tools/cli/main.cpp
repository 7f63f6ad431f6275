// siamface: one-shot face recognition from the command line.
#include <iostream>

#include "cli_common.hpp"
#include "commands.hpp"

int main(int argc, char** argv) {
  using namespace siamface;
  CLI::App app{"siamface: one-shot face recognition (detect, embed, verify, evaluate)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "siamface 0.1.0");
  int exit_code = cli::kExitOk;
  cli::add_commands(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? cli::kExitOk : cli::kExitError;
  } catch (const Error& e) {
    std::cerr << "siamface: error: " << e.what() << '\n';
    return cli::kExitError;
  } catch (const std::exception& e) {
    std::cerr << "siamface: internal error: " << e.what() << '\n';
    return cli::kExitError;
  }
  return exit_code;
}
