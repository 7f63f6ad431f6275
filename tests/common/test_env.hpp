// Where tests find their data and models, and what they do when it is missing:
// on a developer's clone they skip with the reason; under CI (CI=true) or with
// SIAMFACE_REQUIRE_DATA=1 a missing prerequisite is a failure.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "siamface/engine.hpp"

namespace siamface::test {

inline bool data_required() {
  const char* ci = std::getenv("CI");
  const char* required = std::getenv("SIAMFACE_REQUIRE_DATA");
  return (ci && std::string(ci) == "true") || (required && std::string(required) == "1");
}

// $SIAMFACE_TESTDATA, else ../shared/testdata beside the source tree.
inline std::filesystem::path testdata_dir() {
  if (const char* env = std::getenv("SIAMFACE_TESTDATA"); env && *env) return env;
  return std::filesystem::path(SIAMFACE_SOURCE_DIR).parent_path() / "shared" / "testdata";
}

inline std::filesystem::path models_dir() { return default_models_dir(); }

}  // namespace siamface::test

// Skips (or fails under CI) unless `path` exists. Use at the top of a test body.
#define SIAMFACE_REQUIRE_PATH(path, what)                                                   \
  do {                                                                                      \
    if (!std::filesystem::exists(path)) {                                                   \
      const std::string reason = std::string(what) + " not found at " + (path).string() +   \
                                 " (set SIAMFACE_TESTDATA / SIAMFACE_MODELS, or run "       \
                                 "scripts/setup.sh)";                                       \
      if (::siamface::test::data_required()) FAIL() << reason;                              \
      GTEST_SKIP() << reason;                                                               \
    }                                                                                       \
  } while (0)

#define SIAMFACE_REQUIRE_TESTDATA(relative) \
  SIAMFACE_REQUIRE_PATH(::siamface::test::testdata_dir() / (relative), "test data")

#define SIAMFACE_REQUIRE_MODELS()                                                          \
  SIAMFACE_REQUIRE_PATH(::siamface::test::models_dir() / "face_recognition_model.bin", \
                        "models")
