#!/usr/bin/env bash
# ctest container_compose (label container; needs the images of container_build): the stack of
# deploy/compose.yaml (PostgreSQL, mosquitto, two serve nodes on one gallery, one multi-camera
# watch), with tests/container/compose.host.yaml putting every service on the host's network
# on free 127.0.0.1 ports. A person registered on node 1 is recognized on node 2, the watch
# names each camera's own person, the events reach mosquitto (mosquitto_sub on the host), and
# `docker-compose down` keeps the gallery's volume: the stack brought up again still names them.
# Containers, volumes and files of the test are removed at exit, also on failure.
source "$(dirname "${BASH_SOURCE[0]}")/container_env.sh"
require_photos obama.jpg obama2.jpg biden.jpg
command -v mosquitto_sub >/dev/null || skip "mosquitto_sub not found (Debian package mosquitto-clients)"
command -v mosquitto_pub >/dev/null || skip "mosquitto_pub not found (Debian package mosquitto-clients)"
command -v ffmpeg >/dev/null || skip "ffmpeg not found (Debian package ffmpeg)"
if command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
else
  skip "docker-compose not found (Debian package docker-compose; scripts/setup.sh installs it)"
fi
require_docker
# The shipped pair as a user starts it (compose.yaml + compose.override.yaml) is valid.
(cd "$SOURCE_DIR/deploy" && "${compose_cmd[@]}" config -q) || fail "deploy/compose.yaml with its override does not parse"
for image in siamface siamface-postgres siamface-mosquitto; do
  docker image inspect "$image:latest" > /dev/null 2>&1 ||
    skip "$image:latest not built (ctest container_build, or scripts/container.sh --stack)"
done

TEST_DIR="$(mktemp -d /tmp/siamface-compose.XXXXXX)"
chmod 0755 "$TEST_DIR"
on_exit "rm -rf $TEST_DIR"
project="siamfacetest$$"
export TEST_DIR SIAMFACE_TAG=latest SIAMFACE_DB_PASSWORD="test-$RANDOM-$$"
TEST_PG_PORT="$(free_port)"; TEST_MQTT_PORT="$(free_port)"; TEST_PORT_1="$(free_port)"; TEST_PORT_2="$(free_port)"
export TEST_PG_PORT TEST_MQTT_PORT TEST_PORT_1 TEST_PORT_2
compose() {
  "${compose_cmd[@]}" -p "$project" -f "$SOURCE_DIR/deploy/compose.yaml" \
    -f "$CONTAINER_TEST_DIR/compose.host.yaml" "$@"
}
# Logs of every service on failure, then the stack and its volumes go.
on_exit "compose down -v --remove-orphans > /dev/null 2>&1"
on_exit '[ $status = 0 ] || compose logs --no-color --tail 40 >&2'

printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location /mosquitto/data/\nlog_dest stdout\n' \
  "$TEST_MQTT_PORT" > "$TEST_DIR/mosquitto.conf"
# Each camera sees one person: front_door obama (another photo than the registered one), garden biden.
mkdir -p "$TEST_DIR/videos"
make_video obama2.jpg "$TEST_DIR/videos/front_door.mp4"
make_video biden.jpg "$TEST_DIR/videos/garden.mp4"
cat > "$TEST_DIR/cameras.yaml" <<EOF
mqtt: mqtt://127.0.0.1:$TEST_MQTT_PORT/siamface?client_id=siamface-watch
ha_discovery: true
detect_every: 1
cameras:
  - name: front_door
    source: /videos/front_door.mp4
  - name: garden
    source: /videos/garden.mp4
EOF
chmod -R a+rX "$TEST_DIR"

step "postgres, mosquitto and two serve nodes up (ports pg $TEST_PG_PORT, mqtt $TEST_MQTT_PORT, http $TEST_PORT_1 $TEST_PORT_2)"
compose up -d postgres mosquitto serve1 serve2
deadline=$((SECONDS + 60))
until mosquitto_pub -h 127.0.0.1 -p "$TEST_MQTT_PORT" -t siamface/test -m ping 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "mosquitto does not answer on 127.0.0.1:$TEST_MQTT_PORT"
  sleep 1
done
mosquitto_sub -h 127.0.0.1 -p "$TEST_MQTT_PORT" -q 1 -v -t 'siamface/#' -t 'homeassistant/#' > "$TEST_DIR/mqtt.log" 2>&1 &
sub_pid=$!
on_exit "kill $sub_pid 2>/dev/null"
wait_health "$TEST_PORT_1" 240 serve1
wait_health "$TEST_PORT_2" 240 serve2

step "register on node 1, recognize on node 2"
for person in obama biden; do
  reply="$(register "$TEST_PORT_1" "$person.jpg" "$person")"
  grep -q '"success":true' <<< "$reply" || fail "register of $person on node 1: $reply"
done
name="$(recognized_name "$TEST_PORT_2" obama2.jpg)"
deadline=$((SECONDS + 10))
while [ "$name" != obama ] && [ $SECONDS -lt $deadline ]; do
  sleep 1
  name="$(recognized_name "$TEST_PORT_2" obama2.jpg)"
done
[ "$name" = obama ] || fail "node 2 recognizes obama2.jpg as '$name'"

step "one watch process, two cameras"
compose up -d --no-deps watch
watch_id="$(compose ps -q watch)"
[ -n "$watch_id" ] || fail "no watch container"
timeout 300 docker wait "$watch_id" > "$TEST_DIR/watch.exit" || fail "watch did not finish its two videos within 300 s"
[ "$(cat "$TEST_DIR/watch.exit")" = 0 ] || { docker logs "$watch_id" >&2; fail "watch exited with $(cat "$TEST_DIR/watch.exit") (log above)"; }
watch_out="$(docker logs "$watch_id" 2>&1)"

step "events on the broker"
# QoS 1 messages are delivered within a moment of the publisher's exit.
deadline=$((SECONDS + 15))
until grep -q '^siamface/cameras/garden/events .*"name":"biden"' "$TEST_DIR/mqtt.log" || [ $SECONDS -ge $deadline ]; do sleep 1; done
kill "$sub_pid" 2>/dev/null || true
echo "mqtt topics seen:"; cut -d' ' -f1 "$TEST_DIR/mqtt.log" | sort | uniq -c
expect_topic() {  # REGEX WHAT
  grep -Eq "$1" "$TEST_DIR/mqtt.log" || { echo "$watch_out" | tail -n 20 >&2; fail "no MQTT message for $2 (log above, messages in $TEST_DIR/mqtt.log)"; }
}
expect_topic '^siamface/cameras/serve2/events .*"name":"obama"' "node 2's recognition of obama"
expect_topic '^siamface/cameras/front_door/events .*"camera":"front_door"' "the front_door camera's events"
expect_topic '^siamface/cameras/front_door/events .*"name":"obama"' "obama on front_door"
expect_topic '^siamface/cameras/garden/events .*"name":"biden"' "biden on garden"
if grep -Eq '^siamface/cameras/front_door/events .*"name":"biden"|^siamface/cameras/garden/events .*"name":"obama"' "$TEST_DIR/mqtt.log"; then
  fail "a camera named the other camera's person: $(grep -E 'front_door/events .*biden|garden/events .*obama' "$TEST_DIR/mqtt.log" | head -3)"
fi

# Each client has its own id: with one shared, the broker drops one connection for the other.
if compose logs --no-color mosquitto | grep -q 'already connected, closing old connection'; then
  fail "two MQTT clients of the stack share a client id (mosquitto log above)"
fi

step "docker-compose down keeps the gallery's volume"
compose down
docker volume inspect "${project}_pgdata" > /dev/null 2>&1 || fail "volume ${project}_pgdata is gone after down"
[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$project")" ] || fail "containers left after down"
compose up -d postgres serve1
wait_health "$TEST_PORT_1" 240 "serve1 after down/up"
name="$(recognized_name "$TEST_PORT_1" obama2.jpg)"
[ "$name" = obama ] || fail "after down and up node 1 recognizes obama2.jpg as '$name'"
echo "container_compose: ok"
