#!/usr/bin/env bash
# ctest container_systemd (label container; needs siamface:latest of container_build): the
# package's systemd units run under a real systemd, as PID 1 of a container with no network
# (tests/container/systemd.Dockerfile: siamface:latest plus Debian's systemd and curl). With
# the models named in /etc/default/siamface, siamface.service answers /health on
# 127.0.0.1:5000 of that container and registers a person into /var/lib/siamface as its
# dynamic user; siamface-watch.service does not start without /etc/siamface/cameras.yaml, and
# with it names the person on a generated video from the same gallery and ends cleanly; both
# stop on request with status 0; the CLI reads that gallery as the same user through
# systemd-run (docs/deploy.md). The container and files are removed at exit.
source "$(dirname "${BASH_SOURCE[0]}")/container_env.sh"
require_photos obama.jpg obama2.jpg
command -v ffmpeg >/dev/null || skip "ffmpeg not found (Debian package ffmpeg)"
require_docker
docker image inspect siamface:latest > /dev/null 2>&1 ||
  skip "siamface:latest not built (ctest container_build, or scripts/container.sh)"

step "image with systemd"
# Kept, as the other images, so that the next run takes it from docker's build cache.
image=siamface-systemd-test:latest
docker build -q --network host -t "$image" -f "$CONTAINER_TEST_DIR/systemd.Dockerfile" "$CONTAINER_TEST_DIR" > /dev/null

work="$(mktemp -d /tmp/siamface-systemd.XXXXXX)"
on_exit "rm -rf $work"
make_video obama2.jpg "$work/front_door.mp4"
chmod -R a+rX "$work"

step "systemd boots"
container="siamface-systemd-$$"
on_exit "docker rm -f -v $container > /dev/null 2>&1"
# systemd as PID 1 needs to mount its cgroups: CAP_SYS_ADMIN and the host's cgroup tree.
docker run -d --name "$container" --network none --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
  --tmpfs /run --tmpfs /run/lock -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
  -v "$PHOTOS:/photos:ro" -v "$work:/videos:ro" "$image" > /dev/null
in_box() { docker exec "$container" "$@"; }
deadline=$((SECONDS + 60))
until [[ "$(in_box systemctl is-system-running 2>/dev/null)" =~ ^(running|degraded)$ ]]; do
  if [ $SECONDS -ge $deadline ] || [ "$(docker inspect -f '{{.State.Running}}' "$container")" != true ]; then
    docker logs "$container" 2>&1 | tail -n 20 >&2
    skip "systemd does not boot in a container here (log above)"
  fi
  sleep 1
done
unit_property() { in_box systemctl show -P "$2" "$1"; }

step "siamface.service"
in_box sh -c 'echo SIAMFACE_MODELS=/usr/share/siamface/models > /etc/default/siamface'
in_box systemctl daemon-reload
in_box systemctl enable --now siamface.service
deadline=$((SECONDS + 120))
until [ "$(in_box curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:5000/health)" = 200 ]; do
  if [ $SECONDS -ge $deadline ] || [ "$(unit_property siamface.service ActiveState)" = failed ]; then
    in_box journalctl -u siamface --no-pager | tail -n 20 >&2
    fail "siamface.service does not answer /health on 127.0.0.1:5000 (journal above)"
  fi
  sleep 1
done
reply="$(in_box curl -sS -F image=@/photos/obama.jpg -F userid=obama http://127.0.0.1:5000/v1/vision/face/register)"
grep -q '"success":true' <<< "$reply" || fail "register through siamface.service: $reply"
owner="$(in_box stat -L -c '%u %a' /var/lib/siamface/gallery.db)"
[[ "$owner" =~ ^[1-9][0-9]*\ 600$ ]] || fail "/var/lib/siamface/gallery.db is '$owner' (uid mode), not a non-root 0600 file"
echo "gallery: uid and mode $owner"

step "siamface-watch.service"
in_box systemctl start siamface-watch.service
[ "$(unit_property siamface-watch.service ConditionResult)" = no ] ||
  fail "siamface-watch.service started without /etc/siamface/cameras.yaml"
in_box sh -c 'mkdir -p /etc/siamface && printf "cameras:\n  - name: front_door\n    source: /videos/front_door.mp4\n" > /etc/siamface/cameras.yaml'
in_box systemctl start siamface-watch.service
deadline=$((SECONDS + 180))
while [ "$(unit_property siamface-watch.service ActiveState)" != inactive ]; do
  if [ $SECONDS -ge $deadline ] || [ "$(unit_property siamface-watch.service ActiveState)" = failed ]; then
    in_box journalctl -u siamface-watch --no-pager | tail -n 20 >&2
    fail "siamface-watch.service did not end cleanly (journal above)"
  fi
  sleep 1
done
[ "$(unit_property siamface-watch.service Result)" = success ] ||
  fail "siamface-watch.service ended with $(unit_property siamface-watch.service Result)"
journal="$(in_box journalctl -u siamface-watch --no-pager -o cat)"
grep -q '"camera":"front_door".*"event":"identified".*"name":"obama"' <<< "$journal" ||
  { echo "$journal" | tail -n 20 >&2; fail "siamface-watch.service did not name obama on front_door (journal above)"; }

step "the CLI on the service's gallery, as its user (docs/deploy.md)"
people="$(in_box systemd-run --quiet --wait --pipe -p DynamicUser=yes -p User=siamface -p StateDirectory=siamface \
  -E SIAMFACE_GALLERY=/var/lib/siamface/gallery.db -E SIAMFACE_MODELS=/usr/share/siamface/models siamface people)"
grep -q obama <<< "$people" || fail "siamface people through systemd-run: $people"

step "stop"
in_box systemctl stop siamface.service
[ "$(unit_property siamface.service Result)" = success ] && [ "$(unit_property siamface.service ExecMainStatus)" = 0 ] ||
  fail "siamface.service stopped with $(unit_property siamface.service Result), status $(unit_property siamface.service ExecMainStatus)"
echo "container_systemd: ok"
