"""``python -m siamface``: the CLI commands that make sense from Python (docs/python.md).

    python -m siamface enroll NAME PHOTO_OR_FOLDER... [--gallery DB] [--take-largest]
    python -m siamface identify PHOTO_OR_FOLDER... [--gallery DB] [--threshold T] [--json]
    python -m siamface people [--gallery DB]
    python -m siamface models-dir

``--models DIR`` (before or after the command) opens the models there instead of
``$SIAMFACE_MODELS`` / ~/.cache/siamface/models; ``--gallery`` defaults to the CLI's gallery.
``identify`` prints one tab-separated line per face: photo, name, distance, left, top, width,
height (a photo without faces: name ``-``); ``--json`` prints one JSON object per photo instead.
Exit status: 0, 1 on an error (message on stderr), 2 on a usage error.
"""

import argparse
import json
import os
import sys

from . import _siamface

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif", ".avif")


def photos_in(paths):
    """The photos named, and those inside each named folder (sorted, not recursive)."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            found += sorted(os.path.join(path, name) for name in os.listdir(path)
                            if name.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(os.path.join(path, name)))
        elif os.path.exists(path):
            found.append(path)
        else:
            raise FileNotFoundError("no such photo or folder: %s" % path)
    if not found:
        raise ValueError("no photos in %s" % ", ".join(paths))
    return found


def parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--models", default=argparse.SUPPRESS,
                        help="models folder (default: $SIAMFACE_MODELS, else ~/.cache/siamface/models)")
    common.add_argument("--gallery", default=argparse.SUPPRESS, help="gallery database (default: the CLI's)")
    top = argparse.ArgumentParser(prog="python -m siamface", parents=[common],
                                  description="siamface from Python: enroll people, identify photos.")
    commands = top.add_subparsers(dest="command", required=True)
    enroll = commands.add_parser("enroll", parents=[common], help="enroll NAME from photos or folders")
    enroll.add_argument("name")
    enroll.add_argument("paths", nargs="+")
    enroll.add_argument("--take-largest", action="store_true", help="enroll the largest face of a group photo")
    identify = commands.add_parser("identify", parents=[common], help="name the faces in photos or folders")
    identify.add_argument("paths", nargs="+")
    identify.add_argument("--threshold", type=float, default=None, help="stricter distance threshold")
    identify.add_argument("--json", action="store_true", help="one JSON object per photo")
    commands.add_parser("people", parents=[common], help="the enrolled people and their face counts")
    commands.add_parser("models-dir", parents=[common], help="where the models are looked for")
    return top


def run_enroll(args, photos, engine, gallery, out):
    results = gallery.enroll(engine, args.name, photos, take_largest=args.take_largest)
    for result in results:
        out.write("%s\t%s\t%s\n" % (result.source_path, result.status, result.reason))
    return 0 if any(r.status in ("enrolled", "duplicate") for r in results) else 1


def run_identify(args, photos, engine, gallery, out):
    for photo in photos:
        faces = gallery.identify(engine, _siamface.load_image(photo), threshold=args.threshold)
        if args.json:
            out.write(json.dumps({"photo": photo, "faces": [
                {"name": f.name, "distance": round(float(f.distance), 4),
                 "box": [round(v, 1) for v in (f.face.box.left, f.face.box.top, f.face.box.width, f.face.box.height)]}
                for f in faces]}) + "\n")
            continue
        if not faces:
            out.write("%s\t-\n" % photo)
        for f in faces:
            b = f.face.box
            out.write("%s\t%s\t%.4f\t%.0f\t%.0f\t%.0f\t%.0f\n" % (photo, f.name, f.distance, b.left, b.top, b.width, b.height))
    return 0


def main(argv=None, out=None):
    out = out or sys.stdout
    args = parser().parse_args(argv)
    models = getattr(args, "models", None)
    try:
        if args.command == "models-dir":
            out.write((models or _siamface.default_models_dir()) + "\n")
            return 0
        # The photos first: a missing one is named before anything is opened.
        photos = photos_in(args.paths) if args.command in ("enroll", "identify") else []
        gallery_path = getattr(args, "gallery", None)
        with _siamface.Gallery(gallery_path, create=args.command == "enroll",
                               read_only=args.command != "enroll") as gallery:
            if args.command == "people":
                for person, count in sorted(gallery.people().items()):
                    out.write("%s\t%d\n" % (person, count))
                return 0
            engine = _siamface.Engine(models)
            if args.command == "enroll":
                return run_enroll(args, photos, engine, gallery, out)
            return run_identify(args, photos, engine, gallery, out)
    except (_siamface.Error, OSError, ValueError) as e:
        sys.stderr.write("siamface: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
