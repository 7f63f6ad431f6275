#!/usr/bin/env bash
# Sets everything up, then runs the main job on the bundled sample photos: one-shot enrolment
# of the largest face of each sample photo into an SQLite gallery, then identification of every
# face in all samples, with annotated copies (green: named, red: unknown).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${SIAMFACE_BUILD_DIR:-$ROOT/build}"
MODELS_DIR="${SIAMFACE_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/models}"
OUT_DIR="${1:-$ROOT/out/demo}"
# Builds only the CLI (and skips the test-only Node.js reference): the test command builds the rest.
SIAMFACE_BUILD_TARGETS=siamface_cli "$ROOT/scripts/setup.sh"
SIAMFACE="$BUILD_DIR/siamface"
GALLERY="$OUT_DIR/gallery.db"
mkdir -p "$OUT_DIR"
rm -f "$GALLERY" "$GALLERY-wal" "$GALLERY-shm"

for photo in "$MODELS_DIR"/samples/sample*.jpg; do
  name="person-from-$(basename "$photo" .jpg)"
  # Exit 1: nothing stored from this photo (its largest face fails the quality gate, e.g. a
  # profile in sample2); stderr says why and the demo goes on. Exit 2 is an error: stop.
  status=0
  "$SIAMFACE" enroll --largest --name "$name" "$photo" --gallery "$GALLERY" >/dev/null || status=$?
  if [ "$status" -gt 1 ]; then exit "$status"; fi
done
"$SIAMFACE" people --gallery "$GALLERY"
"$SIAMFACE" identify "$MODELS_DIR/samples" --gallery "$GALLERY" --annotate "$OUT_DIR/annotated" >"$OUT_DIR/identify.jsonl"
python3 - "$OUT_DIR/identify.jsonl" <<'PY' || cat "$OUT_DIR/identify.jsonl"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    names = [f"{f['name']} ({f['distance']:.2f})" for f in r.get("faces", [])]
    print(f"  {r['file'].rsplit('/', 1)[-1]}: {', '.join(names) or r.get('error')}")
PY
echo "demo: annotated photos in $OUT_DIR/annotated, JSON lines in $OUT_DIR/identify.jsonl, gallery $GALLERY"
