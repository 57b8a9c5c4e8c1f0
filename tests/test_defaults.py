"""Default settings on any feature scale reach the exact optimum of their objective.

Each dataset is refitted with its columns multiplied by 10**k (k = -3..4), by a
spread of scales across columns, and with large offsets added.  The default
estimator must predict what the exact optimum of *its own* objective predicts
(computed by scikit-learn's exact solvers with the alpha conversion written
next to each), with no warning at all.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, make_regression
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split

import skgd
from skgd import GDRegressor

PREDICTION_RTOL = 0.05  # relative distance of test predictions to the optimum's
R2_TOL = 0.01
ACCURACY_TOL = 0.02


def scalings(n_features):
    out = {f"x1e{k}": (np.full(n_features, 10.0**k), 0.0) for k in range(-3, 5)}
    spread = np.logspace(-3, 4, n_features)
    out["spread"] = (spread, 0.0)
    out["spread+offset"] = (spread, 1e3)
    return out


def regression_data():
    X, y = load_diabetes(return_X_y=True)
    yield "diabetes", X, y
    X, y = make_regression(n_samples=400, n_features=12, noise=5.0, bias=30.0, random_state=0)
    yield "synthetic", X, y


REGRESSION_CASES = [
    (name, scale_name, X, y, scale, offset)
    for name, X, y in regression_data()
    for scale_name, (scale, offset) in scalings(X.shape[1]).items()
]


def relative_distance(pred, optimum, y):
    # relative to the spread of the optimum's predictions around the target
    # mean, so that a strongly regularised (near-constant) optimum is judged
    # on the part of the predictions the model explains
    denominator = max(np.linalg.norm(optimum - y.mean()), 1e-3 * np.linalg.norm(y))
    return np.linalg.norm(pred - optimum) / denominator


def fit_without_warnings(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return estimator.fit(X, y)


def exact_regression_optimum(estimator, X, y):
    n = X.shape[0]
    name = type(estimator).__name__
    if name == "GDRegressor":
        # mean loss (1/n) sum (y - p)^2 / 2 + alpha / 2 ||w||^2, times 2n:
        # Ridge's ||y - p||^2 + (alpha n) ||w||^2
        return Ridge(alpha=estimator.alpha * n, solver="svd").fit(X, y)
    if name == "GDRidge":
        return Ridge(alpha=estimator.alpha, solver="svd").fit(X, y)
    from sklearn.linear_model import ElasticNet, Lasso

    if name == "GDLasso":
        return Lasso(alpha=estimator.alpha, tol=1e-12, max_iter=100_000).fit(X, y)
    return ElasticNet(alpha=estimator.alpha, l1_ratio=estimator.l1_ratio, tol=1e-12,
                      max_iter=100_000).fit(X, y)


def regressors():
    names = ["GDRegressor", "GDRidge", "GDLasso", "GDElasticNet"]
    return [getattr(skgd, n)() for n in names if hasattr(skgd, n)]


@pytest.mark.parametrize("estimator", regressors(), ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("case", REGRESSION_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_default_regressor_reaches_optimum_on_any_scale(estimator, case):
    _, _, X, y, scale, offset = case
    X = X * scale + offset * scale
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    est = fit_without_warnings(estimator, X_train, y_train)
    exact = exact_regression_optimum(estimator, X_train, y_train)
    pred, optimum = est.predict(X_test), exact.predict(X_test)
    assert relative_distance(pred, optimum, y_test) < PREDICTION_RTOL
    assert abs(est.score(X_test, y_test) - exact.score(X_test, y_test)) < R2_TOL
