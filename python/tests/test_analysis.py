"""Face analysis from Python (issue 32): siamface.analyze, and the liveness gate of Gallery.identify."""
import threading

import pytest


@pytest.fixture(scope="module")
def photo(siamface, images):
    return lambda name: siamface.load_image(str(images / name))


@pytest.fixture(scope="module")
def attribute_models(models_dir):
    for name in ("age_gender_model.bin", "face_expression_model.bin", "faceplugin_fr_liveness.onnx"):
        if not (models_dir / name).exists():
            from conftest import missing
            missing("attribute model %s not found in %s (run scripts/setup.sh)" % (name, models_dir))
    return models_dir


def test_analyze_gives_the_attributes_asked_for(siamface, engine, attribute_models, photo):
    faces = siamface.analyze(photo("obama.jpg"), ["age", "gender", "expression", "liveness", "pose"], engine=engine)
    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, siamface.FaceAnalysis)
    assert 20 < face.age < 80
    assert face.gender.value == "male" and 0.5 <= face.gender.probability <= 1.0
    assert set(face.expression.scores) == {"neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"}
    assert sum(face.expression.scores.values()) == pytest.approx(1.0, abs=1e-3)
    assert face.expression.value == max(face.expression.scores, key=face.expression.scores.get)
    assert face.liveness.value in ("live", "spoof") and 0.0 <= face.liveness.score <= 1.0
    assert face.liveness.live == (face.liveness.score >= face.liveness.threshold)
    assert -90 < face.pose.yaw < 90
    assert not face.too_small
    assert face.face.box.width > 50


def test_only_the_attributes_asked_are_computed(siamface, engine, attribute_models, photo):
    face = siamface.analyze(photo("obama.jpg"), "age", engine=engine)[0]
    assert face.age is not None
    assert face.gender is None and face.expression is None and face.liveness is None and face.pose is None


def test_the_default_engine_and_all_attributes(siamface, attribute_models, photo):
    face = siamface.analyze(photo("obama.jpg"))[0]  # no engine given: a shared default one
    assert None not in (face.age, face.gender, face.expression, face.liveness, face.pose)


def test_liveness_threshold_decides_the_verdict(siamface, engine, attribute_models, photo):
    image = photo("obama.jpg")
    live = siamface.analyze(image, ["liveness"], engine=engine, liveness_threshold=0.0)[0].liveness
    spoof = siamface.analyze(image, ["liveness"], engine=engine, liveness_threshold=1.0)[0].liveness
    assert live.value == "live" and spoof.value == "spoof"
    assert live.score == pytest.approx(spoof.score)


def test_bad_attributes_are_refused(siamface, engine, attribute_models, photo):
    image = photo("obama.jpg")
    with pytest.raises(siamface.Error, match="'mask'"):
        siamface.analyze(image, ["age", "mask"], engine=engine)
    with pytest.raises(ValueError, match="empty"):
        siamface.analyze(image, [], engine=engine)
    with pytest.raises(TypeError):
        siamface.analyze(image, [1], engine=engine)
    with pytest.raises(siamface.Error):
        siamface.analyze(image, ["liveness"], engine=engine, liveness_threshold=1.5)


def test_analyze_releases_the_gil(siamface, engine, attribute_models, photo):
    """The main thread keeps running Python while a worker thread is inside the networks."""
    import numpy as np
    image = np.ascontiguousarray(np.tile(photo("obama.jpg"), (2, 2, 1)))  # four faces
    result = []
    worker = threading.Thread(target=lambda: result.append(siamface.analyze(image, ["age", "liveness"], engine=engine)))
    worker.start()
    spins = 0
    while worker.is_alive():
        spins += 1
    worker.join()
    assert len(result[0]) == 4
    # A held GIL lets the loop run only in the interpreter's switch slices (5 ms each); released,
    # it spins freely for the whole call.
    assert spins > 10000, spins


def test_identify_with_liveness_never_names_a_spoof(siamface, engine, attribute_models, photo, tmp_path):
    with siamface.Gallery(str(tmp_path / "g.db")) as gallery:
        gallery.add(engine, "obama", photo("obama.jpg"))
        probe = photo("obama2.jpg")
        assert gallery.identify(engine, probe)[0].name == "obama"
        assert gallery.identify(engine, probe)[0].liveness is None  # off by default
        spoof = gallery.identify(engine, probe, liveness=True, liveness_threshold=1.0)[0]
        assert spoof.name == "unknown" and spoof.decision.reason == "spoof"
        assert spoof.liveness.value == "spoof"
        live = gallery.identify(engine, probe, liveness=True, liveness_threshold=0.0)[0]
        assert live.name == "obama" and live.liveness.live
        with pytest.raises(ValueError, match="liveness=True"):
            gallery.identify(engine, probe, liveness_threshold=0.5)


def test_a_tracker_with_liveness_names_a_track_only_once_judged_live(siamface, engine, attribute_models, photo, tmp_path):
    frame = photo("obama2.jpg")
    with siamface.Gallery(str(tmp_path / "g.db")) as gallery:
        gallery.add(engine, "obama", photo("obama.jpg"))
        for threshold, named in ((0.0, "obama"), (1.0, "unknown")):
            tracker = siamface.Tracker(engine, gallery, detect_every=5, liveness=True, liveness_threshold=threshold)
            identified = []
            for index in range(15):
                faces, events = tracker.process(frame, index, index / 10)
                identified += [e for e in events if e.kind == "identified"]
                if index < 10:  # three detection rounds (frames 0, 5, 10) before a verdict
                    assert all(f.liveness is None and not f.known for f in faces)
            assert [(e.name, e.frame, e.liveness.value) for e in identified] == [
                (named, 10, "live" if threshold == 0.0 else "spoof")]
            assert tracker.stats["liveness_ms"] > 0
        with pytest.raises(ValueError, match="liveness=True"):
            siamface.Tracker(engine, gallery, liveness_threshold=0.5)
