"""Where should solver='auto' switch from 'batch' to 'minibatch'?

For growing numbers of rows, fits GDRegressor and GDClassifier with default
settings and each solver, and prints the fit time and how far the result is
from the exact optimum (relative distance of the predictions, from a batch
fit with a tight tolerance).  The rule in ``skgd._base.AUTO_BATCH_MAX_SAMPLES``
comes from this table.

Run:  python benchmarks/auto_solver.py [--sizes 1000 10000 100000 300000]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification, make_regression

from skgd import GDClassifier, GDRegressor


def timed_fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        est.fit(X, y)
    return est, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000, 300000])
    parser.add_argument("--features", type=int, default=50)
    args = parser.parse_args()
    print("| model | n_samples | solver | fit time (s) | epochs | distance to optimum |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        Xr, yr = make_regression(n_samples=n, n_features=args.features, noise=20.0,
                                 random_state=0)
        Xc, yc = make_classification(n_samples=n, n_features=args.features, n_informative=10,
                                     flip_y=0.05, random_state=0)
        for model, X, y, out in ((GDRegressor, Xr, yr, "predict"),
                                 (GDClassifier, Xc, yc, "decision_function")):
            exact, _ = timed_fit(model(solver="batch", tol=1e-8), X, y)
            ref = getattr(exact, out)(X)
            for solver in ("batch", "minibatch", "sgd"):
                est, seconds = timed_fit(model(solver=solver, random_state=0), X, y)
                dist = np.linalg.norm(getattr(est, out)(X) - ref) / np.linalg.norm(ref)
                print(f"| {model.__name__} | {n} | {solver} | {seconds:.3f} | {est.n_iter_} "
                      f"| {dist:.1e} |")


if __name__ == "__main__":
    main()
