"""The dual coordinate ascent (solver='dual_cd') for the non-smooth losses.

The objective of GDClassifier(loss='hinge') / GDRegressor(loss=
'epsilon_insensitive') with penalty='l2' and unit weights is

    (1 / n) sum_i L_i + alpha / 2 ||w||^2  =  alpha * [1/2 ||w||^2 + C sum_i L_i],
    C = 1 / (alpha n),

so LinearSVC(loss='hinge') / LinearSVR(loss='epsilon_insensitive') with
fit_intercept=False and C = 1 / (alpha n) have the same minimiser; with
sample weights s_i, C = 1 / (alpha sum_i s_i) and LinearSVC's sample_weight
s_i.  Every model is scored with the numpy objective of tests/reference.py.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from reference import objective
from scipy.optimize import minimize
from skgd._fast._dual_cd import dual_cd_sweep_csr, dual_cd_sweep_dense
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.svm import LinearSVC, LinearSVR

import skgd._dual_cd as dual_cd_module
import skgd._smoothed_l1 as smoothed_l1
import skgd._smoothed_newton as smoothed_newton
from skgd import GDClassifier, GDRegressor
from skgd._dual_cd import gap_target
from skgd._solver_common import CheckSchedule

# scikit-learn's SGD test data (sklearn/linear_model/tests/test_sgd.py)
SGD_X = np.array([[-2, -1], [-1, -1], [-1, -2], [1, 1], [1, 2], [2, 1]], dtype=float)
SGD_Y = np.array([1, 1, 1, 2, 2, 2])


def _signs(y, label):
    return np.where(y == label, 1.0, -1.0)


def _gap(value, best):
    return (value - best) / best


def _hinge_objective(X, y, est, alpha, sw=None, l1_ratio=0.0):
    """The objective of every one-vs-rest output, summed (reference.py)."""
    classes = np.unique(y)
    W = np.atleast_2d(est.coef_)
    b = np.atleast_1d(est.intercept_) * np.ones(W.shape[0])
    Y = _signs(y, classes[1])[:, None] if len(classes) == 2 else np.column_stack(
        [_signs(y, c) for c in classes])
    sw = np.ones(len(y)) if sw is None else sw
    return objective(X, Y, W, b, sw, "hinge", alpha * l1_ratio, alpha * (1 - l1_ratio))


def _svr_objective(X, y, est, alpha, epsilon):
    W = np.atleast_2d(est.coef_)
    b = np.atleast_1d(est.intercept_)
    return objective(X, y.reshape(len(y), -1), W, b, np.ones(len(y)),
                     "epsilon_insensitive", 0.0, alpha, epsilon)


def _classification(n=200, d=5, n_classes=2, seed=0):
    return make_classification(n, d, n_informative=3, n_redundant=0, n_classes=n_classes,
                               n_clusters_per_class=1, random_state=seed)


def _svc(X, y, alpha, sw=None):
    total = len(y) if sw is None else sw.sum()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear's ConvergenceWarning at tol=1e-12
        return LinearSVC(loss="hinge", C=1 / (alpha * total), fit_intercept=False,
                         tol=1e-12, max_iter=1_000_000, dual=True,
                         random_state=0).fit(X, y, sample_weight=sw)


@pytest.fixture(params=["newton", "ascent_only"])
def phases(request, monkeypatch):
    """Fit with the smoothed-Newton phase (the default when n >= d <= 512)
    or with coordinate ascent alone (what runs beyond 512 features)."""
    if request.param == "ascent_only":
        monkeypatch.setattr(smoothed_newton, "MAX_FEATURES", 0)
    return request.param


# ---- the fixed point is liblinear's (no intercept) ------------------------------------
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_hinge_fixed_point_equals_linear_svc(n_classes, layout, phases):
    X, y = _classification(n_classes=n_classes)
    alpha = 0.1  # C = 0.05: liblinear converges (at C = 0.5 it stopped 1e-4 short)
    Xf = sp.csr_matrix(X) if layout == "csr" else X
    clf = GDClassifier(loss="hinge", alpha=alpha, fit_intercept=False, tol=1e-9,
                       max_iter=5000, random_state=0).fit(Xf, y)
    assert clf.solver_ == "dual_cd"
    ours = _hinge_objective(X, y, clf, alpha)
    theirs = _hinge_objective(X, y, _svc(X, y, alpha), alpha)
    assert abs(_gap(ours, theirs)) <= 1e-6


def test_dense_equals_csr_and_float32_close_to_float64(phases):
    X, y = _classification(n_classes=3)
    params = dict(loss="hinge", alpha=1e-2, tol=1e-9, max_iter=5000, random_state=0)
    dense = GDClassifier(**params).fit(X, y)
    csr = GDClassifier(**params).fit(sp.csr_matrix(X), y)
    # the same order, but the rounding of the dot products differs and steers
    # shrinking differently: the same optimum to the tolerance
    np.testing.assert_allclose(csr.coef_, dense.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(csr.intercept_, dense.intercept_, rtol=1e-5, atol=1e-7)
    single = GDClassifier(**params).fit(X.astype(np.float32), y)
    assert single.coef_.dtype == np.float32
    f64 = _hinge_objective(X, y, dense, 1e-2)
    f32 = _hinge_objective(X.astype(np.float32).astype(float), y, single, 1e-2)
    assert abs(_gap(f32, f64)) <= 1e-6


def test_sample_weights_equal_linear_svc_weights(phases):
    X, y = _classification()
    sw = np.random.RandomState(0).uniform(0.2, 3.0, size=len(y))
    alpha = 0.1
    clf = GDClassifier(loss="hinge", alpha=alpha, fit_intercept=False, tol=1e-9,
                       max_iter=5000, random_state=0).fit(X, y, sample_weight=sw)
    ours = _hinge_objective(X, y, clf, alpha, sw)
    theirs = _hinge_objective(X, y, _svc(X, y, alpha, sw), alpha, sw)
    assert abs(_gap(ours, theirs)) <= 1e-6


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_epsilon_insensitive_fixed_point_equals_linear_svr(n_outputs, phases):
    X, y = make_regression(200, 5, n_targets=n_outputs, noise=5.0, random_state=0)
    alpha, epsilon = 1e-2, 1.0
    reg = GDRegressor(loss="epsilon_insensitive", epsilon=epsilon, alpha=alpha,
                      fit_intercept=False, tol=1e-9, max_iter=5000, random_state=0).fit(X, y)
    assert reg.solver_ == "dual_cd"
    Y = y.reshape(len(y), -1)
    coefs = []
    for k in range(n_outputs):
        svr = LinearSVR(loss="epsilon_insensitive", epsilon=epsilon, C=1 / (alpha * len(y)),
                        fit_intercept=False, tol=1e-12, max_iter=1_000_000, dual=True,
                        random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coefs.append(svr.fit(X, Y[:, k]).coef_)
    theirs = objective(X, Y, np.array(coefs), np.zeros(n_outputs), np.ones(len(y)),
                       "epsilon_insensitive", 0.0, alpha, epsilon)
    ours = _svr_objective(X, y, reg, alpha, epsilon)
    assert abs(_gap(ours, theirs)) <= 1e-6


# ---- with the unpenalised intercept: an independent exact solution --------------------
def _qp_reference(X, y, loss, l1, l2, epsilon=0.0):
    """The exact minimiser by SLSQP on the primal as a smooth constrained program.

    Variables (w+, w-, b, xi) with w = w+ - w- (w+-, xi >= 0) and the slack
    xi_i >= the loss of row i (two linear constraints for each): the penalty
    and the mean slack are differentiable there.
    """
    n, d = X.shape

    def split(z):
        return z[:d], z[d:2 * d], z[2 * d], z[2 * d + 1:]

    def fun(z):
        wp, wm, _, xi = split(z)
        w = wp - wm
        return xi.mean() + l1 * (wp.sum() + wm.sum()) + 0.5 * l2 * w @ w

    def jac(z):
        wp, wm, _, xi = split(z)
        w = wp - wm
        return np.concatenate([l2 * w + l1, -l2 * w + l1, [0.0], np.full(n, 1.0 / n)])

    A = np.hstack([X, -X, np.ones((n, 1))])
    if loss == "hinge":
        # xi_i >= 1 - y_i (w x_i + b)
        G = np.hstack([y[:, None] * A, np.eye(n)])
        h = np.ones(n)
    else:
        # xi_i >= (y_i - p_i) - eps and xi_i >= (p_i - y_i) - eps
        G = np.vstack([np.hstack([A, np.eye(n)]), np.hstack([-A, np.eye(n)])])
        h = np.concatenate([y - epsilon, -y - epsilon])
    cons = [{"type": "ineq", "fun": lambda z: G @ z - h, "jac": lambda z: G}]
    bounds = [(0, None)] * (2 * d) + [(None, None)] + [(0, None)] * n
    z0 = np.concatenate([np.zeros(2 * d + 1), np.maximum(h[:n], 0.0) + 1.0])
    res = minimize(fun, z0, jac=jac, constraints=cons, bounds=bounds, method="SLSQP",
                   options={"ftol": 1e-13, "maxiter": 5000})
    assert res.success, res.message
    wp, wm, b, _ = split(res.x)
    return wp - wm, b


def _hinge_gap_to_qp(X, y, clf, alpha, l1_ratio):
    """The relative gap of ``clf``'s hinge objective to the QP optimum, and
    the optimum's intercept."""
    ys = _signs(y, 1)
    l1, l2 = alpha * l1_ratio, alpha * (1 - l1_ratio)
    w, b = _qp_reference(X, ys, "hinge", l1, l2)
    exact = objective(X, ys[:, None], w[None], np.array([b]), np.ones(len(y)), "hinge",
                      l1, l2)
    return _gap(_hinge_objective(X, y, clf, alpha, l1_ratio=l1_ratio), exact), b


@pytest.mark.parametrize("l1_ratio", [0.0, 0.5])
def test_hinge_with_intercept_equals_exact_qp(l1_ratio, phases):
    X, y = _classification(n=40, d=3, seed=3)
    X[:, 0] += 2.0  # an intercept far from zero
    alpha = 0.05
    penalty = "l2" if l1_ratio == 0 else "elasticnet"
    clf = GDClassifier(loss="hinge", alpha=alpha, penalty=penalty, l1_ratio=l1_ratio,
                       tol=1e-10, max_iter=20000, random_state=0).fit(X, y)
    assert clf.solver_ == "dual_cd"
    gap, b = _hinge_gap_to_qp(X, y, clf, alpha, l1_ratio)
    assert abs(gap) <= 1e-6
    np.testing.assert_allclose(clf.intercept_[0], b, atol=1e-3)


def test_elastic_net_hinge_on_unequal_scales_reaches_the_qp_optimum_at_defaults():
    # Features scaled 0.1...10 and a weak penalty: coordinate ascent alone
    # (the elastic net's only phase before) ran its 1,000 default epochs
    # with the dual still rising, its model 10% above the optimum on 3,000
    # rows; the smoothed-Newton phase with the L1 part smoothed with the
    # loss certifies it.
    X, y = make_classification(300, 8, n_informative=5, random_state=0)
    X = X * np.logspace(-1, 1, 8)
    alpha, l1_ratio = 1e-3, 0.3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning fails the test
        clf = GDClassifier(loss="hinge", penalty="elasticnet", alpha=alpha,
                           l1_ratio=l1_ratio, random_state=0).fit(X, y)
    # the phase certified it in 57 steps; run on the smoothed loss without
    # its L1 part, it left coordinate ascent 780 epochs to finish
    assert clf.n_iter_ <= 200
    assert abs(_hinge_gap_to_qp(X, y, clf, alpha, l1_ratio)[0]) <= 1e-6


def test_strong_elastic_net_hinge_has_the_exact_zeros_of_the_qp():
    # The smoothed-Newton phase minimises a smoothed |w_j|, whose minimiser
    # has no exact zeros; the model must have them where the optimum does.
    X, y = make_classification(300, 8, n_informative=3, n_redundant=0, random_state=1)
    X = X * np.logspace(-1, 1, 8)
    alpha, l1_ratio = 2e-2, 0.9
    clf = GDClassifier(loss="hinge", penalty="elasticnet", alpha=alpha,
                       l1_ratio=l1_ratio, random_state=0).fit(X, y)
    w, b = _qp_reference(X, _signs(y, 1), "hinge", alpha * l1_ratio,
                         alpha * (1 - l1_ratio))
    assert np.sum(np.abs(w) < 1e-7) == 2  # the optimum's zeros (SLSQP's ~1e-12)
    np.testing.assert_array_equal(clf.coef_.ravel() == 0, np.abs(w) < 1e-7)
    np.testing.assert_allclose(clf.coef_.ravel(), w, atol=1e-5)


def test_epsilon_insensitive_with_intercept_equals_exact_qp(phases):
    X, y = make_regression(40, 3, noise=3.0, random_state=1)
    y = y + 25.0  # an intercept far from zero
    alpha, epsilon = 0.05, 0.5
    reg = GDRegressor(loss="epsilon_insensitive", epsilon=epsilon, alpha=alpha, tol=1e-10,
                      max_iter=20000, random_state=0).fit(X, y)
    w, b = _qp_reference(X, y, "epsilon_insensitive", 0.0, alpha, epsilon)
    exact = objective(X, y[:, None], w[None], np.array([b]), np.ones(len(y)),
                      "epsilon_insensitive", 0.0, alpha, epsilon)
    ours = _svr_objective(X, y, reg, alpha, epsilon)
    assert abs(_gap(ours, exact)) <= 1e-6
    np.testing.assert_allclose(reg.intercept_[0], b, rtol=1e-4)


# ---- defaults ------------------------------------------------------------------------------
def test_default_hinge_fit_reaches_the_optimum_on_sklearn_sgd_data():
    # batch subgradient steps stopped at a relative objective gap of 0.056
    # here (fit_intercept=False, alpha=0.1); the dual reaches the optimum
    alpha = 0.1
    clf = GDClassifier(loss="hinge", alpha=alpha, fit_intercept=False).fit(SGD_X, SGD_Y)
    assert clf.solver_ == "dual_cd"
    ours = _hinge_objective(SGD_X, SGD_Y, clf, alpha)
    theirs = _hinge_objective(SGD_X, SGD_Y, _svc(SGD_X, SGD_Y, alpha), alpha)
    assert _gap(ours, theirs) <= 1e-4


def test_default_fit_certifies_the_gap_target():
    X, y = _classification(n=500, d=10)
    clf = GDClassifier(loss="hinge", alpha=1e-2, fit_intercept=False).fit(X, y)
    theirs = _hinge_objective(X, y, _svc(X, y, 1e-2), 1e-2)
    assert _gap(clf.loss_curve_[-1], theirs) <= gap_target(clf.tol)
    assert np.all(np.diff(clf.loss_curve_) <= 0)  # the best point evaluated so far
    assert len(clf.loss_curve_) == clf.n_iter_


def test_wide_box_reaches_the_exact_optimum_where_ascent_alone_stalls(phases):
    # alpha = 1e-4 on 300 rows (C = 33): coordinate ascent alone ended at
    # max_iter=1000 with a gap of 3e-4 (liblinear is as slow); the smoothed
    # Newton phase and its active-set step certify the default target in ~30
    X, y = _classification(n=300, d=5, seed=1)
    alpha = 1e-4
    ys = _signs(y, 1)
    w, b = _qp_reference(X, ys, "hinge", 0.0, alpha)
    exact = objective(X, ys[:, None], w[None], np.array([b]), np.ones(len(y)), "hinge",
                      0.0, alpha)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = GDClassifier(loss="hinge", alpha=alpha, random_state=0).fit(X, y)
    gap = _gap(_hinge_objective(X, y, clf, alpha), exact)
    if phases == "newton":
        assert clf.n_iter_ <= 100
        assert abs(gap) <= 1e-6
    else:
        assert clf.n_iter_ == clf.max_iter and gap > 1e-5


def test_auto_dispatch():
    X, y = _classification()
    assert GDClassifier(loss="hinge", max_iter=3).fit(X, y).solver_ == "dual_cd"
    for params in ({"penalty": "l1"}, {"penalty": None}, {"alpha": 0.0},
                   {"learning_rate": "constant"}, {"average": True}):
        clf = GDClassifier(loss="hinge", max_iter=3, tol=None, **params).fit(X, y)
        assert clf.solver_ == "batch"
    assert GDClassifier(loss="perceptron", max_iter=3, tol=None).fit(X, y).solver_ == "batch"
    en = GDClassifier(loss="hinge", penalty="elasticnet", max_iter=3, tol=None).fit(X, y)
    assert en.solver_ == "dual_cd"
    # partial_fit streams, also after a dual fit and with solver='dual_cd'
    clf = GDClassifier(loss="hinge", max_iter=3, tol=None).fit(X, y)
    assert clf.partial_fit(X, y).solver_ == "minibatch"
    single = GDClassifier(loss="hinge", solver="dual_cd").partial_fit(X, y, classes=[0, 1])
    assert single.solver_ == "minibatch"


@pytest.mark.parametrize("params, match", [
    ({"loss": "squared_hinge"}, "fits the losses"),
    ({"loss": "hinge", "penalty": "l1"}, "needs a penalty with an L2 part"),
])
def test_explicit_dual_cd_rejects_what_it_cannot_solve(params, match):
    X, y = _classification()
    with pytest.raises(ValueError, match=match):
        GDClassifier(solver="dual_cd", **params).fit(X, y)


def test_warm_start_continues_from_the_model(phases):
    X, y = _classification(n=400, d=8)
    params = dict(loss="hinge", alpha=1e-3, tol=1e-6, max_iter=5000, random_state=0)
    cold = GDClassifier(**params).fit(X, y)
    warm = GDClassifier(warm_start=True, **params).fit(X, y)
    first = warm.n_iter_
    warm.fit(X, y)
    # the rows on the margin of the model are the free set of the exact
    # active-set step: the optimum is certified at once
    assert warm.n_iter_ == 1 < first
    assert abs(_gap(warm.loss_curve_[-1], cold.loss_curve_[-1])) <= 1e-8


# ---- the compiled sweep is the numpy replay of the same steps ---------------------------
def _replay(X, y, lo, hi, q, index, active, gamma, v, intercept, eps, kappa, nu, stats):
    """The sweep of skgd/_fast/_dual_cd.pyx in numpy (seed 0: no shuffle)."""
    soft = lambda x, t: np.sign(x) * max(abs(x) - t, 0.0)  # noqa: E731
    up_old, low_old = stats
    up_new, low_new = -np.inf, np.inf
    s = 0
    while s < active:
        i = index[s]
        if q[i] <= 0 or hi[i] <= lo[i]:
            s += 1
            continue
        w = soft_vec(v, kappa)
        p = X[i] @ w + intercept[0] + intercept[1]
        r, g = y[i] - p, gamma[i]
        up = -r + (eps if g >= 0 else -eps)
        down = -r + (eps if g > 0 else -eps)
        if g <= lo[i]:
            shrink, pg = up > up_old, min(up, 0.0)
        elif g >= hi[i]:
            shrink, pg = down < low_old, max(down, 0.0)
        elif g != 0 or eps == 0:
            shrink, pg = False, up
        else:
            pg = up if up < 0 else (down if down > 0 else 0.0)
            shrink = pg == 0 and up > up_old and down < low_old
        if shrink:
            active -= 1
            index[s], index[active] = index[active], i
            continue
        s += 1
        up_new, low_new = max(up_new, pg), min(low_new, pg)
        if pg == 0:
            continue
        new = min(max(soft(g + r / q[i], eps / q[i]), lo[i]), hi[i])
        gamma[i] = new
        intercept[1] += nu * (new - g)
        v += (new - g) * X[i]
    stats[:] = up_new, low_new
    return active


def soft_vec(v, t):
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0)


@pytest.mark.parametrize("loss", ["hinge", "epsilon_insensitive"])
@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("kappa, nu", [(0.0, 0.0), (0.0, 2.0), (0.05, 1.0)])
def test_sweep_equals_numpy_replay(loss, layout, kappa, nu):
    rng = np.random.RandomState(0)
    n, d = 30, 4
    X = rng.randn(n, d)
    X[X < -0.5] = 0.0  # some zeros for the CSR rows
    if loss == "hinge":
        y = np.where(rng.rand(n) > 0.5, 1.0, -1.0)
        U = rng.uniform(0.5, 2.0, n)
        lo, hi, eps = np.where(y > 0, 0.0, -U), np.where(y > 0, U, 0.0), 0.0
    else:
        y = rng.randn(n) * 2
        U = rng.uniform(0.5, 2.0, n)
        lo, hi, eps = -U, U.copy(), 0.3
    hi[3] = lo[3]  # an empty box (a zero weight)
    q = (X**2).sum(1) + nu
    state = [np.zeros(n), np.zeros(d), np.array([0.2, 0.0])]
    expect = [np.zeros(n), np.zeros(d), np.array([0.2, 0.0])]
    index, index_ref = np.arange(n), np.arange(n)
    stats, stats_ref = np.array([np.inf, -np.inf]), np.array([np.inf, -np.inf])
    active = active_ref = n
    rows = sp.csr_matrix(X) if layout == "csr" else X
    for sweep in range(12):
        order = rng.permutation(n)
        index[:active] = index[:active][order[order < active]]
        index_ref[:] = index
        gamma, v, icpt = state
        w = v if kappa == 0 else soft_vec(v, kappa)
        args = (y, lo, hi, q, index, active, 0, gamma, v, w, icpt, eps, kappa, nu, stats)
        if layout == "csr":
            active = dual_cd_sweep_csr(rows.data, rows.indices, rows.indptr, *args)
        else:
            active = dual_cd_sweep_dense(rows, *args)
        active_ref = _replay(X, y, lo, hi, q, index_ref, active_ref, *expect, eps, kappa,
                             nu, stats_ref)
        assert active == active_ref
        np.testing.assert_array_equal(index, index_ref)
        for got, ref in zip(state, expect):
            np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(stats, stats_ref, rtol=1e-10, atol=1e-12)
        if kappa:
            np.testing.assert_allclose(w, soft_vec(v, kappa), rtol=1e-12, atol=1e-14)
        # the shrinking bounds of the next sweep, as the driver sets them
        up, low = stats
        stats[:] = stats_ref[:] = (up if up > 0 else np.inf, low if low < 0 else -np.inf)
    assert active < n  # the replay covered shrinking


def test_overflowing_rows_raise_and_leave_the_model():
    X, y = _classification()
    clf = GDClassifier(loss="hinge", max_iter=5, tol=None).fit(X, y)
    coef = clf.coef_.copy()
    with pytest.raises(ValueError, match="Scale the features"):
        clf.fit(X * 1e160, y)  # squared row norms beyond float64
    np.testing.assert_array_equal(clf.coef_, coef)
    assert clf.solver_ == "dual_cd"


@pytest.mark.parametrize("Est, loss, y", [
    (GDClassifier, "hinge", [0, 1, 0, 1, 1]),
    (GDRegressor, "epsilon_insensitive", [2.0, -1.0, 0.05, 3.0, -0.5]),
])
def test_zero_rows_without_intercept_are_certified(Est, loss, y):
    # x_i = 0 predicts 0 whatever w: the dual coefficient of such a row is at
    # its bound from the start (the sweeps skip it), so the optimum w = 0 is
    # certified in one epoch instead of running to max_iter
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = Est(loss=loss, fit_intercept=False, alpha=0.01).fit(np.zeros((5, 2)), y)
    assert est.n_iter_ == 1
    np.testing.assert_array_equal(est.coef_, 0.0)


# ---- the batch solver on these losses says that it stops uncertified ------------------
def test_batch_fit_of_hinge_warns_that_it_is_not_the_optimum():
    X, y = _classification()
    with pytest.warns(ConvergenceWarning, match="does not certify the optimum.*'auto'"):
        GDClassifier(loss="hinge", solver="batch").fit(X, y)
    # with the L1 penalty alone: beyond the smoothing homotopy's features, or
    # under an explicit schedule
    wide = np.hstack([X] * (smoothed_l1.MAX_FEATURES // X.shape[1] + 1))
    with pytest.warns(ConvergenceWarning, match="With an L2 part in the penalty"):
        GDRegressor(loss="epsilon_insensitive", penalty="l1", solver="batch").fit(wide, y)
    with pytest.warns(ConvergenceWarning, match="with the L1 penalty alone"):
        GDRegressor(loss="epsilon_insensitive", penalty="l1", solver="batch",
                    learning_rate="constant", eta0=1e-3).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # the certified default, the smooth losses, and a fixed number of epochs
        GDClassifier(loss="hinge", random_state=0).fit(X, y)
        GDClassifier(loss="log_loss", solver="batch").fit(X, y)
        GDClassifier(loss="hinge", solver="batch", tol=None, max_iter=5).fit(X, y)
        GDClassifier(loss="perceptron", solver="batch").fit(X, y)
        GDRegressor(loss="epsilon_insensitive", penalty="l1", solver="batch").fit(X, y)


# ---- the certificate is paid for on a schedule -------------------------------------
def test_check_schedule_extrapolates_the_linear_rate():
    schedule = CheckSchedule(target=1e-9, max_interval=4)
    assert schedule.due(1)
    schedule.record(1, 1e-1)
    assert not schedule.due(2) and schedule.due(3)  # two epochs after the first
    schedule.record(3, 1e-3)  # a factor 10 per epoch: the target 4 epochs on, capped
    assert not schedule.due(6) and schedule.due(7)
    schedule.record(7, 1e-8)  # the target one epoch on
    assert schedule.due(8)
    schedule.record(8, 2e-8)  # no progress: the rate is unknown, two epochs
    assert not schedule.due(9) and schedule.due(10)


@pytest.mark.parametrize("fit_intercept", [False, True])
def test_scheduled_certificate_stops_where_every_epoch_would(fit_intercept, monkeypatch):
    # Coordinate ascent alone (more features than rows): the certificate,
    # two passes over X, was evaluated after every epoch; on the schedule it
    # is evaluated less than half as often and the fit stops at the same
    # epoch, with the same model.
    rng = np.random.RandomState(0)
    X = sp.random(300, 600, density=0.05, format="csr", random_state=rng)
    y = np.where(X @ rng.randn(600) + 0.1 * rng.randn(300) > 0, 1, -1)
    calls = []
    evaluate = dual_cd_module._DualCD.evaluate
    monkeypatch.setattr(dual_cd_module._DualCD, "evaluate",
                        lambda self, out: calls.append(1) or evaluate(self, out))

    def fit():
        calls.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            clf = GDClassifier(loss="hinge", alpha=1e-4, fit_intercept=fit_intercept,
                               random_state=0).fit(X, y)
        return clf, len(calls)

    scheduled, n_scheduled = fit()
    monkeypatch.setattr(dual_cd_module, "MAX_CHECK_INTERVAL", 1)
    every, n_every = fit()
    assert n_every == every.n_iter_
    assert n_scheduled < 0.5 * n_every
    assert scheduled.n_iter_ <= every.n_iter_ + 2
    np.testing.assert_allclose(scheduled.coef_, every.coef_, rtol=1e-6, atol=1e-9)
