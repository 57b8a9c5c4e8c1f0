"""The batch solver's Newton finish for slow logistic fits (skgd/_newton.py).

Conversions (see tests/test_gap.py): ``GDClassifier(alpha)`` minimises the
mean log-loss plus ``alpha / 2 ||W||^2``, ``LogisticRegression(C)`` the
summed loss plus ``1 / 2 ||W||^2``: ``C = 1 / (alpha n)`` with unit weights.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from reference import objective
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import skgd._newton as newton
from skgd import GDClassifier
from skgd._solver_common import Problem


def _problem(X, Y, sw, loss, fit_intercept):
    return Problem(X=X, Y=Y, sample_weight=sw, loss=loss, epsilon=0.0, l1=0.0, l2=1e-3,
                   fit_intercept=fit_intercept)


@pytest.mark.parametrize("loss", ["log_loss", "multinomial"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_hessian_is_the_derivative_of_the_gradient(loss, fit_intercept, layout):
    rng = np.random.RandomState(0)
    n, d = 300, 4
    X = rng.normal(size=(n, d)) + 2.0
    X[rng.uniform(size=X.shape) < 0.3] = 0.0
    if loss == "log_loss":
        Y = np.where(rng.uniform(size=(n, 1)) < 0.4, 1.0, -1.0)
    else:
        Y = np.eye(3)[rng.randint(0, 3, n)]
    sw = rng.uniform(0.5, 2.0, n)
    Xf = sp.csr_matrix(X) if layout == "csr" else X
    problem = _problem(Xf, Y, sw, loss, fit_intercept)
    K = Y.shape[1]
    W, b = rng.normal(size=(K, d)) * 0.3, rng.normal(size=K) * (1.0 if fit_intercept else 0.0)
    center = newton.feature_mean(problem)
    np.testing.assert_allclose(center, (sw @ X) / sw.sum() if fit_intercept else 0.0,
                               rtol=1e-12)
    U = np.zeros((n, K))
    problem.gradient_pass(W, b, per_sample=U)
    H = newton.hessian(problem, U, center)
    width = d + (1 if fit_intercept else 0)

    def gradient(theta):
        # the data term's gradient in the coordinates (W_k, c_k),
        # c_k = b_k + W_k . center, of the Hessian
        Wt = theta.reshape(K, width)
        W_ = np.ascontiguousarray(Wt[:, :d])
        b_ = Wt[:, d] - W_ @ center if fit_intercept else np.zeros(K)
        G, Gb, _ = problem.gradient_pass(W_, b_)  # (the data term's only)
        out = np.zeros((K, width))
        out[:, :d] = G - np.outer(Gb, center) if fit_intercept else G
        if fit_intercept:
            out[:, d] = Gb
        return out.ravel()

    theta = np.zeros((K, width))
    theta[:, :d] = W
    if fit_intercept:
        theta[:, d] = b + W @ center
    direction = rng.normal(size=K * width)
    h = 1e-6
    numeric = (gradient(theta.ravel() + h * direction)
               - gradient(theta.ravel() - h * direction)) / (2 * h)
    np.testing.assert_allclose(H @ direction, numeric, rtol=1e-6, atol=1e-9)


def _split_scaled(load):
    X, y = load(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0,
                                              stratify=y)
    return StandardScaler().fit_transform(X_train), y_train


@pytest.mark.parametrize("load", [load_breast_cancer, load_digits])
def test_slow_default_fits_finish_at_the_optimum(load):
    # Nearly separable classes and alpha = 1e-4: the accelerated iterations
    # ran the 1,000 of max_iter (certified gaps 8e-8 and 1.9e-9, short of the
    # default 1e-9) and warned; from the 50th, Newton steps certify the
    # optimum in a few more, without a warning
    X, y = _split_scaled(load)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = GDClassifier().fit(X, y)
    assert est.n_iter_ <= 100
    # the same objective, solved by scikit-learn's Newton method
    ref = LogisticRegression(C=1.0 / (est.alpha * len(y)), solver="newton-cholesky",
                             tol=1e-12, max_iter=1000).fit(X, y)
    classes = np.unique(y)
    if len(classes) == 2:
        Y, loss = np.where(y == classes[1], 1.0, -1.0)[:, None], "log_loss"
    else:
        Y, loss = (y[:, None] == classes).astype(float), "multinomial"
    sw = np.ones(len(y))

    def value(model):
        return objective(X, Y, np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_),
                         sw, loss, 0.0, est.alpha)

    ours, theirs = value(est), value(ref)
    assert (ours - theirs) / theirs <= 1e-9


def test_fast_fits_never_pay_for_a_hessian(monkeypatch):
    # a well-conditioned problem certifies long before the 50th iteration
    X, y = make_classification(2000, 20, n_informative=10, random_state=0)
    calls = []
    original = newton.hessian

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(newton, "hessian", counting)
    est = GDClassifier(alpha=1e-2).fit(X, y)
    assert est.n_iter_ < newton.NEWTON_AFTER and not calls
