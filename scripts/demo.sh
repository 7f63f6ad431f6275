#!/usr/bin/env bash
# Sets everything up and runs the main job on the bundled sample photos.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${SIAMFACE_BUILD_DIR:-$ROOT/build}"
MODELS_DIR="${SIAMFACE_MODELS:-${XDG_CACHE_HOME:-$HOME/.cache}/siamface/models}"
OUT_DIR="${1:-$ROOT/out/demo}"
"$ROOT/scripts/setup.sh"
"$BUILD_DIR/siamface" detect "$MODELS_DIR/samples" --annotate "$OUT_DIR" >"$OUT_DIR.jsonl"
echo "demo: faces per photo:"
python3 - "$OUT_DIR.jsonl" <<'PY' 2>/dev/null || cat "$OUT_DIR.jsonl"
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"  {r['file']}: {len(r.get('faces', []))} faces -> {r.get('annotated', r.get('error'))}")
PY
echo "demo: annotated copies in $OUT_DIR, JSON in $OUT_DIR.jsonl"
