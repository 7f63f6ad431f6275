#!/usr/bin/env python3
"""How well siamface.face_recognition's boxes overlap the real face_recognition's, per photo set.

face_recognition returns dlib HOG's boxes; siamface's compat layer places a square of the same
convention from its 68 landmarks (python/siamface/face_recognition.py, _dlib_style_box). This
prints, per set, the IoU of each face both packages find: siamface's detector box as it is, and
the dlib-convention box the layer returns. With --fit it also prints the convention's constants
fitted (medians) on the LFW sample, the set they were fitted on; the other sets are held out,
and each set is also run as a transformed copy (half size, JPEG quality 60) as phones and
messengers deliver photos.

Run it with the venv scripts/setup.sh makes (it holds the real face_recognition) and the built
module (or an installed siamface):

    PYTHONPATH=build/python ~/.cache/siamface/venv/bin/python bench/face_recognition_boxes.py [--fit]

Test photos: $SIAMFACE_TESTDATA, else ../shared/testdata beside the checkout.
"""
import argparse
import io
import os
import pathlib
import random
import sys

import numpy as np

import face_recognition as real
import siamface
import siamface.face_recognition as ours
from siamface.face_recognition import _dlib_style_box

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[1]
TESTDATA = pathlib.Path(os.environ.get("SIAMFACE_TESTDATA", SOURCE_DIR.parent / "shared" / "testdata"))


def photo_sets(lfw_sample):
    random.seed(1)
    lfw = sorted((TESTDATA / "lfw/lfw-deepfunneled").rglob("*.jpg"))
    examples = TESTDATA / "face-api.js/examples/images"
    return {
        "lfw (fit)": random.sample(lfw, min(lfw_sample, len(lfw))),
        "dlib_examples/faces": sorted((TESTDATA / "dlib_examples/faces").glob("*.jpg")),
        "face-api.js examples": sorted(p for p in examples.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")),
        "face_recognition tests": sorted((TESTDATA / "face_recognition_ageitgey/tests/test_images").glob("*.*")),
    }


def transformed(rgb):
    """Half size, JPEG quality 60: the copy a messenger or a phone's share sheet makes."""
    from PIL import Image  # face_recognition's own dependency, in the same venv

    image = Image.fromarray(rgb)
    image = image.resize((max(image.width // 2, 1), max(image.height // 2, 1)), Image.LANCZOS)
    data = io.BytesIO()
    image.save(data, format="JPEG", quality=60)
    data.seek(0)
    return real.load_image_file(data)


def iou(a, b):
    """IoU of two (top, right, bottom, left) boxes."""
    w = min(a[1], b[1]) - max(a[3], b[3])
    h = min(a[2], b[2]) - max(a[0], b[0])
    inter = max(w, 0) * max(h, 0)
    area = lambda x: (x[1] - x[3]) * (x[2] - x[0])  # noqa: E731
    return inter / (area(a) + area(b) - inter) if inter > 0 else 0.0


def css(box):
    return (box.top, box.right, box.bottom, box.left)


def pairs_of(engine, rgb):
    """(our face, their box) for each face both find (best IoU of the detector box >= 0.2)."""
    theirs = real.face_locations(rgb, 1)
    out = []
    for face in engine.detect(rgb):
        overlap, box = max(((iou(css(face.box), t), t) for t in theirs), default=(0.0, None))
        if overlap >= 0.2:
            out.append((face, box))
    return out


def fit(pairs):
    shift_x, shift_y, sides = [], [], []
    for face, (top, right, bottom, left) in pairs:
        points = np.asarray(face.landmarks, dtype=np.float64)
        center = points.mean(axis=0)
        radius = np.sqrt(((points - center) ** 2).sum(axis=1).mean())
        shift_x.append(((left + right) / 2 - center[0]) / radius)
        shift_y.append(((top + bottom) / 2 - center[1]) / radius)
        sides.append(np.sqrt((right - left) * (bottom - top)) / radius)
    return np.median(shift_x), np.median(shift_y), np.median(sides)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fit", action="store_true", help="print the constants fitted on the LFW sample")
    parser.add_argument("--lfw", type=int, default=300, help="LFW photos sampled (seed 1)")
    args = parser.parse_args()
    if not TESTDATA.is_dir():
        sys.exit("test data not found at %s (set SIAMFACE_TESTDATA)" % TESTDATA)
    engine = siamface.Engine(recognizer="dlib")
    ours.use_engine(engine)
    print("%-32s %5s  %-22s %-22s" % ("set", "faces", "detector box IoU", "dlib-convention IoU"))
    print("%-32s %5s  %-22s %-22s" % ("", "", "mean / min", "mean / min"))
    for name, files in photo_sets(args.lfw).items():
        for variant in ("as is", "half size, JPEG 60"):
            pairs = []
            for path in files:
                rgb = real.load_image_file(str(path))
                if variant != "as is":
                    rgb = transformed(rgb)
                pairs += pairs_of(engine, rgb)
            if not pairs:
                continue
            raw = [iou(css(face.box), box) for face, box in pairs]
            converted = [iou(css(_dlib_style_box(face)), box) for face, box in pairs]
            print("%-32s %5d  %.3f / %.3f          %.3f / %.3f" % (
                "%s, %s" % (name, variant), len(pairs), np.mean(raw), np.min(raw), np.mean(converted), np.min(converted)))
            if args.fit and name.startswith("lfw") and variant == "as is":
                print("  fitted: centre shift (%.3f, %.3f) x radius, side %.3f x radius" % fit(pairs))


if __name__ == "__main__":
    main()
