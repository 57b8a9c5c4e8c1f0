"""Default settings on badly scaled data: skgd vs scikit-learn's SGD estimators.

For every dataset and feature scaling, fits with *default* parameters
``GDRegressor()`` / ``GDClassifier()`` and ``SGDRegressor()`` /
``SGDClassifier()`` and prints their test scores beside the score of the exact
optimum of skgd's objective (Ridge(alpha * n) / LogisticRegression(C = 1 / (alpha n))).
Then measures what the preconditioning of ``learning_rate='auto'`` costs: the
default fit against the same solver with the preconditioner switched off, on
already-standardised data (ratio of fit times; median of repeats).

Run:  python benchmarks/defaults.py [--repeat 5]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_iris,
    load_wine,
    make_regression,
)
from sklearn.linear_model import LogisticRegression, Ridge, SGDClassifier, SGDRegressor
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import skgd
from skgd._solvers import (
    Problem,
    SolverOptions,
    SolverState,
    solve_batch,
    solve_minibatch,
)
from skgd._step_size import Preconditioner


def scalings(d):
    out = {f"x1e{k}": (np.full(d, 10.0**k), 0.0) for k in (-3, 0, 2, 4)}
    out["spread 1e-3..1e4"] = (np.logspace(-3, 4, d), 0.0)
    out["spread + offset"] = (np.logspace(-3, 4, d), 1e3)
    return out


def quiet_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def score_or_nan(est, X, y):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            s = est.score(X, y)
        except ValueError:  # NaN predictions
            return float("nan")
    return s if np.isfinite(s) else float("nan")


def regression_rows():
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes", X, y
    X, y = make_regression(n_samples=2000, n_features=20, noise=10, bias=50, random_state=0)
    yield "synthetic", X, y


def classification_rows():
    X, y = load_iris(return_X_y=True)
    yield "iris versicolor/virginica", X[y > 0], y[y > 0]
    yield "breast_cancer", *load_breast_cancer(return_X_y=True)
    # separable: at large scales the optimum is nearly unpenalised and far out
    yield "wine (3 classes)", *load_wine(return_X_y=True)


def scores_table():
    print("| data | scaling | exact optimum | skgd default | sklearn SGD default |")
    print("|---|---|---|---|---|")
    for name, X, y in regression_rows():
        for sname, (scale, offset) in scalings(X.shape[1]).items():
            A = X * scale + offset * scale
            Xtr, Xte, ytr, yte = train_test_split(A, y, random_state=0)
            # GDRegressor's mean loss (1/n) sum (y-p)^2/2 + alpha/2 |w|^2 is
            # Ridge's objective with alpha_ridge = alpha * n (alpha = 1e-4).
            exact = Ridge(alpha=1e-4 * len(ytr), solver="svd").fit(Xtr, ytr)
            ours = quiet_fit(skgd.GDRegressor(random_state=0), Xtr, ytr)
            theirs = quiet_fit(SGDRegressor(random_state=0), Xtr, ytr)
            print(f"| {name} (R²) | {sname} | {exact.score(Xte, yte):.3f} | "
                  f"{score_or_nan(ours, Xte, yte):.3f} | {score_or_nan(theirs, Xte, yte):.3g} |")
    if not hasattr(skgd, "GDClassifier"):
        return
    for name, X, y in classification_rows():
        for sname, (scale, offset) in scalings(X.shape[1]).items():
            A = X * scale + offset * scale
            Xtr, Xte, ytr, yte = train_test_split(A, y, random_state=0, stratify=y)
            # GDClassifier's (1/n) sum log-loss + alpha/2 |w|^2 is
            # LogisticRegression's C sum log-loss + 1/2 |w|^2 with C = 1/(alpha n).
            # The offset is absorbed by the intercept, so the reference is
            # fitted without it (Newton's method loses digits on 1e7 offsets).
            exact = LogisticRegression(C=1.0 / (1e-4 * len(ytr)), solver="newton-cholesky",
                                       tol=1e-12, max_iter=1000)
            exact = quiet_fit(exact, Xtr - offset * scale, ytr)
            exact_score = exact.score(Xte - offset * scale, yte)
            ours = quiet_fit(skgd.GDClassifier(random_state=0), Xtr, ytr)
            theirs = quiet_fit(SGDClassifier(random_state=0), Xtr, ytr)
            print(f"| {name} (accuracy) | {sname} | {exact_score:.3f} | "
                  f"{score_or_nan(ours, Xte, yte):.3f} | {score_or_nan(theirs, Xte, yte):.3f} |")


def preconditioning_cost(repeat):
    """Default fit vs the same solver without preconditioner, on standardised data."""
    X, y = make_regression(n_samples=20_000, n_features=50, noise=10, random_state=0)
    X = StandardScaler().fit_transform(X)
    Y = y.reshape(-1, 1).astype(float)
    sw = np.ones(len(y))
    print("\n| solver | default fit / unpreconditioned fit (standardised data) |")
    print("|---|---|")
    for solver, fn in (("batch", solve_batch), ("minibatch", solve_minibatch)):
        ratios = []
        for _ in range(repeat):
            times = []
            for precondition in (True, False):
                problem = Problem(X=X, Y=Y, sample_weight=sw, loss="squared_error",
                                  epsilon=0.1, l1=0.0, l2=1e-4, fit_intercept=True)
                state = SolverState(W=np.zeros((1, X.shape[1])), b=np.zeros(1))
                if not precondition:
                    state.precond = Preconditioner.identity(X.shape[1])
                options = SolverOptions(batch_size=64, max_iter=1000, tol=1e-3,
                                        random_state=np.random.RandomState(0))
                start = time.perf_counter()
                fn(problem, state, options)
                times.append(time.perf_counter() - start)
            ratios.append(times[0] / times[1])
        print(f"| {solver} | {np.median(ratios):.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    scores_table()
    preconditioning_cost(args.repeat)


if __name__ == "__main__":
    main()
