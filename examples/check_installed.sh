#!/usr/bin/env bash
# ctest `install_examples` (tests/CMakeLists.txt): installs the built library into a temporary
# prefix, builds these examples against it as a separate project (CMake package) and one of
# them again with pkg-config alone, then runs them: detect_and_embed on an image generated
# here, and enroll_and_identify on the face-api sample photos that scripts/setup.sh installs
# next to the models. Exits 77 (skip) without models, unless CI=true.
#   check_installed.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build_dir=$1
source_dir=$2
models=${SIAMFACE_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/models}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

prefix=$work/prefix
cmake --install "$build_dir" --prefix "$prefix" --component dev > "$work/install.log"
test -f "$prefix/include/siamface/engine.hpp"
config=$(find "$prefix" -name siamfaceConfig.cmake)
pc=$(find "$prefix" -name siamface.pc)
test -n "$config" && test -n "$pc"
# Nothing in the installed package may point back into the source or build tree.
if grep -rqsF -e "$source_dir" -e "$build_dir" "$(dirname "$config")" "$pc"; then
  echo "installed package refers to the build or source tree:" >&2
  grep -rnF -e "$source_dir" -e "$build_dir" "$(dirname "$config")" "$pc" >&2
  exit 1
fi

cmake -S "$source_dir/examples" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" > "$work/configure.log"
cmake --build "$work/build" -j1 > "$work/build.log" || { cat "$work/build.log" >&2; exit 1; }

export PKG_CONFIG_PATH="$(dirname "$pc")"
# shellcheck disable=SC2046  # word splitting of the flags is intended
c++ "$source_dir/examples/detect_and_embed.cpp" -o "$work/detect_pc" \
  $(pkg-config --cflags siamface) $(pkg-config --libs siamface)
# shellcheck disable=SC2046
c++ "$source_dir/examples/analyze_photo.cpp" -o "$work/analyze_pc" \
  $(pkg-config --cflags siamface) $(pkg-config --libs siamface)

if [[ ! -f $models/ssd_mobilenetv1_model.bin || ! -f $models/samples/sample1.jpg ]]; then
  echo "no models in $models (run scripts/setup.sh)" >&2
  [[ ${CI:-} == true ]] && exit 1
  exit 77
fi

# A generated 64x48 grey PPM: decodes, holds no face.
{ printf 'P6\n64 48\n255\n'; head -c $((64 * 48 * 3)) /dev/zero | tr '\0' '\200'; } > "$work/grey.ppm"
for exe in "$work/build/detect_and_embed" "$work/detect_pc"; do
  out=$("$exe" "$work/grey.ppm")
  echo "$out"
  grep -q "grey.ppm: 64x48, 0 face(s)" <<< "$out"
done

# Face analysis (issue 32), linked both ways: sample1.jpg's three faces, every attribute.
if [[ -f $models/faceplugin_fr_liveness.onnx ]]; then
  for exe in "$work/build/analyze_photo" "$work/analyze_pc"; do
    out=$("$exe" "$models/samples/sample1.jpg")
    echo "$out"
    grep -q "sample1.jpg: 3 face(s)" <<< "$out"
    grep -q "^face age=.* gender=.* expression=.* liveness=.* yaw=" <<< "$out"
  done
fi

# One-shot recognition: enrol the largest face of two sample photos under two names, then
# probe with the first photo: its enrolled face must come back under its own name, at a
# distance of (nearly) zero, since it is the same pixels. (sample2.jpg's largest face is a
# profile, which the quality gate turns away: sample3.jpg's is frontal.)
out=$("$work/build/enroll_and_identify" "$work/gallery.db" "$models/samples/sample1.jpg" \
  "alice=$models/samples/sample1.jpg" "bob=$models/samples/sample3.jpg")
echo "$out"
grep -q "enrol .*sample1.jpg: enrolled" <<< "$out"
grep -q "enrol .*sample3.jpg: enrolled" <<< "$out"
grep -q -- "-> alice (distance 0.0" <<< "$out"
# The README's example on that gallery: the same face, named with the gallery's threshold.
out=$("$work/build/identify_photo" "$work/gallery.db" "$models/samples/sample1.jpg")
echo "$out"
grep -q "^alice 0.0" <<< "$out"
# The video loop on a 1 s clip of a sample photo (ffmpeg, installed by setup): the faces
# must appear as tracks and be counted frame by frame.
if command -v ffmpeg > /dev/null; then
  ffmpeg -loglevel error -loop 1 -i "$models/samples/sample1.jpg" -t 1 -r 5 -vf scale=640:-2 \
    -pix_fmt yuv420p "$work/clip.mp4"
  out=$("$work/build/video_loop" "$work/clip.mp4" "$work/gallery.db")
  echo "$out"
  grep -q "track 1 appeared" <<< "$out"
  grep -q "track 1 ended" <<< "$out"
  grep -q "identified alice" <<< "$out"  # the enrolled face, a third of its size
  grep -q "^frames 5," <<< "$out"
fi
echo "install_examples: ok"
