"""How far from the optimum does each solver stop, and how fast?

For the problems of the stochastic-solver issue (synthetic, fixed seeds),
fits every solver of skgd at its default settings and prints a markdown
table of the relative objective gap ``(F - F*) / F*`` and the fit time.
``F*`` comes from a long batch fit whose duality gap (``skgd._duality``)
certifies it; its certified relative accuracy is printed with each problem.
For the logistic problems, scikit-learn's LogisticRegression (lbfgs, saga,
liblinear; ``C = 1 / (alpha * n)``) is run with tolerances 1e-4, 1e-6, ...
until its gap is at most 1e-6, and the time of that run is reported.  A
second table gives the time of one epoch of 'saga' and of 'sgd' (from fits
of 1 and 4 epochs, so that set-up costs cancel; only when ``--solvers``
includes both).  ``--solvers sgd,minibatch --no-sklearn`` measures the plain
stochastic solvers alone (a few minutes at full size).

Run:  python benchmarks/stochastic_gap.py [--quick] [--no-sklearn] [--only NAME]
                                         [--solvers sgd,minibatch]
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDRidge
from skgd._duality import duality_gap
from skgd._solver_common import Problem

# the numpy reference of the objective lives with the tests
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from reference import objective  # noqa: E402

SOLVERS = ("auto", "batch", "saga", "sgd", "minibatch")
SKLEARN_SOLVERS = ("lbfgs", "saga", "liblinear")
TARGET_GAP = 1e-6


def tfidf(n, d, nnz_row=43, seed=0):
    """Sparse tf-idf rows (unit norm) with Zipf feature frequencies; binary y."""
    rng = np.random.RandomState(seed)
    freq = 1.0 / np.arange(1, d + 1) ** 1.1
    lengths = np.maximum(1, rng.poisson(nnz_row, n))
    indptr = np.r_[0, np.cumsum(lengths)]
    cols = rng.choice(d, size=indptr[-1], p=freq / freq.sum())
    X = sp.csr_matrix(
        (rng.geometric(0.6, size=indptr[-1]).astype(float), cols, indptr), shape=(n, d)
    )
    X.sum_duplicates()
    idf = np.log((1 + n) / (1 + np.bincount(X.indices, minlength=d))) + 1
    X.data = np.log1p(X.data) * idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = (sp.diags(1 / np.maximum(norms, 1e-12)) @ X).tocsr()
    margin = X @ (rng.randn(d) * (rng.rand(d) < 0.1) * 5) + 0.3 * rng.randn(n)
    return X, (margin > np.median(margin)).astype(int)


def dense_logistic(n, d, seed=0, standardise=False):
    """Correlated features of mixed scales and offsets; binary y."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) + 0.5 * rng.randn(n, 1)
    X = X * rng.uniform(0.1, 10.0, d) + rng.uniform(-3, 3, d)
    margin = (X - X.mean(0)) / X.std(0) @ rng.randn(d) * 0.3 + rng.randn(n)
    if standardise:
        X = StandardScaler().fit_transform(X)
    return X, (margin > 0).astype(int)


def dense_multinomial(n, d, n_classes=10, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * rng.uniform(0.5, 2.0, d)
    scores = X @ rng.randn(d, n_classes) * 0.3 + rng.gumbel(size=(n, n_classes))
    return X, np.argmax(scores, axis=1)


def dense_regression(n, d, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * rng.uniform(0.5, 5.0, d) + 1.0
    return X, X @ rng.randn(d) + 3.0 * rng.randn(n)


def problems(quick):
    n_big, n_mid = (20_000, 10_000) if quick else (200_000, 100_000)
    d_sparse = 20_000 if quick else 50_000
    X, y = tfidf(n_big, d_sparse)
    yield f"L2-logistic, tf-idf CSR {n_big} x {d_sparse}", X, y, "clf", 1 / (10 * n_big)
    for std in (False, True):
        X, y = dense_logistic(n_big, 100, standardise=std)
        name = "standardised" if std else "raw"
        yield (
            f"L2-logistic, dense {n_big} x 100 ({name})",
            X,
            y,
            "clf",
            1 / (10 * n_big),
        )
    X, y = dense_multinomial(n_mid, 50)
    yield f"multinomial (10 classes), dense {n_mid} x 50", X, y, "clf", 1 / (10 * n_mid)
    X, y = dense_regression(n_big, 100)
    yield f"ridge, dense {n_big} x 100 (Ridge alpha = 1)", X, y, "ridge", 1.0
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    yield "digits, multinomial (default alpha 1e-4)", X, y, "clf", 1e-4


def estimator(kind, alpha, **kw):
    if kind == "ridge":
        return GDRidge(alpha=alpha, **kw)
    return GDClassifier(alpha=alpha, **kw)


def make_problem(est, X, y):
    """The Problem of a fitted estimator (its objective, unit weights)."""
    n = X.shape[0]
    X = X if sp.issparse(X) else np.ascontiguousarray(X, dtype=float)
    if isinstance(est, GDRidge):
        Y, loss, l2 = np.asarray(y, float)[:, None], "squared_error", est.alpha / n
    elif len(est.classes_) == 2:
        Y = np.where(y == est.classes_[1], 1.0, -1.0)[:, None]
        loss, l2 = "log_loss", est.alpha
    else:
        Y = (y[:, None] == est.classes_[None]).astype(float)
        loss, l2 = "multinomial", est.alpha
    return Problem(
        X=X,
        Y=Y,
        sample_weight=np.ones(n),
        loss=loss,
        epsilon=0.0,
        l1=0.0,
        l2=l2,
        fit_intercept=True,
    )


def fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        est.fit(X, y)
    return time.perf_counter() - start


def model(est):
    W = np.atleast_2d(est.coef_).astype(float)
    return W, np.atleast_1d(est.intercept_).astype(float)


def value(problem, W, b):
    return objective(
        problem.X,
        problem.Y,
        W,
        b,
        problem.sample_weight,
        problem.loss,
        problem.l1,
        problem.l2,
    )


def sklearn_time_to_gap(solver, X, y, alpha, problem, f_star):
    """Time of the first tolerance whose fit reaches TARGET_GAP (or the last)."""
    C = 1.0 / (alpha * X.shape[0])  # LogisticRegression(C): alpha = 1 / (C n)
    for tol in (1e-4, 1e-6, 1e-8, 1e-10):
        lr = LogisticRegression(C=C, solver=solver, tol=tol, max_iter=10_000)
        seconds = fit(lr, X, y)
        W, b = model(lr)
        gap = (value(problem, W, b) - f_star) / f_star
        if gap <= TARGET_GAP:
            break
    return seconds, gap, tol


def epoch_time(kind, alpha, solver, X, y):
    times = [
        fit(
            estimator(kind, alpha, solver=solver, max_iter=m, tol=None, random_state=0),
            X,
            y,
        )
        for m in (1, 4)
    ]
    return (times[1] - times[0]) / 3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller problems")
    parser.add_argument(
        "--no-sklearn",
        action="store_true",
        help="skip LogisticRegression's time to the target gap",
    )
    parser.add_argument(
        "--only", default="", help="run only the problems whose name contains this"
    )
    parser.add_argument(
        "--solvers",
        default=",".join(SOLVERS),
        help="comma-separated skgd solvers to fit (default: all)",
    )
    args = parser.parse_args()
    solvers = [s for s in args.solvers.split(",") if s]
    rows, epochs = [], []
    for name, X, y, kind, alpha in problems(args.quick):
        if args.only not in name:
            continue
        ref = estimator(kind, alpha, solver="batch", tol=1e-8, max_iter=20_000)
        fit(ref, X, y)
        problem = make_problem(ref, X, y)
        W, b = model(ref)
        gap, f_star = duality_gap(problem, W, b)
        f_star = min(f_star, value(problem, W, b))
        print(
            f"{name}: F* = {f_star:.10g} (certified to {gap / f_star:.1e})", flush=True
        )
        for solver in solvers:
            est = estimator(kind, alpha, solver=solver, random_state=0)
            seconds = fit(est, X, y)
            g = (value(problem, *model(est)) - f_star) / f_star
            rows.append(
                (name, f"skgd {solver} (→ {est.solver_})", g, seconds, est.n_iter_)
            )
            print("   ", rows[-1], flush=True)
        if kind == "clf" and problem.loss == "log_loss" and not args.no_sklearn:
            for solver in SKLEARN_SOLVERS:
                seconds, g, tol = sklearn_time_to_gap(
                    solver, X, y, alpha, problem, f_star
                )
                rows.append(
                    (name, f"LogisticRegression {solver}, tol {tol:g}", g, seconds, "")
                )
                print("   ", rows[-1], flush=True)
        timed = "saga" in solvers and "sgd" in solvers and kind == "clf"
        if timed and X.shape[0] >= 10_000 and problem.loss == "log_loss":
            t_saga = epoch_time(kind, alpha, "saga", X, y)
            t_sgd = epoch_time(kind, alpha, "sgd", X, y)
            epochs.append((name, t_saga, t_sgd))
    print("\n| problem | solver | relative gap | fit time (s) | epochs |")
    print("|---|---|---|---|---|")
    for name, solver, g, seconds, n_iter in rows:
        print(f"| {name} | {solver} | {g:.1e} | {seconds:.2f} | {n_iter} |")
    print("\n| problem | saga epoch (s) | sgd epoch (s) | ratio |")
    print("|---|---|---|---|")
    for name, t_saga, t_sgd in epochs:
        print(f"| {name} | {t_saga:.3f} | {t_sgd:.3f} | {t_saga / t_sgd:.2f} |")


if __name__ == "__main__":
    main()
