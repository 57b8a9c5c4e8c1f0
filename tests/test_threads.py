"""The batch solver's BLAS work: one BLAS thread during a fit, products by parts."""

import sys

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import skgd._threads as threads
from skgd import GDClassifier
from skgd._solver_common import Problem
from skgd._step_size import centred_gram


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_a_batch_fit_runs_with_one_blas_thread_and_restores_it(monkeypatch):
    if not _blas_threads():
        pytest.skip("numpy is not linked to a BLAS threadpoolctl can control")
    seen = []
    gradient_pass = Problem.gradient_pass

    def spy(self, *args, **kwargs):
        seen.append(_blas_threads())
        return gradient_pass(self, *args, **kwargs)

    monkeypatch.setattr(Problem, "gradient_pass", spy)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 8))
    y = (X[:, 0] + rng.normal(size=300) > 0).astype(int)
    with threadpool_limits(limits=2, user_api="blas"):
        GDClassifier(solver="batch").fit(X, y)
        after = _blas_threads()
    assert seen and all(counts == [1] * len(counts) for counts in seen)
    assert after == [2] * len(after)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_covariance_by_parts_is_the_same_on_any_number_of_threads(monkeypatch, dtype):
    rng = np.random.RandomState(1)
    X = (rng.normal(size=(20_000, 12)) * rng.uniform(0.1, 10, 12) + 5.0).astype(dtype)
    sw = rng.uniform(0.5, 2.0, size=20_000)
    # small chunks: several parts of several chunks each
    monkeypatch.setattr("skgd._step_size._COVARIANCE_CHUNK_BYTES", 8 * 12 * 500)
    assert len(threads.row_parts(20_000, 500)) == 10
    results = []
    for workers in (1, 3, 8):
        monkeypatch.setattr(threads, "max_threads", lambda workers=workers: workers)
        results.append(centred_gram(X, sw, True))
    for cov, mean in results[1:]:
        np.testing.assert_array_equal(cov, results[0][0])
        np.testing.assert_array_equal(mean, results[0][1])
    # and it is the weighted covariance
    w = sw / sw.sum()
    Xd = X.astype(np.float64)
    mean = w @ Xd
    expected = (Xd - mean).T @ ((Xd - mean) * w[:, None])
    np.testing.assert_allclose(results[0][1], mean, rtol=1e-12)
    np.testing.assert_allclose(results[0][0], expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


def test_overlapping_fits_restore_the_blas_threads_when_the_last_one_ends():
    # two fits in two threads: the first to end must not lift the limit
    # under the other, nor the last leave it on
    if not _blas_threads():
        pytest.skip("numpy is not linked to a BLAS threadpoolctl can control")
    from contextlib import ExitStack

    with threadpool_limits(limits=2, user_api="blas"):
        first, second = ExitStack(), ExitStack()
        first.enter_context(threads.single_threaded_blas())
        second.enter_context(threads.single_threaded_blas())
        first.close()  # ends before the other: not in nesting order
        during = _blas_threads()
        second.close()
        after = _blas_threads()
    assert during == [1] * len(during)
    assert after == [2] * len(after)


def _sum_in_child(queue):
    from skgd._threads import sum_over_row_parts

    queue.put(sum_over_row_parts(100_000, 256, lambda lo, hi: np.array([hi - lo])).tolist())


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
def test_thread_pool_is_remade_in_a_forked_child():
    """The parts' pool is kept between calls, but its threads do not survive
    a fork: a child forked after a parallel product must make its own pool
    instead of queueing work to threads that do not exist (a hang)."""
    import multiprocessing

    from skgd._threads import row_parts, sum_over_row_parts

    assert len(row_parts(100_000, 256)) > 1  # several parts: the pool runs them
    parent = sum_over_row_parts(100_000, 256, lambda lo, hi: np.array([hi - lo]))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_sum_in_child, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=60) == parent.tolist() == [100_000]
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
