"""Shared helpers of the Keras importer script tests: paths, the unwrapped nsfwjs models, running tools."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("XFER_BUILD_DIR", os.path.join(ROOT, "build"))
WORK = os.path.join(BUILD, "keras-test")
TOOL = os.path.join(BUILD, "tests", "nn", "keras_tool")


class Checks:
    """Counts named checks and prints the `N passed, M failed` line the script tests end with."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed or not self.passed else 0)


def unwrapped_models():
    """Unwraps nsfwjs's models into the build tree with scripts/fetch-nsfwjs.mjs; returns the cache folder."""
    cache = os.path.join(WORK, "models")
    subprocess.run(["node", os.path.join(ROOT, "scripts", "fetch-nsfwjs.mjs"), "--out", cache], check=True,
                   stdout=subprocess.DEVNULL)
    return cache


def tool(*args):
    """Runs keras_tool; returns (exit code, stdout, stderr)."""
    p = subprocess.run([TOOL, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def load_json(path):
    with open(path) as f:
        return json.load(f)
