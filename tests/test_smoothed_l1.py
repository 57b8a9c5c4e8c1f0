"""The pure-L1 hinge and epsilon-insensitive fits (skgd._smoothed_l1)
against the exact optimum of the same objective, from a linear program on
the primal solved by scipy's HiGHS (another formulation and another
algorithm than the fit's)."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog
from sklearn.datasets import make_classification, make_regression

import skgd._smoothed_l1 as smoothed_l1
from skgd import GDClassifier, GDRegressor
from skgd._solver_common import Problem


def _lp_optimum(X, y, loss, l1, fit_intercept, epsilon=0.0, sample_weight=None):
    """``min sum_i omega_i L_i + l1 |w|_1`` as a linear program: variables
    (w+, w-, b+, b-, xi) >= 0 with xi_i at least the loss of row i.
    ``y`` in {-1, 1} for the hinge."""
    n, d = X.shape
    omega = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    omega = omega / omega.sum()
    m = 2 if fit_intercept else 0
    Z = np.hstack([X, -X] + ([np.ones((n, 1)), -np.ones((n, 1))] if fit_intercept else []))
    cost = np.r_[np.full(2 * d, l1), np.zeros(m), omega]
    if loss == "hinge":  # xi_i >= 1 - y_i p_i
        A, b = np.hstack([-y[:, None] * Z, -np.eye(n)]), -np.ones(n)
    else:  # xi_i >= |y_i - p_i| - epsilon
        A = np.vstack([np.hstack([Z, -np.eye(n)]), np.hstack([-Z, -np.eye(n)])])
        b = np.r_[y + epsilon, epsilon - y]
    found = linprog(cost, A_ub=A, b_ub=b, bounds=(0, None), method="highs")
    assert found.status == 0
    return found.fun


def _objective(est, X, y, loss, l1, epsilon=0.0, sample_weight=None):
    omega = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    omega = omega / omega.sum()
    P = np.atleast_2d(est.decision_function(X).T).T if loss == "hinge" else \
        est.predict(X)[:, None]
    Y = y[:, None] if y.ndim == 1 else y
    slack = 1.0 - Y * P if loss == "hinge" else np.abs(Y - P) - epsilon
    return float(omega @ np.maximum(slack, 0.0).sum(axis=1) + l1 * np.abs(est.coef_).sum())


def _fit_quietly(est, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning fails the test
        return est.fit(X, y, **kw)


def _scaled_classification(n=600, d=12, seed=0, **kw):
    X, y = make_classification(n, d, n_informative=6, random_state=seed, **kw)
    return X * np.logspace(-1, 1, d) + 2.0, y


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [1e-2, 1e-3, 1e-4])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_l1_hinge_fit_is_the_linear_programs_optimum(fit_intercept, alpha, layout):
    # Before, the subgradient steps stopped 13-140 % above this optimum
    # (with a warning saying so).
    X, y = _scaled_classification()
    ys = np.where(y == 1, 1.0, -1.0)
    exact = _lp_optimum(X, ys, "hinge", alpha, fit_intercept)
    Xf = sp.csr_matrix(X) if layout == "csr" else X
    clf = _fit_quietly(GDClassifier(loss="hinge", penalty="l1", alpha=alpha,
                                    fit_intercept=fit_intercept), Xf, y)
    assert clf.n_iter_ <= 200
    assert abs(_objective(clf, X, ys, "hinge", alpha) - exact) <= 1e-9 * exact


def test_one_vs_rest_l1_hinge_is_every_classs_optimum():
    X, y = _scaled_classification(n_classes=3, seed=1)
    alpha = 1e-3
    clf = _fit_quietly(GDClassifier(loss="hinge", penalty="l1", alpha=alpha), X, y)
    Y = np.where(y[:, None] == clf.classes_[None, :], 1.0, -1.0)
    exact = sum(_lp_optimum(X, Y[:, k], "hinge", alpha, True) for k in range(3))
    assert abs(_objective(clf, X, Y, "hinge", alpha) - exact) <= 1e-9 * exact


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("epsilon", [0.0, 0.5])
@pytest.mark.parametrize("alpha", [1e-2, 1e-3])
def test_l1_epsilon_insensitive_fit_is_the_linear_programs_optimum(
        fit_intercept, epsilon, alpha):
    # epsilon = 0: least absolute deviations with an L1 penalty
    X, y = make_regression(500, 15, n_informative=6, noise=5.0, random_state=0)
    X, y = X * np.logspace(-1, 1, 15) + 1.0, y / 10 + 3.0
    exact = _lp_optimum(X, y, "epsilon_insensitive", alpha, fit_intercept, epsilon)
    reg = _fit_quietly(GDRegressor(loss="epsilon_insensitive", epsilon=epsilon,
                                   penalty="l1", alpha=alpha,
                                   fit_intercept=fit_intercept), X, y)
    value = _objective(reg, X, y, "epsilon_insensitive", alpha, epsilon)
    assert abs(value - exact) <= 1e-9 * exact
    # 18-52 steps; 63-98 at epsilon 0.5 when the restricted program did not
    # free the rows that change side at its primal
    assert reg.n_iter_ <= 60


def test_sample_weights_weigh_the_rows():
    X, y = _scaled_classification(n=300, seed=2)
    ys = np.where(y == 1, 1.0, -1.0)
    weights = np.random.RandomState(0).randint(1, 4, size=300).astype(float)
    alpha = 1e-3
    exact = _lp_optimum(X, ys, "hinge", alpha, True, sample_weight=weights)
    clf = _fit_quietly(GDClassifier(loss="hinge", penalty="l1", alpha=alpha), X, y,
                       sample_weight=weights)
    value = _objective(clf, X, ys, "hinge", alpha, sample_weight=weights)
    assert abs(value - exact) <= 1e-9 * exact
    # integer weights are repeated rows: the same objective, the same optimum
    repeated = np.repeat(np.arange(300), weights.astype(int))
    twin = _fit_quietly(GDClassifier(loss="hinge", penalty="l1", alpha=alpha),
                        X[repeated], y[repeated])
    assert abs(_objective(twin, X, ys, "hinge", alpha, sample_weight=weights) - exact) \
        <= 1e-9 * exact


def test_a_penalty_beyond_the_largest_useful_one_gives_zero_coefficients():
    # At alpha >= |X' (omega u)|_inf for the best constant model's dual
    # point the optimum has w = 0: certified at once.
    X, y = _scaled_classification(n=300, seed=3)
    clf = _fit_quietly(GDClassifier(loss="hinge", penalty="l1", alpha=10.0), X, y)
    np.testing.assert_array_equal(clf.coef_, 0.0)
    ys = np.where(y == 1, 1.0, -1.0)
    exact = _lp_optimum(X, ys, "hinge", 10.0, True)
    assert abs(_objective(clf, X, ys, "hinge", 10.0) - exact) <= 1e-9 * exact


@pytest.mark.parametrize("loss", ["hinge", "epsilon_insensitive"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("flip", [False, True])  # (the larger side of the sum)
def test_every_dual_value_is_a_lower_bound_of_the_optimum(loss, fit_intercept, flip):
    # The certificate: any point of the box, made feasible by dual_value,
    # has a dual value at most the optimum (weak duality), however far from
    # feasible it started.
    rng = np.random.RandomState(4)
    X, y = _scaled_classification(n=200, seed=4)
    y = np.where(y == 1, 1.0, -1.0) if loss == "hinge" else X @ rng.normal(size=12)
    y = -y if flip else y
    l1, epsilon = 1e-2, 0.3
    problem = Problem(X=X, Y=y[:, None], sample_weight=np.ones(200), loss=loss,
                      epsilon=epsilon, l1=l1, l2=0.0, fit_intercept=fit_intercept)
    out = smoothed_l1._Output(problem, y, np.zeros(12), 0.0, np.full(200, 1 / 200))
    exact = _lp_optimum(X, y, loss, l1, fit_intercept, epsilon)
    points = []
    for _ in range(20):
        v = rng.uniform(0, 1, 200) * (rng.uniform(size=200) < 0.7)
        points.append(y * v if loss == "hinge" else v * rng.choice([-1.0, 1.0], 200))
    # the optimum of the dual without the intercept's constraint: above the
    # optimum with an intercept, unless that constraint is enforced
    points.append(_dual_without_intercept(X, y, loss, l1, epsilon))
    for point in points:
        assert out.dual_value(point) <= exact * (1 + 1e-12)


def _dual_without_intercept(X, y, loss, l1, epsilon):
    """The maximiser of the dual with no intercept constraint (u in the box,
    |X' (omega u)|_inf <= l1), by linprog."""
    n = X.shape[0]
    omega = np.full(n, 1.0 / n)
    if loss == "hinge":  # u = y a, a in [0, 1], value sum omega a
        A = (X * (omega * y)[:, None]).T
        gain = omega
    else:  # beta = v+ - v-, value sum omega (beta y - epsilon |beta|)
        B = (X * omega[:, None]).T
        A = np.hstack([B, -B])
        gain = np.r_[omega * (y - epsilon), omega * (-y - epsilon)]
    found = linprog(-gain, A_ub=np.vstack([A, -A]), b_ub=np.full(2 * A.shape[0], l1),
                    bounds=(0, 1), method="highs")
    v = found.x
    return y * v if loss == "hinge" else v[:n] - v[n:]


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_a_warm_start_at_the_optimum_is_certified_at_once(fit_intercept):
    # The restricted program runs on the start's rows of least |slack|
    # before any step; the homotopy from its first width took 50 steps here.
    X, y = _scaled_classification(n=1000, seed=5)
    clf = _fit_quietly(GDClassifier(loss="hinge", penalty="l1", alpha=1e-3,
                                    fit_intercept=fit_intercept, warm_start=True), X, y)
    assert clf.n_iter_ > 5
    coef = clf.coef_.copy()
    _fit_quietly(clf, X, y)
    assert clf.n_iter_ == 1
    np.testing.assert_allclose(clf.coef_, coef, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("alpha", [1e-3, 1e-4])
def test_the_restricted_program_is_feasible_to_the_certificates_precision(alpha):
    # At HiGHS's default tolerance its point exceeded the L1 bound by 3e-10
    # at l1 = 1e-3; scaled back into the dual, it lost 3e-7 of its value and
    # the fit ran to max_iter (2,000 x 50 rows, alpha 1e-4).
    X, y = make_classification(2000, 50, n_informative=20, random_state=0)
    X = X * np.logspace(-1, 1, 50)
    clf = _fit_quietly(GDClassifier(loss="hinge", penalty="l1", alpha=alpha), X, y)
    assert clf.n_iter_ <= 100
    ys = np.where(y == 1, 1.0, -1.0)
    exact = _lp_optimum(X, ys, "hinge", alpha, True)
    assert abs(_objective(clf, X, ys, "hinge", alpha) - exact) <= 1e-9 * exact
