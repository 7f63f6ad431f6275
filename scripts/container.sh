#!/usr/bin/env bash
# Builds the container image siamface:<version> and tags siamface:latest (docs/deploy.md), from
# Debian packages only: no image registry is needed.
#   1. the siamface Debian package (CPack, component cli, binary stripped) from the build folder;
#   2. a minimal Debian 12 (debootstrap --variant=minbase) with the package's Depends included,
#      and that week's security updates, imported as siamface-base:<key>; the folder is cached
#      under $SIAMFACE_CONTAINER_CACHE (default ~/.cache/siamface/container), keyed by the
#      package list and the week, and the downloaded .debs too, so a rebuild with the same
#      dependencies runs debootstrap again only in a new week;
#   3. deploy/Dockerfile on top, built with --network none: the package, the pinned models of
#      scripts/setup.sh ($SIAMFACE_MODELS), a non-root user, /data as the gallery volume.
# Options:
#   --stack       also build the images deploy/compose.yaml uses besides siamface:
#                 siamface-postgres and siamface-mosquitto (on the same base; apt fetches
#                 postgresql-15 and mosquitto, so these two builds need the network)
#   --no-build    package the CLI as it is in the build folder (default: build target siamface_cli)
#   --build-dir D the CMake build folder (default $SIAMFACE_BUILD_DIR, else build/)
# Needs docker (a running daemon), debootstrap, dpkg-deb and cpack; debootstrap runs as root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${SIAMFACE_BUILD_DIR:-$ROOT/build}"
MODELS_DIR="${SIAMFACE_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/models}"
CACHE_DIR="${SIAMFACE_CONTAINER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/container}"
MIRROR="${SIAMFACE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${SIAMFACE_DEBIAN_SECURITY_MIRROR:-$MIRROR-security}"
SUITE=bookworm
STACK=0
BUILD=1
while (($#)); do
  case "$1" in
    --stack) STACK=1 ;;
    --no-build) BUILD=0 ;;
    --build-dir) [ -d "${2:-}" ] || { echo "container.sh: --build-dir needs a folder" >&2; exit 2; }
      BUILD_DIR="$(cd "$2" && pwd)"; shift ;;
    *) echo "container.sh: unknown option $1 (see the comment at the top)" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "container.sh: $*" >&2; exit 1; }
for tool in docker cpack dpkg-deb; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs docker.io, cmake and dpkg)"
done
docker info >/dev/null 2>&1 || die "no docker daemon answers (start it: sudo systemctl start docker, or dockerd)"
[ -f "$BUILD_DIR/CPackConfig.cmake" ] || die "no CMake build in $BUILD_DIR (run scripts/setup.sh)"
VERSION="$(sed -n 's/^project(siamface VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")"
[ -n "$VERSION" ] || die "no version in CMakeLists.txt's project()"

# The models the image carries: every file `siamface models` lists, except dlib's .dat (only the
# source of the float weights, which are there already converted) and the sample photos.
required_models=(face_recognition_model.bin face_landmark_68_model.bin ssd_mobilenetv1_model.bin
  tiny_face_detector_model.bin faceplugin_fr_feature.onnx faceplugin_fr_detect.onnx
  haarcascade_frontalface_default.xml)
for m in "${required_models[@]}"; do
  [ -f "$MODELS_DIR/$m" ] || die "model $m not found in $MODELS_DIR (run scripts/setup.sh, or set SIAMFACE_MODELS)"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$CACHE_DIR/debs"

elapsed() { echo "$((SECONDS - $1)) s"; }

# debootstrap mounts /proc and /sys inside the folder while it runs; one it left mounted (it
# failed, or was killed) is unmounted before the folder is removed or packed.
unmount_under() {
  awk -v prefix="$1/" 'index($2, prefix) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r mount_point; do umount -l "$mount_point"; done
}

# Makes (or reuses) the base image: minimal Debian 12 with the given packages and the week's
# security updates. Prints its tag. The rootfs folder under $CACHE_DIR is kept for the next run
# (key: suite, mirror, packages, ISO week); folders of other keys are removed.
base_image() {
  local packages key tag rootfs start log=$work/debootstrap.log
  packages="$(printf '%s\n' "$@" | sort -u | paste -sd, -)"
  key="$(printf '%s %s %s minbase %s %s\n' "$SUITE" "$MIRROR" "$SECURITY_MIRROR" "$packages" "$(date -u +%G-W%V)" | sha256sum | cut -c1-16)"
  tag="siamface-base:$key"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"; return
  fi
  rootfs="$CACHE_DIR/base-$key"
  if [ ! -f "$rootfs/.complete" ]; then
    command -v debootstrap >/dev/null || die "debootstrap not found (Debian package debootstrap)"
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root (run as root, or with sudo)"
    find "$CACHE_DIR" -maxdepth 1 -name 'base-*' -type d -print0 |
      while IFS= read -r -d '' old; do unmount_under "$old"; rm -rf --one-file-system "$old"; done
    start=$SECONDS
    echo "container.sh: debootstrap $SUITE into $rootfs with $packages" >&2
    # dpkg without fsync (the folder is thrown away if this fails): a third faster.
    mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
    echo force-unsafe-io > "$rootfs/etc/dpkg/dpkg.cfg.d/siamface-unsafe-io"
    {
      debootstrap --variant=minbase --include="$packages" --cache-dir="$CACHE_DIR/debs" \
        "$SUITE" "$rootfs" "$MIRROR" &&
      printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
        "$MIRROR" "$SUITE" "$MIRROR" "$SUITE" "$SECURITY_MIRROR" "$SUITE" > "$rootfs/etc/apt/sources.list" &&
      mount -t proc proc "$rootfs/proc" &&
      chroot "$rootfs" apt-get -q update &&
      DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get -q -y upgrade
    } > "$log" 2>&1 || { unmount_under "$rootfs"; tail -n 30 "$log" >&2; die "debootstrap failed (log above)"; }
    unmount_under "$rootfs"
    grep -E '^[0-9]+ upgraded' "$log" | sed 's/^/container.sh: security updates: /' >&2 || true
    # What a container never needs: package lists, downloaded archives, docs but the copyrights,
    # man pages, translations.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log \
      "$rootfs/etc/dpkg/dpkg.cfg.d/siamface-unsafe-io"
    find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
    touch "$rootfs/.complete"
    echo "container.sh: debootstrap took $(elapsed "$start")" >&2
  fi
  start=$SECONDS
  tar -C "$rootfs" --exclude=./.complete -c . | docker import - "$tag" >/dev/null
  # Older bases lose their tag (images built on them keep their layers).
  docker images siamface-base --format '{{.Repository}}:{{.Tag}}' | grep -vxF "$tag" | xargs -r docker rmi >/dev/null 2>&1 || true
  echo "container.sh: imported $tag in $(elapsed "$start")" >&2
  echo "$tag"
}

total_start=$SECONDS
if ((BUILD)); then
  cmake --build "$BUILD_DIR" --target siamface_cli
fi
[ -x "$BUILD_DIR/siamface" ] || die "$BUILD_DIR/siamface not built (cmake --build $BUILD_DIR --target siamface_cli)"

# 1. The package, stripped (the image has no use for debug information).
ctx="$work/context"
mkdir -p "$ctx/models"
(cd "$work" && cpack --config "$BUILD_DIR/CPackConfig.cmake" -D CPACK_COMPONENTS_ALL=cli \
  -D CPACK_STRIP_FILES=ON -B "$work/deb" > "$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; die "cpack failed"; }
deb="$(find "$work/deb" -maxdepth 1 -name 'siamface_*.deb' | head -n 1)"
[ -n "$deb" ] || die "cpack made no siamface package"
cp "$deb" "$ctx/siamface.deb"

# 2. The base: the package's Depends (first of each alternative, versions dropped: the package
# was built on Debian 12 against these same packages) and ca-certificates for https/rtsps cameras.
mapfile -t depends < <(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' | grep -v '^$')
base="$(base_image "${depends[@]}" ca-certificates)"

# 3. The image.
for f in "$MODELS_DIR"/*; do
  case "$(basename "$f")" in
    samples|*.dat) ;;
    *) cp -r "$f" "$ctx/models/" ;;
  esac
done
cp "$ROOT/deploy/healthcheck.sh" "$ctx/healthcheck.sh"
start=$SECONDS
docker build --network none --build-arg "BASE_IMAGE=$base" --build-arg "VERSION=$VERSION" \
  -t "siamface:$VERSION" -t siamface:latest -f "$ROOT/deploy/Dockerfile" "$ctx" > "$work/build.log" 2>&1 ||
  { cat "$work/build.log" >&2; die "docker build failed"; }
echo "container.sh: docker build took $(elapsed "$start")" >&2
echo "siamface:$VERSION"

# The compose stack's broker and database (deploy/compose.yaml): Debian's packages on the same
# base, so they share its layer; apt fetches the few packages it lacks (docker's build cache
# keeps them for the next run).
if ((STACK)); then
  for service in postgres mosquitto; do
    start=$SECONDS
    docker build --network host --build-arg "BASE_IMAGE=$base" \
      -t "siamface-$service:$VERSION" -t "siamface-$service:latest" "$ROOT/deploy/$service" > "$work/build.log" 2>&1 ||
      { cat "$work/build.log" >&2; die "docker build of deploy/$service failed"; }
    echo "container.sh: docker build of siamface-$service took $(elapsed "$start")" >&2
    echo "siamface-$service:$VERSION"
  done
fi
# Earlier builds of these images, now untagged.
docker image prune -f --filter label=org.opencontainers.image.vendor=siamface >/dev/null
echo "container.sh: done in $(elapsed "$total_start")" >&2
