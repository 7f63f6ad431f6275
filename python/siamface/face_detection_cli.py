"""face_recognition's ``face_detection`` command (1.3.0), run by siamface.face_recognition:

    python -m siamface.face_detection_cli IMAGE_OR_FOLDER [--model hog|cnn] [--cpus N]

Prints ``path,top,right,bottom,left`` per face, as the original. --cpus is accepted; the photos
are processed one after the other.
"""
import argparse
import os
import sys

from . import face_recognition
from .face_recognition_cli import image_files_in_folder


def test_image(image_to_check, model):
    image = face_recognition.load_image_file(image_to_check)
    for top, right, bottom, left in face_recognition.face_locations(image, number_of_times_to_upsample=0, model=model):
        print("{},{},{},{},{}".format(image_to_check, top, right, bottom, left))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="face_detection")
    parser.add_argument("image_to_check")
    parser.add_argument("--cpus", type=int, default=1, help="accepted for compatibility; photos run one at a time")
    parser.add_argument("--model", default="hog", help='Which face detection model to use: "hog" or "cnn".')
    args = parser.parse_args(argv)
    images = image_files_in_folder(args.image_to_check) if os.path.isdir(args.image_to_check) else [args.image_to_check]
    for image in images:
        test_image(image, args.model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
