"""Helpers shared by the Python tests (import with sys.path relative to the test file):

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    from xfer_test_helpers import Checks, xfer_binary

Checks counts PASS/FAIL lines and gives the exit code, so a test reports every failed comparison, not only the
first one.
"""
import os
import subprocess
import sys


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"PASS {name} {detail}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}", flush=True)
        return ok

    def finish(self):
        """Prints the totals and exits 1 when anything failed (or nothing was checked)."""
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed or not self.passed else 0)


def xfer_binary():
    """The xfer binary ctest passes in XFER_BINARY."""
    path = os.environ.get("XFER_BINARY")
    if not path or not os.path.exists(path):
        sys.exit("XFER_BINARY is not set to the xfer binary (run through ctest)")
    return path


def run(cmd, env=None, check=True):
    """Runs a command, returning the CompletedProcess with text stdout/stderr; a failure prints both."""
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        print(result.stdout)
        print(result.stderr, file=sys.stderr)
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(str(c) for c in cmd)}")
    return result


def feature_rows(folder):
    """A features folder read with numpy and json alone: ({path: the row's float32 bytes}, manifest, paths in
    order), for byte-for-byte comparisons of two runs."""
    import json

    import numpy as np

    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    rows, paths = {}, []
    for shard in manifest["shards"]:
        x = np.load(os.path.join(folder, shard["features"]))
        with open(os.path.join(folder, shard["index"])) as f:
            for i, line in enumerate(f):
                path = json.loads(line)["path"]
                rows[path] = x[i].tobytes()
                paths.append(path)
    return rows, manifest, paths


def mpi_env(**extra):
    """The environment for mpirun in tests: root allowed (CI runs as root), plus extra variables."""
    return dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", **extra)
