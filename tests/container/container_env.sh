# shellcheck shell=bash
# Sourced by the container tests (tests/container/*.sh; ctest label container, docs/deploy.md):
# skipping with a reason (exit 77, a failure under CI=true or SIAMFACE_REQUIRE_DATA=1, as
# test_env.hpp does), a docker daemon (the one that answers, else one started here and stopped
# at exit), free loopback ports, the photos, and cleanup steps run at exit even on failure.
set -euo pipefail
CONTAINER_TEST_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SOURCE_DIR="$(cd "$CONTAINER_TEST_DIR/../.." && pwd)"
TESTDATA="${SIAMFACE_TESTDATA:-$(cd "$SOURCE_DIR/.." && pwd)/shared/testdata}"
PHOTOS="$TESTDATA/face_recognition_ageitgey/tests/test_images"

skip() {
  echo "SKIP: $1" >&2
  if [ "${CI:-}" = true ] || [ "${SIAMFACE_REQUIRE_DATA:-}" = 1 ]; then exit 1; fi
  exit 77
}
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $* ($(date +%T))"; }

# Cleanup commands, run in reverse order at exit. Then no docker volume may be left that was
# not there before require_docker (anonymous ones included: remove containers with -v).
cleanup_steps=()
volumes_before=""
volumes_known=0
stop_daemon=""  # after the check: the dockerd started here, if any
on_exit() { cleanup_steps+=("$1"); }
run_cleanup() {
  local status=$? i left
  set +e
  for ((i = ${#cleanup_steps[@]} - 1; i >= 0; i--)); do eval "${cleanup_steps[i]}"; done
  if [ "$volumes_known" = 1 ] && docker info >/dev/null 2>&1; then
    left="$(comm -13 <(printf '%s' "$volumes_before") <(docker volume ls -q | sort))"
    if [ -n "$left" ]; then
      echo "FAIL: the test left docker volumes: $left" >&2
      status=1
    fi
  fi
  eval "$stop_daemon"
  exit "$status"
}
trap run_cleanup EXIT
trap 'exit 130' INT TERM

note_volumes() { volumes_before="$(docker volume ls -q | sort)"; [ -z "$volumes_before" ] || volumes_before+=$'\n'; volumes_known=1; }

# A docker daemon: the running one, or one started here (root only) and stopped at exit.
require_docker() {
  command -v docker >/dev/null || skip "docker not found (Debian package docker.io; scripts/setup.sh installs it)"
  if docker info >/dev/null 2>&1; then note_volumes; return; fi
  [ "$(id -u)" -eq 0 ] || skip "no docker daemon answers, and starting one needs root"
  command -v dockerd >/dev/null || skip "dockerd not found (Debian package docker.io)"
  local log pid
  log="$(mktemp /tmp/siamface-dockerd.XXXXXX.log)"
  dockerd > "$log" 2>&1 &
  pid=$!
  stop_daemon="kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f $log"
  for _ in $(seq 120); do
    if docker info >/dev/null 2>&1; then
      echo "started dockerd (pid $pid, log $log)"
      note_volumes
      return
    fi
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2; fail "dockerd exited at start (log above)"; }
    sleep 0.5
  done
  tail -n 20 "$log" >&2
  fail "dockerd did not answer within 60 s (log above)"
}

require_photos() {
  local name
  for name in "$@"; do
    [ -f "$PHOTOS/$name" ] || skip "test data not found at $PHOTOS/$name (set SIAMFACE_TESTDATA)"
  done
}

# A port nobody listens on right now on 127.0.0.1 (the kernel's pick).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# GET/POST helpers on 127.0.0.1; print the body, fail on transport errors.
http_status() { curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$1$2" || true; }
register() {  # PORT PHOTO USERID
  curl -sS --max-time 120 -F "image=@$PHOTOS/$2" -F "userid=$3" "http://127.0.0.1:$1/v1/vision/face/register"
}
recognized_name() {  # PORT PHOTO -> userid of the first prediction, or the whole answer
  local body
  body="$(curl -sS --max-time 120 -F "image=@$PHOTOS/$2" "http://127.0.0.1:$1/v1/vision/face/recognize")"
  python3 -c 'import json, sys
body = json.loads(sys.argv[1])
p = body.get("predictions") or []
print(p[0]["userid"] if p else "no predictions: " + sys.argv[1])' "$body"
}

# Waits until http://127.0.0.1:PORT/health answers 200 (up to SECONDS).
wait_health() {  # PORT SECONDS WHAT
  local deadline=$((SECONDS + $2))
  until [ "$(http_status "$1" /health)" = 200 ]; do
    [ $SECONDS -lt $deadline ] || fail "$3: /health on port $1 did not answer 200 within $2 s"
    sleep 1
  done
}

# A short H.264 video of one still photo (4 s at 5 fps): a camera that sees one person.
make_video() {  # PHOTO OUT
  ffmpeg -v error -y -loop 1 -i "$PHOTOS/$1" -t 4 -r 5 \
    -vf 'scale=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p' -c:v libx264 "$2"
}
