"""The batch solver's certified stop: duality gaps and exactness.

Conversions to scikit-learn (see tests/test_linear_models.py and the
estimators' docstrings): ``GDRidge(alpha)`` = ``Ridge(alpha)``,
``GDLasso(alpha)`` = ``Lasso(alpha)``, ``GDElasticNet(alpha, l1_ratio)`` =
``ElasticNet(alpha, l1_ratio)``; ``GDClassifier(alpha)`` (mean log-loss +
``alpha / 2 ||W||^2``) = ``LogisticRegression(C=1 / (alpha * S))`` with
``S`` the sum of the sample weights.

"How far from the optimum" is the relative objective gap ``(F - F*) / F*``
in the skgd estimator's own objective (``objective`` of tests/reference.py),
with ``F*`` the objective of scikit-learn's solution at ``tol=1e-12``.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from reference import objective as mean_objective
from sklearn.linear_model import ElasticNet, Lasso, LogisticRegression, Ridge

import skgd._gram
from skgd import GDClassifier, GDElasticNet, GDLasso, GDRidge
from skgd._gap import DualityGap
from skgd._solver_common import GAP_PER_TOL, Problem

REGRESSORS = (GDRidge, GDLasso, GDElasticNet)
# sklearn's exact solutions: the gap of skgd is measured against them
EXACT = dict(tol=1e-12, max_iter=1_000_000)


def regression_data(n=400, d=12, seed=0, sparse=False, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)))
    X *= np.logspace(-1, 1, d)
    w = np.zeros(d)
    w[: d // 2] = rng.normal(size=d // 2) * 2 / np.logspace(-1, 1, d)[: d // 2]
    y = X @ w + 1.0 + 0.5 * rng.normal(size=n)
    if sparse:
        X[np.abs(X) < 0.5 * np.abs(X).std(axis=0)] = 0.0
        X = sp.csr_matrix(X)
    return X.astype(dtype), y


def classification_data(n=500, d=8, n_classes=2, seed=0, sparse=False, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) * np.logspace(-1, 1, d) + 0.5
    scores = (X / np.logspace(-1, 1, d)) @ rng.normal(size=(d, n_classes))
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1)
    if sparse:
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    return X.astype(dtype), y


def sklearn_regressor(Estimator, alpha, **kw):
    if Estimator is GDRidge:
        return Ridge(alpha=alpha, solver="cholesky", **kw)
    if Estimator is GDLasso:
        return Lasso(alpha=alpha, **EXACT, **kw)
    return ElasticNet(alpha=alpha, l1_ratio=0.5, **EXACT, **kw)


def ours(Estimator, alpha, **kw):
    if Estimator is GDElasticNet:
        kw["l1_ratio"] = 0.5
    return Estimator(alpha=alpha, solver="batch", **kw)


def regression_objective(est, model, X, y, sw):
    """The mean-loss objective of skgd's ``est`` (its own up to a constant
    factor) at the coefficients of ``model``."""
    l1, l2 = est._penalty(sw.sum())
    coef = np.atleast_2d(model.coef_)
    return mean_objective(X, y[:, None], coef, np.atleast_1d(model.intercept_), sw,
                          "squared_error", l1, l2)


def classification_objective(est, X, y, sw, alpha):
    classes = np.unique(y)
    coef, intercept = np.atleast_2d(est.coef_), np.atleast_1d(est.intercept_)
    if len(classes) == 2:
        Y = np.where(y == classes[1], 1.0, -1.0)[:, None]
        loss = "log_loss"
    else:
        Y = (y[:, None] == classes).astype(float)
        loss = "multinomial"
    return mean_objective(X, Y, coef, intercept, sw, loss, 0.0, alpha)


def relative_gap(value, optimum):
    return (value - optimum) / abs(optimum)


# ---- the certificate itself ---------------------------------------------------------

def _problem(X, Y, sw, loss, l1, l2, fit_intercept):
    return Problem(X=X, Y=Y, sample_weight=sw, loss=loss, epsilon=0.0, l1=l1, l2=l2,
                   fit_intercept=fit_intercept)


CERTIFIED_CASES = [
    ("squared_error", 0.0, 0.05), ("squared_error", 0.05, 0.0), ("squared_error", 0.03, 0.02),
    ("log_loss", 0.0, 0.01), ("log_loss", 0.01, 0.0), ("multinomial", 0.0, 0.01),
    ("multinomial", 0.005, 0.0),
    # the margin losses, one-vs-rest with two outputs
    ("squared_hinge", 0.0, 0.01), ("squared_hinge", 0.01, 0.0),
    ("modified_huber", 0.0, 0.01), ("modified_huber", 0.005, 0.003),
]


@pytest.mark.parametrize("loss, l1, l2", CERTIFIED_CASES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_dual_value_is_a_lower_bound_that_closes_at_the_optimum(loss, l1, l2, fit_intercept):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 6)) + 0.3
    sw = rng.uniform(0.5, 2.0, 200)
    if loss == "squared_error":
        Y = (X @ rng.normal(size=6) + 1 + rng.normal(size=200))[:, None]
    elif loss == "log_loss":
        Y = np.where(X @ rng.normal(size=6) + rng.logistic(size=200) > 0, 1.0, -1.0)[:, None]
    elif loss == "multinomial":
        Y = np.eye(3)[rng.randint(0, 3, 200)]
    else:
        # noisy labels: rows on every piece of the loss (modified_huber's
        # linear one too)
        Y = np.where(X @ rng.normal(size=(6, 2)) + 2 * rng.logistic(size=(200, 2)) > 0,
                     1.0, -1.0)
    problem = _problem(X, Y, sw, loss, l1, l2, fit_intercept)
    certificate = DualityGap.for_problem(problem)
    K = Y.shape[1]
    # the optimum, by the batch solver at its tightest
    from skgd._batch import solve_batch
    from skgd._solver_common import SolverOptions, SolverState
    state = SolverState(W=np.zeros((K, 6)), b=np.zeros(K))
    solve_batch(problem, state, SolverOptions(tol=1e-8, max_iter=100_000))
    # the rows' loss derivatives: the logistic intercept correction is then
    # summed exactly instead of bounded (both must be lower bounds)
    rows = np.zeros_like(Y)
    G, Gb, optimum = problem.gradient_pass(state.W, state.b, per_sample=rows)
    data = optimum - (l1 * np.abs(state.W).sum() + 0.5 * l2 * np.sum(state.W**2))
    closing = certificate.dual(state.W, state.b, G, Gb, data, rows)
    assert closing >= certificate.dual(state.W, state.b, G, Gb, data) - 1e-15
    assert closing <= optimum
    assert optimum - closing <= 1e-9 * abs(optimum)
    # anywhere else: D(u(W, b)) <= J* <= P(W, b)
    for seed, (scale_w, scale_b) in enumerate([(0.5, 0.5), (0.05, 0.05), (0.0, 0.3),
                                                (0.0, -0.3), (0.01, 1.0), (0.01, -1.0)]):
        r = np.random.RandomState(seed)
        W = state.W + r.normal(scale=scale_w, size=state.W.shape)
        b = (state.b + scale_b * r.uniform(0.5, 1, size=K)) if fit_intercept else np.zeros(K)
        G, Gb, value = problem.gradient_pass(W, b, per_sample=rows)
        data = value - (l1 * np.abs(W).sum() + 0.5 * l2 * np.sum(W**2))
        assert certificate.dual(W, b, G, Gb, data) <= optimum + 1e-12 * abs(optimum)
        assert certificate.dual(W, b, G, Gb, data, rows) <= optimum + 1e-12 * abs(optimum)


def test_no_certificate_without_penalty_or_for_other_losses():
    X, Y, sw = np.ones((3, 2)), np.ones((3, 1)), np.ones(3)
    assert DualityGap.for_problem(_problem(X, Y, sw, "squared_error", 0.0, 0.0, True)) is None
    assert DualityGap.for_problem(_problem(X, Y, sw, "huber", 0.0, 1.0, True)) is None


# ---- exactness of the fits -------------------------------------------------------------

@pytest.mark.parametrize("Estimator", REGRESSORS)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_regressors_reach_sklearn_to_a_relative_gap_of_1e8(Estimator, sparse, fit_intercept,
                                                             dtype):
    X, y = regression_data(sparse=sparse, dtype=dtype)
    sw = np.random.RandomState(3).uniform(0.5, 2.0, size=len(y))
    alpha = {GDRidge: 10.0, GDLasso: 0.05, GDElasticNet: 0.05}[Estimator]
    # tol * GAP_PER_TOL = 1e-8: the certified relative gap
    est = ours(Estimator, alpha, tol=1e-8 / GAP_PER_TOL, fit_intercept=fit_intercept)
    est.fit(X, y, sample_weight=sw)
    assert est.n_iter_ < est.max_iter
    X64 = (X.toarray() if sparse else X).astype(np.float64)  # the reference fits dense X
    ref = sklearn_regressor(Estimator, alpha, fit_intercept=fit_intercept).fit(X64, y,
                                                                               sample_weight=sw)
    # the model is stored in X's dtype: score it as stored, against float64 optimum
    gap = relative_gap(regression_objective(est, est, X64, y, sw),
                       regression_objective(est, ref, X64, y, sw))
    assert gap <= (1e-8 if dtype == np.float64 else 1e-6)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_classifier_reaches_sklearn_to_a_relative_gap_of_1e8(n_classes, sparse, fit_intercept):
    X, y = classification_data(n_classes=n_classes, sparse=sparse)
    sw = np.random.RandomState(3).uniform(0.5, 2.0, size=len(y))
    alpha = 1e-3
    est = GDClassifier(alpha=alpha, solver="batch", tol=1e-8 / GAP_PER_TOL,
                       fit_intercept=fit_intercept, max_iter=100_000)
    est.fit(X, y, sample_weight=sw)
    assert est.n_iter_ < est.max_iter
    # C = 1 / (alpha S): C sum_i s_i loss_i + ||w||^2 / 2 is S C times ours
    ref = LogisticRegression(C=1 / (alpha * sw.sum()), fit_intercept=fit_intercept,
                             solver="newton-cholesky", **EXACT)
    ref.fit(X, y, sample_weight=sw)
    gap = relative_gap(classification_objective(est, X, y, sw, alpha),
                       classification_objective(ref, X, y, sw, alpha))
    assert gap <= 1e-8


@pytest.mark.parametrize("Estimator", REGRESSORS)
def test_default_fit_is_certified_to_the_default_gap(Estimator):
    # default tol=1e-3 certifies a relative gap of 1e-9 -- better than what
    # Lasso() and LogisticRegression() reach at their defaults (1e-10 to
    # 1e-9 on benchmarks/time_to_solution.py)
    X, y = regression_data(n=2000, d=30, seed=1)
    alpha = {GDRidge: 10.0, GDLasso: 0.02, GDElasticNet: 0.02}[Estimator]
    est = ours(Estimator, alpha).fit(X, y)
    sw = np.ones(len(y))
    ref = sklearn_regressor(Estimator, alpha).fit(X, y)
    gap = relative_gap(regression_objective(est, est, X, y, sw),
                       regression_objective(est, ref, X, y, sw))
    assert gap <= 1e-3 * GAP_PER_TOL


@pytest.mark.parametrize("solver", ["batch", "saga"])
@pytest.mark.parametrize("tol", [1e-1, 1e-3])
def test_tol_is_one_certified_gap_for_every_certified_solver(solver, tol):
    # batch, saga and dual_cd (tests/test_dual_cd.py) all stop at a relative
    # gap of tol * 1e-6; saga stopped at tol ** 2 before (1e-2 at tol=0.1,
    # where this fit ended at a true gap of 1.1e-4)
    X, y = regression_data(n=2000, d=30, seed=1)
    est = GDRidge(alpha=10.0, solver=solver, tol=tol, random_state=0).fit(X, y)
    ref = sklearn_regressor(GDRidge, 10.0).fit(X, y)
    sw = np.ones(len(y))
    gap = relative_gap(regression_objective(est, est, X, y, sw),
                       regression_objective(est, ref, X, y, sw))
    assert gap <= tol * GAP_PER_TOL


@pytest.mark.parametrize("Estimator", [*REGRESSORS, GDClassifier])
def test_dense_and_csr_default_fits_agree(Estimator):
    if Estimator is GDClassifier:
        X, y = classification_data(n=600, n_classes=3)
        X[np.abs(X) < 0.3] = 0.0
        est = lambda: GDClassifier(alpha=1e-3, solver="batch")  # noqa: E731
    else:
        X, y = regression_data(n=600)
        X[np.abs(X) < 0.3 * np.abs(X).std(axis=0)] = 0.0
        est = lambda: ours(Estimator, 0.05)  # noqa: E731
    dense, sparse = est().fit(X, y), est().fit(sp.csr_matrix(X), y)
    scale = np.abs(dense.coef_).max()
    if Estimator is GDClassifier:
        # Both are certified within 1e-9 of the optimum's objective, which
        # bounds the distance of the coefficients only through the
        # curvature: the two 3-class fits are each 7e-7 (coefficients,
        # relative to the largest) from a tol=1e-9 fit, in different
        # directions (dense and CSR take differently preconditioned paths),
        # 1.0e-6 apart; their intercepts 1.6e-6 apart.
        sw = np.ones(len(y))
        values = [classification_objective(e, X, y, sw, 1e-3) for e in (dense, sparse)]
        assert abs(values[0] - values[1]) <= 1e-9 * values[0]
        np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=0, atol=2e-6 * scale)
        np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=0, atol=3e-6)
        return
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(sparse.intercept_, dense.intercept_, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("Estimator", REGRESSORS)
def test_gram_iterations_and_passes_over_x_reach_the_same_model(Estimator, monkeypatch):
    X, y = regression_data(n=500, d=10)
    gram = ours(Estimator, 0.05, tol=1e-4).fit(X, y)
    monkeypatch.setattr(skgd._gram, "GRAM_MAX_FEATURES", 0)
    passes = ours(Estimator, 0.05, tol=1e-4).fit(X, y)
    np.testing.assert_allclose(gram.coef_, passes.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gram.intercept_, passes.intercept_, rtol=1e-7)


@pytest.mark.parametrize("shift", [0.7, -0.7])
@pytest.mark.parametrize("loss", ["log_loss", "multinomial"])
def test_intercept_feasibility_builds_the_dual_point_it_claims(loss, shift):
    # The mixture of the class probabilities that makes sum_i w_i u_i = 0,
    # written out row by row: its gradient must be the one the certificate
    # uses, and the certificate's conjugate sum an upper bound of its own.
    rng = np.random.RandomState(1)
    n, d = 300, 5
    X = rng.normal(size=(n, d)) + 0.2
    sw = rng.uniform(0.5, 2.0, n)
    w = sw / sw.sum()
    if loss == "log_loss":
        Y = np.where(rng.uniform(size=n) < 0.4, 1.0, -1.0)[:, None]
        K = 1
    else:
        Y = np.eye(3)[rng.randint(0, 3, n)]
        K = 3
    problem = _problem(X, Y, sw, loss, 0.0, 0.1, True)
    certificate = DualityGap.for_problem(problem)
    W = rng.normal(scale=0.3, size=(K, d))
    b = np.full(K, shift) * (np.arange(K) + 1)  # far from the best intercept
    G, Gb, value = problem.gradient_pass(W, b)
    data = value - 0.05 * np.sum(W**2)
    conj = float(np.sum(G * W) + Gb @ b) - data
    P = X @ W.T + b
    if loss == "log_loss":
        conj_bound, G_fixed, _ = certificate._binary_intercept(conj, G, Gb, W, b)
        y = Y[:, 0]
        p = 1 / (1 + np.exp(y * P[:, 0]))  # u = -y p
        excess = Gb[0]
        plus, minus = w[y > 0].sum(), w[y < 0].sum()
        t = excess / (excess + plus) if excess > 0 else -excess / (-excess + minus)
        pi = np.where(y > 0, 1.0, 0.0) if excess > 0 else np.where(y < 0, 1.0, 0.0)
        p_mix = (1 - t) * p + t * pi
        u = (-y * p_mix)[:, None]
        conj_exact = w @ (p_mix * np.log(p_mix) + (1 - p_mix) * np.log1p(-p_mix + 1e-300))
    else:
        conj_bound, G_fixed, _ = certificate._multinomial_intercept(conj, G, Gb, W, b)
        q = np.exp(P - P.max(1, keepdims=True))
        q /= q.sum(1, keepdims=True)
        c, Q = w @ Y, w @ q
        t = np.max(np.where(Q > c, 1 - c / Q, 0.0))
        q_mix = (1 - t) * q + t * (c - (1 - t) * Q) / t
        u = q_mix - Y
        conj_exact = w @ np.sum(q_mix * np.log(q_mix), axis=1)
    assert 0 < t < 1
    np.testing.assert_allclose(w @ u, 0.0, atol=1e-12)
    np.testing.assert_allclose(G_fixed, (u * w[:, None]).T @ X, rtol=1e-10, atol=1e-12)
    assert conj_bound >= conj_exact - 1e-12


@pytest.mark.parametrize("shift", [0.7, -0.7])
@pytest.mark.parametrize("loss", ["squared_hinge", "modified_huber"])
def test_margin_intercept_feasibility_builds_the_dual_point_it_claims(loss, shift):
    # Row by row: u_i = -y_i a_i with the larger class's a scaled so that
    # sum_i w_i u_i = 0 per output; the certificate's gradient must be that
    # point's, and its conjugate sum sum_i w_i (a_i^2 / 4 - a_i) exactly.
    rng = np.random.RandomState(2)
    n, d, K = 300, 5, 2
    X = rng.normal(size=(n, d)) + 0.2
    sw = rng.uniform(0.5, 2.0, n)
    w = sw / sw.sum()
    Y = np.where(rng.uniform(size=(n, K)) < 0.4, 1.0, -1.0)
    problem = _problem(X, Y, sw, loss, 0.0, 0.1, True)
    certificate = DualityGap.for_problem(problem)
    W = rng.normal(scale=0.5, size=(K, d))
    b = np.array([shift, -2 * shift])  # far from the best intercepts
    rows = np.zeros((n, K))
    G, Gb, _ = problem.gradient_pass(W, b, per_sample=rows)
    conj, G_fixed = certificate._margin_intercept(W, b, G, Gb, rows)
    m = Y * (X @ W.T + b)
    a = 2 * np.maximum(1 - m, 0.0)
    if loss == "modified_huber":
        a = np.minimum(a, 4.0)
    balanced = a.copy()
    for k in range(K):
        plus, minus = w @ (a[:, k] * (Y[:, k] > 0)), w @ (a[:, k] * (Y[:, k] < 0))
        larger = Y[:, k] > 0 if plus > minus else Y[:, k] < 0
        balanced[larger, k] *= min(plus, minus) / max(plus, minus)
    u = -Y * balanced
    assert np.all(np.abs(w @ (-Y * a)) > 1e-3)  # the correction is needed
    np.testing.assert_allclose(w @ u, 0.0, atol=1e-12)
    np.testing.assert_allclose(G_fixed, (u * w[:, None]).T @ X, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(conj, np.sum(w @ (balanced**2 / 4 - balanced)), rtol=1e-12)


@pytest.mark.parametrize("loss", ["log_loss", "multinomial"])
def test_exact_intercept_correction_lies_between_its_tangent_and_the_bound(loss):
    # phi(t) = sum_i w_i f*(mixture at t) is convex: its tangent at 0 (the
    # gate of the exact sum, from the pass's sums only) lies below the exact
    # sum, which lies below the convexity bound (1 - t) phi(0) + t f*(pi)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5)) + 0.3
    sw = rng.uniform(0.5, 2.0, 300)
    if loss == "log_loss":
        Y = np.where(rng.uniform(size=300) < 0.4, 1.0, -1.0)[:, None]
    else:
        Y = np.eye(3)[rng.randint(0, 3, 300)]
    problem = _problem(X, Y, sw, loss, 0.0, 0.01, True)
    certificate = DualityGap.for_problem(problem)
    correction = (certificate._binary_intercept if loss == "log_loss"
                  else certificate._multinomial_intercept)
    for _ in range(5):
        W, b = 0.3 * rng.normal(size=(Y.shape[1], 5)), rng.normal(size=Y.shape[1])
        rows = np.zeros_like(Y)
        G, Gb, value = problem.gradient_pass(W, b, per_sample=rows)
        conj = float(np.sum(G * W) + Gb @ b) - (value - 0.005 * np.sum(W * W))
        bounded, _, (tangent, exact_sum) = correction(conj, G, Gb, W, b, rows)
        exact = exact_sum()
        assert tangent <= exact + 1e-12
        assert exact <= bounded + 1e-12
        assert bounded - exact > 1e-3  # the bound is loose here: the sum matters


@pytest.mark.parametrize("loss, fit_intercept, layout", [
    (loss, fit_intercept, layout) for loss in ("log_loss", "multinomial")
    for fit_intercept in (True, False) for layout in ("dense", "csr")])
def test_constant_model_from_class_sums_equals_a_pass(loss, fit_intercept, layout):
    # At W = 0 every row's margin is b: the certificate's class sums give
    # the gradient, the data term and each row's derivative without a pass
    rng = np.random.RandomState(3)
    n, d = 400, 6
    X = np.where(rng.uniform(size=(n, d)) < 0.4, 0.0, rng.normal(0.5, 1.0, (n, d)))
    Y = (np.where(rng.uniform(size=(n, 1)) < 0.3, 1.0, -1.0) if loss == "log_loss"
         else np.eye(4)[rng.randint(0, 4, n)])
    sw = rng.uniform(0.2, 3.0, n)
    problem = _problem(sp.csr_matrix(X) if layout == "csr" else X, Y, sw, loss, 0.0, 0.1,
                       fit_intercept)
    certificate = DualityGap.for_problem(problem)
    K = Y.shape[1]
    b = rng.normal(size=K) if fit_intercept else np.zeros(K)
    rows, expected_rows = np.full_like(Y, np.nan), np.zeros_like(Y)
    G, Gb, data = certificate.constant_model(b, rows)
    G_pass, Gb_pass, value = problem.gradient_pass(np.zeros((K, d)), b, per_sample=expected_rows)
    np.testing.assert_allclose(G, G_pass, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(Gb, Gb_pass, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(data, value, rtol=1e-13)  # the penalty is 0 at W = 0
    np.testing.assert_allclose(rows, expected_rows, rtol=1e-13, atol=1e-15)


def test_mixture_sums_over_row_blocks_match_numpy():
    # the exact intercept corrections are summed over fixed row blocks in
    # parallel (skgd/_fast/_duality.pyx): every row counted once, in double
    from skgd._fast._duality import binary_mixture_entropy, multinomial_mixture_entropy

    rng = np.random.RandomState(0)
    n, K, t = 50_003, 4, 0.3  # many blocks, the last one uneven
    w = rng.uniform(0.1, 1.0, n)
    w /= w.sum()
    p = rng.uniform(0.01, 0.99, n)
    raised = rng.uniform(size=n) < 0.5
    mixed = (1 - t) * p + t * raised
    expected = w @ (mixed * np.log(mixed) + (1 - mixed) * np.log(1 - mixed))
    U = (p * np.where(rng.uniform(size=n) < 0.5, 1.0, -1.0))[:, None]  # |u| = p
    got = binary_mixture_entropy(U, raised.view(np.uint8), w, t)
    np.testing.assert_allclose(got, expected, rtol=1e-12)

    Y = np.eye(K)[rng.randint(0, K, n)]
    q = rng.dirichlet(np.ones(K), n)
    pi = rng.dirichlet(np.ones(K))
    mixed = (1 - t) * q + t * pi
    expected = w @ np.sum(mixed * np.log(mixed), axis=1)
    got = multinomial_mixture_entropy(np.ascontiguousarray(q - Y), Y, w, t, pi)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
