// Shared by the server-parsing fuzz targets.
#pragma once

#include "siamface/errors.hpp"

namespace siamface::fuzz {

// Runs one parse: a clean siamface::Error rejection (a 400 for bad values) is the expected
// outcome; anything else escapes and the fuzzer reports it as a crash.
template <typename Parse>
void attempt(Parse&& parse) {
  try {
    parse();
  } catch (const siamface::Error&) {
  }
}

}  // namespace siamface::fuzz
