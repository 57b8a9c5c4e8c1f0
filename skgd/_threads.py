"""Thread pools: the batch solver's BLAS work on threads of its own.

The batch solver's passes over X run on OpenMP threads (``skgd._fast._gradient``),
one per core.  OpenBLAS keeps threads of its own, which spin for a while
after every multi-threaded call, on the same cores: the passes that follow a
large BLAS product (the covariance of the whitening or of the Gram-matrix
oracle) then ran 1.5 times slower, and the small BLAS calls between passes
(``d x d`` maps, dot products) woke them again.  A batch fit therefore runs
with BLAS limited to one thread (as scikit-learn's KMeans does around its
OpenMP loops), and its large products are split over rows into a number of
parts that depends on the shape only, summed in order: run on Python
threads (numpy releases the GIL in BLAS), whose result does not depend on
how many run.  Measured on ``benchmarks/time_to_solution.py``'s problems
(whole fits, median of 5): standardised logistic 0.33 -> 0.25 s, unscaled
0.30 -> 0.24 s, Ridge 0.11 -> 0.08 s, multinomial 0.79 -> 0.72 s.

Other threads of the process also see one BLAS thread while a batch fit
runs; the limit is lifted when it returns.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from ._fast._gradient import max_threads

_controller = None
# Fits running at the same time (threads of one process) share one limit:
# the first to start sets it, the last to end restores the user's setting.
# Nested scopes, one per fit, would restore in the wrong order when two
# fits overlap, and leave BLAS on one thread for good.
_lock = threading.Lock()
_active = 0
_limiter = None

# The pool of the parts' threads, kept between calls (starting two threads
# took ~0.3 ms per product, five times per sampled-Newton fit), with the
# process that made it: threads do not survive a fork, so a child process
# makes its own.
# The parts never wait on other parts, so fits on several threads can share
# it without a deadlock.
_pool = None
_pool_key = None  # (process id, workers)
_pool_lock = threading.Lock()


def _thread_pool(workers):
    global _pool, _pool_key
    with _pool_lock:
        if _pool is None or _pool_key[0] != os.getpid() or _pool_key[1] < workers:
            _pool = ThreadPoolExecutor(workers, thread_name_prefix="skgd")
            _pool_key = (os.getpid(), workers)
        return _pool


# A product over rows is split into at most this many parts of at least
# _MIN_PART_CHUNKS chunks each.
_MAX_PARTS = 16
_MIN_PART_CHUNKS = 4


@contextmanager
def single_threaded_blas():
    """Within the block, BLAS libraries use one thread (restored after)."""
    global _controller, _active, _limiter
    with _lock:
        if _active == 0:
            if _controller is None:
                # inspecting the loaded libraries takes ~15 ms: done once
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
            _limiter = _controller.limit(limits=1, user_api="blas")
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                _limiter.restore_original_limits()
                _limiter = None


def row_parts(n_rows, chunk_rows):
    """Fixed row ranges ``[(lo, hi), ...]`` of a product over rows (shape only)."""
    parts = max(1, min(_MAX_PARTS, n_rows // (_MIN_PART_CHUNKS * max(chunk_rows, 1))))
    return [(p * n_rows // parts, (p + 1) * n_rows // parts) for p in range(parts)]


def sum_over_row_parts(n_rows, chunk_rows, part_sum):
    """``sum_p part_sum(lo_p, hi_p)`` over :func:`row_parts`, added in order.

    The parts run on up to ``max_threads()`` Python threads, each with
    single-threaded BLAS: the same bits on any number of threads.
    """
    parts = row_parts(n_rows, chunk_rows)
    workers = min(len(parts), max(1, max_threads()))
    with single_threaded_blas():
        if workers == 1:
            results = [part_sum(lo, hi) for lo, hi in parts]
        else:
            results = list(_thread_pool(workers).map(lambda part: part_sum(*part), parts))
    total = results[0]
    for result in results[1:]:
        total = total + result
    return total
