# face_recognition's example "find_faces_in_picture.py", logic unchanged except: the import line,
# the photo path from the command line, and each face saved to a file instead of shown (no
# display in tests; PIL is replaced by siamface.save_image).
import sys

import siamface
import siamface.face_recognition as face_recognition

path = sys.argv[1]
out_prefix = sys.argv[2]

# Load the jpg file into a numpy array
image = face_recognition.load_image_file(path)

# Find all the faces in the image using the default HOG-based model.
# This method is fairly accurate, but not as accurate as the CNN model and not GPU accelerated.
# See also: find_faces_in_picture_cnn.py
face_locations = face_recognition.face_locations(image)

print("I found {} face(s) in this photograph.".format(len(face_locations)))

for index, face_location in enumerate(face_locations):

    # Print the location of each face in this image
    top, right, bottom, left = face_location
    print("A face is located at pixel location Top: {}, Left: {}, Bottom: {}, Right: {}".format(top, left, bottom, right))

    # You can access the actual face itself like this:
    face_image = image[top:bottom, left:right]
    siamface.save_image(face_image, "{}{}.png".format(out_prefix, index))
