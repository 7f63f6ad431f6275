// siamface: one-shot face recognition from the command line.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"

namespace {

// `serve --api-key KEY` shows the key to every user in ps: blank it in the process's own
// argument memory (what /proc/PID/cmdline shows) once the arguments are copied for parsing.
void blank_secret_arguments(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--api-key" && i + 1 < argc) {
      std::memset(argv[i + 1], 0, std::strlen(argv[i + 1]));
    } else if (arg.rfind("--api-key=", 0) == 0) {
      std::memset(argv[i] + std::strlen("--api-key="), 0, arg.size() - std::strlen("--api-key="));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace siamface;
  CLI::App app{"siamface: one-shot face recognition (detect, embed, verify, evaluate)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "siamface 0.1.0");
  int exit_code = cli::kExitOk;
  cli::add_commands(app, exit_code);
  // CLI11 parses (and the command runs) from a copy; the original memory is what ps shows.
  std::vector<std::string> args(argv, argv + argc);
  std::vector<char*> arg_pointers;
  for (std::string& arg : args) arg_pointers.push_back(arg.data());
  arg_pointers.push_back(nullptr);
  blank_secret_arguments(argc, argv);
  try {
    app.parse(argc, arg_pointers.data());
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
