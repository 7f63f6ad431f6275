#!/usr/bin/env bash
# Memory soak of `siamface serve`: a bounded loopback load for DURATION seconds (default 600):
# wrk with CONNECTIONS (default 4) connections posting DeepStack recognize requests, plus a
# curl loop that registers and deletes a person every 2 s (gallery writes). VmRSS is sampled
# from /proc every second. Prints RSS after warm-up and at the end, their ratio, the peak, and
# the request totals. Not part of ctest. Usage:
#   bench/soak_http.sh [BUILD_DIR] [DURATION_S] [WARMUP_S]   (env CONNECTIONS, WORKERS, IMAGE)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
duration="${2:-600}"
warmup="${3:-60}"
connections="${CONNECTIONS:-4}"
workers="${WORKERS:-$(nproc)}"
testdata="${SIAMFACE_TESTDATA:-$here/../../shared/testdata}"
photos="$testdata/face_recognition_ageitgey/tests/test_images"
image="${IMAGE:-$photos/obama2.jpg}"
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 2; }

tmp="$(mktemp -d)"
server_pid=""
writer_pid=""
cleanup() {
  [[ -n "$writer_pid" ]] && kill "$writer_pid" 2>/dev/null
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

"$build/siamface" serve --port 0 --gallery "$tmp/gallery.db" --workers "$workers" >"$tmp/out" 2>"$tmp/log" &
server_pid=$!
for _ in $(seq 600); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.05; done
port="$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/out" | head -1)"
url="http://127.0.0.1:$port"
for _ in $(seq 600); do curl -fs "$url/health" >/dev/null && break; sleep 0.1; done
curl -fs -F image=@"$photos/obama.jpg" -F userid=obama "$url/v1/vision/face/register" >/dev/null
curl -fs -F image=@"$photos/biden.jpg" -F userid=biden "$url/v1/vision/face/register" >/dev/null
rss() { awk '/VmRSS/ {print $2}' "/proc/$server_pid/status"; }
echo "server: workers=$workers connections=$connections duration_s=$duration warmup_s=$warmup image=$(basename "$image") cpus=$(nproc) rss_after_load_kb=$(rss)"

# Gallery writes in the background: register + delete a person every 2 s.
(
  writes=0
  while sleep 2; do
    curl -fs -F image=@"$photos/obama.jpg" -F userid=soak "$url/v1/vision/face/register" >/dev/null &&
      curl -fs -F userid=soak "$url/v1/vision/face/delete" >/dev/null && writes=$((writes + 1))
    echo "$writes" >"$tmp/writes"
  done
) &
writer_pid=$!

start=$(date +%s)
IMAGE="$image" wrk -t"$(( connections < 4 ? connections : 4 ))" -c"$connections" -d"${duration}s" --timeout 30s \
  -s "$here/http_recognize.lua" "$url" >"$tmp/wrk" 2>&1 &
wrk_pid=$!
: >"$tmp/rss"
while kill -0 "$wrk_pid" 2>/dev/null; do
  echo "$(( $(date +%s) - start )) $(rss)" >>"$tmp/rss"
  sleep 1
done
wait "$wrk_pid" || true
kill "$writer_pid" 2>/dev/null; wait "$writer_pid" 2>/dev/null || true; writer_pid=""
grep '^RESULT' "$tmp/wrk" | sed 's/^RESULT /recognize: /' || cat "$tmp/wrk"
echo "register+delete cycles: $(cat "$tmp/writes" 2>/dev/null || echo 0)"
awk -v warmup="$warmup" '
  { if ($1 >= warmup && w == "") w = $2; last = $2; if ($2 > peak) peak = $2; n++ }
  END {
    if (w == "") w = last;
    printf "rss_after_warmup_kb=%d rss_end_kb=%d rss_peak_kb=%d end_over_warmup=%.3f samples=%d\n", w, last, peak, last / w, n;
  }' "$tmp/rss"
curl -fs "$url/health" >/dev/null && echo "health after soak: ok"
