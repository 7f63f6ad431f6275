#!/usr/bin/env python3
"""The library's include graph runs one way: down the layers of the data flow (issue 35).

Every file of src/ and include/siamface/ belongs to a layer: its src/ folder, or, for a public
header, the stage it serves (PUBLIC_HEADER_LAYER). A file may include files of its own folder and
of lower layers only, and folders of one layer (detect, landmarks, embed: the network stages side
by side on model/) not each other, so the folder graph has no circle. Prints the folder graph with
--graph; exits 1 and names every offending include otherwise. --self-test checks that a planted
upward include is caught. docs/architecture.md draws the same graph.
  cmake/check_layers.py SOURCE_DIR [--graph]
  cmake/check_layers.py --self-test
"""
import re
import sys
from pathlib import Path

# Low to high: what a layer may include is everything to its left.
LAYERS = [
    ["public"],                      # types, errors, names, options, model_info, image, decision
    ["util"],
    ["image"],
    ["align"],                       # chips cut by landmark geometry: no network
    ["enhance"],                     # per-chip and per-photo enhancement (uses align's chips)
    ["model"],                       # the inference runtime every network stage runs on
    ["detect", "landmarks", "embed", "attributes"],  # the network stages, side by side on model/
    ["index"],
    ["gallery"],
    ["pipeline"],                    # Engine, enrolment, identification
    ["video", "render"],
    ["eval", "degrade"],             # evaluation tools and their plots (siamface_tools), on top
]
# Public headers that belong above the base layer, with the stage they serve.
PUBLIC_HEADER_LAYER = {
    "embedding_index.hpp": "index",
    "gallery.hpp": "gallery",
    "clustering.hpp": "gallery",
    "analysis.hpp": "pipeline",
    "engine.hpp": "pipeline",
    "enroll.hpp": "pipeline",
    "identify.hpp": "pipeline",
    "recognizer.hpp": "pipeline",
    "tracker.hpp": "video",
    "render.hpp": "render",
}
RANK = {folder: rank for rank, folders in enumerate(LAYERS) for folder in folders}
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]((?:siamface/)?[a-z_]+/[^">]+|siamface/[^">]+)[">]', re.M)


def folder_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root)
    if rel.parts[0] == "include":
        return PUBLIC_HEADER_LAYER.get(rel.name, "public")
    return rel.parts[1]


def target_folder(include: str, root: Path):
    if include.startswith("siamface/"):
        return PUBLIC_HEADER_LAYER.get(include.split("/", 1)[1], "public")
    first = include.split("/", 1)[0]
    return first if (root / "src" / first).is_dir() else None


def offences_in(root: Path, show_graph: bool = False) -> list:
    files = sorted(p for d in ("src", "include/siamface") for p in (root / d).rglob("*") if p.suffix in (".hpp", ".cpp"))
    edges, offences = {}, []
    for path in files:
        source = folder_of(path, root)
        if source not in RANK:
            offences.append(f"{path.relative_to(root)}: folder '{source}' has no layer in cmake/check_layers.py")
            continue
        for include in INCLUDE.findall(path.read_text(errors="replace")):
            target = target_folder(include, root)
            if target is None or target == source:
                continue
            if target not in RANK:
                offences.append(f"{path.relative_to(root)}: includes {include}, whose folder has no layer")
                continue
            edges.setdefault(source, set()).add(target)
            if RANK[target] >= RANK[source]:
                side = "beside" if RANK[target] == RANK[source] else "above"
                offences.append(f"{path.relative_to(root)} ({source}) includes {include} ({target}, {side} it)")
    if show_graph:
        for source in sorted(edges, key=lambda f: (RANK[f], f)):
            print(f"{source} -> {', '.join(sorted(edges[source], key=lambda f: (RANK[f], f)))}")
    return offences


def self_test() -> int:
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder in ("src/detect", "src/pipeline", "src/landmarks", "include/siamface"):
            (root / folder).mkdir(parents=True)
        (root / "src/pipeline/engine.cpp").write_text('#include "detect/face_detector.hpp"\n')
        (root / "include/siamface/types.hpp").write_text("#pragma once\n")
        if offences_in(root):
            print("self-test: a downward include was refused", file=sys.stderr)
            return 1
        (root / "src/detect/passes.cpp").write_text('#include "pipeline/engine.hpp"\n')
        (root / "src/landmarks/net.cpp").write_text('#include "detect/face_detector.hpp"\n')
        (root / "include/siamface/options.hpp").write_text('#include "siamface/engine.hpp"\n')
        found = "\n".join(offences_in(root))
        expected = ["passes.cpp (detect) includes pipeline/engine.hpp (pipeline, above it)",
                    "net.cpp (landmarks) includes detect/face_detector.hpp (detect, beside it)",
                    "options.hpp (public) includes siamface/engine.hpp (pipeline, above it)"]
        missing = [e for e in expected if e not in found]
        for e in missing:
            print(f"self-test: not caught: {e}", file=sys.stderr)
        return 1 if missing else 0


def main() -> int:
    if "--self-test" in sys.argv:
        return self_test()
    offences = offences_in(Path(sys.argv[1]).resolve(), "--graph" in sys.argv)
    for offence in offences:
        print(offence, file=sys.stderr)
    if offences:
        print(f"{len(offences)} include(s) against the layers", file=sys.stderr)
    return 1 if offences else 0


if __name__ == "__main__":
    sys.exit(main())
