"""siamface: one-shot face recognition (C++), for Python.

Two layers (docs/python.md):

* this package: the library's own objects -- :class:`Engine` (detect, align, embed, verify),
  :class:`Gallery` (enroll, people, remove, identify), :class:`Tracker` (video) -- with numpy
  arrays in and out. Images are ``uint8`` arrays in RGB order, ``(H, W, 3)`` (grey ``(H, W)``
  and RGBA ``(H, W, 4)`` are accepted); for OpenCV's BGR frames pass ``frame[..., ::-1]``.
  Embeddings are ``float32`` arrays. Every error is a :class:`siamface.Error` whose ``kind``
  names it (``invalid_image``, ``no_face``, ``model_missing``, ...).
* :mod:`siamface.face_recognition`: the face_recognition package's functions, so that
  ``import siamface.face_recognition as face_recognition`` runs an existing script.

Thread safety is the C++ library's: one Engine and one Gallery may be used from many threads
at once, and the GIL is released while they compute, so threads run in parallel. A Tracker
follows one video (calls from several threads are serialised).
"""

import threading

import numpy

from . import _siamface


def _check_numpy_abi(numpy_version, pybind11_version):
    """Refuses NumPy 2 under a module built with pybind11 < 2.12 (Debian 12 ships 2.10): that
    pybind11 reads NumPy 2's arrays wrongly without an error, which gave wrong encodings."""
    major = int(str(numpy_version).split(".")[0])
    if major >= 2 and tuple(pybind11_version) < (2, 12):
        raise ImportError(
            "siamface was built with pybind11 %d.%d, which cannot read NumPy %s arrays correctly; "
            "install NumPy 1.x in this environment (pip install 'numpy<2'), or rebuild siamface "
            "with pybind11 >= 2.12" % (pybind11_version[0], pybind11_version[1], numpy_version))


_check_numpy_abi(numpy.__version__, _siamface._pybind11_version)
from ._siamface import (  # noqa: F401  (the public API)
    Box,
    ExpressionEstimate,
    FaceAnalysis,
    GenderEstimate,
    HeadPose,
    LivenessEstimate,
    Decision,
    EnrollResult,
    Engine,
    Error,
    Face,
    FaceEmbedding,
    FaceQuality,
    Gallery,
    GalleryFace,
    IdentifiedFace,
    IdentityMatch,
    ModelInfo,
    AddOutcome,
    Tracker,
    TrackedFace,
    TrackEvent,
    Verification,
    __version__,
    decode_image,
    default_gallery_path,
    default_models_dir,
    distance,
    load_image,
    save_image,
    set_intra_op_threads,
)

Error.__module__ = __name__

__all__ = [
    "AddOutcome", "analyze", "Box", "ExpressionEstimate", "FaceAnalysis", "GenderEstimate", "HeadPose",
    "LivenessEstimate", "Decision", "EnrollResult", "Engine", "Error", "Face", "FaceEmbedding",
    "FaceQuality", "Gallery", "GalleryFace", "IdentifiedFace", "IdentityMatch", "ModelInfo",
    "Tracker", "TrackedFace", "TrackEvent", "Verification", "decode_image", "default_gallery_path",
    "default_models_dir", "distance", "identify", "load_image", "save_image",
    "set_intra_op_threads", "watch",
]


def identify(engine, gallery, image, **options):
    """Names every face of an RGB image against ``gallery``: ``gallery.identify(engine, image, ...)``.

    Returns a list of :class:`IdentifiedFace` (``.name`` is ``'unknown'`` when no enrolled
    person is close enough; ``.top`` holds the nearest identities).
    """
    return gallery.identify(engine, image, **options)


_default_engine = None
_default_engine_lock = threading.Lock()


def analyze(image, attributes=None, *, engine=None, **options):
    """Every face of an RGB image with the attributes asked for: a list of :class:`FaceAnalysis`.

    ``attributes``: a list such as ``["age", "liveness"]`` or a comma string; None asks for all of
    age, gender, expression, liveness and pose. Each network runs only when its attribute is
    asked. ``engine``: an :class:`Engine` (None: one default Engine, made on first use and
    shared). ``liveness_threshold`` and the detection keywords of :meth:`Engine.detect` pass on.
    Models, their origin and measured accuracy: docs/analysis.md.
    """
    global _default_engine
    if engine is None:
        with _default_engine_lock:
            if _default_engine is None:
                _default_engine = Engine()
            engine = _default_engine
    return _siamface.analyze(engine, image, attributes, **options)


def watch(frames, engine, gallery=None, on_event=None, fps=25.0, **tracker_options):
    """Follows faces through ``frames`` (any iterable of RGB arrays) and calls ``on_event(event)``
    for every :class:`TrackEvent` (appeared, identified, identity_changed, ended), in order.

    Frame timestamps are ``index / fps``. Returns the tracker's statistics (a dict). The
    ``ended`` events of the tracks still open at the end are delivered too.
    """
    tracker = Tracker(engine, gallery, **tracker_options)
    emit = on_event if on_event is not None else (lambda event: None)
    for index, frame in enumerate(frames):
        _, events = tracker.process(frame, index, index / fps)
        for event in events:
            emit(event)
    for event in tracker.finish():
        emit(event)
    return tracker.stats
