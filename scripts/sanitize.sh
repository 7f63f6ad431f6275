#!/usr/bin/env bash
# Builds and runs the sanitizer presets of CMakePresets.json (docs/testing.md, "Sanitizers"):
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer, unit and integration tests (build-asan/)
#   tsan  ThreadSanitizer, the `concurrency` tests incl. the HTTP server (build-tsan/)
# Usage: scripts/sanitize.sh [asan] [tsan]   (default: $SIAMFACE_SANITIZERS, else "asan")
# Extra ctest arguments go after `--`, e.g. scripts/sanitize.sh asan -- -R Gallery
# Needs clang-14 and its runtimes (scripts/setup.sh installs them). Uses ccache when installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

presets=()
while (($#)); do
  case "$1" in
    asan | tsan) presets+=("$1") ;;
    --) shift; break ;;
    *) echo "sanitize.sh: unknown argument $1 (asan, tsan, -- ctest args)" >&2; exit 2 ;;
  esac
  shift
done
if ((${#presets[@]} == 0)); then read -r -a presets <<<"${SIAMFACE_SANITIZERS:-asan}"; fi

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
jobs="$(nproc)"

for preset in "${presets[@]}"; do
  start=$SECONDS
  echo "sanitize: $preset: configure + build (build-$preset/)"
  cmake --preset "$preset" "${launcher[@]}" >/dev/null
  cmake --build --preset "$preset" -j"$jobs"
  built=$SECONDS
  echo "sanitize: $preset: tests"
  ctest --preset "$preset" -j"$jobs" "$@"
  echo "sanitize: $preset: build $((built - start)) s, tests $((SECONDS - built)) s"
done
