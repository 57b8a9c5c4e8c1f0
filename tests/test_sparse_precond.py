"""Per-feature steps of the stochastic solvers on sparse rows.

``solver='minibatch'`` with ``learning_rate='auto'`` on CSR input scales the
step of feature j by ``1 / max(p_j, 1 / batch_size)`` rounded to a power of
two (``p_j`` the weighted fraction of rows storing it;
``skgd._sgd.frequency_preconditioner``), its L2 prox included, inside the
CSR epoch kernel: lazily (one L2 scale per power of two) or eagerly.  Held here: the kernel
against the numpy reference of the same update on the same sample order,
CSR against the dense kernel with the same multipliers, float32 against
float64, and the fit on rare features against the exact optimum.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from reference import objective, reference_epoch
from skgd._fast._stochastic_csr import epoch_csr
from sklearn.linear_model import LogisticRegression
from test_kernels import config, etas_for, make_problem, run_kernel_epoch
from test_sgd_defaults import weighted_mean

from skgd import GDClassifier
from skgd._sgd import FrequencyPreconditioner, frequency_preconditioner
from skgd._step_size import batch_lipschitz, stochastic_lipschitz

LAZY_CASES = [
    dict(l2=0.3),
    dict(l2=0.3, batch_size=4),
    dict(l2=30.0, eta0=0.5, batch_size=3),   # strong shrinks: scales folded
    dict(batch_size=5),                      # no penalty
    dict(l2=0.5, batch_size=2, schedule=2),  # a step that decays every update
]
EAGER_CASES = [
    dict(momentum=0.6, l2=0.2, batch_size=4),
    dict(momentum=0.5, nesterov=True, l1=0.02, l2=0.1, batch_size=3),
    dict(l2=0.2, batch_size=4, average_start=0),  # every iterate averaged
]


def run_scaled(X, Y, sw, order, W, b, cfg, step_scale, dtype=np.float64, avg=None):
    """One preconditioned epoch of the CSR kernel; returns W, b, W_avg, b_avg, out."""
    K, d = W.shape
    Xs = sp.csr_matrix(X.astype(dtype))
    W, b = W.copy(), b.copy()
    vel, vel_b = np.zeros((K, d)), np.zeros(K)
    W_avg, b_avg = np.zeros((K, d)), np.zeros(K)
    out = epoch_csr(Xs.data, Xs.indices, Xs.indptr, Y, sw, order, W, b, vel, vel_b,
                    W_avg, b_avg, cfg, 0, 0, step_scale)
    return W, b, W_avg, b_avg, out


def scaled_problem(loss, case, d, seed=0, lazy=None):
    """A problem and step multipliers: powers of two 1 .. 8 (the lazy path's),
    any positive values where the epoch is eager (momentum, or an average of
    every iterate)."""
    K = 3 if loss == "multinomial" else 1
    X, Y, sw, W, b = make_problem(loss, K=K, n=29, d=d, seed=seed, density=0.3)
    rng = np.random.RandomState(seed + 7)
    if lazy is None:
        lazy = case.get("momentum", 0) == 0 and case.get("average_start", -1) < 0
    if not lazy:
        step_scale = rng.uniform(0.2, 8.0, size=d)
    else:
        step_scale = 2.0 ** rng.randint(0, 4, size=d)
    cfg = config(loss, sw=sw, preconditioned=True, **case)
    return X, Y, sw, W, b, step_scale, cfg


@pytest.mark.parametrize("case", LAZY_CASES + EAGER_CASES,
                         ids=[str(c) for c in LAZY_CASES + EAGER_CASES])
@pytest.mark.parametrize("loss", ["squared_error", "log_loss", "multinomial"])
@pytest.mark.parametrize("d", [6, 40])
def test_scaled_csr_epoch_equals_reference(case, loss, d):
    X, Y, sw, W, b, step_scale, cfg = scaled_problem(loss, case, d)
    order = np.random.RandomState(1).permutation(X.shape[0])
    W_k, b_k, _, _, out = run_scaled(X, Y, sw, order, W, b, cfg, step_scale)
    n_updates = -(-len(order) // cfg["batch_size"])
    assert out[0] == n_updates
    W_r, b_r, *_ = reference_epoch(
        X, Y, sw, order, W, b, loss=loss, epsilon=0.3, batch_size=cfg["batch_size"],
        fit_intercept=True, l1=cfg["l1"], l2=cfg["l2"], etas=etas_for(cfg, n_updates),
        momentum=cfg["momentum"], nesterov=cfg["nesterov"], step_scale=step_scale,
    )
    np.testing.assert_allclose(W_k, W_r, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b_k, b_r, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", LAZY_CASES + EAGER_CASES,
                         ids=[str(c) for c in LAZY_CASES + EAGER_CASES])
def test_scaled_csr_epoch_equals_dense(case):
    # the dense kernel with the same multipliers and no centring
    X, Y, sw, W, b, step_scale, cfg = scaled_problem("log_loss", case, 40, seed=2)
    order = np.random.RandomState(3).permutation(X.shape[0])
    if cfg["average_start"] >= 0:
        cfg.update(average_every=1, average_power=2.0)
    csr = run_scaled(X, Y, sw, order, W, b, cfg, step_scale)
    dense = run_kernel_epoch(X, Y, sw, order, W, b, cfg, False, step_scale,
                             np.zeros(X.shape[1]))
    for c, a in zip(csr[:4], dense[:2] + dense[4:6]):
        np.testing.assert_allclose(c, a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("period, power", [(3, 2), (4, 1)])
def test_scaled_lazy_average_takes_every_period_th_iterate(period, power):
    # a period > 1 keeps the per-feature penalty lazy between the iterates
    # the average takes; those are brought up to date (every feature's
    # missed shrinks) before they join it
    X, Y, sw, W, b, step_scale, cfg = scaled_problem(
        "log_loss", dict(l2=5.0, eta0=0.2, batch_size=2, average_start=0), 30,
        lazy=True)
    cfg.update(average_every=period, average_power=float(power))
    order = np.random.RandomState(4).permutation(X.shape[0])
    iterates, W_i, b_i = [], W.copy(), b.copy()
    for start in range(0, len(order), 2):  # the reference, one update at a time
        W_i, b_i, *_ = reference_epoch(
            X, Y, sw, order[start:start + 2], W_i, b_i, loss="log_loss", epsilon=0.3,
            batch_size=2, fit_intercept=True, l1=0.0, l2=5.0, etas=[0.2],
            step_scale=step_scale,
        )
        iterates.append(np.r_[W_i.ravel(), b_i])
    W_k, b_k, W_avg, b_avg, out = run_scaled(X, Y, sw, order, W, b, cfg, step_scale)
    assert out[1] == len(iterates) // period
    np.testing.assert_allclose(np.r_[W_k.ravel(), b_k], iterates[-1], rtol=1e-10)
    np.testing.assert_allclose(np.r_[W_avg.ravel(), b_avg],
                               weighted_mean(iterates, period, power), rtol=1e-10)


@pytest.mark.parametrize("case", [LAZY_CASES[1], EAGER_CASES[0]], ids=["lazy", "eager"])
def test_scaled_csr_epoch_float32_close_to_float64(case):
    X, Y, sw, W, b, step_scale, cfg = scaled_problem("log_loss", case, 40, seed=5)
    X = X.astype(np.float32).astype(np.float64)  # the same values in both
    order = np.random.RandomState(6).permutation(X.shape[0])
    w64 = run_scaled(X, Y, sw, order, W, b, cfg, step_scale)
    w32 = run_scaled(X, Y, sw, order, W, b, cfg, step_scale, dtype=np.float32)
    # float32 rows are read as float64: the same arithmetic
    np.testing.assert_allclose(w32[0], w64[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(w32[1], w64[1], rtol=1e-12, atol=1e-14)


def test_lazy_scaled_epoch_refuses_l1_and_other_multipliers():
    X, Y, sw, W, b, step_scale, _ = scaled_problem("log_loss", {}, 6)
    order = np.arange(X.shape[0])
    cfg = config("log_loss", sw=sw, preconditioned=True, l1=0.01, batch_size=2)
    with pytest.raises(ValueError, match="no L1"):
        run_scaled(X, Y, sw, order, W, b, cfg, step_scale)
    cfg = config("log_loss", sw=sw, preconditioned=True, l2=0.1, batch_size=2)
    for bad in (3.0, 0.5, 2.0**63, np.inf, np.nan, 0.0):
        with pytest.raises(ValueError, match="powers of two"):
            run_scaled(X, Y, sw, order, W, b, cfg, np.r_[step_scale[:-1], bad])
    with pytest.raises(ValueError, match="step_scale"):
        run_scaled(X, Y, sw, order, W, b, cfg, None)
    # the largest multiplier taken
    run_scaled(X, Y, sw, order, W, b, cfg, np.r_[step_scale[:-1], 2.0**62])


def test_frequency_preconditioner():
    # rows 0..3 of weights 2, 1, 1, 1; column 0 in rows 0, 1, 3 (row 2
    # stores an explicit zero there), column 1 in row 0, column 2 in none,
    # column 3 in row 2
    X = sp.csr_matrix((np.array([1.0, 2.0, 1.0, 3.0, 0.0, 1.0]),
                       np.array([0, 1, 0, 0, 3, 0]), np.array([0, 2, 3, 5, 6])),
                      shape=(4, 4))
    sw = np.array([2.0, 1.0, 1.0, 1.0])
    precond = frequency_preconditioner(X, sw, 4)
    # p = [4/5, 2/5, 0, 1/5]: 1 / max(p, 1/4) = [1.25, 2.5, 4, 4], to the
    # nearest power of two
    np.testing.assert_array_equal(precond.step_scale, [1.0, 2.0, 4.0, 4.0])
    np.testing.assert_array_equal(precond.center, 0.0)
    assert precond.active
    np.testing.assert_array_equal(frequency_preconditioner(X, sw, 1).step_scale, 1.0)


def test_step_constants_in_the_scaled_coordinates():
    # the row bounds and the power iteration see the rows as x_ij sqrt(D_j)
    X = sp.random(200, 30, density=0.2, random_state=0, format="csr")
    sw = np.random.RandomState(0).uniform(0.5, 2.0, 200)
    precond = frequency_preconditioner(X, sw, 16)
    scaled = (X @ sp.diags(np.sqrt(precond.step_scale))).toarray()
    rows = (sw / sw.mean()) * (np.sum(scaled**2, axis=1) + 1.0)
    expected = 0.25 * rows.max()  # log-loss curvature
    got = stochastic_lipschitz(X, sw, precond, True, "log_loss", 1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    Z = np.c_[scaled, np.ones(200)]
    top = np.linalg.eigvalsh(Z.T @ (Z * (sw / sw.sum())[:, None]))[-1]
    got = batch_lipschitz(X, sw, precond, True, "log_loss", n_iter=500, rtol=1e-12)
    np.testing.assert_allclose(got, 0.25 * top, rtol=1e-6)


def rare_feature_data(n=3000, d=3000, seed=0):
    """Unit tf-idf-like rows over Zipf-distributed features: most features
    appear in a few rows, a handful in most."""
    rng = np.random.RandomState(seed)
    freq = 1.0 / np.arange(1, d + 1) ** 1.1
    lengths = np.maximum(1, rng.poisson(20, n))
    indptr = np.r_[0, np.cumsum(lengths)]
    cols = rng.choice(d, size=indptr[-1], p=freq / freq.sum())
    X = sp.csr_matrix((rng.uniform(0.5, 2.0, indptr[-1]), cols, indptr), shape=(n, d))
    X.sum_duplicates()
    idf = np.log((1 + n) / (1 + np.bincount(X.indices, minlength=d))) + 1
    X.data *= idf[X.indices]
    X = (sp.diags(1 / np.sqrt(X.multiply(X).sum(axis=1).A.ravel())) @ X).tocsr()
    margin = X @ (rng.randn(d) * (rng.rand(d) < 0.2) * 5) + 0.3 * rng.randn(n)
    return X, (margin > np.median(margin)).astype(int)


def test_minibatch_defaults_reach_the_optimum_on_rare_features():
    # Measured (relative gap): without the per-feature steps 3.6e-1 at
    # max_iter=150 (1.1e-1 at 1000); with them 3.5e-3, stopped at epoch 88.
    X, y = rare_feature_data()
    n = X.shape[0]
    alpha = 1.0 / (10 * n)
    exact = LogisticRegression(C=1.0 / (alpha * n), tol=1e-10, max_iter=10_000).fit(X, y)
    Y = np.where(y == 1, 1.0, -1.0)[:, None]

    def value(coef, intercept):
        return objective(X, Y, np.atleast_2d(coef), np.atleast_1d(intercept),
                         np.ones(n), "log_loss", 0.0, alpha)

    best = value(exact.coef_, exact.intercept_)
    est = GDClassifier(solver="minibatch", alpha=alpha, max_iter=150, random_state=0)
    est.fit(X, y)
    assert est.n_iter_ < est.max_iter
    assert (value(est.coef_, est.intercept_) - best) / best <= 1e-2


def test_partial_fit_pools_the_frequencies_of_its_chunks():
    X, y = rare_feature_data(n=600, d=200)
    est = GDClassifier(random_state=0)  # partial_fit: solver 'minibatch'
    est.partial_fit(X[:300], y[:300], classes=[0, 1])
    precond = est._solver_state.precond
    assert isinstance(precond, FrequencyPreconditioner)
    first = frequency_preconditioner(X[:300], np.ones(300), est.batch_size)
    np.testing.assert_array_equal(precond.freq, first.freq)
    est.partial_fit(X[300:], y[300:])
    # 300 rows of history (fewer than the 700 the new rows lack of 1000)
    pooled = (first.freq + frequency_preconditioner(
        X[300:], np.ones(300), est.batch_size).freq) / 2
    np.testing.assert_allclose(est._solver_state.precond.freq, pooled, rtol=1e-12)
    assert est._solver_state.precond.rows == 600
    # a long history is discounted to the 995 rows 5 new ones lack of 1000
    running = FrequencyPreconditioner(5000.0, pooled.copy(), 64)
    running.update(X[:5], np.ones(5))
    single = frequency_preconditioner(X[:5], np.ones(5), 64).freq
    np.testing.assert_allclose(running.freq, pooled + 5 / 1000 * (single - pooled),
                               rtol=1e-12)
    assert running.rows == 1000
    levels = np.rint(-np.log2(np.clip(running.freq, 1 / 64, 1)))
    np.testing.assert_array_equal(running.step_scale, 2.0**levels)


def test_partial_fit_switching_between_dense_and_sparse_chunks():
    # a dense chunk's standardising preconditioner is not applied to CSR
    # rows (no centring there), and the frequencies of a sparse chunk are a
    # valid uncentred scaling of dense rows (chunks of 1000 rows of 3000
    # features: the lazy CSR path, average_every 3)
    X, y = rare_feature_data(n=2000, d=3000)
    for first, second in ((X[:1000].toarray(), X[1000:]), (X[:1000], X[1000:].toarray())):
        est = GDClassifier(random_state=0)
        est.partial_fit(first, y[:1000], classes=[0, 1])
        est.partial_fit(second, y[1000:])
        assert np.all(np.isfinite(est.coef_))
