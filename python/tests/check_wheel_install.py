"""ctest `python_wheel`: the README's fresh-venv install, offline, then the pytest suite in it.

Makes a venv from /usr/bin/python3 in a temporary folder, installs the pinned build and test
requirements (scripts/python-build-requirements.txt, python-test-requirements.txt) from the
wheels scripts/setup.sh keeps (~/.cache/siamface/wheels, SIAMFACE_WHEELS) with --no-index
--require-hashes, then `pip install --no-build-isolation --no-index .` from the source tree
(pyproject.toml, scikit-build-core), imports siamface and siamface.face_recognition there,
outside the source tree, with no PYTHONPATH, and runs pytest over python/tests with the venv's
python (run_pytest.py; arguments to this script are passed on to pytest). Prints how long each
step took. Missing wheels: exit 77 (skipped), a failure under CI=true.
"""
import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
ROOT = os.environ.get("SIAMFACE_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REQUIREMENTS = [os.path.join(ROOT, "scripts", name) for name in ("python-build-requirements.txt", "python-test-requirements.txt")]
TESTS = os.path.join(ROOT, "python", "tests")
cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
WHEELS = os.environ.get("SIAMFACE_WHEELS") or os.path.join(cache, "siamface", "wheels")


def required():
    return os.environ.get("CI") == "true" or os.environ.get("SIAMFACE_REQUIRE_DATA") == "1"


if not os.path.isdir(WHEELS):
    print("python wheel: no pinned wheels at %s (run scripts/setup.sh)" % WHEELS, file=sys.stderr)
    sys.exit(1 if required() else 77)


def step(name, command, **kwargs):
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    print("%s: %.1f s" % (name, time.monotonic() - start), flush=True)
    if result.returncode != 0:
        print(result.stdout[-6000:], result.stderr[-6000:], file=sys.stderr)
        sys.exit("python wheel: %s failed (exit %d)" % (name, result.returncode))
    return result


with tempfile.TemporaryDirectory(prefix="siamface-wheel-") as work:
    venv = os.path.join(work, "venv")
    python = os.path.join(venv, "bin", "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_REQUIRE_VIRTUALENV")}
    env.setdefault("CCACHE_BASEDIR", ROOT)
    step("venv", ["/usr/bin/python3", "-m", "venv", venv])
    pip = [python, "-m", "pip", "--disable-pip-version-check", "--no-input", "install", "--no-index", "--find-links", WHEELS]
    step("build and test requirements", pip + ["--require-hashes"] + [a for r in REQUIREMENTS for a in ("-r", r)], env=env)
    step("pip install . (scikit-build-core)", pip + ["--no-build-isolation", ROOT], env=env, timeout=3000)
    probe = ("import siamface, siamface.face_recognition as fr, pathlib; "
             "p = pathlib.Path(siamface.__file__).parent; "
             "assert (p / '_siamface.pyi').is_file() and (p / 'py.typed').is_file(); "
             "assert not list(p.rglob('*.onnx')) and not list(p.rglob('*.bin')); "
             "print(siamface.__file__, siamface.__version__)")
    result = step("import", [python, "-c", probe], env=env, cwd=work)
    where = result.stdout.split()[0]
    if not where.startswith(venv):
        sys.exit("python wheel: siamface was imported from %s, not the venv" % where)
    print("imported %s" % result.stdout.strip())
    step("python -m siamface models-dir", [python, "-m", "siamface", "models-dir"], env=env, cwd=work)
    # The suite against the installed package: its output streams to ctest's log as it runs.
    start = time.monotonic()
    status = subprocess.run([python, os.path.join(TESTS, "run_pytest.py"), TESTS, "-q", "-rs", *sys.argv[1:]],
                            env=env, cwd=work).returncode
    print("pytest: %.1f s" % (time.monotonic() - start))
    sys.exit(status)
