"""The folder-per-person workflow of face_recognition's k-nearest-neighbours example, written for
these tests with numpy instead of scikit-learn: train on TRAIN/<name>/*.jpg (photos with exactly
one face), then name every face of each photo in TEST, "unknown" when its nearest training face
lies farther than 0.6.

    python knn_folder_per_person.py TRAIN TEST

Prints one line per face: "<photo file name>: <name> <top>,<right>,<bottom>,<left>".
"""
import collections
import math
import os
import sys

import numpy as np

import siamface.face_recognition as face_recognition
from siamface.face_recognition_cli import image_files_in_folder

DISTANCE_THRESHOLD = 0.6

train_dir, test_dir = sys.argv[1], sys.argv[2]
encodings, labels = [], []
for person in sorted(os.listdir(train_dir)):
    for path in image_files_in_folder(os.path.join(train_dir, person)):
        image = face_recognition.load_image_file(path)
        locations = face_recognition.face_locations(image)
        if len(locations) != 1:
            print("skipped %s: %d faces" % (os.path.basename(path), len(locations)), file=sys.stderr)
            continue
        encodings.append(face_recognition.face_encodings(image, known_face_locations=locations)[0])
        labels.append(person)
if not encodings:
    sys.exit("no training faces in %s" % train_dir)
k = max(1, int(round(math.sqrt(len(encodings)))))

for path in sorted(image_files_in_folder(test_dir)):
    image = face_recognition.load_image_file(path)
    locations = face_recognition.face_locations(image)
    for location, encoding in zip(locations, face_recognition.face_encodings(image, known_face_locations=locations)):
        distances = face_recognition.face_distance(encodings, encoding)
        nearest = np.argsort(distances)[:k]
        if distances[nearest[0]] > DISTANCE_THRESHOLD:
            name = "unknown"
        else:
            votes = collections.Counter(labels[i] for i in nearest if distances[i] <= DISTANCE_THRESHOLD)
            name = votes.most_common(1)[0][0]
        print("%s: %s %s" % (os.path.basename(path), name, ",".join(str(v) for v in location)))
