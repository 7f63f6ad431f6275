"""Runs pytest over python/tests (arguments are passed on): ctest `python_wheel` calls it with the fresh venv's python.

Exits 77 (ctest: skipped) when pytest or numpy is missing, or when every test skipped (no
models or test data); under CI=true (or SIAMFACE_REQUIRE_DATA=1) a missing prerequisite fails.
"""
import os
import sys

# Keep the source tree clean: no __pycache__ beside the tests, no .pytest_cache.
sys.dont_write_bytecode = True


def _required():
    return os.environ.get("CI") == "true" or os.environ.get("SIAMFACE_REQUIRE_DATA") == "1"


def _missing(reason):
    print("python tests: " + reason, file=sys.stderr)
    sys.exit(1 if _required() else 77)


try:
    import numpy  # noqa: F401
    import pytest
except ImportError as e:
    _missing("%s (Debian: apt-get install python3-numpy python3-pytest, for %s)" % (e, sys.executable))


class _Outcomes:
    def __init__(self):
        self.passed = self.skipped = 0

    def pytest_runtest_logreport(self, report):
        if report.when == "call" and report.passed:
            self.passed += 1
        elif report.skipped:
            self.skipped += 1


outcomes = _Outcomes()
status = pytest.main(["-p", "no:cacheprovider", *sys.argv[1:]], plugins=[outcomes])
if status == 0 and outcomes.passed == 0 and outcomes.skipped > 0:
    _missing("every test skipped")
sys.exit(int(status))
