"""python -m skgd: a first demo (grows into the full solver comparison)."""

import time

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

from skgd import GDRegressor


def main():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    alpha = 1e-4
    exact = Ridge(alpha=alpha * len(y_train)).fit(X_train, y_train)
    print(f"{'solver':<10} {'fit time':>9} {'epochs':>7} {'objective':>11} {'test R2':>8} {'exact R2':>9}")
    for solver in ("batch", "sgd", "minibatch"):
        start = time.perf_counter()
        reg = GDRegressor(solver=solver, alpha=alpha, random_state=0).fit(X_train, y_train)
        elapsed = time.perf_counter() - start
        print(f"{solver:<10} {elapsed:>8.3f}s {reg.n_iter_:>7} {reg.loss_curve_[-1]:>11.4f} "
              f"{reg.score(X_test, y_test):>8.4f} {exact.score(X_test, y_test):>9.4f}")


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
