"""The face_recognition package's API (ageitgey/face_recognition, 1.3), run by siamface.

Change a script's import line to::

    import siamface.face_recognition as face_recognition

and ``load_image_file``, ``face_locations``, ``batch_face_locations``, ``face_landmarks``,
``face_encodings``, ``compare_faces`` and ``face_distance`` take the same arguments and return
the same types, shapes and coordinate order:

* images are numpy ``uint8`` arrays, ``(H, W, 3)`` RGB (or ``(H, W)`` for mode ``'L'``);
* face locations are ``(top, right, bottom, left)`` tuples of ``int``, trimmed to the image;
* landmarks are dicts of lists of ``(x, y)`` ``int`` tuples, named as face_recognition names
  them (``left_eye`` is the eye on the left of the image);
* encodings are ``float64`` arrays of 128 values from dlib's ResNet, so face_recognition's
  0.6 tolerance keeps its meaning.

What differs, by design (docs/python.md): faces are found by siamface's default detector, RFB-320 (with its
border and tiny-detector fallbacks), whatever ``model`` ('hog' or 'cnn') says; its boxes are
returned in dlib HOG's convention (a square placed from the landmarks); landmarks come from siamface's 68-point network, and
``model='small'`` returns the five points of dlib's 5-point model taken from them;
``num_jitters`` > 1 averages siamface's deterministic test-time augmentation (mirror, and for 6
or more also +-3 degree rotations) instead of dlib's random jitter.

The engine is opened on first use from ``$SIAMFACE_MODELS`` (else ~/.cache/siamface/models);
:func:`use_engine` replaces it. Every function may be called from several threads at once.
"""

import collections
import hashlib
import os
import threading

import numpy as np

from . import _siamface

__all__ = [
    "load_image_file", "face_locations", "batch_face_locations", "face_landmarks",
    "face_encodings", "compare_faces", "face_distance", "use_engine",
]

_engine = None
_engine_lock = threading.Lock()

# dlib's 5-point model as points of the 68-point layout: the outer and inner corner of the eye on
# the right of the image, the outer and inner corner of the other eye, the base of the nose.
_FIVE_POINTS = (45, 42, 36, 39, 33)


def use_engine(engine):
    """Runs this module on ``engine`` (a :class:`siamface.Engine` with the dlib recognizer)."""
    global _engine
    if engine.recognizer != "dlib":
        raise ValueError("face_recognition's encodings are dlib's 128-d ones; open the engine with "
                         "recognizer='dlib', not %r" % engine.recognizer)
    with _engine_lock:
        _engine = engine


def _get_engine():
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = _siamface.Engine(recognizer="dlib")
    return _engine


def load_image_file(file, mode="RGB"):
    """Loads an image file (a path or a file object opened in binary mode) into a numpy array.

    :param mode: 'RGB' (``(H, W, 3)`` uint8) or 'L' (``(H, W)`` uint8 grey).
    :raises siamface.Error: kind ``invalid_image`` for a file that is not a supported image.
    """
    if mode not in ("RGB", "L", None, ""):
        raise ValueError("mode must be 'RGB' or 'L', got %r" % (mode,))
    if hasattr(file, "read"):
        data = file.read()
    else:
        with open(os.fspath(file), "rb") as f:
            data = f.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("the file object must be opened in binary mode")
    rgb = _siamface.decode_image(bytes(data))
    if mode == "L":
        # ITU-R 601-2 luma with PIL's integer rounding, as PIL's convert('L').
        r, g, b = (rgb[..., c].astype(np.uint32) for c in range(3))
        return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)
    return rgb


def _upsample_factor(number_of_times_to_upsample):
    times = int(number_of_times_to_upsample)
    if times < 0:
        raise ValueError("number_of_times_to_upsample must be >= 0")
    # 0 and 1 (the default): the photo as it is. siamface's detector finds at native resolution
    # what HOG finds after one upsampling (each face of face_recognition's test photos, in
    # ~0.2-0.3 s), while enlarging cost 4-20x the time there and split one face into two boxes.
    # n >= 2: the detector sees the photo 2**(n-1) times larger, in tiles (small faces in
    # large frames).
    if times <= 1:
        return 1.0
    return float(2 ** (times - 1))


# face_locations returns boxes in dlib HOG's convention, which face_recognition's users and
# their other tools (cropping, drawing, IoU against stored boxes) expect: a square around the 68
# landmarks, its centre shifted by (-0.12, -0.12) and its side 2.78 times their RMS distance from
# their mean. Fitted on LFW photos against the real face_recognition 1.3 and checked on the other
# photo sets (docs/python.md, "Face boxes in dlib's convention"; bench/face_recognition_boxes.py).
_DLIB_BOX_CENTER_SHIFT = (-0.12, -0.12)
_DLIB_BOX_SIDE = 2.78


def _dlib_style_box(face):
    points = np.asarray(face.landmarks, dtype=np.float64)
    center = points.mean(axis=0)
    radius = float(np.sqrt(((points - center) ** 2).sum(axis=1).mean()))
    if not np.isfinite(radius) or radius <= 0:
        return face.box
    cx = center[0] + _DLIB_BOX_CENTER_SHIFT[0] * radius
    cy = center[1] + _DLIB_BOX_CENTER_SHIFT[1] * radius
    side = _DLIB_BOX_SIDE * radius
    return _siamface.Box(cx - side / 2, cy - side / 2, side, side)


def _css(box, shape):
    top = max(int(round(box.top)), 0)
    right = min(int(round(box.right)), shape[1])
    bottom = min(int(round(box.bottom)), shape[0])
    left = max(int(round(box.left)), 0)
    return top, right, bottom, left


class _RecentFaces:
    """The faces face_locations found in the last few images, by image content and box.

    Scripts pass face_locations' boxes back as known_face_locations. Fed a box, the landmark
    network places its points a pixel or more away from where it placed them for the detector's
    own box, which moves an encoding by up to 0.2 (docs/python.md); so a box of ours comes back
    as the face it was, and the encodings equal those of a call without locations.
    """

    def __init__(self, images=16):
        self._images = images
        self._faces = collections.OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(image):
        array = np.ascontiguousarray(image)
        return array.shape, str(array.dtype), hashlib.blake2b(array.data, digest_size=16).digest()

    def remember(self, key, located):
        with self._lock:
            self._faces[key] = dict(located)
            self._faces.move_to_end(key)
            while len(self._faces) > self._images:
                self._faces.popitem(last=False)

    def recall(self, key):
        with self._lock:
            return self._faces.get(key, {})


_recent_faces = _RecentFaces()


def _faces(image, locations, upsample=1):
    engine = _get_engine()
    if locations is None:
        return engine.detect(image, upsample=_upsample_factor(upsample))
    known = _recent_faces.recall(_RecentFaces.key(image)) if len(locations) else {}
    faces = []
    for location in locations:
        top, right, bottom, left = (float(v) for v in location)
        face = known.get(tuple(int(v) for v in location)) if all(float(v).is_integer() for v in location) else None
        faces.append(face if face is not None else engine.face_at(image, _siamface.Box(left, top, right - left, bottom - top)))
    return faces


def face_locations(img, number_of_times_to_upsample=1, model="hog"):
    """Bounding boxes of the faces in an image, as ``(top, right, bottom, left)`` int tuples.

    :param img: an image (numpy array)
    :param number_of_times_to_upsample: how much to enlarge the image to find small faces
    :param model: 'hog' or 'cnn'; both run siamface's detector
    """
    located = [(_css(_dlib_style_box(face), img.shape), face) for face in _faces(img, None, number_of_times_to_upsample)]
    _recent_faces.remember(_RecentFaces.key(img), located)
    return [location for location, _ in located]


def batch_face_locations(images, number_of_times_to_upsample=1, batch_size=128):
    """face_locations for each image of a list: a list of lists of ``(top, right, bottom, left)``."""
    del batch_size  # no GPU batching here; threads calling face_locations run in parallel instead
    return [face_locations(image, number_of_times_to_upsample) for image in images]


def _int_points(face):
    return [(int(round(float(x))), int(round(float(y)))) for x, y in face.landmarks]


def face_landmarks(face_image, face_locations=None, model="large"):
    """The facial features of each face: a list of dicts of ``(x, y)`` int tuples.

    model 'large': chin, left_eyebrow, right_eyebrow, nose_bridge, nose_tip, left_eye,
    right_eye, top_lip, bottom_lip. model 'small': nose_tip, left_eye, right_eye (5 points).
    """
    if model not in ("large", "small"):
        raise ValueError("model must be 'large' or 'small', got %r" % (model,))
    out = []
    for face in _faces(face_image, face_locations):
        p = _int_points(face)
        if model == "small":
            five = [p[i] for i in _FIVE_POINTS]
            out.append({"nose_tip": [five[4]], "left_eye": five[2:4], "right_eye": five[0:2]})
            continue
        out.append({
            "chin": p[0:17],
            "left_eyebrow": p[17:22],
            "right_eyebrow": p[22:27],
            "nose_bridge": p[27:31],
            "nose_tip": p[31:36],
            "left_eye": p[36:42],
            "right_eye": p[42:48],
            # Each lip as a closed outline: its outer edge, then its inner edge back.
            "top_lip": p[48:55] + [p[64], p[63], p[62], p[61], p[60]],
            "bottom_lip": p[54:60] + [p[48], p[60], p[67], p[66], p[65], p[64]],
        })
    return out


def face_encodings(face_image, known_face_locations=None, num_jitters=1, model="small"):
    """The 128-d encoding (float64 numpy array) of each face in the image.

    :param known_face_locations: optional ``(top, right, bottom, left)`` boxes of the faces
    :param num_jitters: > 1 averages the encodings of augmented views (mirror; 6 or more:
                        also +-3 degree rotations)
    :param model: 'small' or 'large' (landmark model for alignment); siamface aligns with its
                  68 points either way
    """
    if model not in ("large", "small"):
        raise ValueError("model must be 'large' or 'small', got %r" % (model,))
    engine = _get_engine()
    jitters = int(num_jitters)
    augment = None if jitters <= 1 else ("flip" if jitters < 6 else "flip-rotate")
    if known_face_locations is None and augment is None:
        # One detection and one batched network run for all faces.
        return [np.asarray(f.embedding, dtype=np.float64) for f in engine.analyze(face_image, upsample=_upsample_factor(1))]
    return [np.asarray(engine.embed(face_image, face, augment=augment), dtype=np.float64)
            for face in _faces(face_image, known_face_locations)]


def face_distance(face_encodings, face_to_compare):
    """Euclidean distance from each encoding to ``face_to_compare``: a numpy array, in order."""
    if len(face_encodings) == 0:
        return np.empty((0,))
    known = np.asarray(face_encodings, dtype=np.float64)
    other = np.asarray(face_to_compare, dtype=np.float64)
    if known.ndim != 2 or other.ndim != 1 or known.shape[1] != other.shape[0]:
        raise ValueError("face_distance compares 128-value encodings: got known encodings of shape %s and "
                         "face_to_compare of shape %s" % (known.shape, other.shape))
    return np.linalg.norm(known - other, axis=1)


def compare_faces(known_face_encodings, face_encoding_to_check, tolerance=0.6):
    """For each known encoding, whether it matches: distance <= tolerance (a list of bools)."""
    distances = face_distance(known_face_encodings, face_encoding_to_check)
    return [bool(d <= tolerance) for d in distances]
