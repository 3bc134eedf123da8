#!/usr/bin/python3
"""--reg auto on Fashion-MNIST subsets with the pretrained InceptionV3's mixed5 features: accuracy and cost.

For each training-set size n (the first n of Fashion-MNIST's training images; the test set is the first --test
test images), on the same cached features (xfer featurize --model nsfwjs_inception_v3 --layer mixed5 --pool avg):
  - auto: xfer's cross-validation with its defaults (what `xfer train` runs without --reg), through tests/ml's
    ml_tool: the chosen reg, its test accuracy, the time, fits and L-BFGS iterations;
  - the grid peeked at: a single fit at every value of the same grid, scored on the test set; the best of those is
    the comparison the issue asks for (never used to choose);
  - --reg 0 (MLlib's default) and a single fit at the chosen reg (cold start): test accuracy and time;
  - scikit-learn's LogisticRegressionCV on the same standardised features, the same folds (PredefinedSplit from
    xfer's folds.npy), the same grid (C = 1 / (n_train_fold * reg)), lbfgs, max_iter 100, n_jobs 2, neg_log_loss,
    in a child python with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset.
Times are wall-clock on this machine, one after the other in the same run.

Usage: bench_cross_validation.py --tool BUILD/tests/ml/ml_tool --xfer BUILD/src/cli/xfer [--sizes 1000,2000,5000]
       [--test 2000] [--work DIR] [--skip-sklearn]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

FM = "/usr/share/datasets/fashion-mnist"
CLASSES = "t-shirt_top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle_boot"

SKLEARN_CHILD = r"""
import json, sys, time, warnings
import numpy as np
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import PredefinedSplit
d, regs = sys.argv[1], json.loads(sys.argv[2])
x = np.load(d + "/x.npy").astype(np.float64); y = np.load(d + "/y.npy"); folds = np.load(d + "/folds.npy").astype(int)
tx = np.load(d + "/test_x.npy").astype(np.float64); ty = np.load(d + "/test_y.npy")
sigma = x.std(0, ddof=1); sigma[sigma == 0] = 1
n_fold = len(y) * (1 - 1 / (folds.max() + 1))
Cs = [1.0 / (n_fold * r) for r in regs]
clf = LogisticRegressionCV(Cs=Cs, cv=PredefinedSplit(folds), solver="lbfgs", max_iter=100, scoring="neg_log_loss",
                           n_jobs=2, multi_class="multinomial")
start = time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    clf.fit(x / sigma, y)
seconds = time.perf_counter() - start
print(json.dumps(dict(seconds=seconds, accuracy=float((clf.predict(tx / sigma) == ty).mean()),
                      chosen_reg=1.0 / (n_fold * float(clf.C_[0])))))
"""


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True, **kw)


def load_features(folder):
    """Rows ordered by the image's index in the IDX file (the import names files by it)."""
    x = np.concatenate([np.load(os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.startswith("features-")])
    rows = [json.loads(line) for f in sorted(os.listdir(folder)) if f.startswith("index-")
            for line in open(os.path.join(folder, f))]
    index = np.array([int(re.search(r"(\d+)\.\w+$", r["path"]).group(1)) for r in rows])
    labels = np.array([r["label"] for r in rows])
    order = np.argsort(index)
    return x[order], labels[order].astype(np.int64)


def features(args, split, n):
    """Imports the first n images of the split and featurises them once (cached in --work)."""
    images = "train-images-idx3-ubyte.gz" if split == "train" else "t10k-images-idx3-ubyte.gz"
    labels = "train-labels-idx1-ubyte.gz" if split == "train" else "t10k-labels-idx1-ubyte.gz"
    folder, feats = os.path.join(args.work, f"fm-{split}-{n}"), os.path.join(args.work, f"mixed5-{split}-{n}")
    if not os.path.exists(os.path.join(feats, "manifest.json")):
        if not os.path.isdir(folder):
            run([args.xfer, "data", "import-idx", "--images", f"{FM}/{images}", "--labels", f"{FM}/{labels}",
                 "--class-names", CLASSES, "--limit", n, "--out", folder])
        print(f"featurising {n} {split} images (once)...", flush=True)
        run([args.xfer, "featurize", "--data", folder, "--model", "nsfwjs_inception_v3", "--layer", "mixed5", "--pool",
             "avg", "--out", feats])
    return load_features(feats)


def accuracy(probs_path, y):
    return float((np.load(probs_path).argmax(1) == y).mean())


def fit(args, d, reg):
    out = os.path.join(d, f"fit-{reg!r}")
    start = time.perf_counter()
    run([args.tool, "train", "--x", f"{d}/x.npy", "--y", f"{d}/y.npy", "--classes", 10, "--out", out, "--reg", repr(reg),
         "--test-x", f"{d}/test_x.npy", "--test-probs", f"{out}/test_probs.npy"])
    seconds = time.perf_counter() - start
    model = json.load(open(f"{out}/model.json"))
    return accuracy(f"{out}/test_probs.npy", np.load(f"{d}/test_y.npy")), seconds, model["summary"]["iterations"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tool", required=True)
    ap.add_argument("--xfer", required=True)
    ap.add_argument("--sizes", default="1000,2000,5000")
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--work", default="/tmp/xfer-bench-cv")
    ap.add_argument("--skip-sklearn", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    train_x, train_y = features(args, "train", max(sizes))
    test_x, test_y = features(args, "test", args.test)

    rows = []
    for n in sizes:
        d = os.path.join(args.work, f"n{n}")
        os.makedirs(d, exist_ok=True)
        np.save(f"{d}/x.npy", train_x[:n]); np.save(f"{d}/y.npy", train_y[:n])
        np.save(f"{d}/test_x.npy", test_x); np.save(f"{d}/test_y.npy", test_y)
        start = time.perf_counter()
        r = run([args.tool, "cv", "--x", f"{d}/x.npy", "--y", f"{d}/y.npy", "--classes", 10, "--out", f"{d}/auto",
                 "--test-x", f"{d}/test_x.npy", "--test-probs", f"{d}/auto/test_probs.npy"])
        auto_seconds = time.perf_counter() - start
        print(r.stderr, flush=True)
        cv = json.load(open(f"{d}/auto/cv.json"))
        chosen = cv["chosen"]["reg"]
        auto_acc = accuracy(f"{d}/auto/test_probs.npy", test_y)
        grid = [p["reg"] for p in cv["grid"]]
        peek = {reg: fit(args, d, reg) for reg in grid}
        best_reg = max(grid, key=lambda reg: peek[reg][0])
        zero_acc, zero_seconds, zero_iterations = fit(args, d, 0.0)
        single_acc, single_seconds, single_iterations = peek[chosen]
        row = dict(n=n, chosen=chosen, auto_acc=auto_acc, auto_seconds=auto_seconds, fits=cv["fits"],
                   iterations=cv["iterations"], best_reg=best_reg, best_acc=peek[best_reg][0], zero_acc=zero_acc,
                   zero_seconds=zero_seconds, zero_iterations=zero_iterations, single_seconds=single_seconds,
                   single_iterations=single_iterations,
                   grid_accuracy={f"{reg:.4g}": round(peek[reg][0], 4) for reg in grid})
        if not args.skip_sklearn:
            np.save(f"{d}/folds.npy", np.load(f"{d}/auto/folds.npy"))
            env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
            sk = json.loads(run(["/usr/bin/python3", "-c", SKLEARN_CHILD, d, json.dumps(grid)], env=env).stdout)
            row.update(sklearn_seconds=sk["seconds"], sklearn_acc=sk["accuracy"], sklearn_chosen=sk["chosen_reg"])
        rows.append(row)
        print(json.dumps(row), flush=True)

    print(f"\n{'n':>5} {'auto acc':>9} {'best of grid':>13} {'reg 0':>7} {'chosen reg':>11} {'auto s':>7} "
          f"{'fits':>5} {'iters':>6} {'1 fit s':>8} {'auto/1 fit':>11} {'reg 0 s':>8} {'auto/reg0':>10}"
          + ("" if args.skip_sklearn else f" {'sklearn CV s':>13} {'sk acc':>7} {'auto/sklearn':>13}"))
    for r in rows:
        line = (f"{r['n']:>5} {r['auto_acc']:>9.4f} {r['best_acc']:>13.4f} {r['zero_acc']:>7.4f} {r['chosen']:>11.4g} "
                f"{r['auto_seconds']:>7.2f} {r['fits']:>5} {r['iterations']:>6} {r['single_seconds']:>8.2f} "
                f"{r['auto_seconds'] / r['single_seconds']:>11.2f} {r['zero_seconds']:>8.2f} "
                f"{r['auto_seconds'] / r['zero_seconds']:>10.2f}")
        if not args.skip_sklearn:
            line += f" {r['sklearn_seconds']:>13.2f} {r['sklearn_acc']:>7.4f} {r['auto_seconds'] / r['sklearn_seconds']:>13.2f}"
        print(line)
    print("\n(auto acc: the default `train`; best of grid: a single fit at each grid value scored on the test set, the "
          "best of them — peeking, for the comparison only; 1 fit: a cold single fit at the chosen reg)")


if __name__ == "__main__":
    sys.exit(main())
