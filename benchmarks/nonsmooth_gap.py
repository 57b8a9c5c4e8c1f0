"""How close to the optimum do the non-smooth losses get at default settings?

For the hinge (binary dense 20,000 x 50, sparse tf-idf rows,
scikit-learn's 6-point SGD test data, and an elastic net on 3,000 x 30
features of unequal scales) and the epsilon-insensitive loss (dense
regression), fits GDClassifier / GDRegressor at their defaults
(``solver='auto'``, which now runs the dual coordinate ascent ``dual_cd``),
the batch solver (the former default: subgradient steps), and
scikit-learn's LinearSVC / LinearSVR (liblinear's dual coordinate descent)
at their default ``tol=1e-4`` and at ``tol=1e-8``; prints the relative
objective gap ``(F - F*) / F*`` and the fit time of each.

Every problem is ``fit_intercept=False`` with unit weights and (but for
the elastic net, which liblinear does not fit) ``penalty='l2'``, where the
objectives are the same: skgd minimises
``(1/n) sum_i L_i + alpha/2 |w|^2``, liblinear ``1/2 |w|^2 + C sum_i L_i``,
so ``C = 1 / (alpha n)``.  ``F*`` is the smallest objective of a
``tol=1e-10`` run of skgd's dual solver (whose duality gap certifies it,
when it stops before 20,000 epochs) and of the liblinear runs.

Run:  python benchmarks/nonsmooth_gap.py [--quick]
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.svm import LinearSVC, LinearSVR

from skgd import GDClassifier, GDRegressor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from reference import objective  # noqa: E402
from stochastic_gap import tfidf  # noqa: E402


def problems(quick):
    n = 5_000 if quick else 20_000
    X, y = make_classification(n, 50, n_informative=20, random_state=0)
    yield "hinge dense %dx50" % n, "hinge", X, y, 1e-4, 0.0
    Xs, ys = tfidf(n, 5_000 if quick else 20_000)
    yield "hinge tf-idf %dx%d" % Xs.shape, "hinge", Xs, ys, 1e-5, 0.0
    X6 = np.array([[-2, -1], [-1, -1], [-1, -2], [1, 1], [1, 2], [2, 1]], dtype=float)
    yield "hinge sklearn SGD 6 pts", "hinge", X6, np.array([1, 1, 1, 2, 2, 2]), 0.1, 0.0
    Xr, yr = make_regression(n, 50, noise=10.0, random_state=0)
    yield "eps-insensitive dense %dx50" % n, "epsilon_insensitive", Xr, yr, 1e-4, 0.0
    # the elastic net on features of unequal scales (no liblinear counterpart)
    m = 1_000 if quick else 3_000
    Xe, ye = make_classification(m, 30, n_informative=10, random_state=0)
    Xe = Xe * np.logspace(-1, 1, 30)
    yield "elastic-net hinge %dx30, features x0.1...x10" % m, "hinge", Xe, ye, 1e-4, 0.3


def score(loss, X, y, coef, alpha, l1_ratio=0.0):
    n = X.shape[0]
    if loss == "hinge":
        Y = np.where(y == np.unique(y)[1], 1.0, -1.0)[:, None]
    else:
        Y = y[:, None].astype(float)
    return objective(X, Y, np.atleast_2d(coef), np.zeros(1), np.ones(n), loss,
                     alpha * l1_ratio, alpha * (1 - l1_ratio), 0.1)


def timed(fit):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = fit()
    return est, time.perf_counter() - start


def skgd_fit(loss, X, y, alpha, l1_ratio, **params):
    Est = GDClassifier if loss == "hinge" else GDRegressor
    penalty = "elasticnet" if l1_ratio else "l2"
    return lambda: Est(loss=loss, alpha=alpha, penalty=penalty, l1_ratio=l1_ratio,
                       fit_intercept=False, random_state=0, **params).fit(X, y)


def liblinear_fit(loss, X, y, alpha, tol):
    C = 1.0 / (alpha * X.shape[0])
    if loss == "hinge":
        est = LinearSVC(loss="hinge", C=C, fit_intercept=False, tol=tol, max_iter=100_000,
                        dual=True)
    else:
        est = LinearSVR(loss="epsilon_insensitive", epsilon=0.1, C=C, fit_intercept=False,
                        tol=tol, max_iter=100_000, dual=True)
    return lambda: est.fit(X, y)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows instead of 20,000")
    args = parser.parse_args()
    print("| problem | fit | gap (F - F*) / F* | time (s) | epochs |")
    print("|---|---|---|---|---|")
    for name, loss, X, y, alpha, l1_ratio in problems(args.quick):
        runs = {
            "skgd default (auto)": skgd_fit(loss, X, y, alpha, l1_ratio),
            "skgd batch (former default)": skgd_fit(loss, X, y, alpha, l1_ratio,
                                                    solver="batch"),
        }
        if not l1_ratio:
            runs["liblinear tol=1e-4 (default)"] = liblinear_fit(loss, X, y, alpha, 1e-4)
            runs["liblinear tol=1e-8"] = liblinear_fit(loss, X, y, alpha, 1e-8)
        results = {label: timed(fit) for label, fit in runs.items()}
        tight, _ = timed(skgd_fit(loss, X, y, alpha, l1_ratio, tol=1e-10,
                                  max_iter=20_000))
        values = {label: score(loss, X, y, est.coef_, alpha, l1_ratio)
                  for label, (est, _) in results.items()}
        best = min(min(values.values()), score(loss, X, y, tight.coef_, alpha, l1_ratio))
        certified = "gap <= 1e-13" if tight.n_iter_ < 20_000 else "not certified"
        penalty = f", l1_ratio={l1_ratio:g}" if l1_ratio else ""
        print(f"| {name} (alpha={alpha:g}{penalty}, F*={best:.10g}: {certified} in "
              f"{tight.n_iter_} epochs) | | | | |")
        for label, (est, seconds) in results.items():
            epochs = np.max(est.n_iter_)
            print(f"| | {label} | {(values[label] - best) / best:.2e} | {seconds:.3f} "
                  f"| {epochs} |")


if __name__ == "__main__":
    main()
