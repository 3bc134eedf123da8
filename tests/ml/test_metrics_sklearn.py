#!/usr/bin/python3
"""xfer's classification metrics against sklearn.metrics (1.2) on the same predictions, within 1e-9.

Cases: binary and multiclass, with many tied scores, probabilities of exactly 0 and 1 (log loss clipping), a class
that is never predicted (zero_division) and perfect separation. Usage: test_metrics_sklearn.py ML_TOOL
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from sklearn import metrics
from sklearn.preprocessing import label_binarize

TOOL = sys.argv[1]
TOL = 1e-9
passed = failed = 0
work = tempfile.mkdtemp(prefix="xfer-metrics-test-")


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def close(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and np.allclose(a, b, rtol=0, atol=TOL)


def run(name, y, probs):
    k = probs.shape[1]
    yp = os.path.join(work, name + "-y.npy")
    pp = os.path.join(work, name + "-p.npy")
    out = os.path.join(work, name + ".json")
    np.save(yp, y.astype(np.int64))
    np.save(pp, probs.astype(np.float64))
    subprocess.run([TOOL, "metrics", "--y", yp, "--probs", pp, "--out", out], check=True)
    with open(out) as f:
        ours = json.load(f)

    labels = list(range(k))
    pred = probs.argmax(1)
    c = lambda what, a, b: check(f"{name}/{what}", close(a, b), f"ours {a} sklearn {b}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        c("accuracy", ours["accuracy"], metrics.accuracy_score(y, pred))
        c("log_loss", ours["log_loss"], metrics.log_loss(y, probs, labels=labels))
        check(f"{name}/confusion_matrix",
              np.array_equal(ours["confusion_matrix"], metrics.confusion_matrix(y, pred, labels=labels)))
        p, r, f, s = metrics.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
        names = ours["class_names"]
        per = ours["per_class"]
        c("precision", [per[n]["precision"] for n in names], p)
        c("recall", [per[n]["recall"] for n in names], r)
        c("f1", [per[n]["f1"] for n in names], f)
        c("support", [per[n]["support"] for n in names], s)
        for avg in ("macro", "weighted"):
            p, r, f, _ = metrics.precision_recall_fscore_support(y, pred, labels=labels, average=avg,
                                                                 zero_division=0)
            a = ours[avg + "_avg"]
            c(avg + "_avg", [a["precision"], a["recall"], a["f1"]], [p, r, f])
        if k == 2:
            c("roc_auc", ours["roc_auc"], metrics.roc_auc_score(y, probs[:, 1]))
            c("pr_auc", ours["pr_auc"], metrics.average_precision_score(y, probs[:, 1]))
            curves = [(y == 1, probs[:, 1])]
        else:
            c("roc_auc", ours["roc_auc"], metrics.roc_auc_score(y, probs, multi_class="ovr", average="macro"))
            c("pr_auc", ours["pr_auc"],
              metrics.average_precision_score(label_binarize(y, classes=labels), probs, average="macro"))
            curves = [(y == j, probs[:, j]) for j in range(k)]
            c("per_class_roc_auc", [per[n]["roc_auc"] for n in names],
              [metrics.roc_auc_score(y == j, probs[:, j]) for j in range(k)])
        check(f"{name}/roc_curve_count", len(ours["roc_curves"]) == len(curves))
        for j, (truth, score) in enumerate(curves):
            fpr, tpr, thr = metrics.roc_curve(truth, score)
            got = ours["roc_curves"][j]
            c(f"roc_curve[{j}].fpr", got["fpr"], fpr)
            c(f"roc_curve[{j}].tpr", got["tpr"], tpr)
            c(f"roc_curve[{j}].thresholds", got["thresholds"], thr)
    check(f"{name}/table", "confusion matrix" in ours["table"] and names[0] in ours["table"])


rng = np.random.default_rng(42)

# Binary with ties and exact 0/1 probabilities.
n = 500
y = rng.integers(0, 2, n)
p1 = np.clip(np.round(0.35 * y + rng.uniform(0, 0.65, n), 1), 0, 1)
p1[:5] = [0.0, 1.0, 0.0, 1.0, 0.5]
run("binary-ties", y, np.column_stack([1 - p1, p1]))

# Binary, continuous scores.
p1 = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1.5, n))))
run("binary-continuous", y, np.column_stack([1 - p1, p1]))

# Binary, perfectly separated.
p1 = np.where(y == 1, 0.9, 0.1)
run("binary-separated", y, np.column_stack([1 - p1, p1]))

# Multiclass with ties: integer scores normalised (exact ties within and across rows).
k = 4
y = rng.integers(0, k, 800)
s = rng.integers(1, 6, (800, k)).astype(float)
s[np.arange(800), y] += rng.integers(0, 4, 800)
run("multiclass-ties", y, s / s.sum(1, keepdims=True))

# Multiclass, a class never predicted (zero_division) and continuous scores.
k = 5
y = rng.integers(0, k, 1000)
logits = rng.normal(0, 1, (1000, k)) + 2.0 * np.eye(k)[y]
logits[:, 4] -= 10.0
pr = np.exp(logits)
run("multiclass-never-predicted", y, pr / pr.sum(1, keepdims=True))

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
