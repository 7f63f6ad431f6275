#!/usr/bin/env bash
# HTTP benchmark of `siamface serve`: DeepStack recognize requests/s, p50/p99 latency and 503s at
# 1, 8 and 32 connections (wrk, loopback, fixed duration each), and each server's resident memory
# (VmRSS) after loading and after the run.
#
# Two servers run side by side, measured in turn for each connection count, so the ratio
# compares them under the same machine load:
#   baseline  the old settings: the SSD detector, no keep-alive, one thread per worker, an unbounded
#             queue, and every network on OpenCV DNN (SIAMFACE_RECOGNITION_BACKEND=opencv)
#   default   today's defaults: the RFB detector, connection threads, the bounded line (--queue 32),
#             no keep-alive, every network on oneDNN
#   ssd       the defaults with the SSD detector (the default before RFB)
#   bf16      the SSD with the opt-in SIAMFACE_RECOGNITION_BACKEND=onednn-bf16 (SSD and ResNet in
#             bf16); only on CPUs with native bf16 (avx512_bf16 or AMX), left out elsewhere
# Each figure is the median of ROUNDS runs (req/s counts the 200 answers; 503s are summed).
# Usage: bench/http_bench.sh [BUILD_DIR] [SECONDS_PER_RUN] [ROUNDS]   (env WORKERS, IMAGE, SIAMFACE_TESTDATA)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
seconds="${2:-10}"
rounds="${3:-3}"
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
  for _ in $(seq 600); do
    grep -q listening "$tmp/$name.out" 2>/dev/null && break
    kill -0 "${pid[$name]}" 2>/dev/null || return 1  # refused to start (e.g. bf16 on a CPU without it)
    sleep 0.05
  done
  local port
  port="$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/$name.out" | head -1)"
  url[$name]="http://127.0.0.1:$port"
  for _ in $(seq 600); do curl -fs "${url[$name]}/health" >/dev/null && break; sleep 0.1; done
  curl -fs -F image=@"$photos/obama.jpg" -F userid=obama "${url[$name]}/v1/vision/face/register" >/dev/null
  curl -fs -F image=@"$photos/biden.jpg" -F userid=biden "${url[$name]}/v1/vision/face/register" >/dev/null
}
rss_mb() { awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' "/proc/${pid[$1]}/status"; }

SIAMFACE_RECOGNITION_BACKEND=opencv start_server baseline --detector ssd --keep-alive-requests 1 --connections 1 --queue 100000
start_server default
start_server ssd --detector ssd
servers="baseline default ssd"
if grep -qw avx512_bf16 /proc/cpuinfo && SIAMFACE_RECOGNITION_BACKEND=onednn-bf16 start_server bf16 --detector ssd; then
  servers+=" bf16"
fi
# A client that gave up leaves its request in the server's line: start each run on an idle one.
wait_idle() {
  for _ in $(seq 1200); do
    curl -fs "${url[$1]}/health" | grep -q '"running":0,"waiting":0' && return 0
    sleep 0.1
  done
  echo "server $1 never became idle" >&2
  return 1
}
echo "workers=$workers image=$(basename "$image") cpus=$(nproc) seconds=$seconds"
rss_all() { for name in $servers; do printf '%s %s, ' "$name" "$(rss_mb "$name")"; done; echo; }
echo "rss after load: $(rss_all)"
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*[ ]$1=\([0-9.]*\).*/\1/p" <<<" $2"; }
printf '%-12s %-9s %10s %8s %8s %8s %6s %s\n' connections server "req/s" p50_ms p99_ms requests 503s ratio
for connections in 1 8 32; do
  threads=$(( connections < 4 ? connections : 4 ))
  declare -A rates=() p50s=() p99s=() counts=() refused=()
  # Rounds alternate the order (ABBA...): the machine's drift falls on both servers alike.
  for round in $(seq "$rounds"); do
    order="$servers"
    (( round % 2 == 0 )) && order="$(tr ' ' '\n' <<<"$servers" | tac | tr '\n' ' ')"
    for name in $order; do
      wait_idle "$name"
      line="$(IMAGE="$image" wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 60s \
        -s "$here/http_recognize.lua" "${url[$name]}" | grep '^RESULT')"
      rates[$name]+=" $(field requests_per_s "$line")"
      p50s[$name]+=" $(field p50_ms "$line")"
      p99s[$name]+=" $(field p99_ms "$line")"
      counts[$name]=$(( ${counts[$name]:-0} + $(field requests "$line") ))
      refused[$name]=$(( ${refused[$name]:-0} + $(field status_503 "$line") ))
    done
  done
  base="$(median <<<"${rates[baseline]}")"
  for name in $servers; do
    rate="$(median <<<"${rates[$name]}")"
    printf '%-12s %-9s %10s %8s %8s %8s %6s %s\n' "$connections" "$name" "$rate" "$(median <<<"${p50s[$name]}")" \
      "$(median <<<"${p99s[$name]}")" "${counts[$name]}" "${refused[$name]}" "$(awk -v a="$rate" -v b="$base" 'BEGIN { printf "x%.2f", a / b }')"
  done
done
echo "rss after run: $(rss_all)"
