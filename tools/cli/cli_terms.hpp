// The library names its own options in its messages ("ModelOptions::models_dir"); the CLI shows
// its flags instead. One table, applied where the CLI prints a library message: the top-level
// error, the per-file JSON errors, enrolment reasons and the model list.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

namespace siamface::cli {

inline constexpr std::array<std::pair<std::string_view, std::string_view>, 3> kLibraryTermsToFlags{{
    {"ModelOptions::models_dir", "--models"},
    {"ModelOptions::dlib_weights", "--dlib-weights"},
    {"EnrollOptions::take_largest takes the largest", "use --largest to take the largest"},
}};

inline std::string in_cli_terms(std::string message) {
  for (const auto& [term, flag] : kLibraryTermsToFlags) {
    for (std::size_t at = message.find(term); at != std::string::npos; at = message.find(term, at + flag.size())) {
      message.replace(at, term.size(), flag);
    }
  }
  return message;
}

}  // namespace siamface::cli
