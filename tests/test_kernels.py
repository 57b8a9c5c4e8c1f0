"""The compiled kernels against the numpy reference of tests/reference.py."""

import numpy as np
import pytest
import scipy.sparse as sp
from reference import (
    LOSS_CODES,
    data_gradient,
    loss_and_gradient,
    objective,
    reference_epoch,
)
from skgd._fast._gradient import gradient_csr, gradient_dense, n_blocks, planned_threads
from skgd._fast._stochastic import epoch_dense
from skgd._fast._stochastic_csr import epoch_csr

from skgd._epoch_config import epoch_config

REGRESSION = ["squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"]
BINARY = ["log_loss", "hinge", "squared_hinge", "modified_huber", "perceptron"]


def make_problem(loss, n=40, d=7, K=1, seed=0, density=0.4):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) * (rng.uniform(size=(n, d)) < density)
    if loss in REGRESSION:
        Y = rng.normal(size=(n, K)) * 2
    elif loss == "multinomial":
        Y = np.eye(K)[rng.randint(K, size=n)]
    else:
        Y = np.where(rng.uniform(size=(n, K)) < 0.5, -1.0, 1.0)
    sw = rng.uniform(0.5, 2.0, size=n)
    W = rng.normal(size=(K, d)) * 0.3
    b = rng.normal(size=K) * 0.3
    return X, Y, sw, W, b


def numerical_gradient(loss, y, p, h=1e-6):
    grad = np.zeros_like(p)
    for k in range(p.shape[1]):
        e = np.zeros_like(p)
        e[:, k] = h
        up, _ = loss_and_gradient(loss, y, p + e, 0.3)
        down, _ = loss_and_gradient(loss, y, p - e, 0.3)
        grad[:, k] = (up - down) / (2 * h)
    return grad


# Distance of a prediction to the kink of a loss whose derivative jumps there
# (epsilon = 0.3); the other losses are continuously differentiable.
KINK_DISTANCE = {
    "epsilon_insensitive": lambda Y, P: np.abs(np.abs(P - Y) - 0.3),
    "hinge": lambda Y, P: np.abs(Y * P - 1.0),
    "perceptron": lambda Y, P: np.abs(Y * P),
}


@pytest.mark.parametrize("loss", REGRESSION + BINARY + ["multinomial"])
def test_reference_gradient_matches_finite_differences(loss):
    X, Y, _, W, b = make_problem(loss, K=3 if loss == "multinomial" else 1)
    P = X @ W.T + b
    _, grad = loss_and_gradient(loss, Y, P, 0.3)
    h = 1e-6
    num = numerical_gradient(loss, Y, P, h)
    # a central difference straddling a kink measures neither side: leave
    # out the rows within h of one (none in practice: kinks are measure-zero)
    near_kink = np.zeros(len(P), dtype=bool)
    if loss in KINK_DISTANCE:
        near_kink = np.any(KINK_DISTANCE[loss](Y, P) <= 2 * h, axis=1)
    assert near_kink.sum() <= 1
    # O(h^2) error where the second derivative exists, O(h) at huber's and
    # the squared losses' curvature jumps
    np.testing.assert_allclose(grad[~near_kink], num[~near_kink], rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("loss", REGRESSION + BINARY + ["multinomial"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [7, 45])  # 45: the vector loops (AVX from 32) and a tail
def test_fused_gradient_equals_reference(loss, sparse, dtype, d):
    K = 3 if loss == "multinomial" else 2
    X, Y, sw, W, b = make_problem(loss, K=K, d=d)
    X = X.astype(dtype)
    W_eval, b_eval = W * 0.5, b + 0.1
    G, Gb = np.empty_like(W), np.empty_like(b)
    args = (Y, sw, W, b, W_eval, b_eval, G, Gb, LOSS_CODES[loss], 0.3)
    if sparse:
        Xs = sp.csr_matrix(X)
        total = gradient_csr(Xs.data, Xs.indices, Xs.indptr, *args)
    else:
        total = gradient_dense(X, *args)
    G_ref, Gb_ref = data_gradient(X.astype(float), Y, W, b, sw, loss, 0.3)
    obj = objective(X.astype(float), Y, W_eval, b_eval, sw, loss, 0.0, 0.0, 0.3)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(G / sw.sum(), G_ref, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(Gb / sw.sum(), Gb_ref, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(total / sw.sum(), obj, rtol=rtol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [1, 7, 8, 19, 64])
def test_two_point_gradient_equals_one_point_passes(dtype, d):
    """With two points the gradient and the loss come from one pass over
    the rows (each tile's dot products taken at both points): the same bits
    as one point at a time."""
    X, Y, sw, W, b = make_problem("log_loss", K=2, d=d, n=50)
    X = X.astype(dtype)
    W_eval, b_eval = W * 0.5 - 0.1, b + 0.1
    G, Gb = np.empty_like(W), np.empty_like(b)
    G1, Gb1 = np.empty_like(W), np.empty_like(b)
    G2, Gb2 = np.empty_like(W), np.empty_like(b)
    code = LOSS_CODES["log_loss"]
    total = gradient_dense(X, Y, sw, W, b, W_eval, b_eval, G, Gb, code, 0.3)
    gradient_dense(X, Y, sw, W, b, W, b, G1, Gb1, code, 0.3)
    total_eval = gradient_dense(X, Y, sw, W_eval, b_eval, W_eval, b_eval, G2, Gb2,
                                code, 0.3)
    assert np.array_equal(G, G1) and np.array_equal(Gb, Gb1)
    assert total == total_eval


@pytest.mark.parametrize("loss", ["log_loss", "hinge", "multinomial"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("d", [5, 45, 64])
@pytest.mark.parametrize("n", [1, 3, 4, 23])
@pytest.mark.parametrize("at_zero", [False, True])
def test_dense_pass_has_the_bits_of_one_row_at_a_time(loss, dtype, d, n, at_zero):
    """The dense pass takes its rows four at a time (``_simd_tile.h``), yet
    every sum must add the rows' terms one after the other, in row order:
    the bits of one-row passes added up in order.  Zero weights and zero
    derivatives (hinge) thin the tiles; n = 23 leaves a tail of three.  At
    W = 0 the pass skips the dot products."""
    K = 3 if loss == "multinomial" else 2
    X, Y, sw, W, b = make_problem(loss, K=K, d=d, n=n, density=0.8)
    X = X.astype(dtype)
    sw[1::5] = 0.0
    if loss == "hinge":
        W *= 5.0  # many margins beyond 1: zero derivatives
    if at_zero:
        W[:] = 0.0
        G0, Gb0 = np.empty_like(W), np.empty_like(b)
        gradient_dense(X, Y, sw, W, b, W, b, G0, Gb0, LOSS_CODES[loss], 0.3)
        G_ref, Gb_ref = data_gradient(X.astype(float), Y, W, b, sw, loss, 0.3)
        np.testing.assert_allclose(G0 / sw.sum(), G_ref, rtol=1e-5, atol=1e-12)
    code = LOSS_CODES[loss]
    assert n_blocks(n, n * d, K, d) == 1  # one block: a single sum in row order
    G, Gb = np.empty_like(W), np.empty_like(b)
    total = gradient_dense(X, Y, sw, W, b, W, b, G, Gb, code, 0.3)
    G_rows, Gb_rows, total_rows = np.zeros_like(W), np.zeros_like(b), 0.0
    for i in range(n):
        Gi, Gbi = np.empty_like(W), np.empty_like(b)
        total_rows += gradient_dense(X[i:i + 1], Y[i:i + 1], sw[i:i + 1], W, b, W, b,
                                     Gi, Gbi, code, 0.3)
        G_rows += Gi
        Gb_rows += Gbi
    assert np.array_equal(G, G_rows) and np.array_equal(Gb, Gb_rows)
    assert total == total_rows


def run_kernel_epoch(X, Y, sw, order, W, b, cfg, sparse, step_scale=None, center=None):
    K, d = W.shape
    W, b = W.copy(), b.copy()
    vel, vel_b = np.zeros((K, d)), np.zeros(K)
    W_avg, b_avg = np.zeros((K, d)), np.zeros(K)
    if sparse:
        Xs = sp.csr_matrix(X)
        out = epoch_csr(Xs.data, Xs.indices, Xs.indptr, Y, sw, order, W, b, vel, vel_b,
                        W_avg, b_avg, cfg, 0, 0)
    else:
        ss = np.ones(d) if step_scale is None else step_scale
        c = np.zeros(d) if center is None else center
        out = epoch_dense(X, Y, sw, order, W, b, vel, vel_b, W_avg, b_avg, ss, c, cfg, 0, 0)
    return W, b, vel, vel_b, W_avg, b_avg, out


def config(loss, batch_size=1, l1=0.0, l2=0.0, momentum=0.0, nesterov=False, eta0=0.05,
           schedule=0, preconditioned=False, center_sq=0.0, sw=None, average_start=-1):
    return epoch_config(
        LOSS_CODES[loss], epsilon=0.3, batch_size=batch_size, fit_intercept=True,
        l1=l1, l2=l2, schedule=schedule, eta0=eta0, power_t=0.5, optimal_alpha=0.1,
        optimal_t0=10.0, momentum=momentum, nesterov=nesterov,
        average_start=average_start, weight_scale=1.0 / sw.mean(),
        preconditioned=preconditioned, center_sq=center_sq,
    )


def etas_for(cfg, n_updates):
    t = np.arange(n_updates)
    if cfg["schedule"] == 1:
        return 1.0 / (cfg["optimal_alpha"] * (cfg["optimal_t0"] + t))
    if cfg["schedule"] == 2:
        return cfg["eta0"] / (t + 1.0) ** cfg["power_t"]
    return np.full(n_updates, cfg["eta0"])


CASES = [
    dict(),
    dict(l2=0.3),
    dict(l1=0.05),
    dict(l1=0.02, l2=0.2),
    dict(batch_size=5, l1=0.02, l2=0.1),
    dict(momentum=0.8),
    dict(momentum=0.7, nesterov=True, l2=0.1, batch_size=3),
    dict(schedule=1, l2=0.1),
    dict(schedule=2, l1=0.01),
]


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize("loss", ["squared_error", "huber", "log_loss", "hinge", "multinomial"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("weights", ["varied", "equal"])
@pytest.mark.parametrize("d", [7, 45])
def test_epoch_equals_reference_epoch(case, loss, sparse, weights, d):
    K = 3 if loss == "multinomial" else 2
    X, Y, sw, W, b = make_problem(loss, K=K, n=23, d=d)
    if weights == "equal":
        # the kernels then read no weight per row (a value other than 1
        # checks that the common weight still scales the loss sums)
        sw = np.full_like(sw, 2.5)
    order = np.random.RandomState(1).permutation(X.shape[0])
    cfg = config(loss, sw=sw, **case)
    W_k, b_k, vel, vel_b, _, _, out = run_kernel_epoch(X, Y, sw, order, W, b, cfg, sparse)
    assert out[0] == -(-len(order) // cfg["batch_size"])
    np.testing.assert_allclose(out[3], sw[order].sum(), rtol=1e-12)
    n_updates = -(-len(order) // cfg["batch_size"])
    W_r, b_r, vel_r, vel_b_r = reference_epoch(
        X, Y, sw, order, W, b, loss=loss, epsilon=0.3, batch_size=cfg["batch_size"],
        fit_intercept=True, l1=cfg["l1"], l2=cfg["l2"], etas=etas_for(cfg, n_updates),
        momentum=cfg["momentum"], nesterov=cfg["nesterov"],
    )
    np.testing.assert_allclose(W_k, W_r, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b_k, b_r, rtol=1e-10, atol=1e-12)
    if cfg["momentum"]:
        np.testing.assert_allclose(vel, vel_r, rtol=1e-10, atol=1e-12)


PRECONDITIONED_CASES = [
    dict(),
    dict(l2=0.3),                       # batch of one row: the dedicated sgd loop
    dict(l2=0.3, fit_intercept=False),
    dict(l2=0.3, average_start=5),
    dict(l1=0.02, l2=0.1, batch_size=4),
    dict(l1=0.02),
    dict(momentum=0.5, l2=0.2),
]


@pytest.mark.parametrize("case", PRECONDITIONED_CASES,
                         ids=[str(c) for c in PRECONDITIONED_CASES])
@pytest.mark.parametrize("weights", ["varied", "equal"])
@pytest.mark.parametrize("d", [7, 45])
def test_preconditioned_epoch_equals_reference(case, weights, d):
    case = dict(case)
    fit_intercept = case.pop("fit_intercept", True)
    X, Y, sw, W, b = make_problem("squared_error", K=2, n=31, d=d)
    if weights == "equal":
        sw = np.full_like(sw, 0.7)
    X = X * np.resize([1, 10, 0.1, 3, 1, 100, 1], d) + 5
    rng = np.random.RandomState(3)
    step_scale = rng.uniform(0.01, 2.0, size=X.shape[1])
    center = X.mean(axis=0) if fit_intercept else np.zeros(X.shape[1])
    if not fit_intercept:
        b = np.zeros_like(b)
    center_sq = float(np.sum(step_scale * center**2))
    cfg = config("squared_error", sw=sw, preconditioned=True, center_sq=center_sq,
                 eta0=0.01, **case)
    cfg["fit_intercept"] = fit_intercept
    order = rng.permutation(X.shape[0])
    W_k, b_k, _, _, W_avg, b_avg, out = run_kernel_epoch(
        X, Y, sw, order, W, b, cfg, False, step_scale, center)
    n_updates = -(-len(order) // cfg["batch_size"])
    assert out[0] == n_updates
    np.testing.assert_allclose(out[3], sw[order].sum(), rtol=1e-12)
    W_r, b_r, *_ = reference_epoch(
        X, Y, sw, order, W, b, loss="squared_error", epsilon=0.3,
        batch_size=cfg["batch_size"], fit_intercept=fit_intercept, l1=cfg["l1"],
        l2=cfg["l2"], etas=etas_for(cfg, n_updates), momentum=cfg["momentum"],
        step_scale=step_scale, center=center,
    )
    np.testing.assert_allclose(W_k, W_r, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b_k, b_r, rtol=1e-10, atol=1e-12)
    if case.get("average_start", -1) >= 0:
        # the running mean of the iterates after update 5, replayed one
        # row at a time on the reference
        iterates, W_i, b_i = [], W.copy(), b.copy()
        for r in range(len(order)):
            W_i, b_i, *_ = reference_epoch(
                X, Y, sw, order[r:r + 1], W_i, b_i, loss="squared_error",
                epsilon=0.3, batch_size=1, fit_intercept=fit_intercept, l1=0.0,
                l2=cfg["l2"], etas=[0.01], step_scale=step_scale, center=center,
            )
            iterates.append((W_i, b_i))
        W_mean = np.mean([w for w, _ in iterates[5:]], axis=0)
        b_mean = np.mean([c for _, c in iterates[5:]], axis=0)
        np.testing.assert_allclose(W_avg, W_mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b_avg, b_mean, rtol=1e-9, atol=1e-12)


def test_lazy_sparse_l2_scale_folding():
    """Strong L2 with a large step drives the lazy scale below 1e-9 mid-epoch."""
    X, Y, sw, W, b = make_problem("squared_error", K=1, n=60, density=0.2)
    order = np.arange(60)
    cfg = config("squared_error", sw=sw, l2=50.0, l1=0.01, eta0=0.5)
    W_k, b_k, *_ = run_kernel_epoch(X, Y, sw, order, W, b, cfg, True)
    W_r, b_r, *_ = reference_epoch(
        X, Y, sw, order, W, b, loss="squared_error", epsilon=0.3, batch_size=1,
        fit_intercept=True, l1=0.01, l2=50.0, etas=np.full(60, 0.5),
    )
    np.testing.assert_allclose(W_k, W_r, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(b_k, b_r, rtol=1e-9, atol=1e-14)


def test_averaging_is_running_mean_of_iterates():
    X, Y, sw, W, b = make_problem("squared_error", K=1, n=12)
    order = np.arange(12)
    cfg = config("squared_error", sw=sw, l2=0.1, average_start=0)
    iterates = []
    W_i, b_i = W.copy(), b.copy()
    for i in range(12):
        W_i, b_i, *_ = reference_epoch(
            X, Y, sw, order[i:i + 1], W_i, b_i, loss="squared_error", epsilon=0.3,
            batch_size=1, fit_intercept=True, l1=0.0, l2=0.1, etas=[0.05],
        )
        iterates.append(np.r_[W_i.ravel(), b_i])
    for sparse in (False, True):
        W_k, b_k, _, _, W_avg, b_avg, out = run_kernel_epoch(X, Y, sw, order, W, b, cfg, sparse)
        assert out[1] == 12
        np.testing.assert_allclose(np.r_[W_avg.ravel(), b_avg], np.mean(iterates, axis=0),
                                   rtol=1e-10)


def test_int64_indices_and_float32_sparse():
    X, Y, sw, W, b = make_problem("log_loss", K=1, n=30)
    Xs = sp.csr_matrix(X.astype(np.float32))
    Xs.indices = Xs.indices.astype(np.int64)
    Xs.indptr = Xs.indptr.astype(np.int64)
    cfg = config("log_loss", sw=sw, l1=0.01)
    order = np.arange(30)
    W_a, b_a = W.copy(), b.copy()
    z = np.zeros((1, 7)), np.zeros(1)
    epoch_csr(Xs.data, Xs.indices, Xs.indptr, Y, sw, order, W_a, b_a, *z, *z, cfg, 0, 0)
    W_r, b_r, *_ = reference_epoch(
        X.astype(np.float32), Y, sw, order, W, b, loss="log_loss", epsilon=0.3,
        batch_size=1, fit_intercept=True, l1=0.01, l2=0.0, etas=np.full(30, 0.05),
    )
    np.testing.assert_allclose(W_a, W_r, rtol=1e-9)


@pytest.mark.parametrize("loss", ["squared_error", "multinomial"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_bit_identical_on_any_thread_count(loss, sparse, dtype,
                                                    openmp_threads):
    """Row blocks are fixed by the shape and reduced in block order, so the
    thread count (1, 2, 3, OpenMP's default: 4 here) cannot change a bit."""
    K = 3 if loss == "multinomial" else 1
    X, Y, sw, W, b = make_problem(loss, n=40_000, d=20, K=K, density=0.9)
    X = X.astype(dtype)
    Xs = sp.csr_matrix(X)
    shape = (X.shape[0], Xs.nnz if sparse else X.size, K, X.shape[1])
    assert n_blocks(*shape) >= 4
    W_eval, b_eval = W * 0.5, b + 0.1
    results = []
    with openmp_threads(4):
        for n_threads, expected in ((1, 1), (2, 2), (3, 3), (-1, 4)):
            # the team the call below runs its row blocks on
            assert planned_threads(*shape, n_threads) == expected
            G, Gb = np.empty_like(W), np.empty_like(b)
            args = (Y, sw, W, b, W_eval, b_eval, G, Gb, LOSS_CODES[loss], 0.3, n_threads)
            if sparse:
                total = gradient_csr(Xs.data, Xs.indices, Xs.indptr, *args)
            else:
                total = gradient_dense(X, *args)
            results.append((G, Gb, total))
    for G, Gb, total in results[1:]:
        assert np.array_equal(G, results[0][0])
        assert np.array_equal(Gb, results[0][1])
        assert total == results[0][2]
    G_ref, Gb_ref = data_gradient(X.astype(float), Y, W, b, sw, loss, 0.3)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(results[0][0] / sw.sum(), G_ref, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(results[0][1] / sw.sum(), Gb_ref, rtol=rtol, atol=1e-12)


def test_batch_fit_bit_identical_with_one_openmp_thread(openmp_threads):
    from skgd import GDRegressor

    X, Y, sw, _, _ = make_problem("squared_error", n=40_000, d=20, K=1)
    est = GDRegressor(solver="batch", max_iter=20, tol=None)
    with openmp_threads(3):
        assert planned_threads(X.shape[0], X.size, 1, X.shape[1]) == 3
        coef = est.fit(X, Y[:, 0], sample_weight=sw).coef_.copy()
    with openmp_threads(1):
        coef_one = est.fit(X, Y[:, 0], sample_weight=sw).coef_
    assert np.array_equal(coef, coef_one)


def test_shuffled_order_is_a_uniform_permutation():
    from collections import Counter

    from skgd._fast._utils import shuffled_order

    order = np.empty(1000, dtype=np.intp)
    shuffled_order(order, 7)
    assert np.array_equal(np.sort(order), np.arange(1000))
    again = np.empty_like(order)
    shuffled_order(again, 7)
    assert np.array_equal(order, again)  # a seed fixes the order
    shuffled_order(again, 8)
    assert not np.array_equal(order, again)
    # all 24 orders of 4 rows, equally often (expected 1000 each, sd ~31)
    small = np.empty(4, dtype=np.intp)
    counts = Counter()
    for seed in range(24_000):
        shuffled_order(small, seed)
        counts[tuple(small)] += 1
    assert len(counts) == 24
    assert 850 < min(counts.values()) and max(counts.values()) < 1150
