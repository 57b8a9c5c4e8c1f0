"""The batch solver's Newton finish for slow logistic fits (skgd/_newton.py).

Conversions (see tests/test_gap.py): ``GDClassifier(alpha)`` minimises the
mean log-loss plus ``alpha / 2 ||W||^2``, ``LogisticRegression(C)`` the
summed loss plus ``1 / 2 ||W||^2``: ``C = 1 / (alpha n)`` with unit weights.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from reference import data_gradient, objective
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

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
    center = (sw @ X) / sw.sum() if fit_intercept else np.zeros(d)
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


def _count_sampled_hessians(monkeypatch):
    """Patch newton.hessian and the accelerated solver's set-up to count
    Hessians of a row sample and hand-backs to the accelerated iterations."""
    import skgd._batch as batch

    calls = {"sampled": 0, "accelerated": 0}
    hessian, setup = newton.hessian, batch._setup

    def counting_hessian(problem, derivative, center, sample=None):
        calls["sampled"] += sample is not None
        return hessian(problem, derivative, center, sample)

    def counting_setup(*args, **kwargs):
        calls["accelerated"] += 1
        return setup(*args, **kwargs)

    monkeypatch.setattr(newton, "hessian", counting_hessian)
    monkeypatch.setattr(batch, "_setup", counting_setup)
    return calls


def _relative_gap_to_sklearn(X, y, est, sample_weight=None):
    sw = np.ones(len(y)) if sample_weight is None else sample_weight
    ref = LogisticRegression(C=1.0 / (est.alpha * sw.sum()), solver="newton-cholesky",
                             tol=1e-12, max_iter=1000).fit(X, y, sample_weight=sw)
    Y = np.where(y == est.classes_[1], 1.0, -1.0)[:, None]

    def value(model):
        return objective(X, Y, np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_),
                         sw, "log_loss", 0.0, est.alpha)

    return (value(est) - value(ref)) / value(ref)


@pytest.mark.parametrize("scaled", [False, True])
def test_sampled_start_certifies_the_optimum(scaled, monkeypatch):
    # n >> d: Newton steps on the Hessian of a row sample from the first
    # iteration, no whitening, the certificate unchanged
    rng = np.random.RandomState(0)
    n, d = 20_000, 10
    Z = rng.normal(size=(n, d)) @ (np.eye(d) + 0.4 * rng.normal(size=(d, d)))
    y = (Z @ rng.normal(size=d) + rng.logistic(size=n) > 0).astype(int)
    X = Z * np.logspace(-2, 2, d) + 3.0 if scaled else Z
    sw = rng.uniform(0.5, 2.0, n)
    calls = _count_sampled_hessians(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = GDClassifier(alpha=1e-4).fit(X, y, sample_weight=sw)
    assert calls["sampled"] >= 3 and calls["accelerated"] == 0
    assert est.n_iter_ <= 15
    assert _relative_gap_to_sklearn(X, y, est, sw) <= 1e-9


def test_sampled_start_hands_back_when_the_sample_misses_curvature(monkeypatch):
    # A feature stored in 3 rows of 20,000, absent from the 1,100 sampled:
    # the sample's Hessian has only alpha along it, the steps overshoot
    # there, and the accelerated iterations finish the fit
    rng = np.random.RandomState(0)
    n, d = 20_000, 10
    X = rng.normal(size=(n, d))
    X[:, 3] = 0.0
    X[rng.choice(n, 3, replace=False), 3] = 50.0
    y = (X @ rng.normal(size=d) + rng.logistic(size=n) > 0).astype(int)
    calls = _count_sampled_hessians(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        est = GDClassifier(alpha=1e-4).fit(X, y)
    # recognised right after the global phase, not at the cap of 20 steps
    assert 1 <= calls["sampled"] <= newton.SAMPLED_GLOBAL_ITERATIONS + 2
    assert calls["accelerated"] == 1
    assert _relative_gap_to_sklearn(X, y, est) <= 1e-9


def test_sampled_start_only_where_its_hessian_is_cheap():
    from dataclasses import replace

    from skgd._solver_common import SolverOptions

    rng = np.random.RandomState(0)
    options = SolverOptions()

    def problem(n, d, layout=np.asarray, loss="log_loss", K=1):
        X = rng.normal(size=(n, d))
        Y = (np.where(rng.uniform(size=(n, 1)) < 0.5, 1.0, -1.0) if K == 1
             else np.eye(K)[rng.randint(0, K, n)])
        return _problem(layout(X), Y, np.ones(n), loss, True)

    assert newton.sampled_start_applies(problem(20_000, 10), options)
    # sparse rows: a column missing from the sample would have no curvature
    assert not newton.sampled_start_applies(problem(20_000, 10, sp.csr_matrix), options)
    # the sample's Gram products would cost more than 8 passes
    assert not newton.sampled_start_applies(problem(2_000, 20), options)
    assert not newton.sampled_start_applies(problem(20_000, 20, loss="multinomial", K=10),
                                            options)
    # partial_fit continues the accelerated sequences
    assert not newton.sampled_start_applies(problem(20_000, 10),
                                            replace(options, incremental=True))


@pytest.mark.parametrize("loss", ["log_loss", "multinomial"])
def test_newton_direction_solves_the_newton_system(loss):
    # Cholesky of the diagonally scaled Hessian, the softmax intercepts' flat
    # common constant given unit curvature: the step is the minimum-norm
    # solution of H step = -grad in the coordinates (W_k, c_k)
    rng = np.random.RandomState(2)
    n, d = 500, 6
    X = rng.normal(size=(n, d)) * np.logspace(-1, 1, d) + 1.0
    Y = (np.where(rng.uniform(size=(n, 1)) < 0.4, 1.0, -1.0) if loss == "log_loss"
         else np.eye(4)[rng.randint(0, 4, n)])
    problem = _problem(X, Y, rng.uniform(0.5, 2.0, n), loss, True)
    K = Y.shape[1]
    W, b = rng.normal(size=(K, d)) * 0.2, rng.normal(size=K)
    U = np.zeros((n, K))
    G, Gb, _ = problem.gradient_pass(W, b, per_sample=U)
    center = problem.sample_weight @ X / problem.sample_weight.sum()
    dW, db, slope = newton.newton_direction(problem, W, b, G, Gb, U, center)

    H = newton.hessian(problem, U, center)
    width = d + 1
    for k in range(K):
        H[k * width + np.arange(d), k * width + np.arange(d)] += problem.l2
    grad = np.zeros((K, width))
    grad[:, :d] = G + problem.l2 * W - np.outer(Gb, center)
    grad[:, d] = Gb
    expected = -np.linalg.lstsq(H, grad.ravel(), rcond=1e-12)[0].reshape(K, width)
    expected_db = expected[:, d] - expected[:, :d] @ center
    if loss == "multinomial":
        expected_db -= expected_db.mean()
    np.testing.assert_allclose(dW, expected[:, :d], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(db, expected_db, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(slope, grad.ravel() @ expected.ravel(), rtol=1e-7)


# ---- an L1 part: proximal Newton on the binary log-loss ------------------------------
def test_l1_model_step_meets_the_model_optimality_conditions():
    # The step minimises g.s + s^T H s / 2 + sum p_j |x0_j + s_j|: at
    # u = x0 + s, (g + H s)_j = -p_j sign(u_j) where u_j != 0, and
    # |(g + H s)_j| <= p_j where u_j == 0 (unpenalised: zero).
    rng = np.random.RandomState(0)
    for trial in range(20):
        p = rng.randint(2, 12)
        A = rng.normal(size=(p + 3, p))
        if trial % 4 == 0:
            A[:, 1] = A[:, 0]  # collinear columns: the support solve may fail
        H = A.T @ A / (p + 3) + 1e-3 * (trial % 2) * np.eye(p)
        # a gradient in the range of the rows, as the data term's is (the
        # model is bounded below along the collinear direction)
        g = A.T @ rng.normal(size=p + 3) / (p + 3)
        x0 = rng.normal(size=p) * (rng.uniform(size=p) < 0.5)
        penalty = rng.uniform(0.1, 1.0, p) * (rng.uniform(size=p) < 0.8)
        s = newton._l1_model_step(H, g, x0, penalty)
        u, r = x0 + s, g + H @ s
        on = u != 0
        np.testing.assert_allclose(r[on], -penalty[on] * np.sign(u[on]), atol=1e-8)
        assert np.all(np.abs(r[~on]) <= penalty[~on] + 1e-8)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_default_l1_logistic_fit_is_certified_with_the_optimums_zeros(l1_ratio):
    # FISTA alone ran the 1,000 default iterations on these rows (binary,
    # L1: 3e-6 from the optimum, certified after 2,157); the Newton finish
    # solves the L1 model exactly and certifies in tens of iterations.
    X, y = make_classification(1000, 10, n_informative=4, random_state=0)
    alpha, n = 1e-3, len(y)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning fails the test
        clf = GDClassifier(penalty=penalty, l1_ratio=l1_ratio, alpha=alpha,
                           random_state=0).fit(X, y)
    assert clf.n_iter_ <= 150
    # LogisticRegression(C, l1_ratio) minimises the summed loss plus
    # (1 / C) (l1_ratio |w|_1 + (1 - l1_ratio) / 2 |w|^2): C = 1 / (alpha n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegression(C=1 / (alpha * n), l1_ratio=l1_ratio, solver="saga",
                                 tol=1e-12, max_iter=100_000).fit(X, y)
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    args = (np.ones(n), "log_loss", alpha * l1_ratio, alpha * (1 - l1_ratio))
    ours = objective(X, Y, clf.coef_, clf.intercept_, *args)
    theirs = objective(X, Y, ref.coef_, ref.intercept_, *args)
    assert (ours - theirs) / theirs <= 1e-9
    np.testing.assert_array_equal(clf.coef_ == 0, np.abs(ref.coef_) < 1e-7)


# ---- the margin losses and the softmax under an L1 part ------------------------------
def _kkt_violation(X, Y, est, loss, l1, l2):
    """The largest violation of the optimality conditions of the mean-loss
    objective at ``est``'s coefficients, from the numpy reference gradient:
    ``g_j + l2 w_j = -l1 sign(w_j)`` where ``w_j != 0``, ``|g_j| <= l1``
    where it is zero; the intercepts' gradient zero."""
    W, b = np.atleast_2d(est.coef_), np.atleast_1d(est.intercept_)
    G, Gb = data_gradient(X, Y, W, b, np.ones(X.shape[0]), loss)
    G = G + l2 * W
    on = W != 0
    violation = np.where(on, np.abs(G + l1 * np.sign(W)), np.maximum(np.abs(G) - l1, 0.0))
    return max(float(violation.max()), float(np.abs(Gb).max()) if est.fit_intercept else 0.0)


@pytest.mark.parametrize("loss", ["squared_hinge", "modified_huber"])
@pytest.mark.parametrize("penalty", ["l1", "elasticnet"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_default_margin_loss_fits_with_l1_are_certified_optima(loss, penalty, fit_intercept):
    # Before their duality gap and the generalised Newton finish, these fits
    # stopped on the gradient norm 4e-4 to 8e-4 above the optimum (unequal
    # feature scales, one-vs-rest), silently; a tighter rule ran max_iter.
    X, y = make_classification(1500, 12, n_informative=6, n_classes=3, random_state=0)
    X = X * np.logspace(-2, 2, 12) + 3.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning fails the test
        clf = GDClassifier(loss=loss, penalty=penalty, fit_intercept=fit_intercept,
                           random_state=0).fit(X, y)
    assert clf.n_iter_ <= 150
    Y = np.where(y[:, None] == clf.classes_[None, :], 1.0, -1.0)
    l1, l2 = clf._penalty(len(y))
    # the conditions hold to the rounding of the mean gradient (the scale
    # of the largest feature is 100: |g| ~ 1e2 at the start)
    assert _kkt_violation(X, Y, clf, loss, l1, l2) <= 1e-9
    if penalty == "l1":
        assert np.any(clf.coef_ == 0)  # L1 zeros, exactly


def test_squared_hinge_l1_fit_is_liblinears_optimum():
    # LinearSVC(penalty='l1', loss='squared_hinge', dual=False) minimises
    # |w|_1 + C sum_i max(0, 1 - y_i w.x_i)^2: with C = 1 / (alpha n) it is
    # skgd's mean loss + alpha |w|_1 (no intercept: liblinear penalises its own)
    X, y = make_classification(800, 10, n_informative=5, random_state=1)
    alpha, n = 1e-2, len(y)
    clf = GDClassifier(loss="squared_hinge", penalty="l1", alpha=alpha,
                       fit_intercept=False).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (liblinear's iteration limit at tol=1e-12)
        ref = LinearSVC(penalty="l1", loss="squared_hinge", dual=False, C=1 / (alpha * n),
                        fit_intercept=False, tol=1e-12, max_iter=100_000).fit(X, y)
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    values = [objective(X, Y, e.coef_, np.zeros(1), np.ones(n), "squared_hinge", alpha, 0.0)
              for e in (clf, ref)]
    assert (values[0] - values[1]) / values[1] <= 1e-9
    np.testing.assert_array_equal(clf.coef_ == 0, np.abs(ref.coef_) < 1e-8)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_default_multinomial_l1_fit_is_sklearns_optimum(fit_intercept):
    # The softmax is flat along the common shift of the classes' coefficients,
    # where only the L1 term decides: the proximal Newton model's active-set
    # solver follows such flat directions to their zero crossings.  FISTA
    # alone ran the 1,000 default iterations here.
    X, y = make_classification(1500, 12, n_informative=6, n_classes=3, random_state=0)
    alpha, n = 1e-3, len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = GDClassifier(penalty="l1", alpha=alpha, fit_intercept=fit_intercept).fit(X, y)
    assert clf.n_iter_ <= 150
    # LogisticRegression(C, l1_ratio=1) minimises the summed softmax loss +
    # |W|_1 / C: C = 1 / (alpha n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegression(C=1 / (alpha * n), l1_ratio=1.0, solver="saga",
                                 fit_intercept=fit_intercept, tol=1e-12,
                                 max_iter=100_000).fit(X, y)
    Y = np.eye(3)[y]
    values = [objective(X, Y, e.coef_, np.atleast_1d(e.intercept_) * np.ones(3),
                        np.ones(n), "multinomial", alpha, 0.0) for e in (clf, ref)]
    assert (values[0] - values[1]) / values[1] <= 1e-9


def test_weak_l1_fit_stops_where_the_proximal_newton_step_vanishes(monkeypatch):
    # alpha = 1 / (10 n): the L1 certificate's floor (the gradient's rounding
    # over l1 = 5e-5, times the loss) lies near the default target, and this
    # fit reaches a point where the exact model's minimiser is the point
    # itself before the gap certifies it: it stops there, converged, with
    # the optimality conditions holding to rounding.
    n = 2000
    X, y = make_classification(n, 10, n_informative=5, random_state=0)
    X = X * np.logspace(-1, 1, 10) + 3
    stationary, direction = [], newton.newton_direction

    def spy(*args, **kwargs):
        found = direction(*args, **kwargs)
        stationary.append(found is newton.STATIONARY)
        return found

    monkeypatch.setattr(newton, "newton_direction", spy)
    alpha = 1 / (10 * n)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = GDClassifier(penalty="l1", alpha=alpha).fit(X, y)
    assert stationary[-1] and clf.n_iter_ <= 100
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    # (the numpy reference gradient: the conditions that define the optimum)
    assert _kkt_violation(X, Y, clf, "log_loss", alpha, 0.0) <= 1e-12


# ---- wide problems: the Newton system by conjugate gradients ----------------------------
@pytest.mark.parametrize("loss", ["log_loss", "squared_hinge", "modified_huber"])
@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_conjugate_gradient_step_solves_the_newton_system(loss, layout, monkeypatch):
    # Forced on a problem small enough for the dense Hessian, with a tight
    # residual: the two solutions of the same system agree.
    rng = np.random.RandomState(3)
    n, d, K = 400, 8, 1 if loss == "log_loss" else 2
    X = rng.normal(size=(n, d)) * np.logspace(-1, 1, d) + 0.5
    if layout == "csr":
        X[rng.uniform(size=X.shape) < 0.5] = 0.0
        X = sp.csr_matrix(X)
    Y = np.where(rng.uniform(size=(n, K)) < 0.5, 1.0, -1.0)
    problem = Problem(X=X, Y=Y, sample_weight=rng.uniform(0.5, 2.0, n), loss=loss,
                      epsilon=0.0, l1=0.0, l2=1e-2, fit_intercept=True)
    W, b = rng.normal(scale=0.3, size=(K, d)), np.full(K, 0.2)
    derivative = np.zeros((n, K))
    G, Gb, _ = problem.gradient_pass(W, b, per_sample=derivative)
    center = np.asarray(X.mean(axis=0)).ravel()
    dense = newton.newton_direction(problem, W, b, G, Gb, derivative, center)
    monkeypatch.setattr(newton, "_dense_applies", lambda problem: False)
    monkeypatch.setattr(newton, "CG_FORCING", 1e-13)
    monkeypatch.setattr(newton, "CG_MAX_ITERATIONS", 1000)
    cg = newton.newton_direction(problem, W, b, G, Gb, derivative, center)
    for ours, theirs in zip(cg, dense):
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("loss", ["squared_hinge", "log_loss"])
def test_wide_sparse_fit_is_certified_at_liblinears_optimum(loss):
    # 5,000 features: too wide for the Hessian; the default fit of the
    # squared hinge ran its 1,000 FISTA iterations uncertified on such rows
    # (alpha 1e-5, 20,000 x 20,000 tf-idf: 7e-8 from the optimum, 2.3 s)
    # and finishes with truncated Newton steps now.
    rng = np.random.RandomState(0)
    n, d = 3000, 5000
    # text-like rows: Zipf-distributed word frequencies, ~30 words a row,
    # log counts, unit norms
    frequency = 1.0 / np.arange(1, d + 1) ** 1.1
    X = sp.csr_matrix((np.log1p(rng.geometric(0.6, size=(n, 30))).ravel(),
                       rng.choice(d, size=n * 30, p=frequency / frequency.sum()),
                       np.arange(0, n * 30 + 1, 30)), shape=(n, d))
    X.sum_duplicates()
    X = sp.diags(1 / np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())) @ X
    X = X.tocsr()
    y = (X @ (rng.normal(size=d) * (rng.uniform(size=d) < 0.1)) > 0).astype(int)
    alpha = 1e-5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = GDClassifier(loss=loss, alpha=alpha, fit_intercept=False).fit(X, y)
    assert clf.n_iter_ <= 150
    # LinearSVC / LogisticRegression minimise |w|^2 / 2 + C sum_i L_i:
    # C = 1 / (alpha n)
    C = 1 / (alpha * n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if loss == "squared_hinge":
            ref = LinearSVC(loss="squared_hinge", dual=False, C=C, fit_intercept=False,
                            tol=1e-12, max_iter=100_000).fit(X, y)
        else:
            ref = LogisticRegression(C=C, fit_intercept=False, tol=1e-12,
                                     max_iter=100_000).fit(X, y)
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    values = [objective(X, Y, e.coef_, np.zeros(1), np.ones(n), loss, 0.0, alpha)
              for e in (clf, ref)]
    assert (values[0] - values[1]) / values[1] <= 1e-9


# ---- wide sparse fits with an L1 part: coordinate descent on the Newton model -------
def _text_rows(n, d, seed=0, words=30, dtype=np.float64):
    """Text-like CSR rows: Zipf word frequencies, log counts, unit norms."""
    rng = np.random.RandomState(seed)
    frequency = 1.0 / np.arange(1, d + 1) ** 1.1
    X = sp.csr_matrix((np.log1p(rng.geometric(0.6, size=(n, words))).ravel(),
                       rng.choice(d, size=n * words, p=frequency / frequency.sum()),
                       np.arange(0, n * words + 1, words)), shape=(n, d))
    X.sum_duplicates()
    X = sp.diags(1 / np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())) @ X
    X = X.tocsr().astype(dtype)
    y = (X @ (rng.normal(size=d) * (rng.uniform(size=d) < 0.1)) > 0).astype(int)
    return X, y


def _count_coordinate_steps(monkeypatch):
    """A list that grows by one at each coordinate-descent Newton step."""
    calls = []
    original = newton._coordinate_step
    monkeypatch.setattr(newton, "_coordinate_step",
                        lambda *a: calls.append(1) or original(*a))
    return calls


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dense", [False, True])
def test_coordinate_model_descent_finds_the_l1_models_minimiser(fit_intercept, dense):
    # The kernel's step, against the exact minimiser of the same model by the
    # feature-sign search on the dense Hessian (another algorithm): the
    # model g.u + g_b v + sum_i c_i (x_i.u + v)^2 / 2 + l2 |u|^2 / 2
    # + l1 |w + u|_1 in the user's coordinates (u, v).
    from skgd._fast._coordinate_model import l1_model_descent

    rng = np.random.RandomState(1)
    n, m = 200, 40
    X = sp.random(n, m, density=0.2, random_state=rng, format="csc") * 3.0
    X = X.tocsc()
    c = rng.uniform(0.01, 0.25, n) / n
    w = rng.normal(size=m) * (rng.uniform(size=m) < 0.4)
    g, g_b = rng.normal(scale=1e-2, size=m), rng.normal(scale=1e-2)
    l1, l2 = 4e-3, 1e-4
    Z = np.hstack([X.toarray(), np.ones((n, 1))]) if fit_intercept else X.toarray()
    H = Z.T @ (c[:, None] * Z)
    H[np.arange(m), np.arange(m)] += l2
    penalty = np.r_[np.full(m, l1), 0.0] if fit_intercept else np.full(m, l1)
    x0 = np.r_[w, 0.0] if fit_intercept else w
    exact = newton._l1_model_step(H, np.r_[g, g_b] if fit_intercept else g, x0, penalty)

    sums = np.asarray(X.T @ c).ravel()
    inv_total = 1.0 / c.sum() if fit_intercept else 0.0
    step, residual = np.empty(m), np.empty(n)
    # the working set: every other column of a matrix twice as wide
    wide = sp.hstack([X, X * 0.5], format="csc")[:, np.r_[0:2 * m].reshape(2, m).T.ravel()]
    wide = sp.csc_matrix(wide)
    wide.sort_indices()
    columns = np.arange(0, 2 * m, 2, dtype=np.intp)
    if dense:  # column-major values, column j from j * n
        stored = (wide.toarray().ravel(order="F"), np.empty(0, dtype=np.intp),
                  np.arange(2 * m + 1, dtype=np.intp) * n, True)
    else:
        stored = (wide.data, wide.indices, wide.indptr, False)
    sweeps, largest = l1_model_descent(*stored, columns, c, sums, inv_total,
                                       g - g_b * inv_total * sums, w, l1, l2, step,
                                       residual, 1e-12, 100_000, 1e-15)
    assert largest <= 1e-15 and sweeps < 100_000
    np.testing.assert_allclose(step, exact[:m], atol=1e-9)
    np.testing.assert_array_equal(w + step == 0, x0[:m] + exact[:m] == 0)
    np.testing.assert_allclose(residual, X @ step, atol=1e-12)
    if fit_intercept:
        # the intercept's step, as _coordinate_step recovers it
        np.testing.assert_allclose(-(g_b + sums @ step) * inv_total, exact[m], atol=1e-9)


@pytest.mark.parametrize("loss", ["log_loss", "squared_hinge", "modified_huber"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("polish", [True, False])
def test_wide_sparse_l1_fits_are_certified_optima(loss, fit_intercept, polish, monkeypatch):
    # 3,000 features (too wide for the L1 model's dense Hessian): FISTA alone
    # ran hundreds of iterations to max_iter on such rows (tf-idf 20,000 x
    # 20,000, alpha 1e-5: 1,000 iterations, uncertified); the proximal
    # Newton steps solved by coordinate descent certify in tens, with the
    # working set's exact polish and (as on wider working sets) without.
    X, y = _text_rows(2000, 3000)
    if not polish:
        monkeypatch.setattr(newton, "POLISH_MAX_PARAMETERS", 0)
    calls = _count_coordinate_steps(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning fails the test
        clf = GDClassifier(loss=loss, penalty="l1", alpha=1e-4, fit_intercept=fit_intercept,
                           random_state=0).fit(X, y)
    assert calls and clf.n_iter_ <= 60
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    assert _kkt_violation(X, Y, clf, loss, 1e-4, 0.0) <= 1e-9
    assert 0 < np.count_nonzero(clf.coef_) < X.shape[1] // 2


def test_wide_sparse_l1_logistic_fit_is_liblinears_optimum():
    # LogisticRegression(l1_ratio=1, solver='liblinear') minimises |w|_1 +
    # C sum_i L_i: C = 1 / (alpha n), without an intercept (liblinear
    # penalises its own).  float32 rows: the kernel reads them as they are.
    X, y = _text_rows(2000, 3000, seed=1, dtype=np.float32)
    alpha, n = 3e-5, X.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = GDClassifier(penalty="l1", alpha=alpha, fit_intercept=False,
                           random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegression(l1_ratio=1.0, solver="liblinear", C=1 / (alpha * n),
                                 fit_intercept=False, tol=1e-9, max_iter=100_000).fit(X, y)
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    X64 = X.astype(np.float64)
    values = [objective(X64, Y, e.coef_, np.zeros(1), np.ones(n), "log_loss", alpha, 0.0)
              for e in (clf, ref)]
    assert (values[0] - values[1]) / values[1] <= 1e-9
    np.testing.assert_array_equal(clf.coef_ != 0, np.abs(ref.coef_) > 1e-8)


def _centred_model(columns, c, sums, inv_total, l1, l2, g, w):
    """The coordinate model's matrix A (dense) and value m(u) (numpy)."""
    Xd = columns.toarray()
    A = Xd.T @ (c[:, None] * Xd) - np.outer(sums, sums) * inv_total + l2 * np.eye(w.size)
    return A, lambda u: g @ u + 0.5 * u @ A @ u + l1 * np.abs(w + u).sum()


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_support_conjugate_gradient_minimises_the_sign_fixed_model(fit_intercept):
    # Away from zero (no coordinate crosses it) the CG step is the minimiser
    # of the quadratic the model is on the support with its signs, from a
    # dense solve; the coordinates off the support keep their step.
    rng = np.random.RandomState(2)
    n, m = 300, 30
    columns = (sp.random(n, m, density=0.3, random_state=rng, format="csc") * 2.0).tocsc()
    c = rng.uniform(0.05, 0.25, n) / n
    sums = np.asarray(columns.T @ c).ravel()
    inv_total = 1.0 / c.sum() if fit_intercept else 0.0
    l1, l2 = 1e-3, 1e-5
    w = rng.choice([-1.0, 1.0], m) * rng.uniform(5.0, 10.0, m)
    w[:5] = 0.0  # off the support
    g = rng.normal(scale=1e-3, size=m)
    step = np.zeros(m)
    u, products = newton._support_conjugate_gradient(
        columns, columns.multiply(columns), c, sums, inv_total, l1, l2, g, w, step, 1e-14)
    A, _ = _centred_model(columns, c, sums, inv_total, l1, l2, g, w)
    S = np.arange(5, m)
    exact = np.linalg.solve(A[np.ix_(S, S)], -(g[S] + l1 * np.sign(w[S])))
    np.testing.assert_allclose(u[S], exact, rtol=1e-8, atol=1e-12)
    np.testing.assert_array_equal(u[:5], 0.0)
    assert np.all(np.sign(w[S] + u[S]) == np.sign(w[S])) and products <= 2 * m


@pytest.mark.parametrize("seed", range(4))
def test_support_conjugate_gradient_never_raises_the_model(seed):
    # Near zero the CG iterate crosses it: the step returned keeps the
    # signs of the support (or zero), leaves the rest, and its model value
    # is at most the starting step's.
    rng = np.random.RandomState(seed)
    n, m = 200, 40
    columns = (sp.random(n, m, density=0.25, random_state=rng, format="csc") * 3.0).tocsc()
    c = rng.uniform(0.01, 0.25, n) / n
    sums = np.asarray(columns.T @ c).ravel()
    inv_total = 1.0 / c.sum()
    l1, l2 = 5e-3, 1e-4
    w = rng.normal(scale=0.05, size=m) * (rng.uniform(size=m) < 0.5)
    g = rng.normal(scale=2e-2, size=m)
    step = rng.normal(scale=0.05, size=m) * (rng.uniform(size=m) < 0.7)
    _, model = _centred_model(columns, c, sums, inv_total, l1, l2, g, w)
    u, _ = newton._support_conjugate_gradient(
        columns, columns.multiply(columns), c, sums, inv_total, l1, l2, g, w, step, 1e-14)
    x, x_new = w + step, w + u
    assert model(u) <= model(step) + 1e-15
    off = x == 0
    np.testing.assert_array_equal(x_new[off], 0.0)
    assert np.all((np.sign(x_new) == np.sign(x)) | (x_new == 0))
    assert model(u) < model(step)  # (it moved)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_weak_penalty_wide_sparse_logistic_fit_is_certified(fit_intercept):
    # alpha 1e-6 on text rows: the support is a large part of the columns
    # and the model ill-conditioned; coordinate descent alone used up its
    # budget and FISTA ran to max_iter uncertified (tf-idf 20,000 x 20,000:
    # 1,000 iterations, 2e-8 from the optimum; here too).  CG on the
    # support, with its larger budget, certifies it in tens of steps.
    X, y = _text_rows(2000, 3000, seed=3, words=43)
    flipped = np.random.RandomState(0).uniform(size=2000) < 0.2  # label noise
    y = np.where(flipped, 1 - y, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning fails the test
        clf = GDClassifier(penalty="l1", alpha=1e-6, fit_intercept=fit_intercept,
                           random_state=0).fit(X, y)
    assert clf.n_iter_ <= 60
    assert np.count_nonzero(clf.coef_) > newton.POLISH_MAX_PARAMETERS  # the CG path
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    assert _kkt_violation(X, Y, clf, "log_loss", 1e-6, 0.0) <= 1e-10


def test_stalled_coordinate_steps_hand_the_fit_back_to_fista(monkeypatch):
    # Sweeps that have cost their share of the budget (CD_PASS_SHARE times
    # max_iter passes over X; here almost none) mean an ill-conditioned
    # model: the accelerated iterations continue from the model reached,
    # with the rest of the budget, and certify the optimum.
    X, y = _text_rows(2000, 3000)
    monkeypatch.setattr(newton, "CD_PASS_SHARE", 1e-6)
    monkeypatch.setattr(newton, "SUPPORT_CG_PASS_SHARE", 1e-6)
    monkeypatch.setattr(newton, "POLISH_MAX_PARAMETERS", 0)  # sweeps alone
    calls = _count_coordinate_steps(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = GDClassifier(penalty="l1", alpha=1e-4, random_state=0).fit(X, y)
    assert len(calls) == 1
    assert clf.n_iter_ > 3  # FISTA iterations after it
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    assert _kkt_violation(X, Y, clf, "log_loss", 1e-4, 0.0) <= 1e-9


@pytest.mark.parametrize("layout", ["csr", "dense"])
def test_correlated_columns_are_polished_by_the_exact_model(layout):
    # Correlated columns (make_classification's redundant features, on
    # unequal scales; as CSR, half of the values stored): coordinate descent
    # crawls along them (100 sweeps a step, then FISTA: 326-583 iterations
    # at 5,000 x 500); ten sweeps find the support and the feature-sign
    # search on the working set's Hessian finishes each model exactly.
    # Dense rows had FISTA alone (499-1,000 iterations at 5,000 x 500).
    X, y = make_classification(1500, 300, n_informative=30, random_state=0)
    X = X * np.logspace(-1, 1, 300)
    X[np.abs(X) < 0.5] = 0.0
    X = sp.csr_matrix(X) if layout == "csr" else X
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = GDClassifier(penalty="l1", alpha=1e-3, random_state=0).fit(X, y)
    assert clf.n_iter_ <= 20
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    assert _kkt_violation(X, Y, clf, "log_loss", 1e-3, 0.0) <= 1e-9
    assert 0 < np.count_nonzero(clf.coef_) < 300


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_working_set_hessian_is_the_centred_gram_matrix(fit_intercept):
    # sum_i c_i (x_i - mu)(x_i - mu)^T + l2 I on the working set's columns,
    # mu = sum_i c_i x_i / C (zero without an intercept), formed densely here
    rng = np.random.RandomState(0)
    n, d = 3000, 50  # (more rows than one chunk)
    X = sp.random(n, d, density=0.3, random_state=rng, format="csr")
    c = rng.uniform(0.0, 0.25, n) / n
    working = np.array([3, 7, 8, 20, 41], dtype=np.intp)
    sums = np.asarray(X.T @ c).ravel()[working]
    inv_total = 1.0 / c.sum() if fit_intercept else 0.0
    Z = X.toarray()[:, working] - sums * inv_total
    expected = Z.T @ (c[:, None] * Z) + 0.5 * np.eye(working.size)
    H = newton._working_set_hessian(X, working, c, sums, inv_total, 0.5)
    np.testing.assert_allclose(H, expected, rtol=1e-12, atol=1e-15)


def test_dense_working_sets_too_large_for_the_exact_finish_stay_with_fista(monkeypatch):
    # Dense columns are gathered for each step only while the working set is
    # small enough for the exact finish; beyond it the first step gives up
    # and the accelerated iterations certify the optimum.
    X, y = make_classification(1500, 300, n_informative=30, random_state=0)
    monkeypatch.setattr(newton, "POLISH_MAX_PARAMETERS", 10)
    calls = _count_coordinate_steps(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf = GDClassifier(penalty="l1", alpha=1e-3, random_state=0).fit(X, y)
    assert len(calls) == 1
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    assert _kkt_violation(X, Y, clf, "log_loss", 1e-3, 0.0) <= 1e-9
