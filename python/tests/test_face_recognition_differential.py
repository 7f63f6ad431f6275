"""siamface.face_recognition beside the real face_recognition 1.3.0 (dlib-bin, the pinned venv of
scripts/setup.sh), the same functions on the same photos (face_recognition's own test photos).
The real package runs in its venv (python/tests/face_recognition_reference.py); each test prints
the measured differences (pytest -s), which docs/python.md quotes. Without the venv the tests
skip with the reason, and fail under CI=true."""
import json
import os
import subprocess

import numpy as np
import pytest

from conftest import missing
from test_face_recognition_compat import LARGE_KEYS, iou

PHOTOS = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg",
          "32bit.png")


def venv_python():
    venv = os.environ.get("SIAMFACE_VENV") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "siamface", "venv")
    return os.path.join(venv, "bin", "python")


@pytest.fixture(scope="module")
def real_pixels_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("face_recognition_pixels")


@pytest.fixture(scope="module")
def real(images, request, real_pixels_dir):
    """The real face_recognition's answers: {"photos": {path: {...}}, "batch": {path: [...]}}."""
    python = venv_python()
    if not os.access(python, os.X_OK):
        missing("the real face_recognition is not installed: no venv at %s (run scripts/setup.sh)" % os.path.dirname(os.path.dirname(python)))
    probe = subprocess.run([python, "-c", "import face_recognition"], capture_output=True, text=True)
    if probe.returncode != 0:
        missing("the venv at %s cannot import face_recognition: %s" % (python, probe.stderr.strip()[-300:]))
    script = request.path.parent / "face_recognition_reference.py"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([python, str(script), str(real_pixels_dir), *[str(images / p) for p in PHOTOS]], capture_output=True,
                            text=True, timeout=900, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    answers = json.loads(result.stdout)
    return {os.path.basename(k): v for k, v in answers["photos"].items()}, \
        {os.path.basename(k): v for k, v in answers["batch"].items()}


@pytest.fixture(scope="module")
def ours(fr, images):
    out = {}
    for name in PHOTOS:
        image = fr.load_image_file(str(images / name))
        locations = fr.face_locations(image)
        out[name] = {"image": image, "locations": [list(l) for l in locations],
                     "landmarks": fr.face_landmarks(image, locations),
                     "encodings": fr.face_encodings(image, locations)}
    return out


def pair_faces(a_boxes, b_boxes):
    """Greedy IoU pairing: [(i, j, iou)], and the unpaired indexes of each side."""
    pairs, used = [], set()
    for i, a in enumerate(a_boxes):
        best = max(((iou(a, b), j) for j, b in enumerate(b_boxes) if j not in used), default=(0.0, None))
        if best[1] is not None and best[0] > 0:
            pairs.append((i, best[1], best[0]))
            used.add(best[1])
    paired_a = {i for i, _, _ in pairs}
    return pairs, [i for i in range(len(a_boxes)) if i not in paired_a], [j for j in range(len(b_boxes)) if j not in used]


def test_load_image_file_gives_the_same_pixels(real, ours):
    photos, _ = real
    for name in PHOTOS:
        image = ours[name]["image"]
        assert list(image.shape) == photos[name]["shape"] and str(image.dtype) == photos[name]["dtype"], name


def test_load_image_file_pixels_match_the_real_packages(real, ours, real_pixels_dir):
    """Both decode with libjpeg-turbo (PIL in the real package); IDCT settings may differ by a few levels."""
    for name in PHOTOS:
        theirs = np.load(real_pixels_dir / (name + ".npy"))
        diff = np.abs(theirs.astype(int) - ours[name]["image"].astype(int))
        print("load_image_file %s: max |diff| %d, mean %.3f" % (name, diff.max(), diff.mean()))
        assert diff.mean() < 2.0, name


def test_face_locations_overlap_where_both_find_a_face(real, ours):
    photos, _ = real
    only_ours, only_theirs = [], []
    for name in PHOTOS:
        pairs, ours_alone, theirs_alone = pair_faces(ours[name]["locations"], photos[name]["locations"])
        for i, j, overlap in pairs:
            print("face_locations %s: ours %s dlib %s IoU %.2f" % (name, ours[name]["locations"][i], photos[name]["locations"][j], overlap))
            assert overlap >= 0.5, (name, ours[name]["locations"][i], photos[name]["locations"][j], overlap)
        only_ours += [(name, ours[name]["locations"][i]) for i in ours_alone]
        only_theirs += [(name, photos[name]["locations"][j]) for j in theirs_alone]
    print("faces only siamface finds: %s" % only_ours)
    print("faces only face_recognition finds: %s" % only_theirs)
    # Every face face_recognition finds in its own test photos, siamface finds too.
    assert only_theirs == []


def test_face_landmarks_have_the_same_keys_and_point_counts(real, ours):
    photos, _ = real
    for name in PHOTOS:
        theirs = photos[name]["landmarks"]
        assert all({k: len(v) for k, v in face.items()} == LARGE_KEYS for face in theirs), name
        assert all({k: len(v) for k, v in face.items()} == LARGE_KEYS for face in ours[name]["landmarks"]), name
        pairs, _, _ = pair_faces(ours[name]["locations"], photos[name]["locations"])
        for i, j, _ in pairs:
            a, b = ours[name]["landmarks"][i], theirs[j]
            errors = [np.hypot(p[0] - q[0], p[1] - q[1]) for k in LARGE_KEYS for p, q in zip(a[k], b[k])]
            box = photos[name]["locations"][j]
            print("face_landmarks %s: mean point distance %.1f px (face %d px wide)" % (name, np.mean(errors), box[1] - box[3]))
            assert np.mean(errors) < 0.15 * (box[1] - box[3]), name


def encodings_of_first_faces(source, names):
    return {name: np.asarray(source[name]["encodings"][0], dtype=np.float64) for name in names if source[name]["encodings"]}


def test_encodings_distance_and_compare_faces_decide_alike_at_06(real, ours, fr):
    photos, _ = real
    names = ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg")
    theirs, mine = encodings_of_first_faces(photos, names), encodings_of_first_faces(ours, names)
    assert set(theirs) == set(mine) == set(names)
    disagreements = []
    for a in names:
        for b in names:
            if a >= b:
                continue
            same = ("biden" in a) == ("biden" in b)
            d_theirs = float(np.linalg.norm(theirs[a] - theirs[b]))
            d_ours = float(fr.face_distance([mine[a]], mine[b])[0])
            decide_theirs = d_theirs <= 0.6
            decide_ours = fr.compare_faces([mine[a]], mine[b], tolerance=0.6)[0]
            print("%s vs %s (%s): distance face_recognition %.3f, siamface %.3f" % (a, b, "same" if same else "different", d_theirs, d_ours))
            assert decide_theirs == same
            if decide_ours != decide_theirs:
                disagreements.append((a, b, d_theirs, d_ours))
    assert disagreements == []
    # The two encoders are both dlib's ResNet; only the alignment (our landmarks) differs.
    for name in names:
        cross = float(np.linalg.norm(theirs[name] - mine[name]))
        print("%s: distance between the two packages' encodings %.3f" % (name, cross))
        assert cross < 0.3, name


def test_batch_face_locations_finds_the_faces_face_locations_finds(real, ours, fr):
    _, batch = real
    images = [ours[name]["image"] for name in PHOTOS]
    mine = fr.batch_face_locations(images, number_of_times_to_upsample=0)
    for name, found in zip(PHOTOS, mine):
        pairs, _, theirs_alone = pair_faces(found, batch[name])
        print("batch_face_locations %s: siamface %d faces, dlib CNN %d, IoU %s" % (
            name, len(found), len(batch[name]), ["%.2f" % p[2] for p in pairs]))
        assert all(p[2] >= 0.5 for p in pairs), name
        assert theirs_alone == [], (name, found, batch[name])


@pytest.fixture(scope="module")
def folders(images, tmp_path_factory):
    import shutil
    root = tmp_path_factory.mktemp("cli")
    (root / "known").mkdir()
    (root / "unknown").mkdir()
    for name in ("obama.jpg", "biden.jpg"):
        shutil.copy(images / name, root / "known" / name)
    for name in ("obama2.jpg", "obama3.jpg", "32bit.png"):
        shutil.copy(images / name, root / "unknown" / name)
    return root


def run_both(real, program, module, *args):
    """(face_recognition's lines, siamface's lines), each sorted, WARNING lines left out."""
    del real  # the fixture checked the venv
    import sys
    venv_bin = os.path.dirname(venv_python())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    theirs = subprocess.run([os.path.join(venv_bin, program), *map(str, args)], capture_output=True, text=True,
                            timeout=900, env=env)
    ours = subprocess.run([sys.executable, "-m", module, *map(str, args)], capture_output=True, text=True, timeout=900)
    assert theirs.returncode == 0, theirs.stderr[-2000:]
    assert ours.returncode == 0, ours.stderr[-2000:]
    keep = lambda text: sorted(l for l in text.splitlines() if l and not l.startswith("WARNING"))  # noqa: E731
    return keep(theirs.stdout), keep(ours.stdout)


def test_face_recognition_command_prints_the_same_columns_and_names(real, folders):
    theirs, ours = run_both(real, "face_recognition", "siamface.face_recognition_cli", folders / "known", folders / "unknown",
                            "--show-distance", "true")
    print("face_recognition CLI, face_recognition:\n  " + "\n  ".join(theirs))
    print("face_recognition CLI, siamface:\n  " + "\n  ".join(ours))
    assert [l.split(",")[:2] for l in ours] == [l.split(",")[:2] for l in theirs]
    assert all(len(l.split(",")) == 3 for l in theirs + ours)


def test_face_detection_command_prints_the_same_columns(real, folders):
    theirs, ours = run_both(real, "face_detection", "siamface.face_detection_cli", folders / "unknown")
    print("face_detection CLI, face_recognition:\n  " + "\n  ".join(theirs))
    print("face_detection CLI, siamface:\n  " + "\n  ".join(ours))
    assert [l.split(",")[0] for l in ours] == [l.split(",")[0] for l in theirs]
    for a, b in zip(theirs, ours):
        assert len(a.split(",")) == len(b.split(",")) == 5
        overlap = iou([int(v) for v in a.split(",")[1:]], [int(v) for v in b.split(",")[1:]])
        assert overlap >= 0.5, (a, b, overlap)
