// One name table per option enum: its to_string, its parse function and the CLI's list of
// choices all read the same table, so a new value cannot be named in one place and missing
// from another.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "siamface/errors.hpp"

namespace siamface {

template <typename Enum>
struct EnumName {
  Enum value;
  const char* name;
};

template <typename Enum, std::size_t N>
constexpr const char* name_of(const std::array<EnumName<Enum>, N>& table, Enum value) {
  for (const EnumName<Enum>& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

template <typename Enum, std::size_t N>
std::vector<std::string> names_of(const std::array<EnumName<Enum>, N>& table) {
  std::vector<std::string> names;
  for (const EnumName<Enum>& entry : table) names.emplace_back(entry.name);
  return names;
}

// Throws Error(kInvalidArgument) naming `what` and the accepted names.
template <typename Enum, std::size_t N>
Enum parse_name(const std::array<EnumName<Enum>, N>& table, std::string_view name, std::string_view what) {
  for (const EnumName<Enum>& entry : table) {
    if (name == entry.name) return entry.value;
  }
  std::string choices;
  for (const EnumName<Enum>& entry : table) choices += (choices.empty() ? "" : ", ") + std::string(entry.name);
  throw Error(ErrorCode::kInvalidArgument,
              "unknown " + std::string(what) + " '" + std::string(name) + "' (expected one of: " + choices + ")");
}

}  // namespace siamface
