#!/usr/bin/env bash
# ctest container_build (label container; the fixture the other container tests need): builds
# siamface:<version> and the compose stack's images with scripts/container.sh --stack from the
# CLI already built in BUILD_DIR, and prints how long it took (docs/deploy.md has the figures).
#   build_images.sh BUILD_DIR
source "$(dirname "${BASH_SOURCE[0]}")/container_env.sh"
build_dir=$1
models="${SIAMFACE_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/models}"
[ -f "$models/face_recognition_model.bin" ] || skip "models not found in $models (run scripts/setup.sh)"
[ "$(id -u)" -eq 0 ] || skip "debootstrap and dockerd need root"
command -v debootstrap >/dev/null || skip "debootstrap not found (Debian package debootstrap; scripts/setup.sh installs it)"
require_docker
start=$SECONDS
"$SOURCE_DIR/scripts/container.sh" --no-build --stack --build-dir "$build_dir"
echo "container_build: images built in $((SECONDS - start)) s"
docker image inspect siamface:latest siamface-postgres:latest siamface-mosquitto:latest > /dev/null
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^siamface(-postgres|-mosquitto)?:latest '
