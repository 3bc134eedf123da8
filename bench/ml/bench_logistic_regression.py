#!/usr/bin/python3
"""Logistic regression training: xfer (bench via tests/ml's ml_tool) against scikit-learn's lbfgs on the same
Fashion-MNIST pixels (60,000 x 784 train, 10 classes; 10,000 test), in one run. Prints both training times, both
test accuracies and the ratio.

Both get the pixels scaled to [0, 1] (x / 255, float32 for xfer; sklearn converts to float64 itself).
sklearn: LogisticRegression(solver='lbfgs', max_iter=200), default C = 1.0, run in a child python with
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (so OpenBLAS picks its own kernels) and threadpoolctl's report of the
BLAS it used.

Usage: bench_logistic_regression.py --tool BUILD/tests/ml/ml_tool [--reg R] [--max-iter N...] [--no-standardize]
       [--skip-sklearn]
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


SKLEARN_CHILD = r"""
import sys, time, json
import numpy as np
from threadpoolctl import threadpool_info
from sklearn.linear_model import LogisticRegression
d = sys.argv[1]
x = np.load(d + "/train_x.npy").astype(np.float64); y = np.load(d + "/train_y.npy")
tx = np.load(d + "/test_x.npy").astype(np.float64); ty = np.load(d + "/test_y.npy")
clf = LogisticRegression(solver="lbfgs", max_iter=int(sys.argv[2]))
import warnings
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clf.fit(x, y)
seconds = time.perf_counter() - start
blas = [dict(api=i.get("internal_api"), version=i.get("version"), threads=i.get("num_threads"),
             arch=i.get("architecture"), lib=i.get("filepath")) for i in threadpool_info()]
print(json.dumps(dict(seconds=seconds, accuracy=float((clf.predict(tx) == ty).mean()),
                      iterations=int(clf.n_iter_[0]), blas=blas)))
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--reg", type=float, default=None, help="default: 1/n (sklearn's C = 1)")
    ap.add_argument("--max-iter", type=int, nargs="+", default=[100, 200],
                    help="one xfer run per value (100 is MLlib's default; 200 is sklearn's budget here)")
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--no-standardize", action="store_true")
    ap.add_argument("--sklearn-max-iter", type=int, default=200)
    ap.add_argument("--skip-sklearn", action="store_true")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="xfer-bench-ml-")
    x = read_idx(f"{DATA}/train-images-idx3-ubyte.gz").reshape(60000, 784).astype(np.float32) / 255.0
    y = read_idx(f"{DATA}/train-labels-idx1-ubyte.gz").astype(np.int64)
    tx = read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz").reshape(10000, 784).astype(np.float32) / 255.0
    ty = read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz").astype(np.int64)
    for name, a in [("train_x", x), ("train_y", y), ("test_x", tx), ("test_y", ty)]:
        np.save(f"{work}/{name}.npy", a)
    reg = args.reg if args.reg is not None else 1.0 / len(y)

    ours = []
    for max_iter in args.max_iter:
        out = f"{work}/xfer{max_iter}"
        cmd = [args.tool, "train", "--x", f"{work}/train_x.npy", "--y", f"{work}/train_y.npy", "--classes", "10",
               "--out", out, "--reg", repr(reg), "--max-iter", str(max_iter), "--tol", repr(args.tol),
               "--test-x", f"{work}/test_x.npy", "--test-probs", f"{out}/test_probs.npy"]
        if args.no_standardize:
            cmd.append("--no-standardize")
        subprocess.run(cmd, check=True)
        seconds = float(open(f"{out}/train_seconds.txt").read())
        model = json.load(open(f"{out}/model.json"))
        acc = float((np.load(f"{out}/test_probs.npy").argmax(1) == ty).mean())
        ours.append((max_iter, seconds))
        print(f"xfer    : {seconds:7.2f} s  test accuracy {acc:.4f}  ({model['summary']['iterations']} iterations, "
              f"{model['summary']['stop_reason']}; reg {reg:.6g}, standardize {not args.no_standardize}, "
              f"max_iter {max_iter}, tol {args.tol})", flush=True)
    if args.skip_sklearn:
        return
    env_cmd = ["env", "-u", "OPENBLAS_CORETYPE", "-u", "OPENBLAS_L2_SIZE", "/usr/bin/python3", "-c", SKLEARN_CHILD,
               work, str(args.sklearn_max_iter)]
    sk = json.loads(subprocess.run(env_cmd, check=True, capture_output=True, text=True).stdout)
    print(f"sklearn : {sk['seconds']:7.2f} s  test accuracy {sk['accuracy']:.4f}  ({sk['iterations']} iterations, "
          f"lbfgs, C=1.0, max_iter {args.sklearn_max_iter}; BLAS {sk['blas']})")
    for max_iter, seconds in ours:
        print(f"speed-up: {sk['seconds'] / seconds:.2f}x (sklearn time / xfer time at max_iter {max_iter})")


if __name__ == "__main__":
    main()
