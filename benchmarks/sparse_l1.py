"""L1-penalised logistic regression on sparse text rows, against its peers.

``GDClassifier(penalty='l1')`` at its defaults (``solver='auto'``: the batch
solver, proximal Newton steps solved by coordinate descent on a working set,
stopped by its duality gap) against liblinear
(``LogisticRegression(l1_ratio=1, solver='liblinear')``, newGLMNET) at
``tol=1e-4`` (its default) and ``1e-8``, skglm's ``SparseLogisticRegression``
and celer's ``LogisticRegression`` (both working-set proximal Newton), each at
its default tolerance (skglm's kernels compiled before the timing), on tf-idf
rows (``stochastic_gap.tfidf``).  Prints the
relative objective gap ``(F - F*) / F*`` and the fit time of each.

Every fit is ``fit_intercept=False`` (liblinear penalises its intercept,
celer has none), so the objectives are the same: skgd and skglm minimise
``(1/n) sum_i log(1 + exp(-y_i w.x_i)) + alpha |w|_1``, liblinear and celer
``|w|_1 + C sum_i log(1 + exp(-y_i w.x_i))``: ``C = 1 / (alpha n)``.  ``F*``
is the smallest objective of all the runs and of a ``tol=1e-12`` skgd fit.
skglm and celer are skipped when they are not installed.

Run:  python benchmarks/sparse_l1.py [--quick]
"""

import argparse
import os
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression

from skgd import GDClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "tests")]
from nonsmooth_gap import timed  # noqa: E402
from reference import objective  # noqa: E402
from stochastic_gap import tfidf  # noqa: E402


def peers(X, y, alpha):
    """The fits of the same objective, by name."""
    C = 1.0 / (alpha * X.shape[0])

    def liblinear(tol):
        return lambda: LogisticRegression(l1_ratio=1.0, solver="liblinear", C=C,
                                          fit_intercept=False, tol=tol,
                                          max_iter=100_000).fit(X, y)

    runs = {
        "skgd default": lambda: GDClassifier(penalty="l1", alpha=alpha, fit_intercept=False,
                                             random_state=0).fit(X, y),
        "liblinear tol=1e-4 (default)": liblinear(1e-4),
        "liblinear tol=1e-8": liblinear(1e-8),
    }
    try:
        from skglm import SparseLogisticRegression

        # its first fit compiles its kernels (numba): not part of the timing
        SparseLogisticRegression(alpha=alpha, fit_intercept=False).fit(X[:100], y[:100])
        runs["skglm default"] = lambda: SparseLogisticRegression(
            alpha=alpha, fit_intercept=False).fit(X, y)
    except ImportError:
        pass
    try:
        from celer import LogisticRegression as CelerLogisticRegression

        runs["celer default"] = lambda: CelerLogisticRegression(C=C).fit(X, y)
    except ImportError:
        pass
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5,000 rows instead of 20,000")
    args = parser.parse_args()
    n = 5_000 if args.quick else 20_000
    X, y = tfidf(n, n)
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    print("| problem | fit | gap (F - F*) / F* | time (s) | non-zeros |")
    print("|---|---|---|---|---|")
    for alpha in (1e-4, 1e-5, 1e-6):
        def value(est):
            coef = np.atleast_2d(est.coef_)
            return objective(X, Y, coef, np.zeros(1), np.ones(n), "log_loss", alpha, 0.0)

        results = {label: timed(fit) for label, fit in peers(X, y, alpha).items()}
        tight, _ = timed(lambda: GDClassifier(penalty="l1", alpha=alpha, fit_intercept=False,
                                              tol=1e-12, random_state=0).fit(X, y))
        best = min([value(tight)] + [value(est) for est, _ in results.values()])
        for label, (est, seconds) in results.items():
            gap = max(value(est) - best, 0.0) / best
            print(f"| tf-idf {n} x {n}, alpha {alpha:g} | {label} | {gap:.1e} | "
                  f"{seconds:.2f} | {np.count_nonzero(est.coef_)} |", flush=True)


if __name__ == "__main__":
    main()
