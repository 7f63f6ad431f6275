#!/usr/bin/env bash
# HTTP benchmark of `siamface serve`: DeepStack recognize requests/s and p50/p99 latency at 1, 8
# and 32 connections (wrk, loopback, fixed duration each), and the server's resident memory
# (VmRSS) after loading and after the run. Usage:
#   bench/http_bench.sh [BUILD_DIR] [SECONDS_PER_RUN]   (env WORKERS, IMAGE, SIAMFACE_TESTDATA)
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
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

"$build/siamface" serve --port 0 --gallery "$tmp/gallery.db" --workers "$workers" >"$tmp/out" 2>"$tmp/log" &
server_pid=$!
for _ in $(seq 600); do grep -q listening "$tmp/out" 2>/dev/null && break; sleep 0.05; done
port="$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/out" | head -1)"
url="http://127.0.0.1:$port"
for _ in $(seq 600); do curl -fs "$url/health" >/dev/null && break; sleep 0.1; done
curl -fs -F image=@"$photos/obama.jpg" -F userid=obama "$url/v1/vision/face/register" >/dev/null
curl -fs -F image=@"$photos/biden.jpg" -F userid=biden "$url/v1/vision/face/register" >/dev/null
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$server_pid/status"; }
echo "server: workers=$workers image=$(basename "$image") cpus=$(nproc)"
echo "rss_after_load: $(rss)"
for connections in 1 8 32; do
  threads=$(( connections < 4 ? connections : 4 ))
  line="$(IMAGE="$image" wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 30s \
    -s "$here/http_recognize.lua" "$url" | grep '^RESULT')"
  echo "connections=$connections ${line#RESULT }"
done
echo "rss_after_run: $(rss)"
