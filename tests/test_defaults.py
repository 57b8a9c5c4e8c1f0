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
from sklearn.datasets import (
    load_diabetes,
    load_iris,
    make_classification,
    make_regression,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split

import skgd

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


def classification_data():
    # Data sets whose classes overlap: on linearly separable data the optimum
    # of a nearly unpenalised log-loss (alpha = 1e-4 on features scaled by
    # 1e4) runs off to infinity and no solver, exact ones included, reaches it.
    X, y = load_iris(return_X_y=True)
    yield "iris versicolor/virginica", X[y > 0], y[y > 0]
    X, y = make_classification(n_samples=600, n_features=10, n_informative=5, flip_y=0.1,
                               n_classes=3, random_state=0)
    yield "synthetic-3", X, y
    X, y = make_classification(n_samples=600, n_features=8, n_informative=4, flip_y=0.05,
                               random_state=1)
    yield "synthetic-2", X, y


CLASSIFICATION_CASES = [
    (name, scale_name, X, y, scale, offset)
    for name, X, y in classification_data()
    for scale_name, (scale, offset) in scalings(X.shape[1]).items()
]


@pytest.mark.skipif(not hasattr(skgd, "GDClassifier"), reason="GDClassifier not built yet")
@pytest.mark.parametrize("case", CLASSIFICATION_CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_default_classifier_reaches_optimum_on_any_scale(case):
    _, _, X, y, scale, offset = case
    X_train, X_test, y_train, y_test = train_test_split(X * scale, y, random_state=0, stratify=y)
    est = fit_without_warnings(skgd.GDClassifier(), X_train + offset * scale,
                               y_train)
    # GDClassifier minimises (1/n) sum log-loss + alpha/2 ||w||^2; times C n
    # with C = 1/(alpha n) this is LogisticRegression's C sum log-loss + 1/2 ||w||^2.
    # An offset of the features is absorbed by the unpenalised intercept, so
    # the optimum's predictions do not depend on it: the reference is fitted
    # without the offset (Newton's method loses digits on offsets of 1e7).
    exact = LogisticRegression(C=1.0 / (est.alpha * len(y_train)), solver="newton-cholesky",
                               tol=1e-12, max_iter=1000).fit(X_train, y_train)
    proba = est.predict_proba(X_test + offset * scale)
    optimum = exact.predict_proba(X_test)
    assert np.linalg.norm(proba - optimum) / np.linalg.norm(optimum) < PREDICTION_RTOL
    accuracy = est.score(X_test + offset * scale, y_test)
    assert abs(accuracy - exact.score(X_test, y_test)) <= ACCURACY_TOL
