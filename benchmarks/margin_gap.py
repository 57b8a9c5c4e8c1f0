"""The squared hinge at default settings against liblinear, on one objective.

``GDClassifier(loss='squared_hinge')`` at its defaults (``solver='auto'``:
the batch solver, stopped by its duality gap) against scikit-learn's
``LinearSVC(loss='squared_hinge', dual=False)`` (liblinear's primal solvers:
a trust-region Newton method with an L2 penalty, coordinate descent with
L1) at its default ``tol=1e-4`` and at ``tol=1e-8``, with an L2 and an L1
penalty, on dense rows (one scale, and scales x0.1...x10) and on sparse
tf-idf rows.  Prints the relative objective gap ``(F - F*) / F*`` and the
fit time of each.

Every problem is ``fit_intercept=False`` (liblinear penalises its
intercept) with unit weights, so the objectives are the same: skgd
minimises ``(1/n) sum_i max(0, 1 - y_i w.x_i)^2 + R(w)`` with ``R(w) =
alpha/2 |w|^2`` or ``alpha |w|_1``, liblinear ``R'(w) + C sum_i max(0, 1 -
y_i w.x_i)^2`` with ``R' = 1/2 |w|^2`` or ``|w|_1``: ``C = 1 / (alpha n)``.
``F*`` is the smallest objective of a ``tol=1e-10`` skgd fit (certified by
its duality gap when it stops before ``max_iter``) and of the liblinear
runs.

Run:  python benchmarks/margin_gap.py [--quick]
"""

import argparse
import os
import sys

import numpy as np
from sklearn.datasets import make_classification
from sklearn.svm import LinearSVC

from skgd import GDClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "tests")]
from nonsmooth_gap import timed  # noqa: E402
from reference import objective  # noqa: E402
from stochastic_gap import tfidf  # noqa: E402


def problems(quick):
    n = 5_000 if quick else 20_000
    X, y = make_classification(n, 50, n_informative=20, random_state=0)
    yield "dense %dx50" % n, X, y, 1e-4
    yield "dense %dx50, features x0.1...x10" % n, X * np.logspace(-1, 1, 50), y, 1e-4
    Xs, ys = tfidf(n, 5_000 if quick else 20_000)
    yield "tf-idf %dx%d" % Xs.shape, Xs, ys, 1e-5


def score(X, y, coef, alpha, penalty):
    Y = np.where(y == np.unique(y)[1], 1.0, -1.0)[:, None]
    l1, l2 = (alpha, 0.0) if penalty == "l1" else (0.0, alpha)
    return objective(X, Y, np.atleast_2d(coef), np.zeros(1), np.ones(X.shape[0]),
                     "squared_hinge", l1, l2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows instead of 20,000")
    args = parser.parse_args()
    print("| problem | fit | gap (F - F*) / F* | time (s) | iterations |")
    print("|---|---|---|---|---|")
    for name, X, y, alpha in problems(args.quick):
        C = 1.0 / (alpha * X.shape[0])
        for penalty in ("l2", "l1"):
            def ours(**params):
                return lambda: GDClassifier(loss="squared_hinge", penalty=penalty,
                                            alpha=alpha, fit_intercept=False,
                                            random_state=0, **params).fit(X, y)

            def liblinear(tol):
                return lambda: LinearSVC(loss="squared_hinge", penalty=penalty, dual=False,
                                         C=C, fit_intercept=False, tol=tol,
                                         max_iter=100_000).fit(X, y)

            runs = {"skgd default": ours(), "liblinear tol=1e-4 (default)": liblinear(1e-4),
                    "liblinear tol=1e-8": liblinear(1e-8)}
            results = {label: timed(fit) for label, fit in runs.items()}
            tight, _ = timed(ours(tol=1e-10, max_iter=20_000))
            reference, _ = timed(liblinear(1e-10))
            values = {label: score(X, y, est.coef_, alpha, penalty)
                      for label, (est, _) in results.items()}
            best = min(min(values.values()), score(X, y, tight.coef_, alpha, penalty),
                       score(X, y, reference.coef_, alpha, penalty))
            certified = "certified" if tight.n_iter_ < 20_000 else "not certified"
            print(f"| {name}, {penalty} (alpha={alpha:g}, F*={best:.10g}; skgd tol=1e-10 "
                  f"{certified} in {tight.n_iter_}) | | | | |")
            for label, (est, seconds) in results.items():
                print(f"| | {label} | {(values[label] - best) / best:.2e} | {seconds:.3f} "
                      f"| {np.max(est.n_iter_)} |")


if __name__ == "__main__":
    main()
