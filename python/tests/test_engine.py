"""The library's own objects from Python: Engine, images, errors, Gallery, Tracker, threads."""
import os
import threading
import time

import numpy as np
import pytest


@pytest.fixture(scope="module")
def photo(siamface, images):
    return lambda name: siamface.load_image(str(images / name))


# ---- Engine ----

def test_engine_describes_its_recognizer(engine):
    assert engine.embedding_size == 128
    assert engine.recognizer == "dlib"
    assert "dlib" in engine.model_info.name and len(engine.model_info.weights_sha256) == 64


def test_detect_gives_faces_with_box_score_and_68_landmarks(engine, photo):
    image = photo("obama.jpg")
    faces = engine.detect(image)
    assert len(faces) == 1
    face = faces[0]
    assert 0.5 <= face.score <= 1.0
    box = face.box
    assert 0 <= box.left < box.right <= image.shape[1] and 0 <= box.top < box.bottom <= image.shape[0]
    landmarks = face.landmarks
    assert landmarks.shape == (68, 2) and landmarks.dtype == np.float32
    # the landmarks lie on the face: the nose tip (30) inside the box, the jaw spans most of it
    nose = landmarks[30]
    assert box.left < nose[0] < box.right and box.top < nose[1] < box.bottom
    assert landmarks[16, 0] - landmarks[0, 0] > 0.6 * box.width
    assert face.quality.face_size_px == pytest.approx(min(box.width, box.height))


def test_embed_align_and_distance(siamface, engine, photo):
    a, b, c = photo("obama.jpg"), photo("obama2.jpg"), photo("biden.jpg")
    ea = engine.embed(a, engine.detect(a)[0])
    assert ea.shape == (128,) and ea.dtype == np.float32 and np.all(np.isfinite(ea))
    eb = engine.analyze(b)[0].embedding
    ec = engine.analyze(c)[0].embedding
    assert siamface.distance(ea, eb) == pytest.approx(float(np.linalg.norm(ea - eb)), rel=1e-5)
    assert siamface.distance(ea, eb) < 0.6 < siamface.distance(ea, ec)
    # any 1-D sequence of numbers is an embedding
    assert siamface.distance(ea.tolist(), eb.astype(np.float64)) == pytest.approx(siamface.distance(ea, eb))
    chip = engine.align(a, engine.detect(a)[0])
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8 and chip.std() > 10
    with pytest.raises(siamface.Error) as raised:
        siamface.distance(ea, ea[:64])
    assert raised.value.kind == "invalid_argument"


def test_verify_compares_the_largest_faces(siamface, engine, photo):
    same = engine.verify(photo("obama.jpg"), photo("obama3.jpg"))
    assert same.same and bool(same) and same.distance < same.threshold == pytest.approx(0.6)
    different = engine.verify(photo("obama.jpg"), photo("biden.jpg"))
    assert not different.same and different.distance > 0.6
    # A looser threshold is the user's explicit choice only (issue 31): else 0.6 decides, with a warning.
    with pytest.warns(UserWarning, match="looser"):
        clamped = engine.verify(photo("obama.jpg"), photo("biden.jpg"), threshold=2.0)
    assert not clamped.same and clamped.threshold == pytest.approx(0.6)
    assert engine.verify(photo("obama.jpg"), photo("biden.jpg"), threshold=2.0, allow_looser_threshold=True).same
    with pytest.raises(siamface.Error) as raised:
        engine.verify(photo("obama.jpg"), np.zeros((100, 100, 3), np.uint8))
    assert raised.value.kind == "no_face" and "image_b" in str(raised.value)


def test_face_at_finds_landmarks_for_a_given_box(siamface, engine, photo):
    image = photo("obama.jpg")
    detected = engine.detect(image)[0]
    given = engine.face_at(image, detected.box)
    assert given.score == 0.0
    assert np.abs(given.landmarks - detected.landmarks).max() < 1e-3  # the same computation
    with pytest.raises(siamface.Error) as raised:
        engine.face_at(image, siamface.Box(10, 10, 0, 50))
    assert raised.value.kind == "invalid_argument"
    with pytest.raises(siamface.Error):
        engine.face_at(image, siamface.Box(5000, 10, 50, 50))


def test_any_strides_and_grey_images_are_accepted(engine, photo):
    image = photo("obama.jpg")
    width = image.shape[1]
    box = engine.detect(image)[0].box
    mirrored = engine.detect(image[:, ::-1])[0].box  # a view with a negative stride
    # A misread stride would give another box; the detector's own left-right asymmetry moves it by
    # a few pixels (RFB: 4.8 px of a 315 px box).
    tolerance = 0.03 * box.height
    assert abs(mirrored.left - (width - box.right)) < tolerance and abs(mirrored.top - box.top) < tolerance
    grey = image.mean(axis=2).astype(np.uint8)
    assert len(engine.detect(grey)) == 1
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    assert abs(engine.detect(rgba)[0].box.left - box.left) < 1e-3


def test_bad_arguments_raise_the_right_exceptions(siamface, engine, tmp_path):
    with pytest.raises(ValueError, match="uint8"):
        engine.detect(np.zeros((64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="shape"):
        engine.detect(np.zeros((64, 64, 2), np.uint8))
    with pytest.raises(siamface.Error) as raised:
        engine.detect(np.zeros((64, 64, 3), np.uint8), border_pass="sometimes")
    assert raised.value.kind == "invalid_argument" and "border pass" in str(raised.value)
    with pytest.raises(siamface.Error) as raised:
        siamface.Engine(str(tmp_path))
    assert raised.value.kind == "model_missing" and str(tmp_path) in str(raised.value)
    with pytest.raises(siamface.Error) as raised:
        siamface.Engine(recognizer="resnet")
    assert raised.value.kind == "invalid_argument"


# ---- images ----

def test_images_round_trip_in_rgb_order(siamface, tmp_path):
    image = np.zeros((40, 60, 3), np.uint8)
    image[:, :30] = (255, 0, 0)  # red on the left
    image[:, 30:] = (0, 0, 255)  # blue on the right
    siamface.save_image(image, str(tmp_path / "rb.png"))
    loaded = siamface.load_image(str(tmp_path / "rb.png"))
    assert np.array_equal(loaded, image)
    assert np.array_equal(siamface.decode_image((tmp_path / "rb.png").read_bytes()), image)


def test_image_errors_carry_their_kind(siamface, tmp_path):
    with pytest.raises(siamface.Error) as raised:
        siamface.decode_image(b"not an image at all")
    assert raised.value.kind == "invalid_image"
    assert isinstance(raised.value, Exception) and siamface.Error.__module__ == "siamface"
    # a missing file is Python's FileNotFoundError, as open() raises it (issue 33)
    with pytest.raises(FileNotFoundError) as raised:
        siamface.load_image(str(tmp_path / "absent.jpg"))
    assert raised.value.filename == str(tmp_path / "absent.jpg") and "absent.jpg" in str(raised.value)
    # a file name that is not UTF-8 still gives a readable message
    with pytest.raises(FileNotFoundError) as raised:
        siamface.load_image(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.jpg"))
    assert "caf" in str(raised.value)
    siamface.save_image(np.zeros((100, 100, 3), np.uint8), str(tmp_path / "big.png"))
    with pytest.raises(siamface.Error) as raised:
        siamface.load_image(str(tmp_path / "big.png"), max_pixels=5000)
    assert raised.value.kind == "image_too_large"


# ---- Gallery ----

def test_gallery_enroll_identify_and_manage_people(siamface, engine, images, photo, tmp_path):
    path = str(tmp_path / "gallery.db")
    with siamface.Gallery(path) as gallery:
        results = gallery.enroll(engine, "obama", [images / "obama.jpg", images / "obama2.jpg"])
        assert [r.status for r in results] == ["enrolled", "enrolled"]
        assert gallery.enroll(engine, "biden", str(images / "biden.jpg"))[0].status == "enrolled"
        assert gallery.enroll(engine, "obama", str(images / "obama.jpg"))[0].status == "duplicate"
        assert gallery.people() == {"biden": 1, "obama": 2}
        assert len(gallery) == 3

        found = siamface.identify(engine, gallery, photo("obama3.jpg"))
        assert [f.name for f in found] == ["obama"]
        assert found[0].top[0].person == "obama" and found[0].decision.known
        assert found[0].embedding.shape == (128,)
        assert found[0].decision.threshold == pytest.approx(0.6)

        matches = gallery.search(engine, found[0].embedding, k=2)
        assert [m.person for m in matches] == ["obama", "biden"] and matches[0].distance < matches[1].distance

        outcome = gallery.add(engine, "obama", photo("obama3.jpg"), source_path="obama3.jpg")
        assert outcome.status == "added" and gallery.face(outcome.face_id).person == "obama"
        assert gallery.add(engine, "obama", photo("obama3.jpg")).status == "duplicate"
        assert len(gallery.faces_of("obama")) == 3

        gallery.threshold = 0.3
        assert gallery.threshold == pytest.approx(0.3)
        assert gallery.identify(engine, photo("obama3.jpg"))[0].decision.threshold == pytest.approx(0.3)
        with pytest.warns(UserWarning, match="looser than the gallery's 0.3"):
            clamped = gallery.identify(engine, photo("obama3.jpg"), threshold=0.9)
        assert clamped[0].decision.threshold == pytest.approx(0.3)
        chosen = gallery.identify(engine, photo("obama3.jpg"), threshold=0.9, allow_looser_threshold=True)
        assert chosen[0].decision.threshold == pytest.approx(0.9)
        assert gallery.identify(engine, photo("obama3.jpg"), threshold=0.2)[0].decision.threshold == pytest.approx(0.2)
        gallery.threshold = None

        assert gallery.remove_person("biden") == 1
        assert "biden" not in gallery.people()
        with pytest.raises(siamface.Error) as raised:
            gallery.remove_person("biden")
        assert raised.value.kind == "not_found"
        unknown = gallery.identify(engine, photo("biden.jpg"))
        assert [f.name for f in unknown] == ["unknown"]
        assert unknown[0].decision.reason in ("above_threshold", "networks_disagree", "ambiguous")
        assert found[0].decision.reason == "none"
        with pytest.raises(siamface.Error) as raised:
            gallery.enroll(engine, "unknown", str(images / "biden.jpg"))
        assert raised.value.kind == "invalid_argument"
        info = gallery.info()
        assert info["face_count"] == 3 and info["person_count"] == 1 and info["model"] == engine.model_info
    with pytest.raises(siamface.Error):
        gallery.people()  # closed

    reader = siamface.Gallery(path, read_only=True)
    assert reader.people() == {"obama": 3}
    with pytest.raises(siamface.Error) as raised:
        reader.enroll(engine, "biden", str(images / "biden.jpg"))
    assert raised.value.kind == "gallery_error"


def test_gallery_refuses_another_recognizers_embeddings(siamface, engine, images, tmp_path, models_dir):
    if not (models_dir / "faceplugin_fr_feature.onnx").exists():
        pytest.skip("no MobileFaceNet model")
    gallery = siamface.Gallery(str(tmp_path / "g.db"))
    gallery.enroll(engine, "obama", str(images / "obama.jpg"))
    mfn = siamface.Engine(str(models_dir), recognizer="mfn")
    assert mfn.embedding_size == 512
    with pytest.raises(siamface.Error) as raised:
        gallery.identify(mfn, siamface.load_image(str(images / "obama2.jpg")))
    assert raised.value.kind == "model_mismatch"


# ---- video ----

def test_watch_reports_track_events_by_callback(siamface, engine, images, photo, tmp_path):
    gallery = siamface.Gallery(str(tmp_path / "g.db"))
    gallery.enroll(engine, "obama", str(images / "obama.jpg"))
    frame = photo("obama2.jpg")
    blank = np.zeros_like(frame)
    events = []
    stats = siamface.watch([frame] * 8 + [blank] * 8, engine, gallery, on_event=events.append, detect_every=1)
    kinds = [e.kind for e in events]
    assert kinds[0] == "appeared" and "identified" in kinds and kinds[-1] == "ended"
    identified = next(e for e in events if e.kind == "identified")
    assert identified.name == "obama" and identified.distance < 0.6
    assert events[-1].frame_count >= 8 and stats["frames"] == 16


# ---- threads ----

def test_inference_releases_the_gil(engine, photo):
    """While one thread analyses nine faces, another Python thread keeps running."""
    image = np.ascontiguousarray(np.tile(photo("obama.jpg"), (3, 3, 1)))  # nine faces: a call of many networks
    ticks, done = [], threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        time.sleep(0.05)
        start = time.monotonic()
        faces = engine.analyze(image)
        end = time.monotonic()
    finally:
        done.set()
        thread.join()
    assert len(faces) >= 9
    # A held GIL would freeze the ticker for the whole call: its longest pause would be the call.
    # Measured against the call's own length, so a fast CPU cannot make the check vacuous.
    marks = [start] + [t for t in ticks if start < t < end] + [end]
    longest_pause = max(b - a for a, b in zip(marks, marks[1:]))
    assert len(marks) >= 5 and longest_pause < (end - start) / 2, (end - start, longest_pause, len(marks))


def test_threads_sharing_one_engine_and_gallery_match_the_serial_run(siamface, engine, images, photo, tmp_path):
    gallery = siamface.Gallery(str(tmp_path / "g.db"))
    gallery.enroll(engine, "obama", str(images / "obama.jpg"))
    gallery.enroll(engine, "biden", str(images / "biden.jpg"))
    probes = {name: photo(name) for name in ("obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face2.jpg")}
    serial = {name: gallery.identify(engine, image) for name, image in probes.items()}
    out, errors = [], []

    def work(order):
        try:
            for name in order:
                out.append((name, gallery.identify(engine, probes[name])))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    names = list(probes)
    threads = [threading.Thread(target=work, args=(names[i:] + names[:i],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(out) == 3 * len(names)
    for name, found in out:
        assert [f.name for f in found] == [f.name for f in serial[name]], name
        assert [f.distance for f in found] == pytest.approx([f.distance for f in serial[name]], abs=1e-4)
    assert [f.name for f in serial["obama2.jpg"]] == ["obama"] and [f.name for f in serial["biden.jpg"]] == ["biden"]


def test_detect_defaults_follow_the_library(siamface, engine):
    # Python must detect exactly as the CLI: its border-pass default is the library's ("needed",
    # docs/speed.md), for detect and for gallery identify alike.
    assert "border_pass: str = 'needed'" in engine.detect.__doc__
    assert "border_pass: str = 'needed'" in siamface.Gallery.identify.__doc__
