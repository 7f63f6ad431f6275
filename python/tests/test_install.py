"""`cmake --install BUILD --component python` lays out an importable package (here under DESTDIR)."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from conftest import missing


def test_installed_package_imports_without_the_build_tree(tmp_path):
    build_dir = os.environ.get("SIAMFACE_BUILD_DIR")
    if not build_dir:
        pytest.skip("SIAMFACE_BUILD_DIR is not set (ctest sets it)")
    if not shutil.which("cmake"):
        missing("cmake not found on PATH")
    env = dict(os.environ, DESTDIR=str(tmp_path / "root"))
    subprocess.run(["cmake", "--install", build_dir, "--component", "python"], env=env, check=True,
                   capture_output=True, text=True)
    installed = [p.parent for p in (tmp_path / "root").rglob("siamface/__init__.py")]
    assert len(installed) == 1, installed
    package = installed[0]
    assert list(package.glob("_siamface*.so")) and (package / "face_recognition.py").exists()
    # Nothing else was installed by the python component (no headers, no library).
    assert not list((tmp_path / "root").rglob("*.hpp"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(package.parent)
    probe = ("import siamface, siamface.face_recognition as fr; "
             "print(siamface.__file__); print(siamface.__version__)")
    result = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    where, version = result.stdout.splitlines()
    assert pathlib.Path(where).parent == package and version.count(".") == 2
