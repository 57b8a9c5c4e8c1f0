"""The hinge and least absolute deviations with the L1 penalty alone.

Neither has a smooth loss nor an L2 part, so neither the accelerated batch
solver nor the dual coordinate ascent applies: ``solver='auto'`` runs the
batch solver's smoothing homotopy (``skgd._smoothed_l1``).  Both objectives
are linear programs, which is how a user would otherwise solve them:

* the L1 hinge, ``(1/n) sum_i max(0, 1 - y_i p_i) + alpha |w|_1``, against
  the primal linear program solved by scipy's HiGHS (``linprog``; no
  scikit-learn estimator fits it: ``LinearSVC(penalty='l1')`` needs the
  squared hinge);
* least absolute deviations, ``GDRegressor(loss='epsilon_insensitive',
  epsilon=0)``: ``(1/n) sum_i |y_i - p_i| + alpha |w|_1``, against
  scikit-learn's ``QuantileRegressor(quantile=0.5, solver='highs')``, which
  minimises ``(1/n) sum_i |y_i - p_i| / 2 + alpha' |w|_1``: the same
  minimiser at ``alpha' = alpha / 2``.

Prints the relative objective gap ``(F - F*) / F*`` and the fit time of
each, ``F*`` the smaller of the linear program's optimum and a ``tol=1e-10``
skgd fit; with an intercept, unit weights, dense make_classification /
make_regression rows (features scaled x0.1...x10).

Run:  python benchmarks/l1_nonsmooth.py [--quick]
"""

import argparse
import time
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import QuantileRegressor

from skgd import GDClassifier, GDRegressor


def problems(n):
    d = 50
    scales = np.logspace(-1, 1, d)
    X, y = make_classification(n, d, n_informative=20, random_state=0)
    for alpha in (1e-3, 1e-4):
        yield "hinge", X * scales, np.where(y == 1, 1.0, -1.0), alpha
    X, y = make_regression(n, d, n_informative=20, noise=10.0, random_state=0)
    for alpha in (1e-2, 1e-3):
        yield "lad", X * scales, y / 10, alpha


def objective(kind, X, y, w, b, alpha):
    p = X @ w + b
    loss = np.maximum(0.0, 1.0 - y * p) if kind == "hinge" else np.abs(y - p)
    return float(loss.mean() + alpha * np.abs(w).sum())


def timed(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        result = fit()
    return result, time.perf_counter() - start


def hinge_linear_program(X, y, alpha):
    """Variables (w+, w-, b+, b-, xi) >= 0; xi_i >= 1 - y_i (x_i w + b); the
    constraints sparse (the slacks' identity block), as QuantileRegressor
    builds its own."""
    n, d = X.shape
    Z = np.hstack([X, -X, np.ones((n, 1)), -np.ones((n, 1))])
    cost = np.r_[np.full(2 * d, alpha), 0.0, 0.0, np.full(n, 1.0 / n)]
    A = sp.hstack([sp.csr_matrix(-y[:, None] * Z), -sp.eye(n, format="csr")], format="csr")
    found = linprog(cost, A_ub=A, b_ub=-np.ones(n), bounds=(0, None), method="highs")
    z = found.x
    return z[:d] - z[d:2 * d], z[2 * d] - z[2 * d + 1]


def fits(kind, X, y, alpha):
    """(name, fit returning (w, b)) of every solver of the row."""
    if kind == "hinge":
        def skgd(**kw):
            clf = GDClassifier(loss="hinge", penalty="l1", alpha=alpha, **kw).fit(X, y)
            return clf.coef_.ravel(), float(clf.intercept_[0])
        peer = ("linprog (HiGHS), the primal", lambda: hinge_linear_program(X, y, alpha))
    else:
        def skgd(**kw):
            reg = GDRegressor(loss="epsilon_insensitive", epsilon=0.0, penalty="l1",
                              alpha=alpha, **kw).fit(X, y)
            return reg.coef_, float(reg.intercept_[0])

        def quantile():
            q = QuantileRegressor(quantile=0.5, alpha=alpha / 2, solver="highs").fit(X, y)
            return q.coef_, float(q.intercept_)
        peer = ("QuantileRegressor(quantile=0.5, solver='highs')", quantile)
    return [("skgd default", skgd), peer,
            ("skgd tol=1e-10 (reference)", lambda: skgd(tol=1e-10))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 rows instead of 20,000")
    n = 2000 if parser.parse_args().quick else 20000
    print("| problem | fit | gap (F - F*) / F* | time (s) |")
    print("|---|---|---|---|")
    for kind, X, y, alpha in problems(n):
        results = []
        for name, fit in fits(kind, X, y, alpha):
            (w, b), seconds = timed(fit)
            results.append((name, objective(kind, X, y, w, b, alpha), seconds))
        best = min(value for _, value, _ in results)
        label = f"{'L1 hinge' if kind == 'hinge' else 'L1 LAD'} {n} x 50, alpha {alpha:g}"
        for name, value, seconds in results[:2]:
            print(f"| {label} | {name} | {(value - best) / best:.1e} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
