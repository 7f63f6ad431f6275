#!/usr/bin/env bash
# HTTP benchmark of `siamface serve`: DeepStack recognize requests/s, p50/p99 latency and 503s at
# 1, 8 and 32 connections (wrk, loopback, fixed duration each), and each server's resident memory
# (VmRSS) after loading and after the run.
#
# Two servers run side by side, measured in turn for each connection count, so the ratio
# compares them under the same machine load:
#   baseline  the old settings: no keep-alive, one thread per worker, an unbounded queue
#   default   today's defaults: keep-alive, connection threads, the bounded line (--queue 32)
# Usage: bench/http_bench.sh [BUILD_DIR] [SECONDS_PER_RUN]   (env WORKERS, IMAGE, SIAMFACE_TESTDATA)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
seconds="${2:-10}"
testdata="${SIAMFACE_TESTDATA:-$here/../../shared/testdata}"
photos="$testdata/face_recognition_ageitgey/tests/test_images"
image="${IMAGE:-$photos/obama2.jpg}"
workers="${WORKERS:-$(nproc)}"
command -v wrk >/dev/null || { echo "wrk not found (apt-get install wrk)" >&2; exit 2; }

tmp="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

declare -A url pid
start_server() {  # name, extra flags...
  local name="$1"; shift
  "$build/siamface" serve --port 0 --gallery "$tmp/$name.db" --workers "$workers" "$@" >"$tmp/$name.out" 2>"$tmp/$name.log" &
  pid[$name]=$!
  pids+=("$!")
  for _ in $(seq 600); do grep -q listening "$tmp/$name.out" 2>/dev/null && break; sleep 0.05; done
  local port
  port="$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/$name.out" | head -1)"
  url[$name]="http://127.0.0.1:$port"
  for _ in $(seq 600); do curl -fs "${url[$name]}/health" >/dev/null && break; sleep 0.1; done
  curl -fs -F image=@"$photos/obama.jpg" -F userid=obama "${url[$name]}/v1/vision/face/register" >/dev/null
  curl -fs -F image=@"$photos/biden.jpg" -F userid=biden "${url[$name]}/v1/vision/face/register" >/dev/null
}
rss_mb() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/${pid[$1]}/status"; }

start_server baseline --keep-alive-requests 1 --connections 1 --queue 1000000
start_server default
echo "workers=$workers image=$(basename "$image") cpus=$(nproc) seconds=$seconds"
echo "rss after load: baseline $(rss_mb baseline), default $(rss_mb default)"
printf '%-12s %-9s %10s %8s %8s %8s %6s %s\n' connections server "req/s" p50_ms p99_ms requests 503s ratio
for connections in 1 8 32; do
  threads=$(( connections < 4 ? connections : 4 ))
  declare -A rate=()
  for name in baseline default; do
    line="$(IMAGE="$image" wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 60s \
      -s "$here/http_recognize.lua" "${url[$name]}" | grep '^RESULT')"
    rate[$name]="$(sed -n 's/.*requests_per_s=\([0-9.]*\).*/\1/p' <<<"$line")"
    ratio="$(awk -v a="${rate[$name]}" -v b="${rate[baseline]}" 'BEGIN { printf "x%.2f", a / b }')"
    printf '%-12s %-9s %10s %8s %8s %8s %6s %s\n' "$connections" "$name" "${rate[$name]}" \
      "$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$line")" "$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$line")" \
      "$(sed -n 's/.* requests=\([0-9]*\).*/\1/p' <<<"$line")" "$(sed -n 's/.*status_503=\([0-9]*\).*/\1/p' <<<"$line")" "$ratio"
  done
done
echo "rss after run: baseline $(rss_mb baseline), default $(rss_mb default)"
