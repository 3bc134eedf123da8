#!/usr/bin/python3
"""Why --reg auto costs ~10 single fits and not 3: the fold fits' iteration counts, by solver, along the path.

The issue behind --reg auto asked for 5 folds x 10 grid values in at most 3x a single fit. This study measures,
outside xfer (numpy / scipy, float64), what any solver needs on the same problem: MLlib's objective (standardised,
virtually centred features; mean log loss + reg / 2 ||W||^2; intercepts free) on one fold's training rows, walked
down the grid that xfer chose, each grid value warm-started from the previous one:

  1. L-BFGS (scipy, m = 10) and inexact Newton-CG (CG to a relative residual of 0.5 or 0.1, Armijo backtracking):
     function + gradient + Hessian-vector evaluations (each costs the same two n x d x K products) until the
     objective is within --eps (relative) of its optimum;
  2. how early a fit may stop: the iterations of xfer's rule (relative decrease over 3 iterations below tol, at the
     default 1e-5 and at 1e-4) against the iteration from which the validation log loss stays within 1e-4 of its
     value at the optimum.

Reads the features and xfer's folds and grid that bench/ml/bench_cross_validation.py left in --work (run it first).
Usage: cv_solver_study.py [--work /tmp/xfer-bench-cv] [--n 2000] [--fold 0] [--values 8] [--eps 1e-5]
"""
import argparse
import json
import os
import sys

import numpy as np
import scipy.optimize as so


class Problem:
    def __init__(self, x, y, train, k):
        sigma = x[train].std(0, ddof=1)
        sigma[sigma == 0] = 1
        mean = (x[train] / sigma).mean(0)
        self.x, self.y = x[train] / sigma - mean, y[train]
        self.xv, self.yv = x[~train] / sigma - mean, y[~train]
        self.n, self.d = self.x.shape
        self.k = k
        self.onehot = np.eye(k)[self.y]
        self.evaluations = 0

    def split(self, t):
        return t[:self.d * self.k].reshape(self.d, self.k), t[self.d * self.k:]

    def probs(self, x, t):
        w, b = self.split(t)
        z = x @ w + b
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)

    def value_gradient(self, t, reg):
        self.evaluations += 1
        w, _ = self.split(t)
        p = self.probs(self.x, t)
        f = -np.log(p[np.arange(self.n), self.y]).mean() + 0.5 * reg * (w * w).sum()
        g = (p - self.onehot) / self.n
        return f, np.concatenate([(self.x.T @ g + reg * w).ravel(), g.sum(0)]), p

    def hessian_vector(self, v, reg, p):
        self.evaluations += 1
        vw, vb = self.split(v)
        a = self.x @ vw + vb
        r = (p * a - p * (p * a).sum(1, keepdims=True)) / self.n
        return np.concatenate([(self.x.T @ r + reg * vw).ravel(), r.sum(0)])

    def validation_loss(self, t):
        p = self.probs(self.xv, t)
        return -np.log(p[np.arange(len(self.yv)), self.yv]).mean()


class Reached(Exception):
    pass


def optimum(problem, reg, start):
    r = so.minimize(lambda t: problem.value_gradient(t, reg)[:2], start, jac=True, method="L-BFGS-B",
                    options=dict(maxiter=5000, ftol=1e-15, gtol=1e-10, maxcor=30))
    return r.fun, r.x


def lbfgs_evaluations(problem, reg, start, target):
    problem.evaluations, reached = 0, [start]

    def fun(t):
        f, g, _ = problem.value_gradient(t, reg)
        if f <= target:
            reached[0] = t.copy()
            raise Reached
        return f, g
    try:
        so.minimize(fun, start, jac=True, method="L-BFGS-B", options=dict(maxiter=3000, ftol=0, gtol=0, maxcor=10))
    except Reached:
        pass
    return problem.evaluations, reached[0]


def newton_cg_evaluations(problem, reg, start, target, cg_tol):
    problem.evaluations = 0
    t = start.copy()
    f, g, p = problem.value_gradient(t, reg)
    while f > target and problem.evaluations < 3000:
        s, r = np.zeros_like(g), -g
        direction, rr = r.copy(), r @ r
        stop = cg_tol * min(0.5, np.sqrt(np.linalg.norm(g))) * np.linalg.norm(g)
        for _ in range(500):
            hd = problem.hessian_vector(direction, reg, p)
            alpha = rr / (direction @ hd)
            s += alpha * direction
            r -= alpha * hd
            rr_next = r @ r
            if np.sqrt(rr_next) <= stop:
                break
            direction = r + (rr_next / rr) * direction
            rr = rr_next
        step = 1.0
        while True:
            f2, g2, p2 = problem.value_gradient(t + step * s, reg)
            if f2 <= f + 1e-4 * step * (g @ s) or step < 1e-6:
                break
            step /= 2
        t, f, g, p = t + step * s, f2, g2, p2
    return problem.evaluations


def early_stopping(problem, reg, start):
    history = []
    so.minimize(lambda t: problem.value_gradient(t, reg)[:2], start, jac=True, method="L-BFGS-B",
                callback=lambda t: history.append((problem.value_gradient(t, reg)[0], problem.validation_loss(t))),
                options=dict(maxiter=1500, ftol=1e-14, gtol=1e-9, maxcor=10))
    f = np.array([h[0] for h in history])
    v = np.array([h[1] for h in history])
    v_star = v[-1]

    def rule(tol):
        return next((i for i in range(3, len(f)) if (f[i - 3] - f[i]) / abs(f[i]) < tol), len(f) - 1)
    within = np.abs(v - v_star) < 1e-4
    settled = next(i for i in range(len(v)) if within[i:].all())
    return {"rule_1e-5": rule(1e-5), "val_err_1e-5": abs(v[rule(1e-5)] - v_star), "rule_1e-4": rule(1e-4),
            "val_err_1e-4": abs(v[rule(1e-4)] - v_star), "val_within_1e-4_from": settled, "to_optimum": len(f)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default="/tmp/xfer-bench-cv")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--fold", type=int, default=0)
    ap.add_argument("--values", type=int, default=8, help="grid values to walk, from the largest")
    ap.add_argument("--eps", type=float, default=1e-5)
    args = ap.parse_args()
    d = os.path.join(args.work, f"n{args.n}")
    if not os.path.exists(os.path.join(d, "auto", "cv.json")):
        sys.exit(f"{d}/auto/cv.json not found: run bench/ml/bench_cross_validation.py --sizes {args.n} first")
    x, y = np.load(f"{d}/x.npy").astype(np.float64), np.load(f"{d}/y.npy")
    folds = np.load(f"{d}/auto/folds.npy")
    grid = [p["reg"] for p in json.load(open(f"{d}/auto/cv.json"))["grid"]][:args.values]
    problem = Problem(x, y, folds != args.fold, int(y.max()) + 1)
    print(f"n = {args.n}, fold {args.fold}: {problem.n} training rows x {problem.d} features, {problem.k} classes; "
          f"evaluations to reach the optimum to {args.eps:g} (relative), warm-started along the path", flush=True)
    print(f"{'reg':>9} {'L-BFGS':>7} {'Newton-CG 0.5':>14} {'Newton-CG 0.1':>14} {'xfer 1e-5':>10} {'(val err)':>10} "
          f"{'xfer 1e-4':>10} {'(val err)':>10} {'val settled':>12} {'to optimum':>11}")
    totals = np.zeros(7)
    start = np.zeros(problem.d * problem.k + problem.k)
    for reg in grid:
        f_star, t_star = optimum(problem, reg, start)
        target = f_star + args.eps * abs(f_star)
        lbfgs, _ = lbfgs_evaluations(problem, reg, start, target)
        newton_loose = newton_cg_evaluations(problem, reg, start, target, 0.5)
        newton_tight = newton_cg_evaluations(problem, reg, start, target, 0.1)
        e = early_stopping(problem, reg, start)
        row = [lbfgs, newton_loose, newton_tight, e["rule_1e-5"], e["rule_1e-4"], e["val_within_1e-4_from"],
               e["to_optimum"]]
        totals += row
        print(f"{reg:>9.3g} {lbfgs:>7} {newton_loose:>14} {newton_tight:>14} {e['rule_1e-5']:>10} "
              f"{e['val_err_1e-5']:>10.1e} {e['rule_1e-4']:>10} {e['val_err_1e-4']:>10.1e} "
              f"{e['val_within_1e-4_from']:>12} {e['to_optimum']:>11}", flush=True)
        start = t_star
    t = totals.astype(int)
    print(f"{'total':>9} {t[0]:>7} {t[1]:>14} {t[2]:>14} {t[3]:>10} {'':>10} {t[4]:>10} {'':>10} {t[5]:>12} {t[6]:>11}")
    print("\n(L-BFGS and Newton-CG columns: evaluations, each two n x d x K products; xfer columns: iterations at which "
          "its stopping rule ends a fit, and how far the validation log loss then is from its value at the optimum; "
          "val settled: the iteration from which it stays within 1e-4)")


if __name__ == "__main__":
    sys.exit(main())
