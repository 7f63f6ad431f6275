#!/usr/bin/env python3
"""The real face_recognition (PyPI 1.3.0, dlib-bin) on a list of photos, for side-by-side benches.

Run it with the python of the venv that scripts/setup.sh makes (SIAMFACE_VENV, default
~/.cache/siamface/venv/bin/python; the versions are pinned in scripts/pypi-requirements.txt):

    VENV/bin/python bench/face_recognition_peer.py LIST [--choose largest|center] [--repeat N]

LIST holds one image path per line. For each image it prints one JSON line:
    {"index": i, "path": ..., "faces": n, "boxes": [[top, right, bottom, left], ...],
     "chosen": k or null, "encoding": [128 floats] or null,
     "detect_ms": ..., "encode_ms": ..., "ms": ...}
exactly as a user of face_recognition would get them: face_recognition.load_image_file, then
face_locations (its defaults: HOG, upsampled once), then face_encodings of the chosen box (its
defaults: one jitter, the 5-point "small" landmarks). The chosen face is the largest box, or with
--choose center the box whose centre is nearest the image centre (LFW's own convention for its
crops). `ms` is the wall time of load + detect + encode for that image; the models load once,
before the first image, and are not counted.

--repeat N: run the whole list N times and print only a summary line per round
    {"round": r, "photos": n, "seconds": s, "photos_per_second": p}
(bench/peer_speed.sh uses it for the one-core speed figure).

Single-threaded: OMP, OpenBLAS and MKL are held to one thread before dlib loads. The models
come from the face_recognition_models package: nothing downloads.
"""
import argparse
import json
import os
import sys
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import face_recognition  # noqa: E402  (after the thread limits)


def choose(boxes, width, height, rule):
    """Index of the chosen box among face_recognition's (top, right, bottom, left) boxes."""
    if not boxes:
        return None
    if rule == "center":
        cx, cy = width / 2.0, height / 2.0

        def distance(i):
            top, right, bottom, left = boxes[i]
            return ((left + right) / 2.0 - cx) ** 2 + ((top + bottom) / 2.0 - cy) ** 2

        return min(range(len(boxes)), key=distance)

    def area(i):
        top, right, bottom, left = boxes[i]
        return (bottom - top) * (right - left)

    return max(range(len(boxes)), key=area)  # first of equal areas


def analyse(path, rule):
    start = time.perf_counter()
    image = face_recognition.load_image_file(path)
    boxes = face_recognition.face_locations(image)
    detected = time.perf_counter()
    chosen = choose(boxes, image.shape[1], image.shape[0], rule)
    encoding = None
    if chosen is not None:
        encoding = face_recognition.face_encodings(image, known_face_locations=[boxes[chosen]])[0]
    end = time.perf_counter()
    return {
        "faces": len(boxes),
        "boxes": [[int(v) for v in box] for box in boxes],
        "chosen": chosen,
        "encoding": None if encoding is None else [float(v) for v in encoding],
        "detect_ms": round((detected - start) * 1000.0, 3),
        "encode_ms": round((end - detected) * 1000.0, 3),
        "ms": round((end - start) * 1000.0, 3),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("list", help="file with one image path per line")
    parser.add_argument("--choose", choices=("largest", "center"), default="largest")
    parser.add_argument("--repeat", type=int, default=0, help="speed mode: N rounds, summary lines only")
    args = parser.parse_args()
    with open(args.list, encoding="utf-8") as f:
        paths = [line.rstrip("\n") for line in f if line.strip()]
    out = sys.stdout
    if args.repeat > 0:
        for r in range(args.repeat):
            start = time.perf_counter()
            for path in paths:
                analyse(path, args.choose)
            seconds = time.perf_counter() - start
            out.write(json.dumps({"round": r, "photos": len(paths), "seconds": round(seconds, 4),
                                  "photos_per_second": round(len(paths) / seconds, 4)}) + "\n")
            out.flush()
        return 0
    for index, path in enumerate(paths):
        try:
            result = analyse(path, args.choose)
        except Exception as e:  # one unreadable image must not end the run
            result = {"faces": 0, "boxes": [], "chosen": None, "encoding": None, "error": str(e)}
        result = {"index": index, "path": path, **result}
        out.write(json.dumps(result, separators=(",", ":")) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
