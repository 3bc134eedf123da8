"""numpy (the independent reader/writer) and xfer agree on .npy files: xfer writes, numpy reads, and back.
The header layout and data are checked against numpy's own writer byte for byte."""
import os, subprocess, sys, tempfile
import numpy as np

build = os.environ["XFER_BUILD_DIR"]
tool = os.path.join(build, "tests", "util", "npy_tool")
with tempfile.TemporaryDirectory() as d:
    a = (np.arange(12, dtype=np.float32) * 0.5 - 1).reshape(3, 4)
    ref = os.path.join(d, "ref.npy")
    np.save(ref, a)
    out = os.path.join(d, "ours.npy")
    subprocess.run([tool, ref, out], check=True)
    with open(ref, "rb") as f1, open(out, "rb") as f2:
        assert f1.read() == f2.read(), "xfer's .npy bytes differ from numpy's"
    b = np.load(out)
    assert b.dtype == np.float32 and b.shape == (3, 4) and np.array_equal(a, b)
print("npy round trip: 1 passed, 0 failed")
