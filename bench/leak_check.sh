#!/usr/bin/env bash
# Leak check on short runs: `identify` on a few photos against a one-person gallery, and
# `siamface serve` for a few requests (register, recognize, identify, delete) then SIGTERM.
# Uses heaptrack (valgrind 3.19 stops at an RDTSCP instruction in libhwy's static
# initialiser, loaded through OpenCV's JPEG XL codec, before main). Prints heaptrack's totals
# (leaked = not freed at exit) for each. Not part of ctest. Usage:
#   bench/leak_check.sh [BUILD_DIR] [PHOTOS]   (env SIAMFACE_TESTDATA)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
count="${2:-3}"
testdata="${SIAMFACE_TESTDATA:-$here/../../shared/testdata}"
photos="$testdata/face_recognition_ageitgey/tests/test_images"
command -v heaptrack >/dev/null || { echo "heaptrack not found (apt-get install heaptrack)" >&2; exit 2; }

tmp="$(mktemp -d)"
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
summary() { heaptrack_print -f "$(ls "$1".*)" 2>/dev/null | grep -E '^(total runtime|calls to allocation|peak heap|peak RSS|total memory leaked)' | sed 's/^/  /'; }

"$build/siamface" enroll --gallery "$tmp/g.db" --name obama "$photos/obama.jpg" >/dev/null 2>&1
mapfile -t inputs < <(printf '%s\n' "$photos/obama2.jpg" "$photos/biden.jpg" "$photos/obama_partial_face.jpg" \
  "$photos/obama3.jpg" "$photos/obama_partial_face2.jpg" | head -n "$count")
start=$(date +%s)
set +e
heaptrack -o "$tmp/identify.ht" "$build/siamface" identify --gallery "$tmp/g.db" -j 1 "${inputs[@]}" \
  >"$tmp/identify.out" 2>&1
rc=$?
set -e
echo "identify (${#inputs[@]} photos, $(( $(date +%s) - start )) s under heaptrack, exit $rc, $(grep -c '^{' "$tmp/identify.out") result lines):"
summary "$tmp/identify.ht"

start=$(date +%s)
heaptrack -o "$tmp/serve.ht" "$build/siamface" serve --port 0 --gallery "$tmp/g.db" --workers 2 \
  >"$tmp/serve.out" 2>"$tmp/serve.err" &
server_pid=$!
for _ in $(seq 1200); do grep -q listening "$tmp/serve.out" 2>/dev/null && break; sleep 0.5; done
port="$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$tmp/serve.out" | head -1)"
url="http://127.0.0.1:$port"
for _ in $(seq 1200); do curl -fs "$url/health" >/dev/null && break; sleep 0.5; done
codes=()
codes+=("$(curl -s -o /dev/null -w '%{http_code}' -F image=@"$photos/biden.jpg" -F userid=biden "$url/v1/vision/face/register")")
codes+=("$(curl -s -o /dev/null -w '%{http_code}' -F image=@"$photos/obama2.jpg" "$url/v1/vision/face/recognize")")
codes+=("$(curl -s -o /dev/null -w '%{http_code}' -F image=@"$photos/obama2.jpg" "$url/v1/identify")")
codes+=("$(curl -s -o /dev/null -w '%{http_code}' -F image=@"$photos/obama2.jpg" "$url/v1/vision/face/recognize")")
codes+=("$(curl -s -o /dev/null -w '%{http_code}' -F userid=biden "$url/v1/vision/face/delete")")
# heaptrack runs the server as its child: signal the server itself.
kill -TERM "$(pgrep -f -n "siamface serve --port 0 --gallery $tmp/g.db")"
set +e
wait "$server_pid"
rc=$?
set -e
server_pid=""
echo "serve (requests: ${codes[*]}; $(( $(date +%s) - start )) s under heaptrack, exit $rc after SIGTERM):"
summary "$tmp/serve.ht"
