#!/usr/bin/python3
"""xfer's logistic regression (MLlib's objective) against scikit-learn 1.2 on the same objective.

MLlib minimises (1/W) sum_i w_i logloss_i + reg [(1-a)/2 ||b||^2 + a ||b||_1] with the penalty on the coefficients
of x_j / sigma_j (sigma_j: MLlib's weighted unbiased std, not centred). scikit-learn minimises
sum_i w_i logloss_i + 1/C [...] on whatever X it is given; with C = 1 / (W reg) both have the same minimiser when
sklearn is given X / sigma and its coefficients are divided by sigma afterwards. W = n for unit weights and also
for sklearn's 'balanced' weights (they sum to n). L2: sklearn's Newton solvers (newton-cholesky for binomial,
newton-cg for multinomial); elastic net: sklearn saga with l1_ratio. Not sklearn's lbfgs: scipy's L-BFGS-B stops on
ftol = 64 eps, which on the (uncentred, so ill-conditioned) breast-cancer problem leaves a gradient of 6.5e-6 and
coefficients 3e-4 away from the optimum, while the Newton solvers reach a gradient of 1e-13 on the same objective.

Checks: coefficients within 1e-4 relative to max |coef|, training probabilities within 1e-5, constant features
get coefficient 0, two fits give identical bytes (also with 1 and 2 OpenMP threads).
Usage: test_logistic_regression_sklearn.py ML_TOOL
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

TOOL = sys.argv[1]
COEF_RTOL = 1e-4
PROB_ATOL = 1e-5
passed = failed = 0
work = tempfile.mkdtemp(prefix="xfer-ml-test-")


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name} {detail}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def mllib_std(x, w):
    """MLlib's summarizer std: sqrt(sum w (x - mean)^2 / (W - sum w^2 / W))."""
    wsum = w.sum()
    mean = (w[:, None] * x).sum(0) / wsum
    m2 = (w[:, None] * (x - mean) ** 2).sum(0)
    return np.sqrt(m2 / (wsum - (w ** 2).sum() / wsum))


def run_tool(name, x, y, k, args, env=None):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    np.save(os.path.join(d, "x.npy"), x.astype(np.float32))
    np.save(os.path.join(d, "y.npy"), y.astype(np.int64))
    out = os.path.join(d, "out")
    subprocess.run([TOOL, "train", "--x", os.path.join(d, "x.npy"), "--y", os.path.join(d, "y.npy"),
                    "--classes", str(k), "--out", out] + args, check=True, env=env)
    with open(os.path.join(out, "model.json"), "rb") as f:
        raw = f.read()
    model = json.loads(raw)
    return model, np.load(os.path.join(out, "probs.npy")), raw, open(os.path.join(out, "probs.npy"), "rb").read()


def class_weights(y, k, balanced):
    if not balanced:
        return np.ones(len(y))
    counts = np.bincount(y, minlength=k)
    return (len(y) / (k * counts))[y]


def compare(name, x, y, k, reg, elastic_net=0.0, standardize=True, intercept=True, balanced=False):
    """Fits both on the same float32 data and compares coefficients (original space) and probabilities."""
    x = x.astype(np.float32).astype(np.float64)  # xfer reads float32: give sklearn the very same values
    n = len(y)
    w = class_weights(y, k, balanced)
    sigma = mllib_std(x, w)
    live = sigma > 0
    scale = sigma[live] if standardize else np.ones(live.sum())
    xs = x[:, live] / scale
    C = 1.0 / (w.sum() * reg)
    common = dict(C=C, fit_intercept=intercept, class_weight="balanced" if balanced else None)
    if k > 2:
        common["multi_class"] = "multinomial"
    if elastic_net == 0.0 and k == 2:
        sk = LogisticRegression(solver="newton-cholesky", tol=1e-12, max_iter=1000, **common)
    elif elastic_net == 0.0:
        sk = LogisticRegression(solver="newton-cg", tol=1e-12, max_iter=1000, **common)
    else:
        sk = LogisticRegression(solver="saga", penalty="elasticnet", l1_ratio=elastic_net, tol=1e-12,
                                max_iter=200000, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(xs, y)
    sk_coef = np.zeros((sk.coef_.shape[0], x.shape[1]))
    sk_coef[:, live] = sk.coef_ / scale
    sk_intercept = np.array(sk.intercept_, dtype=float)
    if k > 2:
        sk_intercept = sk_intercept - sk_intercept.mean()  # softmax is shift-invariant; MLlib centres
    sk_probs = sk.predict_proba(xs)

    args = ["--reg", repr(reg), "--elastic-net", repr(elastic_net), "--tol", "1e-15", "--max-iter", "10000"]
    if not standardize:
        args.append("--no-standardize")
    if not intercept:
        args.append("--no-intercept")
    if balanced:
        args.append("--balanced")
    model, probs, _, _ = run_tool(name, x, y, k, args)
    coef = np.array(model["coefficients"])
    intercept_ours = np.array(model["intercepts"])
    scale_ref = np.abs(sk_coef).max()
    coef_err = np.abs(coef - sk_coef).max() / scale_ref
    int_err = np.abs(intercept_ours - sk_intercept).max() / max(scale_ref, np.abs(sk_intercept).max())
    prob_err = np.abs(probs - sk_probs).max()
    detail = (f"coef rel {coef_err:.2e} intercept rel {int_err:.2e} prob {prob_err:.2e} "
              f"(iterations {model['summary']['iterations']}, {model['summary']['stop_reason']})")
    check(name, coef_err < COEF_RTOL and int_err < COEF_RTOL and prob_err < PROB_ATOL, detail)
    if not live.all():
        check(name + "/constant-features-zero", np.all(coef[:, ~live] == 0.0))
    return model


cancer = load_breast_cancer()
xc, yc = cancer.data, cancer.target
iris = load_iris()
digits = load_digits()
xd, yd = digits.data[:600], digits.target[:600]
xe, ye = make_classification(n_samples=300, n_features=6, n_informative=4, n_redundant=0, n_classes=3,
                             n_clusters_per_class=1, random_state=3)
xb, yb = make_classification(n_samples=400, n_features=8, n_informative=5, weights=[0.8, 0.2], random_state=7)

# L2, lbfgs
compare("binomial-l2-breast-cancer", xc, yc, 2, reg=0.01)
compare("binomial-l2-breast-cancer-no-intercept", xc, yc, 2, reg=0.01, intercept=False)
compare("binomial-l2-breast-cancer-balanced", xc, yc, 2, reg=0.005, balanced=True)
compare("binomial-l2-no-standardize", xb, yb, 2, reg=0.02, standardize=False)
compare("multinomial-l2-iris", iris.data, iris.target, 3, reg=0.01)
compare("multinomial-l2-digits-constant-features", xd, yd, 10, reg=0.01)
compare("multinomial-l2-iris-balanced-no-intercept", iris.data[20:], iris.target[20:], 3, reg=0.02,
        intercept=False, balanced=True)
# Elastic net and L1: OWL-QN against saga.
compare("binomial-elasticnet-0.5", xb, yb, 2, reg=0.02, elastic_net=0.5)
compare("binomial-l1", xb, yb, 2, reg=0.01, elastic_net=1.0)
compare("binomial-l1-no-standardize", xb, yb, 2, reg=0.01, elastic_net=1.0, standardize=False)
compare("multinomial-elasticnet-0.5", xe, ye, 3, reg=0.02, elastic_net=0.5)
compare("multinomial-elasticnet-0.3-balanced", xe[40:], ye[40:], 3, reg=0.01, elastic_net=0.3, balanced=True)

# Determinism: the same input gives the same bytes out, with 2 threads twice and with 1 thread.
args = ["--reg", "0.001", "--max-iter", "200"]
env1 = dict(os.environ, OMP_NUM_THREADS="1")
env2 = dict(os.environ, OMP_NUM_THREADS="2")
xdet = np.vstack([digits.data] * 3) + np.random.default_rng(0).normal(size=(3 * len(digits.data), 64))
ydet = np.concatenate([digits.target] * 3)
_, _, json_a, probs_a = run_tool("determinism-a", xdet, ydet, 10, args, env2)
_, _, json_b, probs_b = run_tool("determinism-b", xdet, ydet, 10, args, env2)
_, _, json_c, probs_c = run_tool("determinism-c", xdet, ydet, 10, args, env1)
check("determinism-same-bytes-twice", json_a == json_b and probs_a == probs_b)
check("determinism-same-bytes-1-vs-2-threads", json_a == json_c and probs_a == probs_c)

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
