#!/usr/bin/env bash
# Memory soak of `siamface identify`: one process identifies N photos (default 2,000 from LFW
# 150 px) against a small gallery while VmRSS is sampled from /proc every second. Prints the
# resident memory after warm-up and at the end, their ratio, the peak, and the run time.
# Not part of ctest. Usage:
#   bench/soak_identify.sh [BUILD_DIR] [PHOTOS] [WARMUP_S]   (env SIAMFACE_TESTDATA, JOBS, LFW_DIR)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
count="${2:-2000}"
warmup="${3:-30}"
testdata="${SIAMFACE_TESTDATA:-$here/../../shared/testdata}"
lfw="${LFW_DIR:-$testdata/lfw/lfw-150px}"
jobs="${JOBS:-$(nproc)}"
[[ -d "$lfw" ]] || { echo "no photos at $lfw" >&2; exit 2; }

tmp="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

# A small gallery: the first photo of ten people who have several.
find "$lfw" -type f -name '*.jpg' | sort >"$tmp/all"
for person in $(awk -F/ '{print $(NF-1)}' "$tmp/all" | uniq -c | awk '$1 >= 4 {print $2}' | head -10); do
  "$build/siamface" enroll --gallery "$tmp/g.db" --name "$person" "$(grep "/$person/" "$tmp/all" | head -1)" \
    >/dev/null 2>&1 || true
done
head -n "$count" "$tmp/all" >"$tmp/photos"
echo "photos=$(wc -l <"$tmp/photos") jobs=$jobs warmup_s=$warmup cpus=$(nproc) gallery_faces=$("$build/siamface" gallery info --gallery "$tmp/g.db" | sed -n 's/.*"faces":\([0-9]*\).*/\1/p')"

start=$(date +%s.%N)
mapfile -t photos <"$tmp/photos"
"$build/siamface" identify --gallery "$tmp/g.db" -j "$jobs" "${photos[@]}" >"$tmp/out" 2>"$tmp/err" &
pid=$!
: >"$tmp/rss"
while kill -0 "$pid" 2>/dev/null; do
  t=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN {printf "%.0f", n - s}')
  kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  [[ -n "$kb" ]] && echo "$t $kb" >>"$tmp/rss"
  sleep 1
done
set +e; wait "$pid"; rc=$?; set -e; pid=""
end=$(date +%s.%N)
lines=$(grep -c '^{' "$tmp/out" || true)
errors=$(grep -c '"error"' "$tmp/out" || true)
awk -v warmup="$warmup" -v rc="$rc" -v lines="$lines" -v errors="$errors" -v secs="$(awk -v s="$start" -v e="$end" 'BEGIN {print e - s}')" '
  { if ($1 >= warmup && w == "") w = $2; last = $2; if ($2 > peak) peak = $2; n++ }
  END {
    if (w == "") w = last;
    printf "exit=%d result_lines=%d image_errors=%d seconds=%.0f photos_per_s=%.1f samples=%d\n", rc, lines, errors, secs, lines / secs, n;
    printf "rss_after_warmup_kb=%d rss_end_kb=%d rss_peak_kb=%d end_over_warmup=%.3f\n", w, last, peak, last / w;
  }' "$tmp/rss"
