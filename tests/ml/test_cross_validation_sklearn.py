#!/usr/bin/python3
"""xfer's cross-validation (--reg auto) against scikit-learn 1.2 fitted on the very same folds.

For each data set: xfer (ml_tool cv) deals the rows into stratified folds, builds its grid, walks each fold's path
and scores every fold at every grid value. This test checks, independently:
  - the folds: a partition whose class counts per fold are within one of each other (stratified), sizes within one;
  - the grid: its top is max |gradient| of the data term at MLlib's start (zero coefficients, intercepts at the
    log class frequencies: the intercept-only optimum) in the standardised space, divided by max(elastic_net, 0.1), recomputed here in numpy,
    and the values are log-spaced down to top * min_ratio (and on, in the same steps, while the best is the
    smallest value so far);
  - the scores: per fold and grid value, scikit-learn's LogisticRegression fitted on that fold's training rows (the
    objective mapping of test_logistic_regression_sklearn.py: X / sigma with sigma MLlib's std of the training
    rows, C = 1 / (W reg)) and scored on its validation rows with sklearn.metrics (log_loss, accuracy_score,
    roc_auc_score) equals xfer's score to 1e-4;
  - the choice: the grid value with the best mean sklearn score is xfer's choice, and xfer's final model equals
    sklearn's fit on all rows at that value (coefficients to 1e-4 relative);
  - early stopping (patience) only drops grid values past the best: the chosen value is the same, and the scores
    it did compute are the same;
  - at the default precision of the fold fits (--cv-tol 1e-5, for speed) the choice is the same, the mean scores are
    within 2e-3 of the exact ones and each fold's within 1e-2 (near-separable folds at the smallest reg are the
    loosest: their objective is flat where the validation loss still moves);
  - the result is the same bytes with 1 and 2 threads.
The comparisons run with tight tolerances (--tol and --cv-tol 1e-12) so that both sides are at the optimum.
Usage: test_cross_validation_sklearn.py ML_TOOL
"""
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from xfer_test_helpers import Checks  # noqa: E402

TOOL = sys.argv[1]
SCORE_ATOL = 1e-4
COEF_RTOL = 1e-4
checks = Checks()
work = tempfile.mkdtemp(prefix="xfer-cv-test-")


def mllib_std(x, w):
    wsum = w.sum()
    mean = (w[:, None] * x).sum(0) / wsum
    m2 = (w[:, None] * (x - mean) ** 2).sum(0)
    return np.sqrt(m2 / (wsum - (w ** 2).sum() / wsum))


def class_weights(y, k, balanced):
    if not balanced:
        return np.ones(len(y))
    counts = np.bincount(y, minlength=k)
    return (len(y) / (k * counts))[y]


def run_cv(name, x, y, k, args, env=None):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "x.npy"), x.astype(np.float32))
    np.save(os.path.join(d, "y.npy"), y.astype(np.int64))
    out = os.path.join(d, "out")
    subprocess.run([TOOL, "cv", "--x", os.path.join(d, "x.npy"), "--y", os.path.join(d, "y.npy"), "--classes", str(k),
                    "--out", out] + args, check=True, env=env)
    raw = open(os.path.join(out, "cv.json")).read()
    return (json.loads(raw), np.load(os.path.join(out, "folds.npy")).astype(int),
            json.load(open(os.path.join(out, "model.json"))))


def sklearn_fit(x, y, k, reg, elastic_net, balanced):
    """sklearn on MLlib's objective (see test_logistic_regression_sklearn.py); returns a predict function on raw
    rows and the coefficients in the original space."""
    w = class_weights(y, k, balanced)
    sigma = mllib_std(x, w)
    live = sigma > 0
    common = dict(C=1.0 / (w.sum() * reg), class_weight="balanced" if balanced else None)
    if k > 2:
        common["multi_class"] = "multinomial"
    if elastic_net > 0:
        sk = LogisticRegression(solver="saga", penalty="elasticnet", l1_ratio=elastic_net, tol=1e-12,
                                max_iter=200000, random_state=0, **common)
    elif k == 2:
        sk = LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000, **common)
    else:
        sk = LogisticRegression(solver="newton-cg", tol=1e-12, max_iter=1000, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(x[:, live] / sigma[live], y)
        if elastic_net > 0 and not sk.coef_.any():
            # Every coefficient 0 (reg at or above the fold's lambda_max): saga's stopping rule then leaves the
            # intercepts short of the optimum (4e-5 in log loss seen here), so the reference is sklearn's
            # intercept-only model, which is that optimum.
            null = LogisticRegression(penalty="none", tol=1e-12, max_iter=1000,
                                      **{key: v for key, v in common.items() if key != "C"})
            null.fit(np.zeros((len(y), 1)), y)
            return (lambda rows: null.predict_proba(np.zeros((len(rows), 1)))), np.zeros((sk.coef_.shape[0], x.shape[1]))
    coef = np.zeros((sk.coef_.shape[0], x.shape[1]))
    coef[:, live] = sk.coef_ / sigma[live]
    return (lambda rows: sk.predict_proba(rows[:, live] / sigma[live])), coef


def null_gradient_max(x, y, k, balanced):
    """max |d/dtheta| of MLlib's data term at the intercept-only optimum, theta the standardised coefficients."""
    w = class_weights(y, k, balanced)
    sigma = mllib_std(x, w)
    live = sigma > 0
    z = x[:, live] / sigma[live]
    counts = np.array([w[y == c].sum() for c in range(k)])
    if k == 2:
        p = np.full(len(y), counts[1] / counts.sum())  # sigmoid(log(c1 / c0))
        residual = (w * (p - (y == 1)))[:, None]
    else:
        p = np.tile(counts / counts.sum(), (len(y), 1))  # softmax of log(counts)
        residual = w[:, None] * (p - np.eye(k)[y])
    return np.abs(z.T @ residual / w.sum()).max()


def score(metric, y, probs, k):
    if metric == "log_loss":
        return log_loss(y, probs, labels=list(range(k)))
    if metric == "accuracy":
        return accuracy_score(y, probs.argmax(1))
    return roc_auc_score(y, probs[:, 1]) if k == 2 else roc_auc_score(y, probs, multi_class="ovr", average="macro")


def case(name, x, y, k, folds=5, metric="log_loss", elastic_net=None, balanced=False, grid_size=6, min_ratio=1e-3):
    x = x.astype(np.float32).astype(np.float64)
    alphas = elastic_net or [0.0]
    common = ["--max-iter", "5000", "--folds", str(folds), "--metric", metric, "--grid-size", str(grid_size),
              "--min-ratio", repr(min_ratio), "--seed", "11"]
    args = common + ["--tol", "1e-12", "--cv-tol", "1e-12"]
    if elastic_net:
        common += ["--elastic-net-values", ",".join(repr(a) for a in elastic_net)]
        args += ["--elastic-net-values", ",".join(repr(a) for a in elastic_net)]
    if balanced:
        common.append("--balanced")
        args.append("--balanced")
    result, fold_of_row, model = run_cv(name, x, y, k, args + ["--patience", "0"])

    # Folds: a stratified partition.
    sizes = np.bincount(fold_of_row, minlength=folds)
    per_class = np.array([np.bincount(fold_of_row[y == c], minlength=folds) for c in range(k)])
    checks.check(f"{name}/folds-stratified", fold_of_row.min() == 0 and fold_of_row.max() == folds - 1 and
                 sizes.max() - sizes.min() <= 1 and (per_class.max(1) - per_class.min(1)).max() <= 1,
                 f"sizes {sizes.tolist()}")

    # Grid: top and spacing from numpy.
    gmax = null_gradient_max(x, y, k, balanced)
    grid_err, grid_ok = 0.0, True
    for a in alphas:
        got = [p["reg"] for p in result["grid"] if p["elastic_net"] == a]
        top = gmax / max(a, 0.1)
        want = top * min_ratio ** (np.arange(len(got)) / (grid_size - 1))
        grid_ok &= grid_size <= len(got) <= 2 * grid_size
        grid_err = max(grid_err, np.abs(np.array(got) - want).max() / top)
    checks.check(f"{name}/grid", grid_ok and grid_err < 1e-9, f"rel err {grid_err:.1e}, top {gmax / max(alphas[0], 0.1):.4g}")

    # Scores per fold and grid value against sklearn on the same folds.
    worst = 0.0
    means = []
    evaluated = [p for p in result["grid"] if p["fold_scores"]]
    checks.check(f"{name}/every-value-evaluated-without-patience", len(evaluated) == len(result["grid"]))
    for p in evaluated:
        ours = np.array(p["fold_scores"])
        theirs = []
        for f in range(folds):
            train, valid = fold_of_row != f, fold_of_row == f
            predict, _ = sklearn_fit(x[train], y[train], k, p["reg"], p["elastic_net"], balanced)
            theirs.append(score(metric, y[valid], predict(x[valid]), k))
        theirs = np.array(theirs)
        worst = max(worst, np.abs(ours - theirs).max())
        means.append(theirs.mean())
    checks.check(f"{name}/scores-per-fold-and-value", worst < SCORE_ATOL, f"max |xfer - sklearn| {worst:.2e}")

    best = int(np.argmin(means) if metric == "log_loss" else np.argmax(means))
    chosen = result["chosen"]["index"]
    checks.check(f"{name}/chosen", chosen == best,
                 f"xfer {chosen} (reg {result['grid'][chosen]['reg']:.4g}) sklearn {best}")
    _, coef = sklearn_fit(x, y, k, result["grid"][best]["reg"], result["grid"][best]["elastic_net"], balanced)
    coef_err = np.abs(np.array(model["coefficients"]) - coef).max() / np.abs(coef).max()
    checks.check(f"{name}/final-model-on-all-rows", coef_err < COEF_RTOL, f"coef rel {coef_err:.2e}")

    # Early stopping drops only values past the best.
    stopped, _, _ = run_cv(name + "-patience", x, y, k, args + ["--patience", "2"])
    evaluated = [i for i, p in enumerate(stopped["grid"]) if p["fold_scores"]]
    same = all(np.allclose(stopped["grid"][i]["fold_scores"], result["grid"][i]["fold_scores"], rtol=0, atol=1e-9)
               for i in evaluated)
    checks.check(f"{name}/early-stop-same-choice", stopped["chosen"]["index"] == chosen and same,
                 f"{len(evaluated)} of {len(stopped['grid'])} values evaluated")

    # The default precision of the fold fits: the same choice, for a reason: each value's mean score moves by less
    # than what separates it from the chosen one (so no error could swap them), and no score is far off. How far
    # the default tol leaves a fit from its optimum depends on the CPU's float32 rounding (oneDNN's sgemm kernels
    # differ between AVX-512 CPUs): on iris at reg 1e-5, nearly separable, the mean moved by 3.5e-3 on an AMD EPYC,
    # against a gap of 1.3e-2 to the chosen value.
    quick, _, _ = run_cv(name + "-default-tol", x, y, k, common + ["--patience", "0"])
    pairs = [(q, e) for q, e in zip(quick["grid"], result["grid"]) if q["fold_scores"] and e["fold_scores"]]
    err = max(np.abs(np.array(q["fold_scores"]) - np.array(e["fold_scores"])).max() for q, e in pairs)
    moved = [abs(q["mean"] - e["mean"]) for q, e in pairs]
    gaps = [abs(e["mean"] - pairs[chosen][1]["mean"]) for _, e in pairs]
    separated = all(moved[i] + moved[chosen] <= gaps[i] for i in range(len(pairs)) if i != chosen)
    checks.check(f"{name}/default-cv-tol-same-choice",
                 quick["chosen"]["index"] == chosen and separated and max(moved) < 1e-2 and err < 5e-2,
                 f"max |mean - exact| {max(moved):.1e}, |fold score - exact| {err:.1e}; every value's move + the "
                 f"choice's < its gap to the choice: {separated}")
    return result


cancer = load_breast_cancer()
iris = load_iris()
digits = load_digits()
xb, yb = make_classification(n_samples=300, n_features=8, n_informative=4, weights=[0.75, 0.25], random_state=5)
xe, ye = make_classification(n_samples=240, n_features=6, n_informative=4, n_redundant=0, n_classes=3,
                             n_clusters_per_class=1, random_state=3)

case("binomial-breast-cancer", cancer.data, cancer.target, 2)
case("binomial-accuracy-balanced", xb, yb, 2, metric="accuracy", balanced=True, folds=4)
case("binomial-roc-auc", xb, yb, 2, metric="roc_auc", folds=3)
case("multinomial-iris", iris.data, iris.target, 3, min_ratio=1e-4)
case("multinomial-digits-constant-features", digits.data[:500], digits.target[:500], 10, folds=3, grid_size=4)
case("multinomial-elastic-net-list", xe, ye, 3, elastic_net=[0.0, 0.5], grid_size=4, folds=3)

# The same bytes with 1 and 2 threads (the time taken aside).
x1, y1 = digits.data[:400], digits.target[:400]
outs = []
for threads in ("1", "2"):
    r, _, m = run_cv(f"threads-{threads}", x1, y1, 10, ["--grid-size", "5", "--threads", threads],
                     env=dict(os.environ, OMP_NUM_THREADS=threads))
    r.pop("seconds")
    outs.append((json.dumps(r), json.dumps(m)))
checks.check("same-result-1-and-2-threads", outs[0] == outs[1])

checks.finish()
