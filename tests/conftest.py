import contextlib
import os

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.RandomState(0)


@pytest.fixture
def pyplot():
    """Give matplotlib's pyplot with the Agg backend; close figures around the test."""
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    yield plt
    plt.close("all")


@pytest.fixture
def openmp_threads():
    """``with openmp_threads(n):`` runs the kernels' parallel regions on n threads.

    Asserts that the setting took effect (the kernels were built with OpenMP
    and read OpenMP's thread count), so that a thread test cannot pass on one
    thread -- whatever the number of cores.  A build without OpenMP must say
    so at test time with ``SKGD_OPENMP=0`` (the variable that turns it off at
    build time): the thread tests are then skipped.
    """
    from skgd._fast._gradient import max_threads
    from threadpoolctl import threadpool_limits

    if os.environ.get("SKGD_OPENMP", "1") in ("", "0"):
        pytest.skip("skgd built without OpenMP (SKGD_OPENMP=0)")

    @contextlib.contextmanager
    def limit(n_threads):
        with threadpool_limits(limits=n_threads, user_api="openmp"):
            assert max_threads() == n_threads, "the kernels do not run OpenMP threads"
            yield

    return limit
