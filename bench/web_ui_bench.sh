#!/usr/bin/env bash
# Web page bench (docs/web-ui.md, "Performance"): 10,000 faces, `siamface serve`, Debian's
# headless chromium; prints the median time to the first page of people rendered. Usage:
#   bench/web_ui_bench.sh [BUILD_DIR]   (env FACES=10000 PEOPLE=2000 LOADS=9, SIAMFACE_TESTDATA)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
export SIAMFACE_CLI="$build/siamface"
export SIAMFACE_TESTDATA="${SIAMFACE_TESTDATA:-$here/../../shared/testdata}"
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM_PATH" ] || { echo "chromium not found at $CHROMIUM_PATH (apt-get install chromium)" >&2; exit 2; }
[ -f "$here/../tests/browser/node_modules/puppeteer-core/package.json" ] ||
  { echo "puppeteer-core not installed (scripts/setup.sh, or npm ci --prefix tests/browser)" >&2; exit 2; }
[ -x "$SIAMFACE_CLI" ] || { echo "no siamface binary at $SIAMFACE_CLI" >&2; exit 2; }
echo "machine: $(nproc) CPUs, $(chromium --version 2>/dev/null | head -1), node $(node --version)"
exec node "$here/web_ui_bench.mjs"
