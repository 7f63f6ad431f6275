"""Runs the real face_recognition (PyPI 1.3.0, the venv of scripts/setup.sh) on photos and prints
one JSON document: for each photo its shape, face_locations, face_landmarks (large) and
face_encodings, and batch_face_locations over all of them. Run by
python/tests/test_face_recognition_differential.py with the venv's python:

    VENV/bin/python face_recognition_reference.py PIXELS_DIR PHOTO...

load_image_file's pixels go to PIXELS_DIR/<photo's file name>.npy, for the pixel comparison.
"""
import json
import os
import sys

import numpy as np

import face_recognition

pixels_dir = sys.argv[1]
photos = sys.argv[2:]
out = {"photos": {}}
images = []
for path in photos:
    image = face_recognition.load_image_file(path)
    images.append(image)
    np.save(os.path.join(pixels_dir, os.path.basename(path) + ".npy"), image)
    locations = face_recognition.face_locations(image)
    landmarks = face_recognition.face_landmarks(image, locations)
    encodings = face_recognition.face_encodings(image, locations)
    out["photos"][path] = {
        "shape": list(image.shape), "dtype": str(image.dtype),
        "locations": [list(map(int, l)) for l in locations],
        "landmarks": [{k: [list(map(int, p)) for p in v] for k, v in face.items()} for face in landmarks],
        "encodings": [e.tolist() for e in encodings],
    }
# Same-sized images only, as face_recognition's batch (dlib's CNN) needs; one batch per size, not
# upsampled (the CNN on CPU takes tens of seconds a photo when upsampled).
by_shape = {}
for path, image in zip(photos, images):
    by_shape.setdefault(image.shape, []).append((path, image))
out["batch"] = {}
for group in by_shape.values():
    found = face_recognition.batch_face_locations([image for _, image in group], number_of_times_to_upsample=0)
    for (path, _), locations in zip(group, found):
        out["batch"][path] = [list(map(int, l)) for l in locations]
print(json.dumps(out))
