"""Determinism and state: seeds, threads, clone, pickle, warm_start, partial_fit.

Every comparison here is bit-for-bit (``assert_array_equal``): the same
inputs and the same ``random_state`` must give the same floating-point
numbers, whatever ran before, alongside or in between (a pickle round trip).
"""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp
from skgd_estimators import ESTIMATORS
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError

import skgd

SOLVERS = ["batch", "sgd", "minibatch"]
STOCHASTIC = ["sgd", "minibatch"]


def make_data(Est, n=60, d=5, seed=0, sparse=False):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
    if sparse:
        X[rng.uniform(size=(n, d)) < 0.5] = 0.0
    w = rng.normal(size=d)
    if is_classifier(Est()):
        y = np.digitize(X @ w, np.quantile(X @ w, [1 / 3, 2 / 3]))
    else:
        y = X @ w + 1.0 + 0.3 * rng.normal(size=n)
    return (sp.csr_matrix(X) if sparse else X), y


def estimator(Est, solver, **params):
    est = Est(solver=solver, random_state=0, max_iter=15, tol=None, batch_size=8)
    return est.set_params(**params)


def assert_same_model(a, b):
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    assert (a.n_iter_, a.t_, a.solver_) == (b.n_iter_, b.t_, b.solver_)


def cases(*solvers):
    return [
        pytest.param(Est, solver, id=f"{Est.__name__}-{solver}")
        for Est in ESTIMATORS
        for solver in solvers
    ]


# ---- random_state --------------------------------------------------------------------

OPTIONS = {
    "default": {},
    "early_stopping": {
        "early_stopping": True,
        "validation_fraction": 0.2,
        "tol": 1e-3,
        "n_iter_no_change": 3,
    },
    "averaged_momentum": {"average": True, "momentum": 0.5},
    "explicit_schedule": {"learning_rate": "invscaling", "eta0": 0.01},
}


@pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"
)  # 15 epochs
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_same_random_state_gives_a_bit_identical_model(Est, solver, option, sparse):
    X, y = make_data(Est, sparse=sparse)
    a = estimator(Est, solver, **OPTIONS[option]).fit(X, y)
    # something else runs in between: a fit on other data with another seed
    estimator(Est, solver, random_state=7).fit(*make_data(Est, seed=3, sparse=sparse))
    b = estimator(Est, solver, **OPTIONS[option]).fit(X, y)
    assert_same_model(a, b)
    # RandomState instances seeded alike draw the same orders (and splits)
    c, d = (
        estimator(Est, solver, **OPTIONS[option])
        .set_params(random_state=np.random.RandomState(0))
        .fit(X, y)
        for _ in range(2)
    )
    assert_same_model(c, d)


@pytest.mark.parametrize("Est, solver", cases(*STOCHASTIC))
def test_the_seed_is_used(Est, solver):
    # guards the test above against an order that ignores random_state
    X, y = make_data(Est)
    a = estimator(Est, solver, max_iter=2).fit(X, y)
    b = estimator(Est, solver, max_iter=2, random_state=1).fit(X, y)
    assert not np.array_equal(a.coef_, b.coef_)


# ---- threads -------------------------------------------------------------------------


def _thread_jobs():
    jobs = []
    for Est in ESTIMATORS:
        for solver in SOLVERS:
            for sparse in (False, True):
                jobs.append((Est, solver, sparse))
    return jobs


def test_concurrent_fits_equal_sequential_fits():
    # The kernels release the GIL: fits running at the same time in threads
    # share the read-only data and must not share anything else.
    data = {}
    for Est, _, sparse in _thread_jobs():
        key = (is_classifier(Est()), sparse)
        if key not in data:
            data[key] = make_data(Est, n=400, d=12, sparse=sparse)
            if not sparse:
                data[key][0].setflags(write=False)

    def run(job):
        Est, solver, sparse = job
        X, y = data[(is_classifier(Est()), sparse)]
        return estimator(Est, solver, max_iter=10).fit(X, y)

    jobs = _thread_jobs() * 2
    sequential = [run(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=6) as pool:
        concurrent = list(pool.map(run, jobs))
    for job, seq, con in zip(jobs, sequential, concurrent):
        assert_same_model(seq, con)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
def test_model_does_not_depend_on_the_openmp_thread_count(sparse, openmp_threads):
    # The batch gradient splits the rows into blocks fixed by the shape of
    # the problem (here several) and adds the partial gradients in block
    # order: one OpenMP thread, three, or several fits at once in Python
    # threads each running a parallel kernel give the same bits.
    from skgd._fast._gradient import planned_threads

    X, y = make_data(skgd.GDRegressor, n=20000, d=20, sparse=sparse)
    shape = (X.shape[0], X.nnz if sparse else X.size, 1, X.shape[1])

    def run():
        # huber: the squared error would iterate on the Gram matrix
        # (skgd._gram) after one BLAS pass, not on the kernel's passes
        return skgd.GDRegressor(
            loss="huber", solver="batch", max_iter=5, tol=None
        ).fit(X, y)

    with openmp_threads(1):
        one = run()
    with openmp_threads(3):
        assert planned_threads(*shape) == 3  # the fits' gradients run on 3 threads
        every = run()
        with ThreadPoolExecutor(max_workers=3) as pool:
            concurrent = list(pool.map(lambda _: run(), range(3)))
    for model in [every, *concurrent]:
        assert_same_model(model, one)


def test_concurrent_partial_fit_streams_are_independent():
    Est = skgd.GDRegressor
    X, y = make_data(Est, n=300)

    def stream(seed):
        est = Est(solver="sgd", random_state=seed)
        for chunk in np.array_split(np.arange(len(y)), 6):
            est.partial_fit(X[chunk], y[chunk])
        return est

    seeds = list(range(8))
    sequential = [stream(s) for s in seeds]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(stream, seeds))
    for seq, con in zip(sequential, concurrent):
        assert_same_model(seq, con)


# ---- sample-weight scale -------------------------------------------------------------


def scale_free_weights(Est):
    """Whether Est's objective ignores the scale of the weights.

    Ridge's sum_i s_i L_i + alpha ||w||^2 does not (doubling the weights
    halves the relative penalty); the mean-loss objectives do.
    """
    est = Est()
    return est._penalty(1.0) == est._penalty(1e10)


WEIGHT_CASES = [
    pytest.param(Est, solver, id=f"{Est.__name__}-{solver}")
    for Est in ESTIMATORS
    if scale_free_weights(Est)
    for solver in SOLVERS
]


@pytest.mark.parametrize("Est, solver", WEIGHT_CASES)
def test_weights_scaled_by_a_power_of_two_give_the_same_bits(Est, solver):
    # The objective divides by the sum of the weights; internally the weights
    # are rescaled by a power of two (exact), so 2**k * sw is the same fit.
    X, y = make_data(Est)
    sw = np.random.RandomState(2).uniform(0.1, 3.0, size=len(y))
    ref = estimator(Est, solver).fit(X, y, sample_weight=sw)
    for k in (-300, -1, 1, 300):
        assert_same_model(
            estimator(Est, solver).fit(X, y, sample_weight=np.ldexp(sw, k)), ref
        )


@pytest.mark.parametrize("factor", [1e-100, 1e100])
@pytest.mark.parametrize("Est, solver", WEIGHT_CASES)
def test_extreme_weight_scales_give_the_same_model(Est, solver, factor):
    # Without the rescaling, weights of 1e100 times squared features of 1e150
    # overflowed (and 1e-100 underflowed) in the moments and the gradients.
    X, y = make_data(Est)
    X = X * 1e150
    sw = np.random.RandomState(2).uniform(0.1, 3.0, size=len(y))
    ref = estimator(Est, solver).fit(X, y, sample_weight=sw)
    est = estimator(Est, solver).fit(X, y, sample_weight=sw * factor)
    # sw * factor rounds differently from sw: equal up to that rounding
    scale = np.abs(ref.coef_).max()
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-9, atol=1e-9)


# ---- clone and pickle ----------------------------------------------------------------


@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_clone_of_a_fitted_model_refits_identically(Est, solver):
    X, y = make_data(Est)
    est = estimator(Est, solver, average=True).fit(X, y)
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "coef_") and not hasattr(copy, "_solver_state")
    with pytest.raises(NotFittedError):
        copy.predict(X)
    assert_same_model(copy.fit(X, y), est)


@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_pickle_after_fit(Est, solver):
    X, y = make_data(Est)
    est = estimator(Est, solver).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    assert_same_model(restored, est)
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))
    # a refit of the restored estimator is the original fit
    assert_same_model(restored.fit(X, y), est)


@pytest.mark.parametrize("random_state", ["int", "instance"])
@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_pickle_between_partial_fits_changes_nothing(Est, solver, random_state):
    # A model that is pickled, shipped and unpickled between two chunks of a
    # stream (joblib, dask's Incremental) must continue exactly as if it had
    # stayed in memory: the optimiser's state and the random generator travel
    # with it.
    X, y = make_data(Est, n=90)
    chunks = np.array_split(np.arange(len(y)), 3)
    seed = 0 if random_state == "int" else np.random.RandomState(0)
    kwargs = {"classes": np.unique(y)} if is_classifier(Est()) else {}
    a = estimator(Est, solver, random_state=seed, momentum=0.3, average=True)
    b = pickle.loads(pickle.dumps(a))
    for i, rows in enumerate(chunks):
        a.partial_fit(X[rows], y[rows], **kwargs)
        b = pickle.loads(pickle.dumps(b)).partial_fit(X[rows], y[rows], **kwargs)
        assert_same_model(a, b)
    # and after a fit, partial_fit continues identically too
    c = estimator(Est, solver, random_state=1).fit(X, y)
    d = pickle.loads(pickle.dumps(c))
    assert_same_model(c.partial_fit(X, y), d.partial_fit(X, y))


# ---- warm_start and partial_fit ------------------------------------------------------


@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_warm_start_continues_from_the_previous_coefficients(Est, solver):
    X, y = make_data(Est)
    first = estimator(Est, solver, warm_start=True).fit(X, y)
    coef, intercept = first.coef_.copy(), np.copy(first.intercept_)
    second = first.fit(X, y)
    # a warm start is a fit started at the previous solution, nothing else
    explicit = estimator(Est, solver).fit(
        X, y, coef_init=coef, intercept_init=intercept
    )
    assert_same_model(second, explicit)


@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_without_warm_start_a_refit_forgets_everything(Est, solver):
    X, y = make_data(Est)
    X2, y2 = make_data(Est, seed=5)
    est = estimator(Est, solver).fit(X2, y2)
    est.partial_fit(X2, y2)
    assert_same_model(est.fit(X, y), estimator(Est, solver).fit(X, y))


@pytest.mark.parametrize("Est", ESTIMATORS, ids=lambda E: E.__name__)
def test_warm_start_on_another_feature_count_starts_afresh(Est):
    X, y = make_data(Est)
    est = estimator(Est, "batch", warm_start=True).fit(X[:, :3], y)
    assert_same_model(est.fit(X, y), estimator(Est, "batch").fit(X, y))


@pytest.mark.parametrize("average", [False, True])
@pytest.mark.parametrize("Est, solver", cases(*STOCHASTIC))
def test_partial_fit_epochs_equal_fit_epochs(Est, solver, average):
    # n calls of partial_fit on the whole data are n epochs of fit: the step
    # schedule, the momentum, the average and the random orders continue
    X, y = make_data(Est)
    params = dict(
        momentum=0.4, average=average, max_iter=4, random_state=np.random.RandomState(3)
    )
    kwargs = {"classes": np.unique(y)} if is_classifier(Est()) else {}
    stream = estimator(Est, solver, **params)
    for _ in range(4):
        stream.partial_fit(X, y, **kwargs)
    params["random_state"] = np.random.RandomState(3)
    assert_same_model(stream, estimator(Est, solver, **params).fit(X, y))
    assert stream.n_iter_ == 4 and len(stream.loss_curve_) == 4


@pytest.mark.parametrize("Est", ESTIMATORS, ids=lambda E: E.__name__)
def test_partial_fit_batch_continues_the_fit(Est):
    # the batch solver's partial_fit takes one accelerated step per call from
    # the kept state: it reaches what fit reaches with as many epochs
    X, y = make_data(Est)
    kwargs = {"classes": np.unique(y)} if is_classifier(Est()) else {}
    stream = estimator(Est, "batch")
    for _ in range(300):
        stream.partial_fit(X, y, **kwargs)
    full = estimator(Est, "batch", max_iter=300).fit(X, y)
    assert stream.n_iter_ == 300 and stream.t_ >= 300
    np.testing.assert_allclose(stream.loss_curve_[-1], full.loss_curve_[-1], rtol=1e-6)
    np.testing.assert_allclose(stream.coef_, full.coef_, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_partial_fit_keeps_dtype_and_attributes(Est, solver):
    X, y = make_data(Est)
    kwargs = {"classes": np.unique(y)} if is_classifier(Est()) else {}
    est = estimator(Est, solver).partial_fit(X.astype(np.float32), y, **kwargs)
    est.partial_fit(X.astype(np.float32), y)
    assert est.coef_.dtype == np.float32
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2
    assert est.solver_ == solver and est.n_features_in_ == X.shape[1]


# A fit in a fresh interpreter (outside the checkout: the installed, compiled
# package) that prints the bytes of its coefficients.
_FIT_SCRIPT = """
import numpy as np
from sklearn.base import is_classifier
from skgd import GDClassifier, GDRegressor
from skgd._fast import _gradient, _stochastic
print(int(_gradient.avx_selected()), int(_stochastic.avx_selected()))
rng = np.random.RandomState(0)
X = rng.normal(size=(300, 45)) * rng.uniform(0.1, 10.0, size=45) + 1.0
y = X @ rng.normal(size=45) + rng.normal(size=300)
out = []
for dtype in (np.float64, np.float32):
    Xd = X.astype(dtype)
    for solver in ("batch", "sgd", "minibatch"):
        for est in (GDRegressor(solver=solver, max_iter=30, random_state=0),
                    GDRegressor(solver=solver, learning_rate="constant", eta0=1e-4,
                                max_iter=5, random_state=0),
                    GDClassifier(solver=solver, max_iter=30, random_state=0)):
            target = (y > np.median(y)).astype(int) if is_classifier(est) else y
            est.fit(Xd, target)
            out.append(np.asarray(est.coef_).tobytes().hex() + np.asarray(est.intercept_).tobytes().hex())
print(" ".join(out))
"""


def cpu_has_avx():
    """Whether the CPU runs AVX, as numpy's own run-time dispatch sees it."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__
    return bool(__cpu_features__.get("AVX", False))


def test_same_bits_with_and_without_avx(tmp_path):
    """The dense row loops have a scalar, an SSE2 and a run-time AVX version
    with one order of operations (skgd/_fast/_simd.h): a model must not
    depend on the machine's vector instructions.  45 features: vector loops
    (AVX from 32 features on) and a tail."""
    import os
    import subprocess
    import sys
    import warnings

    def run(env_value):
        env = dict(os.environ)
        env.pop("SKGD_DISABLE_AVX", None)
        if env_value is not None:
            env["SKGD_DISABLE_AVX"] = env_value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            proc = subprocess.run([sys.executable, "-W", "ignore", "-c", _FIT_SCRIPT],
                                  cwd=tmp_path, env=env, capture_output=True, text=True,
                                  timeout=300, check=True)
        selected, models = proc.stdout.split("\n", 1)
        return selected.split(), models.split()

    (avx, default), (no_avx, without_avx) = run(None), run("1")
    # which path ran, in both kernel modules: AVX wherever the CPU has it
    assert no_avx == ["0", "0"]
    if not cpu_has_avx():
        assert avx == ["0", "0"]
        pytest.skip("the CPU has no AVX: one vector path only, nothing to compare")
    assert avx == ["1", "1"]
    assert len(default) == 18
    assert default == without_avx
