#!/usr/bin/env bash
# The web page in a real browser (ctest web_ui_browser, label browser; docs/web-ui.md, "Tests").
#   run_browser_test.sh SIAMFACE_CLI ARTIFACT_DIR [SCRIPT]
# Starts nothing itself: SCRIPT (default web_ui_test.mjs) starts `siamface serve` and Debian's
# headless chromium through puppeteer-core (tests/browser/package-lock.json, installed by
# scripts/setup.sh with `npm ci`; it never downloads a browser). A missing prerequisite skips
# (exit 77) with the reason, and fails under CI=true or SIAMFACE_REQUIRE_DATA=1, as test_env.hpp does.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CLI="$1"
ARTIFACTS="$2"
SCRIPT="${3:-$HERE/web_ui_test.mjs}"

missing() {
  echo "SKIP: $1" >&2
  if [ "${CI:-}" = true ] || [ "${SIAMFACE_REQUIRE_DATA:-}" = 1 ]; then exit 1; fi
  exit 77
}

export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM_PATH" ] || missing "chromium not found at $CHROMIUM_PATH (Debian package chromium; scripts/setup.sh installs it)"
command -v node >/dev/null || missing "node not found (Debian package nodejs; scripts/setup.sh installs it)"
[ -f "$HERE/node_modules/puppeteer-core/package.json" ] ||
  missing "puppeteer-core not installed in $HERE/node_modules (scripts/setup.sh runs npm ci there)"
[ -x "$CLI" ] || missing "siamface binary not found at $CLI"

mkdir -p "$ARTIFACTS"
export SIAMFACE_CLI="$CLI" SIAMFACE_ARTIFACTS="$ARTIFACTS"
export SIAMFACE_TESTDATA="${SIAMFACE_TESTDATA:-$(cd "$HERE/../../.." && pwd)/shared/testdata}"
exec node "$SCRIPT"
