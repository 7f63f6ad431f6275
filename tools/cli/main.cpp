// siamface: one-shot face recognition from the command line.
#include <algorithm>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "cli_terms.hpp"
#include "commands.hpp"

namespace {

// Edit distance with adjacent transpositions (optimal string alignment): "identfy" is 1 from
// "identify", "idnetify" 1 too.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// CLI11 answers a mistyped subcommand ("siamface identfy photos/") with "A subcommand is
// required" (issue 34, item 8). The first word that is not an option must name a subcommand,
// at every level that has them (siamface gallery info): else this names the word, the nearest
// subcommand and the list. The levels above a command take no options with values, so the
// words are the subcommand path up to the first option.
std::optional<std::string> unknown_subcommand_message(const CLI::App& app, int argc, char** argv) {
  const CLI::App* level = &app;
  std::string path = "siamface";
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word.empty() || word[0] == '-') return std::nullopt;  // --help, --version...: CLI11's to answer
    const std::vector<const CLI::App*> commands = level->get_subcommands([](const CLI::App*) { return true; });
    if (commands.empty()) return std::nullopt;  // a command: the rest are its arguments
    const CLI::App* match = nullptr;
    for (const CLI::App* command : commands) {
      if (command->check_name(word)) match = command;
    }
    if (match) {
      level = match;
      path += " " + match->get_name();
      continue;
    }
    std::string nearest, names;
    std::size_t best = std::string::npos;
    for (const CLI::App* command : commands) {
      const std::string& name = command->get_name();
      names += (names.empty() ? "" : ", ") + name;
      std::size_t distance = edit_distance(word, name);
      if (word.size() >= 3 && name.rfind(word, 0) == 0) distance = std::min<std::size_t>(distance, 1);  // a prefix
      if (distance < best) {
        best = distance;
        nearest = name;
      }
    }
    std::string message = path + ": unknown command '" + word + "'";
    if (best <= std::max<std::size_t>(2, word.size() / 3)) message += "; did you mean '" + nearest + "'?";
    return message + "\n  commands: " + names + " (" + path + " --help)";
  }
  return std::nullopt;
}

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
  if (const auto message = unknown_subcommand_message(app, argc, argv)) {
    std::cerr << *message << '\n';
    return cli::kExitError;
  }
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
    std::cerr << "siamface: error: " << cli::in_cli_terms(e.what()) << '\n';
    return cli::kExitError;
  } catch (const std::exception& e) {
    std::cerr << "siamface: internal error: " << e.what() << '\n';
    return cli::kExitError;
  }
  return exit_code;
}
