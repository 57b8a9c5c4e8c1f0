"""The preconditioners are exact changes of variables of the same objective."""

import numpy as np
import pytest
from reference import objective

from skgd._step_size import Preconditioner, WhiteningPreconditioner


def data(seed=0, n=80, d=5, spread=5):
    rng = np.random.RandomState(seed)
    X = (rng.normal(size=(n, d)) @ rng.normal(size=(d, d))) * np.logspace(-2, spread - 2, d) + 40.0
    y = rng.normal(size=(n, 2))
    sw = rng.uniform(0.2, 3.0, size=n)
    return X, y, sw


def preconditioners(X, sw):
    return [Preconditioner.from_data(X, sw, True),
            WhiteningPreconditioner.from_data(X, sw, True),
            WhiteningPreconditioner.from_data(X, sw, False)]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_round_trip_and_chain_rule(which):
    X, Y, sw = data()
    pc = preconditioners(X, sw)[which]
    rng = np.random.RandomState(1)
    # a point drawn in the (well scaled) standardised coordinates
    W, b = pc.to_original(rng.normal(size=(2, X.shape[1])), rng.normal(size=2))
    W_t, b_t = pc.to_standardised(W, b)
    W2, b2 = pc.to_original(W_t, b_t)
    np.testing.assert_allclose(W2, W, rtol=1e-9, atol=1e-12 * np.abs(W).max())
    np.testing.assert_allclose(b2, b, rtol=1e-9)

    def f(W_t, b_t):
        return objective(X, Y, *pc.to_original(W_t, b_t), sw, "squared_error", 0.0, 0.0)

    # the chain rule of gradient_to_standardised against central differences
    P = X @ W.T + b
    weighted = (P - Y) * (sw / sw.sum())[:, None]
    G_t, Gb_t = pc.gradient_to_standardised(weighted.T @ X, weighted.sum(axis=0))
    h = 1e-6
    for k, j in [(0, 0), (1, 3), (0, 4)]:
        E = np.zeros_like(W_t)
        E[k, j] = h
        numeric = (f(W_t + E, b_t) - f(W_t - E, b_t)) / (2 * h)
        np.testing.assert_allclose(G_t[k, j], numeric, rtol=1e-5, atol=1e-8)


def test_whitened_features_have_identity_covariance():
    X, _, sw = data(n=200, spread=2)
    pc = WhiteningPreconditioner.from_data(X, sw, True)
    Z = (X - pc.center) @ pc.transform
    cov = (Z * sw[:, None]).T @ Z / sw.sum()
    np.testing.assert_allclose(cov, np.eye(X.shape[1]), atol=1e-8)


def test_whitening_keeps_the_l2_penalty():
    X, _, sw = data()
    pc = WhiteningPreconditioner.from_data(X, sw, True)
    W = np.random.RandomState(2).normal(size=(1, X.shape[1]))
    W_t, _ = pc.to_standardised(W, np.zeros(1))
    _, l2_weights = pc.penalty_weights()
    np.testing.assert_allclose(np.sum(l2_weights * W_t**2), np.sum(W**2), rtol=1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_whitened_lipschitz_constant_is_one(fit_intercept):
    # the batch solver takes L = curvature without a power iteration once
    # the features are whitened: the Gram matrix of [z, 1] is the identity
    from skgd._step_size import batch_lipschitz, whitened_rounding

    X, _, sw = data()
    pc = WhiteningPreconditioner.from_data(X, sw, fit_intercept)
    top = batch_lipschitz(X, sw, pc, fit_intercept, "squared_error", n_iter=200, rtol=1e-14)
    assert 1.0 - 1e-6 <= top <= 1.0 + whitened_rounding(pc)


def test_power_iteration_from_a_start_orthogonal_to_every_row():
    # one row [1, -1, 0]: the all-ones start is orthogonal to it, so the
    # power iteration saw no curvature, the constant was floored at 2e-308
    # and the first step of the batch solver overflowed
    from skgd._step_size import Preconditioner, batch_lipschitz

    X = np.array([[1.0, -1.0, 0.0]])
    top = batch_lipschitz(X, np.ones(1), Preconditioner.identity(3), False, "squared_error")
    np.testing.assert_allclose(top, 2.0, rtol=1e-10)


def test_local_curvature_fits_take_a_rough_bound(monkeypatch):
    # Sparse L2-logistic: the batch steps follow the local curvature and the
    # bound only caps them, so its power iteration stops after a few passes
    # (the full estimate ran all 30 on tf-idf data) -- with the same optimum.
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    import skgd._batch as batch
    import skgd._step_size as step_size
    from skgd import GDClassifier

    rng = np.random.RandomState(0)
    X = sp.random(3000, 400, density=0.02, format="csr", random_state=rng)
    y = (X @ rng.normal(size=400) + 0.1 * rng.normal(size=3000) > 0).astype(int)
    passes = []
    bind = step_size._gradient_kernel

    def counting(X):
        kernel = bind(X)

        def counted(*args):
            passes.append(1)
            return kernel(*args)
        return counted

    monkeypatch.setattr(step_size, "_gradient_kernel", counting)
    alpha = 1e-3
    est = GDClassifier(alpha=alpha, tol=1e-8).fit(X, y)
    assert 1 <= len(passes) <= batch._ROUGH_POWER_ITERATIONS
    # LogisticRegression(C): alpha = 1 / (C n)
    lr = LogisticRegression(C=1.0 / (alpha * X.shape[0]), tol=1e-10, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(est.coef_, lr.coef_, rtol=0, atol=1e-6 * np.abs(lr.coef_).max())
    np.testing.assert_allclose(est.intercept_, lr.intercept_, atol=1e-6 * np.abs(lr.coef_).max())


# ---- one intercept centre per output (multinomial) --------------------------------------
@pytest.mark.parametrize("which", [0, 1])
def test_output_centring_is_a_change_of_variables_that_keeps_the_softmax(which):
    from scipy.special import softmax

    from skgd._step_size import OutputCentring

    X, _, sw = data()
    rng = np.random.RandomState(3)
    base = preconditioners(X, sw)[which]
    centers = base.center + rng.normal(size=(3, X.shape[1])) * X.std(axis=0)
    pc = OutputCentring(base, centers)
    W, b = rng.normal(size=(3, X.shape[1])) * 1e-2, rng.normal(size=3)
    W_t, b_t = pc.to_standardised(W, b)
    W2, b2 = pc.to_original(W_t, b_t)
    np.testing.assert_allclose(W2, W, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(b2, b, rtol=1e-9)
    # output k's intercept coordinate is b_k + W_k . C[k]
    np.testing.assert_allclose(b_t, b + np.sum(W * centers, axis=1), rtol=1e-12)
    # the chain rule: a linear function sum(A * W) + a . b
    A, a = rng.normal(size=W.shape), rng.normal(size=3)
    G_t, Gb_t = pc.gradient_to_standardised(A, a)
    D_w, D_b = rng.normal(size=W_t.shape), rng.normal(size=3)
    moved = pc.to_original(W_t + D_w, b_t + D_b)
    change = np.sum(A * (moved[0] - W)) + a @ (moved[1] - b)
    np.testing.assert_allclose(np.sum(G_t * D_w) + Gb_t @ D_b, change, rtol=1e-9)
    # the gauge projection: sum_k W_k = 0 and not one probability moves
    Wp, bp = pc.to_original(*pc.remove_softmax_gauge(W_t, b_t))
    np.testing.assert_allclose(Wp.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(softmax(X @ Wp.T + bp, axis=1), softmax(X @ W.T + b, axis=1),
                               rtol=1e-10, atol=1e-13)


def test_output_centring_gram_growth_bounds_the_whitened_gram_matrix():
    from skgd._step_size import OutputCentring

    X, _, sw = data(n=300, spread=2)
    base = WhiteningPreconditioner.from_data(X, sw, True)
    centers = base.center + np.random.RandomState(4).normal(size=(2, X.shape[1])) * X.std(axis=0)
    pc = OutputCentring(base, centers)
    top = 0.0
    for k in range(2):
        # the rows [z, 1] of output k in its standardised coordinates
        Z = np.hstack([(X - centers[k]) @ base.transform, np.ones((len(X), 1))])
        top = max(top, np.linalg.eigvalsh((Z * sw[:, None]).T @ Z / sw.sum())[-1])
    np.testing.assert_allclose(pc.gram_growth(), top, rtol=1e-8)


def test_multinomial_intercept_costs_no_extra_iterations():
    # The intercepts centred at the plain mean coupled with the features in
    # the Hessian (whose rows are weighted by p (1 - p)): the 10-class fit
    # took 38 iterations with an intercept, 18 without.  Centred per class
    # at the curvature-weighted mean (OutputCentring) it takes 18.
    from skgd import GDClassifier

    rng = np.random.RandomState(3)
    X = rng.standard_normal((10_000, 20))
    logits = X @ rng.standard_normal((20, 10)) / np.sqrt(20) * 2
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    alpha = 1e-4
    with_intercept = GDClassifier(alpha=alpha).fit(X, y)
    without = GDClassifier(alpha=alpha, fit_intercept=False).fit(X, y)
    assert with_intercept.n_iter_ <= 1.25 * without.n_iter_ + 2
