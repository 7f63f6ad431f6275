#!/usr/bin/env bash
# Records the CLI's outputs on the bundled samples and on folders of test photos, so that a
# structural change (issue 35) can be checked byte for byte:
#   bench/cli_snapshot.sh OLD_BINARY out/before && bench/cli_snapshot.sh build/siamface out/after
#   diff -r out/before out/after
# Volatile fields (timestamps, random face ids, elapsed times) are blanked; nothing else is.
set -uo pipefail
BIN="$(realpath "$1")"
OUT="$2"
MODELS="${SIAMFACE_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/models}"
DATA="${SIAMFACE_TESTDATA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/../shared/testdata}"
rm -rf "$OUT" && mkdir -p "$OUT"
G="$OUT/gallery.db"
blank() { sed -E 's/"(created|created_at|updated_at|time|timestamp|elapsed_ms|[a-z_]*_ms|id|face_id)":("[^"]*"|[0-9.e+-]+)/"\1":"~"/g'; }
run() { # name, command...: stdout (blanked), stderr and exit code
  local name="$1"; shift
  "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"; echo "$?" >"$OUT/$name.rc"
  blank <"$OUT/$name.out" | sed "s|$OUT|OUT|g" >"$OUT/$name.stdout" && rm "$OUT/$name.out"
  sed -i "s|$OUT|OUT|g" "$OUT/$name.err"
  sed -E -e 's/\([0-9.]+\/s, ETA [^)]*\)/(~)/g' -e 's/[0-9]+(\.[0-9]+)? ?(ms|s)\b/~/g' -i "$OUT/$name.err"
}
PHOTOS="$DATA/face_recognition_ageitgey/tests/test_images"
FACEAPI="$DATA/face-api.js/examples/images"
for photo in "$MODELS"/samples/sample*.jpg; do
  n="$(basename "$photo" .jpg)"
  run "enroll-$n" "$BIN" enroll --largest --name "p-$n" "$photo" --gallery "$G"
done
run enroll-folder "$BIN" enroll "$DATA/dlib_examples/johns" --gallery "$G"
run people "$BIN" people --gallery "$G"
run identify-samples "$BIN" identify "$MODELS/samples" --gallery "$G" --annotate "$OUT/annotated"
run identify-photos "$BIN" identify "$PHOTOS" "$FACEAPI" --gallery "$G" --keep-unknown
run identify-csv "$BIN" identify "$PHOTOS" --gallery "$G" --csv
run identify-threshold "$BIN" identify "$PHOTOS" --gallery "$G" --threshold 0.5
run identify-dlib "$BIN" identify "$MODELS/samples" --gallery "$G" --recognizer dlib
run detect "$BIN" detect "$PHOTOS" "$FACEAPI"
run embed "$BIN" embed "$MODELS/samples"
run embed-dlib "$BIN" embed "$MODELS/samples" --recognizer dlib
run verify "$BIN" verify "$MODELS/samples/sample1.jpg" "$MODELS/samples/sample3.jpg"
run cluster "$BIN" cluster --gallery "$G"
run unknown "$BIN" unknown list --gallery "$G"
# Cluster numbers follow the random face ids: compare the partition (files per cluster) instead.
python3 - "$OUT/unknown.stdout" "$OUT/cluster.stdout" <<'PY'
import collections, sys
groups = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, cluster, path = line.rstrip("\n").split("\t")
    groups[cluster].append(path)
with open(sys.argv[1], "w") as out:
    for files in sorted(sorted(g) for g in groups.values()):
        out.write(" ".join(files) + "\n")
sizes = sorted(line.split("\t")[1] for line in open(sys.argv[2]))
open(sys.argv[2], "w").write("\n".join(sizes) + "\n")
PY
run gallery "$BIN" gallery info --gallery "$G"
run export "$BIN" export "$OUT/export.jsonl" --gallery "$G"
blank <"$OUT/export.jsonl" >"$OUT/export.blanked" && rm "$OUT/export.jsonl"
run calibrate "$BIN" calibrate --gallery "$G"
run bad-image "$BIN" identify /etc/hostname --gallery "$G"
run missing "$BIN" identify /nonexistent --gallery "$G"
run typo "$BIN" identfy
(cd "$OUT/annotated" && find . -type f -exec sha256sum {} + | sort -k2) >"$OUT/annotated.sha256"
rm -rf "$OUT/annotated" "$G" "$G"-wal "$G"-shm
