"""Shared fixtures: where the data and models are, and what a test does when they are missing.

As tests/common/test_env.hpp: a missing prerequisite skips the test with the reason on a
developer's machine, and fails it under CI=true (or SIAMFACE_REQUIRE_DATA=1).
"""
import os
import pathlib
import sys

import pytest

SOURCE_DIR = pathlib.Path(os.environ.get("SIAMFACE_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
FR_IMAGES = "face_recognition_ageitgey/tests/test_images"


def data_required():
    return os.environ.get("CI") == "true" or os.environ.get("SIAMFACE_REQUIRE_DATA") == "1"


def missing(reason):
    if data_required():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def testdata_dir():
    env = os.environ.get("SIAMFACE_TESTDATA")
    return pathlib.Path(env) if env else SOURCE_DIR.parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def siamface():
    try:
        import siamface as module
    except ImportError as e:
        missing("cannot import siamface (%s); build it and set PYTHONPATH=build/python" % e)
    return module


@pytest.fixture(scope="session")
def models_dir(siamface):
    path = pathlib.Path(siamface.default_models_dir())
    if not (path / "face_recognition_model.bin").exists():
        missing("models not found at %s (set SIAMFACE_MODELS, or run scripts/setup.sh)" % path)
    return path


@pytest.fixture(scope="session")
def images():
    """The face_recognition unit-test photos (obama*.jpg, biden.jpg, 32bit.png)."""
    path = testdata_dir() / FR_IMAGES
    if not path.is_dir():
        missing("test data not found at %s (set SIAMFACE_TESTDATA)" % path)
    return path


@pytest.fixture(scope="session")
def engine(siamface, models_dir):
    return siamface.Engine(str(models_dir))


@pytest.fixture(scope="session")
def fr(siamface, models_dir):
    import siamface.face_recognition as face_recognition
    return face_recognition


@pytest.fixture(scope="session")
def expectations():
    """test_expectations.tsv (upstream's assertions, transcribed): {(kind, image): expected}."""
    path = testdata_dir() / "face_recognition_ageitgey" / "test_expectations.tsv"
    if not path.exists():
        missing("test data not found at %s (set SIAMFACE_TESTDATA)" % path)
    rows = {}
    for line in path.read_text().splitlines()[1:]:
        kind, image, other, expected = line.split("\t")[:4]
        # The first row of a kind wins (obama.jpg has a dlib HOG box, then a CNN one).
        rows.setdefault((kind, pathlib.Path(image).name, pathlib.Path(other).name if other else ""), expected)
    return rows


def python():
    return sys.executable
