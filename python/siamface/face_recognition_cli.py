"""face_recognition's ``face_recognition`` command (1.3.0), run by siamface.face_recognition:

    python -m siamface.face_recognition_cli KNOWN_PEOPLE_FOLDER IMAGE_TO_CHECK [--tolerance 0.6]
        [--show-distance true] [--cpus N]

Prints what the original prints: ``path,name`` per face (``,distance`` with --show-distance
true), ``path,unknown_person`` for a face that matches nobody, ``path,no_persons_found`` for a
photo without faces. Known people are named after their file (``obama.jpg`` -> ``obama``), one
face each. --cpus is accepted; the photos are processed one after the other.
"""
import argparse
import os
import re
import sys

import numpy as np

from . import face_recognition


def image_files_in_folder(folder):
    return [os.path.join(folder, f) for f in os.listdir(folder) if re.match(r".*\.(jpg|jpeg|png)", f, flags=re.I)]


def scan_known_people(known_people_folder):
    names, encodings = [], []
    for file in image_files_in_folder(known_people_folder):
        basename = os.path.splitext(os.path.basename(file))[0]
        found = face_recognition.face_encodings(face_recognition.load_image_file(file))
        if len(found) > 1:
            print("WARNING: More than one face found in {}. Only considering the first face.".format(file))
        if len(found) == 0:
            print("WARNING: No faces found in {}. Ignoring file.".format(file))
        else:
            names.append(basename)
            encodings.append(found[0])
    return names, encodings


def print_result(filename, name, distance, show_distance=False):
    if show_distance:
        print("{},{},{}".format(filename, name, distance))
    else:
        print("{},{}".format(filename, name))


def test_image(image_to_check, known_names, known_face_encodings, tolerance=0.6, show_distance=False):
    unknown_encodings = face_recognition.face_encodings(face_recognition.load_image_file(image_to_check))
    for unknown_encoding in unknown_encodings:
        distances = face_recognition.face_distance(known_face_encodings, unknown_encoding)
        result = list(np.asarray(distances) <= tolerance)
        if True in result:
            for is_match, name, distance in zip(result, known_names, distances):
                if is_match:
                    print_result(image_to_check, name, distance, show_distance)
        else:
            print_result(image_to_check, "unknown_person", None, show_distance)
    if not unknown_encodings:
        print_result(image_to_check, "no_persons_found", None, show_distance)


def true_or_false(text):
    if text.lower() in ("1", "true", "t", "yes", "y", "on"):
        return True
    if text.lower() in ("0", "false", "f", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError("%r is not a valid boolean" % text)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="face_recognition")
    parser.add_argument("known_people_folder")
    parser.add_argument("image_to_check")
    parser.add_argument("--cpus", type=int, default=1, help="accepted for compatibility; photos run one at a time")
    parser.add_argument("--tolerance", type=float, default=0.6, help="Tolerance for face comparisons. Default is 0.6.")
    parser.add_argument("--show-distance", type=true_or_false, default=False, help="Output face distance.")
    args = parser.parse_args(argv)
    names, encodings = scan_known_people(args.known_people_folder)
    images = image_files_in_folder(args.image_to_check) if os.path.isdir(args.image_to_check) else [args.image_to_check]
    for image in images:
        test_image(image, names, encodings, args.tolerance, args.show_distance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
