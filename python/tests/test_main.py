"""``python -m siamface``: enroll, identify (a folder or photos), people, models-dir."""
import json
import os
import shutil
import subprocess
import sys


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "siamface", *map(str, args)], capture_output=True, text=True,
                          timeout=600, env=env)


def test_models_dir_is_the_one_the_cli_uses(siamface):
    result = run("models-dir")
    assert result.returncode == 0 and result.stdout.strip() == siamface.default_models_dir()
    env = dict(os.environ, SIAMFACE_MODELS="/elsewhere/models")
    assert run("models-dir", env=env).stdout.strip() == "/elsewhere/models"


def test_enroll_a_folder_then_identify_a_folder(models_dir, images, tmp_path):
    gallery = tmp_path / "gallery.db"
    known = tmp_path / "obama"
    known.mkdir()
    for name in ("obama.jpg", "obama2.jpg"):
        shutil.copy(images / name, known / name)
    enrolled = run("enroll", "Obama", known, "--gallery", gallery, "--models", models_dir)
    assert enrolled.returncode == 0, enrolled.stderr
    assert [line.split("\t")[1] for line in enrolled.stdout.splitlines()] == ["enrolled", "enrolled"]
    people = run("people", "--gallery", gallery)
    assert people.returncode == 0 and people.stdout == "Obama\t2\n"

    unknown = tmp_path / "unknown"
    unknown.mkdir()
    for name in ("obama3.jpg", "biden.jpg"):
        shutil.copy(images / name, unknown / name)
    (unknown / "notes.txt").write_text("not a photo")
    identified = run("identify", unknown, "--gallery", gallery, "--models", models_dir)
    assert identified.returncode == 0, identified.stderr
    rows = [line.split("\t") for line in identified.stdout.splitlines()]
    assert [(os.path.basename(r[0]), r[1]) for r in rows] == [("biden.jpg", "unknown"), ("obama3.jpg", "Obama")]
    assert all(len(r) == 7 and float(r[2]) >= 0 for r in rows)
    as_json = run("identify", unknown / "obama3.jpg", "--json", "--gallery", gallery, "--models", models_dir)
    record = json.loads(as_json.stdout)
    assert record["faces"][0]["name"] == "Obama" and len(record["faces"][0]["box"]) == 4


def test_errors_are_messages_and_exit_status(models_dir, images, tmp_path):
    missing = run("identify", tmp_path / "nowhere.jpg", "--gallery", tmp_path / "g.db")
    assert missing.returncode == 1 and "nowhere.jpg" in missing.stderr and "Traceback" not in missing.stderr
    run("enroll", "Obama", images / "obama.jpg", "--gallery", tmp_path / "g.db", "--models", models_dir)
    no_models = run("identify", images / "obama2.jpg", "--models", tmp_path / "no-models", "--gallery", tmp_path / "g.db")
    assert no_models.returncode == 1 and "Traceback" not in no_models.stderr
    assert str(tmp_path / "no-models") in no_models.stderr  # the folder it looked in
    empty = run("identify", tmp_path / "no-models-either", "--gallery", tmp_path / "g.db")
    assert empty.returncode == 1 and "no-models-either" in empty.stderr
    usage = run("frobnicate")
    assert usage.returncode == 2 and "usage" in usage.stderr
