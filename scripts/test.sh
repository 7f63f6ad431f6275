#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh: packages, models, Node reference harness, build) and runs the whole
# test suite, then the sanitizer builds' tests (scripts/sanitize.sh). Under CI=true, tests whose data or
# models are missing fail instead of skipping.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${SIAMFACE_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/setup.sh"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
# The unit and integration tests again under ASan+UBSan (build-asan/; docs/testing.md, "Sanitizers").
# SIAMFACE_SANITIZERS picks the presets ("asan tsan"; "none" skips them).
if [ "${SIAMFACE_SANITIZERS:-asan}" != none ]; then
  "$ROOT/scripts/sanitize.sh"
  # Every libFuzzer target for 60 s as a smoke check (docs/testing.md, "Fuzzing"); build-asan
  # already holds them (the asan preset builds the fuzzers too).
  "$ROOT/scripts/fuzz.sh" --build-dir build-asan --seconds "${SIAMFACE_FUZZ_SECONDS:-60}"
fi
