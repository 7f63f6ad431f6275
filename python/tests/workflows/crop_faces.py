"""Finds the faces of a photo and saves each as its own image, written for these tests.

    python crop_faces.py PHOTO OUT_PREFIX     # writes OUT_PREFIX0.png, OUT_PREFIX1.png, ...
"""
import sys

import siamface
import siamface.face_recognition as face_recognition

image = face_recognition.load_image_file(sys.argv[1])
locations = face_recognition.face_locations(image)
print("faces: %d" % len(locations))
for index, (top, right, bottom, left) in enumerate(locations):
    print("face %d: top %d right %d bottom %d left %d" % (index, top, right, bottom, left))
    siamface.save_image(image[top:bottom, left:right], "%s%d.png" % (sys.argv[2], index))
