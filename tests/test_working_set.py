"""The L1 working-set iterations (skgd._working_set) reach the exact model.

Every fit here has at least ``WORKING_SET_MIN_FEATURES`` features and
``n >= 2 d``, so that GDLasso / GDElasticNet take the working-set path; the
optimum comes from scikit-learn's coordinate descent at ``tol=1e-12`` (same
objective: ``1/(2n) ||y - Xw - b||^2 + alpha rho ||w||_1 + alpha (1 - rho)/2
||w||^2`` in both, so ``alpha`` and ``l1_ratio`` carry over unchanged).
"""

import numpy as np
import pytest
from reference import objective as mean_objective
from sklearn.linear_model import ElasticNet

import skgd._working_set as ws
from skgd import GDElasticNet, GDLasso
from skgd._solver_common import GAP_PER_TOL

EXACT = dict(tol=1e-12, max_iter=1_000_000)


def sparse_model_data(n=2000, d=150, support=8, seed=0, offset=0.0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d))
    X[:, 1:] = 0.6 * X[:, :-1] + 0.8 * X[:, 1:]  # neighbouring columns correlated
    X *= np.logspace(-0.5, 0.5, d)
    X += offset
    w = np.zeros(d)
    chosen = rng.choice(d, support, replace=False)
    w[chosen] = rng.choice([-1, 1], support) * 2 / np.logspace(-0.5, 0.5, d)[chosen]
    y = X @ w + 1.0 + 0.3 * rng.normal(size=n)
    return X, y


def fit_both(X, y, alpha, l1_ratio, sw=None, fit_intercept=True, **kw):
    Estimator = GDLasso if l1_ratio == 1.0 else GDElasticNet
    extra = {} if l1_ratio == 1.0 else dict(l1_ratio=l1_ratio)
    est = Estimator(alpha=alpha, fit_intercept=fit_intercept, **extra, **kw)
    est.fit(X, y, sample_weight=sw)
    ref = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, **EXACT)
    ref.fit(X.astype(np.float64), y, sample_weight=sw)
    return est, ref


def gap(est, ref, X, y, sw, alpha, l1_ratio):
    sw = np.ones(len(y)) if sw is None else sw
    # sklearn scales sample weights to sum n: the same weighted mean objective
    l1, l2 = alpha * l1_ratio, alpha * (1 - l1_ratio)

    def value(model):
        return mean_objective(X.astype(np.float64), y[:, None], np.atleast_2d(model.coef_),
                              np.atleast_1d(model.intercept_), sw, "squared_error", l1, l2)
    optimum = value(ref)
    return (value(est) - optimum) / optimum


@pytest.fixture
def formed(monkeypatch):
    """The number of Gram columns each fit formed."""
    counts = []
    add = ws.GramColumns.add

    def counting(self, features):
        add(self, features)
        counts.append(self.features.size)
    monkeypatch.setattr(ws.GramColumns, "add", counting)
    return counts


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_default_fit_is_the_exact_model_from_few_gram_columns(l1_ratio, fit_intercept, formed):
    X, y = sparse_model_data()
    alpha = 0.1  # 8 non-zeros of 150 (Lasso), 35 (elastic net)
    est, ref = fit_both(X, y, alpha, l1_ratio, fit_intercept=fit_intercept)
    assert est.n_iter_ < est.max_iter
    # certified at the default tol=1e-3: 1e-9
    assert gap(est, ref, X, y, None, alpha, l1_ratio) <= 1e-3 * GAP_PER_TOL
    np.testing.assert_array_equal(est.coef_ == 0, np.abs(ref.coef_) < 1e-10)
    # the working set was used, and it stayed far below d columns
    assert formed and formed[-1] < X.shape[1] // 2


def test_tight_tolerance_reaches_sklearn_to_1e12_with_sample_weights():
    X, y = sparse_model_data(seed=1)
    sw = np.random.RandomState(2).uniform(0.2, 3.0, size=len(y))
    est, ref = fit_both(X, y, 0.02, 0.7, sw=sw, tol=1e-12 / GAP_PER_TOL)
    assert abs(gap(est, ref, X, y, sw, 0.02, 0.7)) <= 1e-12
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-7 * np.abs(ref.coef_).max())
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-8)


def test_multi_output_and_float32():
    X, y = sparse_model_data(seed=3)
    Y = np.column_stack([y, -2 * y + X[:, 5]])
    est = GDLasso(alpha=0.05).fit(X, Y)
    for k in range(2):
        ref = ElasticNet(alpha=0.05, l1_ratio=1.0, **EXACT).fit(X, Y[:, k])
        one = GDLasso(alpha=0.05).fit(X, Y[:, k])
        np.testing.assert_allclose(est.coef_[k], ref.coef_, atol=1e-5 * np.abs(ref.coef_).max())
        np.testing.assert_allclose(est.coef_[k], one.coef_, atol=1e-5 * np.abs(ref.coef_).max())
    low = GDLasso(alpha=0.05).fit(X.astype(np.float32), y)
    ref = ElasticNet(alpha=0.05, l1_ratio=1.0, **EXACT).fit(X, y)
    assert low.coef_.dtype == np.float32
    assert gap(low, ref, X, y, None, 0.05, 1.0) <= 1e-6


def test_columns_with_a_mean_far_above_their_spread(formed):
    # centred on both sides in double: an offset of 1e5 on spreads of
    # 0.1..10 loses no digits of the Gram columns
    X, y = sparse_model_data(seed=4, offset=1e5)
    est, ref = fit_both(X, y, 0.03, 1.0)
    assert formed
    assert gap(est, ref, X, y, None, 0.03, 1.0) <= 1e-9


def test_warm_start_from_the_optimum_stops_at_once():
    X, y = sparse_model_data(seed=5)
    est = GDLasso(alpha=0.03, warm_start=True).fit(X, y)
    first = est.coef_.copy()
    est.fit(X, y)
    assert est.n_iter_ <= 2
    np.testing.assert_allclose(est.coef_, first, atol=1e-8 * np.abs(first).max())


def test_same_model_as_the_full_gram_iterations(monkeypatch):
    X, y = sparse_model_data(seed=6)
    working = GDElasticNet(alpha=0.02, l1_ratio=0.5, tol=1e-6).fit(X, y)
    monkeypatch.setattr(ws, "WORKING_SET_MIN_FEATURES", 10**9)
    full = GDElasticNet(alpha=0.02, l1_ratio=0.5, tol=1e-6).fit(X, y)
    scale = np.abs(full.coef_).max()
    np.testing.assert_allclose(working.coef_, full.coef_, atol=1e-6 * scale)
    np.testing.assert_allclose(working.intercept_, full.intercept_, rtol=1e-6)
