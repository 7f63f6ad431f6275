#!/usr/bin/env bash
# Sets everything up (packages, models, build, Node reference harness) and runs the whole
# test suite. Under CI=true, tests whose data or models are missing fail instead of skipping.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${SIAMFACE_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/setup.sh"
if [ -f "$ROOT/tests/reference/package-lock.json" ]; then
  stamp="$ROOT/tests/reference/node_modules/.siamface-lock"
  if ! cmp -s "$ROOT/tests/reference/package-lock.json" "$stamp" 2>/dev/null; then
    npm ci --silent --no-audit --no-fund --prefix "$ROOT/tests/reference"
    cp "$ROOT/tests/reference/package-lock.json" "$stamp"
  fi
fi
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
