"""How close to the optimum do the non-smooth losses get at default settings?

For the hinge (binary dense 20,000 x 50, sparse tf-idf rows, and
scikit-learn's 6-point SGD test data) and the epsilon-insensitive loss
(dense regression), fits GDClassifier / GDRegressor at their defaults
(``solver='auto'``, which now runs the dual coordinate ascent ``dual_cd``),
the batch solver (the former default: subgradient steps), and
scikit-learn's LinearSVC / LinearSVR (liblinear's dual coordinate descent)
at their default ``tol=1e-4`` and at ``tol=1e-8``; prints the relative
objective gap ``(F - F*) / F*`` and the fit time of each.

Every problem is ``fit_intercept=False`` with unit weights and
``penalty='l2'``, where the objectives are the same: skgd minimises
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
    yield "hinge dense %dx50" % n, "hinge", X, y, 1e-4
    Xs, ys = tfidf(n, 5_000 if quick else 20_000)
    yield "hinge tf-idf %dx%d" % Xs.shape, "hinge", Xs, ys, 1e-5
    X6 = np.array([[-2, -1], [-1, -1], [-1, -2], [1, 1], [1, 2], [2, 1]], dtype=float)
    yield "hinge sklearn SGD 6 pts", "hinge", X6, np.array([1, 1, 1, 2, 2, 2]), 0.1
    Xr, yr = make_regression(n, 50, noise=10.0, random_state=0)
    yield "eps-insensitive dense %dx50" % n, "epsilon_insensitive", Xr, yr, 1e-4


def score(loss, X, y, coef, alpha):
    n = X.shape[0]
    if loss == "hinge":
        Y = np.where(y == np.unique(y)[1], 1.0, -1.0)[:, None]
    else:
        Y = y[:, None].astype(float)
    return objective(X, Y, np.atleast_2d(coef), np.zeros(1), np.ones(n), loss, 0.0, alpha,
                     0.1)


def timed(fit):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = fit()
    return est, time.perf_counter() - start


def skgd_fit(loss, X, y, alpha, **params):
    Est = GDClassifier if loss == "hinge" else GDRegressor
    return lambda: Est(loss=loss, alpha=alpha, fit_intercept=False, random_state=0,
                       **params).fit(X, y)


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
    for name, loss, X, y, alpha in problems(args.quick):
        runs = {
            "skgd default (auto)": skgd_fit(loss, X, y, alpha),
            "skgd batch (former default)": skgd_fit(loss, X, y, alpha, solver="batch"),
            "liblinear tol=1e-4 (default)": liblinear_fit(loss, X, y, alpha, 1e-4),
            "liblinear tol=1e-8": liblinear_fit(loss, X, y, alpha, 1e-8),
        }
        results = {label: timed(fit) for label, fit in runs.items()}
        tight, _ = timed(skgd_fit(loss, X, y, alpha, tol=1e-10, max_iter=20_000))
        values = {label: score(loss, X, y, est.coef_, alpha)
                  for label, (est, _) in results.items()}
        best = min(min(values.values()), score(loss, X, y, tight.coef_, alpha))
        certified = "gap <= 1e-13" if tight.n_iter_ < 20_000 else "not certified"
        print(f"| {name} (alpha={alpha:g}, F*={best:.10g}: {certified} in "
              f"{tight.n_iter_} epochs) | | | | |")
        for label, (est, seconds) in results.items():
            epochs = np.max(est.n_iter_)
            print(f"| | {label} | {(values[label] - best) / best:.2e} | {seconds:.3f} "
                  f"| {epochs} |")


if __name__ == "__main__":
    main()
