#!/usr/bin/env bash
# ctest `core_library_dependencies` (tests/CMakeLists.txt): the core library, what
# find_package(siamface) and pkg-config give a library user, holds no evaluation, degradation,
# plot or video-source code and needs no OpenCV videoio/highgui; those live in siamface_tools.
#   check_core_library.sh LIBSIAMFACE.a BUILD_DIR AR NM
set -euo pipefail
library=$1
build_dir=$2
ar=$3
nm=$4
failed=0
fail() { echo "core_library_dependencies: $*" >&2; failed=1; }

members=$("$ar" t "$library")
for object in open_set verification_protocol degrade plots video_source; do
  grep -qx "$object.cpp.o" <<< "$members" && fail "$library holds $object.cpp.o (belongs in siamface_tools)"
done
# The public API that stays: the tracker and the annotations of identify --annotate.
for object in face_tracker annotate engine; do
  grep -qx "$object.cpp.o" <<< "$members" || fail "$library lacks $object.cpp.o"
done

# No object of the core refers to videoio or highgui.
if undefined=$("$nm" -C --undefined-only "$library" | grep -E 'cv::(VideoCapture|VideoWriter|imshow|namedWindow)'); then
  fail "$library refers to videoio/highgui: $(head -3 <<< "$undefined")"
fi

# The exported target's link interface (what a find_package user links) and the .pc file.
export_file=$(find "$build_dir/CMakeFiles/Export" -name siamfaceTargets.cmake | head -1)
[[ -n $export_file ]] || fail "no exported siamfaceTargets.cmake under $build_dir/CMakeFiles/Export"
if [[ -n $export_file ]]; then
  link_interface=$(grep -A12 'set_target_properties(siamface::siamface' "$export_file" |
    grep INTERFACE_LINK_LIBRARIES || true)
  [[ -n $link_interface ]] || fail "no INTERFACE_LINK_LIBRARIES for siamface::siamface in $export_file"
  grep -q 'opencv_core' <<< "$link_interface" || fail "the exported link interface lacks opencv_core: $link_interface"
  grep -Eq 'opencv_(videoio|highgui)' <<< "$link_interface" &&
    fail "the exported siamface::siamface links videoio/highgui: $link_interface"
fi
pc=$build_dir/siamface.pc
pc_links=$(grep -E '^(Requires|Libs):' "$pc")
grep -q -- '-lopencv_core' <<< "$pc_links" || fail "$pc does not link opencv_core"
grep -Eq 'opencv_(videoio|highgui)|opencv4' <<< "$pc_links" && fail "$pc links all of OpenCV or videoio/highgui: $pc_links"

[[ $failed == 0 ]] && echo "core_library_dependencies: ok"
exit "$failed"
