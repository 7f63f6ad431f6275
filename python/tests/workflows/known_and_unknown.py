"""face_recognition's first README workflow, written for these tests: one photo per known person
(the file name is the name), then is an unknown photo one of them, or someone new?

    python known_and_unknown.py UNKNOWN_PHOTO KNOWN_PHOTO...

Only the import line would change to run it on the real package.
"""
import os
import sys

import siamface.face_recognition as face_recognition


def first_encoding(path):
    encodings = face_recognition.face_encodings(face_recognition.load_image_file(path))
    if not encodings:
        sys.exit("no face found in %s" % path)
    return encodings[0]


unknown = first_encoding(sys.argv[1])
names = [os.path.splitext(os.path.basename(path))[0] for path in sys.argv[2:]]
known = [first_encoding(path) for path in sys.argv[2:]]
matches = face_recognition.compare_faces(known, unknown)
for name, match in zip(names, matches):
    print("%s: %s" % (name, match))
print("someone new: %s" % (not any(matches)))
