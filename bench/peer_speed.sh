#!/usr/bin/env bash
# One core, the same photos: photos per second of the real face_recognition (PyPI 1.3.0 on the
# prebuilt dlib-bin, the venv of scripts/setup.sh: load_image_file + face_locations (HOG,
# upsampled once) + face_encodings of one face) against `siamface identify -j 1` (decode,
# detect, align, embed, search, name every face), measured in one run (issue 31, item 5).
#   bench/peer_speed.sh [--rounds N] [--repeat K] [--cpu C] [PHOTO_DIR ...]
# Default photos: lfw_dev's 35 crops (250 px; a few show a bystander too, which siamface also
# names while face_recognition encodes one face) and face_recognition's own test photos (one
# face each, up to 2,000 px). Both run pinned to one CPU (taskset -c C, default 1) with OMP,
# OpenBLAS and MKL held to one thread. The rounds alternate the two, so load from other
# processes hits both alike; each figure is the median over rounds.
# Model loading is left out of both: face_recognition's script times K passes over the photos
# inside one process (its --repeat mode) and takes their median; siamface's per-photo time is
# (time of one identify over the photos listed K+1 times - time over them once) / (K * photos).
# The gallery (lfw_dev's photos enrolled with --largest, not timed) is the same for every round.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${SIAMFACE_BUILD_DIR:-$ROOT/build}"
TESTDATA="${SIAMFACE_TESTDATA:-$ROOT/../shared/testdata}"
PYTHON="${SIAMFACE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/venv}/bin/python"
rounds=5 repeat=3 cpu=1
dirs=()
while (($#)); do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) dirs+=("$1"); shift ;;
  esac
done
((${#dirs[@]})) || dirs=("$TESTDATA/lfw_dev/lfw-deepfunneled" "$TESTDATA/face_recognition_ageitgey/tests/test_images")
cli="$BUILD_DIR/siamface"
for need in "$cli" "$PYTHON"; do
  [ -x "$need" ] || { echo "peer_speed: $need missing (scripts/setup.sh)" >&2; exit 2; }
done
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gallery="$work/gallery.db"
"$cli" enroll --largest --gallery "$gallery" "$TESTDATA/lfw_dev/lfw-deepfunneled" >"$work/enroll.log" 2>&1 ||
  { cat "$work/enroll.log" >&2; exit 2; }

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "| photos | n | face_recognition (real) photos/s | siamface identify photos/s | siamface / face_recognition |"
echo "|---|---|---|---|---|"
for dir in "${dirs[@]}"; do
  list="$work/list.txt"
  find "$dir" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort >"$list"
  n=$(wc -l <"$list")
  mapfile -t photos <"$list"
  repeated=()
  for ((k = 0; k <= repeat; ++k)); do repeated+=("${photos[@]}"); done
  : >"$work/peer" ; : >"$work/ours"
  for ((r = 0; r < rounds; ++r)); do
    # face_recognition: the median of K timed passes in one process.
    taskset -c "$cpu" "$PYTHON" "$ROOT/bench/face_recognition_peer.py" --repeat "$repeat" "$list" |
      sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' | median | awk -v n="$n" '{print $1 / n}' >>"$work/peer"
    # siamface identify: K+1 passes minus one pass, in two processes (model loading cancels out).
    t0=$(now)
    taskset -c "$cpu" "$cli" identify --gallery "$gallery" -j 1 "${photos[@]}" >/dev/null
    t1=$(now)
    taskset -c "$cpu" "$cli" identify --gallery "$gallery" -j 1 "${repeated[@]}" >/dev/null
    t2=$(now)
    awk -v a="$t0" -v b="$t1" -v c="$t2" -v k="$repeat" -v n="$n" 'BEGIN {print ((c - b) - (b - a)) / (k * n)}' >>"$work/ours"
  done
  peer=$(median <"$work/peer")
  ours=$(median <"$work/ours")
  awk -v d="$(basename "$(dirname "$dir")")/$(basename "$dir")" -v n="$n" -v p="$peer" -v o="$ours" \
    'BEGIN {printf "| %s | %d | %.2f | %.2f | x%.2f |\n", d, n, 1 / p, 1 / o, p / o}'
  echo "  per-round seconds per photo: face_recognition $(paste -sd' ' "$work/peer"); siamface $(paste -sd' ' "$work/ours")" >&2
done
