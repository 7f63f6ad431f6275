#!/usr/bin/env bash
# ctest container_image (label container; needs the images of container_build): the image
# scripts/container.sh built, run with --network host on a loopback port. Its /health answers
# and its HEALTHCHECK turns healthy, it runs as non-root with no compiler and the models inside
# (no network), a DeepStack register + recognize names the person, and the gallery on the
# volume survives the container being replaced. Containers and the volume are removed at exit.
source "$(dirname "${BASH_SOURCE[0]}")/container_env.sh"
require_photos obama.jpg obama2.jpg biden.jpg
require_docker
image=siamface:latest
docker image inspect "$image" > /dev/null 2>&1 || skip "$image not built (ctest container_build, or scripts/container.sh)"
version="$(sed -n 's/^project(siamface VERSION \([0-9.]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")"
[ "$(docker image inspect -f '{{.Id}}' "siamface:$version")" = "$(docker image inspect -f '{{.Id}}' "$image")" ] ||
  fail "siamface:$version and $image are not the same image"

step "image configuration"
inspect() { docker image inspect -f "$1" "$image"; }
[ "$(inspect '{{.Config.User}}')" = 10001:10001 ] || fail "image user is '$(inspect '{{.Config.User}}')', not 10001:10001"
[ "$(inspect '{{index .Config.Cmd 0}}')" = serve ] || fail "default command is not serve: $(inspect '{{.Config.Cmd}}')"
inspect '{{.Config.Healthcheck.Test}}' | grep -q healthcheck || fail "no HEALTHCHECK: $(inspect '{{.Config.Healthcheck}}')"
inspect '{{.Config.Volumes}}' | grep -q '/data' || fail "no /data volume: $(inspect '{{.Config.Volumes}}')"

step "no compiler, models inside, runs without network"
docker run --rm --network none --entrypoint /bin/sh "$image" -c \
  'for t in cc gcc g++ c++ clang ld; do if command -v $t; then exit 1; fi; done' || fail "the image holds a compiler (above)"
models_out="$(docker run --rm --network none "$image" models)"
grep -q 'ssd_mobilenetv1_model.bin (ok)' <<< "$models_out" || fail "models missing in the image: $models_out"
# Every model file is there but dlib's .dat (only the source of the float weights, left out).
missing="$(grep -o '[^ ]* (missing)' <<< "$models_out" | grep -v '\.dat (missing)' || true)"
[ -z "$missing" ] || fail "models missing in the image: $missing"

step "the shipped cameras.yaml examples parse (compose, systemd)"
# Without a network nothing is reached; the file is checked before MQTT starts, so an MQTT line
# means it passed, and a config error would name the file.
for example in deploy/cameras.yaml deploy/systemd/cameras.yaml; do
  out="$(timeout 120 docker run --rm --network none -v "$SOURCE_DIR/$example:/etc/siamface/cameras.yaml:ro" \
    "$image" watch --config /etc/siamface/cameras.yaml --reconnect-for 1 2>&1 || true)"
  if grep -q 'cameras.yaml:' <<< "$out" || ! grep -q 'MQTT: broker' <<< "$out"; then
    fail "$example is refused: $out"
  fi
done

volume="siamface-test-$$"
docker volume create "$volume" > /dev/null
on_exit "docker volume rm -f $volume > /dev/null"
port="$(free_port)"
container=""
start_container() {
  container="siamface-test-$$-$1"
  on_exit "docker rm -f -v $container > /dev/null 2>&1"
  docker run -d --name "$container" --network host -v "$volume:/data" \
    --health-interval 1s --health-start-period 120s \
    "$image" serve --host 127.0.0.1 --port "$port" > /dev/null
  local deadline=$((SECONDS + 180)) health
  while :; do
    health="$(docker inspect -f '{{.State.Health.Status}}' "$container")"
    [ "$health" = healthy ] && break
    [ "$(docker inspect -f '{{.State.Running}}' "$container")" = true ] ||
      { docker logs "$container" >&2; fail "container $container stopped (log above)"; }
    [ $SECONDS -lt $deadline ] || { docker logs "$container" >&2; fail "container $container not healthy after 180 s: $health"; }
    sleep 1
  done
  [ "$(http_status "$port" /health)" = 200 ] || fail "/health on port $port is not 200"
}

step "serve on 127.0.0.1:$port, healthy"
start_container 1
# The healthcheck script itself: it passes beside the server, and fails where /health cannot
# be reached (a second container seeing the server's processes but not its network).
docker run --rm --pid "container:$container" --network host --entrypoint /usr/share/siamface/healthcheck "$image" ||
  fail "the healthcheck fails beside a healthy server"
if docker run --rm --pid "container:$container" --network none --entrypoint /usr/share/siamface/healthcheck "$image"; then
  fail "the healthcheck passes without reaching /health"
fi
uid="$(docker exec "$container" id -u)"
[ "$uid" != 0 ] || fail "the container runs as root"
echo "container user id: $uid"

step "DeepStack register + recognize"
reply="$(register "$port" obama.jpg obama)"
grep -q '"success":true' <<< "$reply" || fail "register failed: $reply"
reply="$(register "$port" biden.jpg biden)"
grep -q '"success":true' <<< "$reply" || fail "register failed: $reply"
name="$(recognized_name "$port" obama2.jpg)"
[ "$name" = obama ] || fail "obama2.jpg recognized as '$name'"

step "gallery on the volume survives a new container"
docker rm -f -v "$container" > /dev/null
docker run --rm -v "$volume:/data" --entrypoint /bin/ls "$image" -ln /data/gallery.db | tee /dev/stderr |
  grep -q -- '^-rw------- 1 10001 10001 ' || fail "gallery.db on the volume is not a 0600 file of user 10001"
start_container 2
name="$(recognized_name "$port" obama2.jpg)"
[ "$name" = obama ] || fail "after the restart obama2.jpg is recognized as '$name'"
name="$(recognized_name "$port" biden.jpg)"
[ "$name" = biden ] || fail "after the restart biden.jpg is recognized as '$name'"

step "SIGTERM stops it cleanly"
docker stop -t 30 "$container" > /dev/null
[ "$(docker inspect -f '{{.State.ExitCode}}' "$container")" = 0 ] ||
  { docker logs "$container" >&2; fail "serve exited with $(docker inspect -f '{{.State.ExitCode}}' "$container") on SIGTERM"; }
echo "container_image: ok"
