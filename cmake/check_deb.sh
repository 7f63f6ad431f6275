#!/usr/bin/env bash
# ctest `debian_packages` (tests/CMakeLists.txt): builds the two Debian packages with CPack
# and checks them without installing them: every package their Depends name is a real Debian
# package (known to apt), the files are where Debian expects them, the systemd units pass
# systemd-analyze verify (where systemd is installed), and the CLI runs from the unpacked tree
# (`dpkg-deb -x`), on a generated image when the models are there.
#   check_deb.sh BUILD_DIR
set -euo pipefail
build_dir=$1
models=${SIAMFACE_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/models}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$work" && cpack --config "$build_dir/CPackConfig.cmake" -B "$work/out" > "$work/cpack.log") ||
  { cat "$work/cpack.log" >&2; exit 1; }
cli_deb=$(find "$work/out" -maxdepth 1 -name 'siamface_*.deb')
dev_deb=$(find "$work/out" -maxdepth 1 -name 'libsiamface-dev_*.deb')
test -n "$cli_deb" && test -n "$dev_deb"

for deb in "$cli_deb" "$dev_deb"; do
  depends=$(dpkg-deb -f "$deb" Depends)
  echo "$(basename "$deb"): Depends: $depends"
  test -n "$depends"
  # "a (>= 1), b | c" -> a b c
  for pkg in $(tr ',|' '\n\n' <<< "$depends" | sed -E 's/\(.*\)//; s/[[:space:]]//g' | sort -u); do
    apt-cache show "$pkg" > /dev/null 2>&1 || { echo "$deb depends on unknown package $pkg" >&2; exit 1; }
  done
done
dpkg-deb -f "$cli_deb" Depends | grep -q libopencv  # dpkg-shlibdeps found the real libraries
dpkg-deb -f "$dev_deb" Depends | grep -q libheif-dev

root=$work/root
dpkg-deb -x "$cli_deb" "$root"
dpkg-deb -x "$dev_deb" "$root"
test -x "$root/usr/bin/siamface"
test -f "$root/usr/include/siamface/engine.hpp"
test -n "$(find "$root/usr/lib" -name libsiamface.a)"
test -n "$(find "$root/usr/lib" -name siamfaceConfig.cmake)"
test -n "$(find "$root/usr/lib" -name siamface.pc)"

"$root/usr/bin/siamface" --version | grep -q "siamface 0.1.0"

# The systemd units (deploy/systemd/, docs/deploy.md) and the example cameras.yaml.
units=$root/usr/lib/systemd/system
test -f "$units/siamface.service" && test -f "$units/siamface-watch.service"
test -f "$root/usr/share/doc/siamface/examples/cameras.yaml"
grep -q '^ExecStart=/usr/bin/siamface serve ' "$units/siamface.service"
grep -q '^ExecStart=/usr/bin/siamface watch --config /etc/siamface/cameras.yaml' "$units/siamface-watch.service"
if command -v systemd-analyze > /dev/null && compgen -G '/usr/lib/systemd/system/*.target' > /dev/null; then
  # Verified inside the unpacked package (ExecStart must be there), with the system's targets.
  cp /usr/lib/systemd/system/*.target "$units/"
  verify=$(cd "$units" && systemd-analyze verify --root="$root" siamface.service siamface-watch.service 2>&1) ||
    { echo "$verify" >&2; exit 1; }
  # Unknown keys and other mistakes are only warnings there: any output fails.
  [ -z "$verify" ] || { echo "systemd-analyze verify: $verify" >&2; exit 1; }
  echo "systemd-analyze verify: ok"
fi
if [[ -f $models/ssd_mobilenetv1_model.bin ]]; then
  { printf 'P6\n64 48\n255\n'; head -c $((64 * 48 * 3)) /dev/zero | tr '\0' '\200'; } > "$work/grey.ppm"
  out=$("$root/usr/bin/siamface" detect "$work/grey.ppm")
  echo "$out"
  grep -q '"width":64' <<< "$out"
  grep -q '"faces":\[\]' <<< "$out"
fi
echo "debian_packages: ok"
