"""GDRidge, GDLasso and GDElasticNet against scikit-learn's exact solutions.

The conversions, checked numerically against scikit-learn 1.9 (see the
estimators' docstrings):

- ``Ridge(alpha)`` minimises ``sum_i s_i (y_i - p_i)^2 + alpha ||w||^2``;
  divided by ``2 S`` (``S = sum_i s_i``) this is the mean-loss form with
  ``l2 = alpha / S``: ``GDRidge(alpha)`` is ``GDRegressor(alpha=alpha / S)``.
- ``Lasso(alpha)`` minimises ``(1 / 2S) sum_i s_i (y_i - p_i)^2 + alpha ||w||_1``
  (scikit-learn rescales the weights to sum to n_samples, the same
  objective): the mean-loss form with ``l1 = alpha``.
- ``ElasticNet(alpha, l1_ratio)`` adds ``alpha (1 - l1_ratio) / 2 ||w||^2``
  to ``alpha l1_ratio ||w||_1``: ``l1 = alpha l1_ratio``,
  ``l2 = alpha (1 - l1_ratio)``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.utils.estimator_checks import check_param_validation

from skgd import GDElasticNet, GDLasso, GDRegressor, GDRidge

# Settings under which the batch solver is run to (numerical) optimality.
TIGHT = dict(solver="batch", tol=1e-10, max_iter=20000)

# The stochastic solvers stop at their noise level.  Measured on
# ``sparse_problem`` (400 rows, 12 features, 5 of them informative) with the
# penalties of STOCHASTIC_PENALTIES, ``tol=1e-6``, ``max_iter=200``, 10 seeds,
# dense and CSR: the relative error of ``(coef_, intercept_)`` against
# scikit-learn's solution is at most 3.3 % for sgd (median 2.0-2.5 %, after
# 7-13 epochs) and at most 1.2 % for minibatch (median 0.4-0.7 %, 20-45
# epochs), for Ridge, Lasso and ElasticNet alike.  The tolerance leaves a
# margin over the worst seed.
STOCHASTIC_TOL = 0.05
# Share of the exact solution's zero coefficients that the stochastic
# solvers must set exactly to zero.  Measured with the cumulative L1 penalty:
# 100 % for sgd, at least 86 % for minibatch (100 % for the Lasso), and no
# non-zero coefficient of the solution set to zero.  (A plain proximal step
# per update gave 0-30 % for sgd and ~50 % for minibatch.)
STOCHASTIC_ZERO_SHARE = 0.8

ESTIMATORS = (GDRidge, GDLasso, GDElasticNet)


def correlated_problem(n=300, d=10, K=None, seed=0):
    """Correlated features on scales from 0.1 to 100, half of them inactive."""
    rng = np.random.RandomState(seed)
    scales = np.logspace(-1, 2, d)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d))) * scales
    W = np.zeros((d, K or 1))
    W[: d // 2] = 2.0 * rng.normal(size=(d // 2, K or 1))
    Y = X @ (W / scales[:, None]) + 1.0 + 0.5 * rng.normal(size=(n, K or 1))
    return X, (Y[:, 0] if K is None else Y)


def sparse_problem(n=400, d=12, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    w = np.zeros(d)
    w[:5] = [2.0, -1.0, 0.5, 3.0, -1.5]
    return X, X @ w + 1.0 + 0.5 * rng.normal(size=n)


def weights(n, seed=3):
    return np.random.RandomState(seed).uniform(0.5, 2.0, size=n)


def assert_coef_close(coef, expected, X, rtol):
    """Coefficients equal to ``rtol`` in standardised units (w_j * std_j),
    relative to each coefficient and to the largest one."""
    std = np.asarray(X.std(axis=0)).ravel()
    scaled, scaled_ref = coef * std, expected * std
    np.testing.assert_allclose(scaled, scaled_ref, rtol=rtol,
                               atol=rtol * np.abs(scaled_ref).max())


def sklearn_model(Estimator, alpha, l1_ratio=0.3, **kw):
    """scikit-learn's estimator of the same objective, solved to tol=1e-12."""
    if Estimator is GDRidge:
        return Ridge(alpha=alpha, solver="cholesky", **kw)
    tight = dict(tol=1e-12, max_iter=1_000_000)
    if Estimator is GDLasso:
        return Lasso(alpha=alpha, **tight, **kw)
    return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, **tight, **kw)


def ours(Estimator, alpha, l1_ratio=0.3, **kw):
    if Estimator is GDElasticNet:
        kw = dict(l1_ratio=l1_ratio, **kw)
    return Estimator(alpha=alpha, **kw)


@pytest.mark.parametrize("alpha", [1e-2, 10.0, 1e4])
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_batch_equals_sklearn_ridge(alpha, weighted):
    X, y = correlated_problem()
    sw = weights(len(y)) if weighted else None
    ridge = Ridge(alpha=alpha, solver="cholesky").fit(X, y, sample_weight=sw)
    reg = GDRidge(alpha=alpha, **TIGHT).fit(X, y, sample_weight=sw)
    assert_coef_close(reg.coef_, ridge.coef_, X, rtol=1e-6)
    np.testing.assert_allclose(reg.intercept_, ridge.intercept_, rtol=1e-6)
    assert reg.n_iter_ < TIGHT["max_iter"]


# alpha from almost no penalty to most coefficients zero (alpha_max ~ 2.5 here)
@pytest.mark.parametrize("Estimator", [GDLasso, GDElasticNet])
@pytest.mark.parametrize("alpha", [1e-3, 0.1, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_l1_batch_equals_sklearn_with_same_zeros(Estimator, alpha, weighted):
    X, y = correlated_problem()
    sw = weights(len(y)) if weighted else None
    ref = sklearn_model(Estimator, alpha).fit(X, y, sample_weight=sw)
    reg = ours(Estimator, alpha, **TIGHT).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(reg.coef_ == 0, ref.coef_ == 0)
    assert_coef_close(reg.coef_, ref.coef_, X, rtol=1e-5)
    np.testing.assert_allclose(reg.intercept_, ref.intercept_, rtol=1e-5)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_batch_equals_sklearn_without_intercept(Estimator):
    X, y = correlated_problem()
    sw = weights(len(y))
    ref = sklearn_model(Estimator, 0.1, fit_intercept=False).fit(X, y, sample_weight=sw)
    reg = ours(Estimator, 0.1, fit_intercept=False, **TIGHT).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(reg.coef_ == 0, ref.coef_ == 0)
    assert_coef_close(reg.coef_, ref.coef_, X, rtol=1e-5)
    assert reg.intercept_ == 0.0


@pytest.mark.parametrize("weighted", [False, True])
def test_lasso_above_alpha_max_is_all_zero(weighted):
    # For alpha >= alpha_max = max_j |sum_i s_i (x_ij - xbar_j)(y_i - ybar)| / S
    # the Lasso solution is w = 0, b = the weighted mean of y.
    X, y = correlated_problem()
    sw = weights(len(y)) if weighted else np.ones(len(y))
    S = sw.sum()
    xbar, ybar = sw @ X / S, sw @ y / S
    alpha_max = np.abs((X - xbar).T @ (sw * (y - ybar))).max() / S
    reg = GDLasso(alpha=1.01 * alpha_max, **TIGHT).fit(X, y, sample_weight=sw)
    assert np.all(reg.coef_ == 0)
    np.testing.assert_allclose(reg.intercept_, ybar, rtol=1e-10)
    reg = GDLasso(alpha=0.9 * alpha_max, **TIGHT).fit(X, y, sample_weight=sw)
    assert np.count_nonzero(reg.coef_) >= 1


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_same_model_as_gdregressor_with_converted_alpha(Estimator):
    # The mapping stated in each docstring, to the bit: the same engine runs.
    X, y = correlated_problem()
    sw = weights(len(y))
    S = sw.sum()
    alpha = 0.5
    converted = {
        GDRidge: dict(penalty="l2", alpha=alpha / S),
        GDLasso: dict(penalty="l1", alpha=alpha),
        GDElasticNet: dict(penalty="elasticnet", alpha=alpha, l1_ratio=0.3),
    }[Estimator]
    params = dict(solver="minibatch", random_state=0, max_iter=5, tol=None)
    reg = ours(Estimator, alpha, **params).fit(X, y, sample_weight=sw)
    ref = GDRegressor(**converted, **params).fit(X, y, sample_weight=sw)
    np.testing.assert_array_equal(reg.coef_, ref.coef_)
    np.testing.assert_array_equal(reg.intercept_, ref.intercept_[0])
    assert reg.loss_curve_ == ref.loss_curve_


# Penalties of the stochastic test: the Lasso and elastic-net zeros of
# ``sparse_problem`` have a margin l1 - |gradient_j| of at least 0.04 at the
# optimum (a zero whose margin is far below the gradient noise of single rows,
# ~0.5 here, cannot be told from a small coefficient by a stochastic solver).
STOCHASTIC_PENALTIES = {
    GDRidge: dict(alpha=10.0),
    GDLasso: dict(alpha=0.1),
    GDElasticNet: dict(alpha=0.15, l1_ratio=0.7),
}


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", ["sgd", "minibatch"])
@pytest.mark.parametrize("sparse", [False, True])
def test_stochastic_solvers_near_sklearn_with_exact_zeros(Estimator, solver, sparse):
    X, y = sparse_problem()
    penalty = STOCHASTIC_PENALTIES[Estimator]
    ref = sklearn_model(Estimator, **penalty).fit(X, y)
    reg = ours(Estimator, **penalty, solver=solver, tol=1e-6, max_iter=200, random_state=0)
    reg.fit(sp.csr_matrix(X) if sparse else X, y)
    ours_, exact = np.r_[reg.coef_, reg.intercept_], np.r_[ref.coef_, ref.intercept_]
    assert np.linalg.norm(ours_ - exact) < STOCHASTIC_TOL * np.linalg.norm(exact)
    zeros = ref.coef_ == 0
    if Estimator is not GDRidge:
        assert zeros.sum() >= 3  # the problem has true zeros to find
        assert np.mean(reg.coef_[zeros] == 0) >= STOCHASTIC_ZERO_SHARE
        assert np.all(reg.coef_[~zeros] != 0)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_dense_equals_csr_at_the_optimum(Estimator, fit_intercept):
    X, y = correlated_problem()
    X[np.abs(X) < 0.3 * np.abs(X).std(axis=0)] = 0.0
    params = dict(fit_intercept=fit_intercept, **TIGHT)
    dense = ours(Estimator, 0.1, **params).fit(X, y)
    sparse = ours(Estimator, 0.1, **params).fit(sp.csr_matrix(X), y)
    np.testing.assert_array_equal(dense.coef_ == 0, sparse.coef_ == 0)
    assert_coef_close(sparse.coef_, dense.coef_, X, rtol=1e-6)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_csr_batch_solver_is_scale_invariant(Estimator):
    # The batch solver standardises CSR input too (implicitly: it never forms
    # the centred matrix), so features on scales from 0.1 to 100 cost it no
    # more iterations than the same features rescaled to unit spread.
    X, y = correlated_problem()
    X[np.abs(X) < 0.3 * np.abs(X).std(axis=0)] = 0.0
    scale = X.std(axis=0)
    # No penalty (alpha=0; a penalty of w is not one of w * scale): the same
    # least squares in two units.
    raw = ours(Estimator, 0.0, **TIGHT).fit(sp.csr_matrix(X), y)
    unit = ours(Estimator, 0.0, **TIGHT).fit(sp.csr_matrix(X / scale), y)
    assert_coef_close(raw.coef_ * scale, unit.coef_, X / scale, rtol=1e-6)
    assert raw.n_iter_ <= 1.2 * unit.n_iter_ + 5


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", ["batch", "sgd", "minibatch"])
def test_dense_equals_csr_same_iterates(Estimator, solver):
    # With an explicit schedule both formats take the very same steps: the
    # CSR kernel's lazy penalty must reproduce the dense kernel's eager one.
    X, y = sparse_problem(n=200)
    X[np.abs(X) < 0.5] = 0.0
    params = dict(solver=solver, learning_rate="constant", eta0=0.01, max_iter=5, tol=None,
                  random_state=0)
    dense = ours(Estimator, 0.05, **params).fit(X, y)
    sparse = ours(Estimator, 0.05, **params).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(dense.coef_, sparse.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dense.intercept_, sparse.intercept_, rtol=1e-9)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_float32_kept(Estimator, solver):
    X, y = sparse_problem()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    params = dict(solver=solver, random_state=0, tol=1e-6, max_iter=200)
    r32 = ours(Estimator, 0.1, **params).fit(X32, y32)
    r64 = ours(Estimator, 0.1, **params).fit(X, y)
    assert r32.coef_.dtype == np.float32
    assert np.ndim(r32.intercept_) == 0 and r32.intercept_.dtype == np.float32
    assert r32.predict(X32).dtype == np.float32
    np.testing.assert_allclose(r32.coef_, r64.coef_, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_multi_output_equals_column_fits(Estimator):
    X, Y = correlated_problem(K=3)
    multi = ours(Estimator, 0.1, **TIGHT).fit(X, Y)
    ref = sklearn_model(Estimator, 0.1).fit(X, Y)
    assert multi.coef_.shape == ref.coef_.shape == (3, X.shape[1])
    assert multi.intercept_.shape == (3,)
    for k in range(3):
        single = ours(Estimator, 0.1, **TIGHT).fit(X, Y[:, k])
        assert_coef_close(multi.coef_[k], single.coef_, X, rtol=1e-6)
        np.testing.assert_allclose(multi.intercept_[k], single.intercept_, rtol=1e-6)
    assert_coef_close(multi.coef_.ravel(), ref.coef_.ravel(), np.tile(X, 3), rtol=1e-5)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_intercept_conventions(Estimator):
    X, y = sparse_problem(n=100)
    reg = ours(Estimator, 0.1).fit(X, y)
    assert reg.coef_.shape == (X.shape[1],) and np.ndim(reg.intercept_) == 0
    reg = ours(Estimator, 0.1, fit_intercept=False).fit(X, y)
    assert reg.intercept_ == 0.0
    reg = ours(Estimator, 0.1).fit(X, np.c_[y, -y])
    assert reg.coef_.shape == (2, X.shape[1]) and reg.intercept_.shape == (2,)
    assert reg.predict(X).shape == (len(y), 2)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_parameters_and_validation(Estimator):
    est = Estimator()
    params = est.get_params()
    assert set(params) == set(Estimator._parameter_constraints)
    assert params["alpha"] == 1.0
    assert not {"loss", "penalty", "epsilon"} & set(params)
    assert ("l1_ratio" in params) == (Estimator is GDElasticNet)
    check_param_validation(Estimator.__name__, est)
