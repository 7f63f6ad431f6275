"""Bad inputs from Python give ValueError / FileNotFoundError with a clear message, never a crash
(issue 33): wrong dtype, 16-bit, float, 4-channel, odd shapes, empty arrays, non-contiguous
arrays (accepted), missing paths, empty lists."""
import numpy as np
import pytest


@pytest.fixture(scope="module")
def photo(siamface, images):
    return siamface.load_image(str(images / "obama.jpg"))


@pytest.mark.parametrize("dtype, hint", [(np.uint16, "16-bit"), (np.float32, "255"), (np.float64, "255"),
                                         (np.int8, "uint8"), (np.int64, "uint8")])
def test_a_wrong_dtype_is_a_value_error_naming_it(engine, fr, photo, dtype, hint):
    bad = photo.astype(dtype)
    with pytest.raises(ValueError, match="uint8") as raised:
        engine.detect(bad)
    assert np.dtype(dtype).name in str(raised.value) and hint in str(raised.value)
    with pytest.raises(ValueError, match=np.dtype(dtype).name):
        fr.face_encodings(bad)
    with pytest.raises(ValueError):
        fr.face_locations(bad)


@pytest.mark.parametrize("shape", [(64,), (64, 64, 2), (64, 64, 5), (2, 64, 64, 3)])
def test_a_wrong_shape_is_a_value_error_naming_it(engine, shape):
    with pytest.raises(ValueError, match="shape") as raised:
        engine.detect(np.zeros(shape, np.uint8))
    assert str(shape).replace(" ", "") in str(raised.value).replace(" ", "")


@pytest.mark.parametrize("shape", [(0, 0, 3), (0, 64, 3), (64, 0), (0, 0)])
def test_an_empty_image_is_a_value_error(engine, fr, shape):
    with pytest.raises(ValueError, match="empty"):
        engine.detect(np.zeros(shape, np.uint8))
    with pytest.raises(ValueError, match="empty"):
        fr.face_locations(np.zeros(shape, np.uint8))


def test_four_channels_and_non_contiguous_arrays_are_accepted(engine, fr, photo):
    """RGBA (alpha dropped) and any strides give the same faces as the plain RGB array."""
    expected = fr.face_locations(photo)
    rgba = np.dstack([photo, np.full(photo.shape[:2], 255, np.uint8)])
    assert fr.face_locations(rgba) == expected
    assert fr.face_locations(np.asfortranarray(photo)) == expected
    bgr_view = photo[..., ::-1]
    assert not bgr_view.flags.c_contiguous
    assert fr.face_locations(np.ascontiguousarray(bgr_view[..., ::-1])) == expected
    assert fr.face_locations(bgr_view[..., ::-1]) == expected
    half = photo[::2, ::2]
    assert not half.flags.c_contiguous and len(fr.face_locations(half)) == 1


def test_a_missing_path_is_file_not_found_naming_it(siamface, fr, tmp_path):
    missing = tmp_path / "nobody.jpg"
    for load in (siamface.load_image, fr.load_image_file):
        with pytest.raises(FileNotFoundError) as raised:
            load(str(missing))
        assert raised.value.filename == str(missing) and "nobody.jpg" in str(raised.value)
    with pytest.raises(FileNotFoundError):
        siamface.load_image(missing)  # a PathLike too


def test_empty_lists(siamface, engine, fr, photo, tmp_path):
    with siamface.Gallery(str(tmp_path / "g.db")) as gallery:
        with pytest.raises(ValueError, match="empty"):
            gallery.enroll(engine, "Ada", [])
    # where face_recognition accepts an empty list, so do we: empty results
    assert fr.batch_face_locations([]) == []
    assert fr.face_encodings(photo, known_face_locations=[]) == []
    assert fr.face_landmarks(photo, face_locations=[]) == []
    assert fr.face_distance([], np.zeros(128)).shape == (0,)
    assert fr.compare_faces([], np.zeros(128)) == []


def test_encodings_of_different_lengths_are_a_value_error(siamface, fr):
    with pytest.raises(ValueError, match="128"):
        fr.face_distance([np.zeros(128)], np.zeros(64))
    with pytest.raises(siamface.Error) as raised:
        siamface.distance(np.zeros(128, np.float32), np.zeros(127, np.float32))
    assert "128" in str(raised.value) and "127" in str(raised.value)


def test_the_missing_models_folder_is_named(siamface, tmp_path):
    with pytest.raises(siamface.Error) as raised:
        siamface.Engine(str(tmp_path / "no-models"))
    assert raised.value.kind == "model_missing" and str(tmp_path / "no-models") in str(raised.value)


def test_numpy_2_under_an_old_pybind11_is_refused_at_import(siamface):
    """pybind11 < 2.12 reads NumPy 2 arrays wrongly without an error (wrong encodings, measured):
    the package refuses that pair with a message naming the fix."""
    from siamface import _check_numpy_abi
    with pytest.raises(ImportError, match=r"numpy<2"):
        _check_numpy_abi("2.4.6", (2, 10))
    _check_numpy_abi("2.4.6", (2, 12))
    _check_numpy_abi("1.26.4", (2, 10))
    built_with = siamface._siamface._pybind11_version
    assert len(built_with) == 2 and built_with >= (2, 6)
