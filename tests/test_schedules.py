"""The schedule spec (skgd._schedules) and the one EpochConfig builder.

The formulas below are written independently of the kernel's
(``skgd/_fast/_schedule.pxd``), which both the epoch kernels and the batch
solver call.
"""

import math

import numpy as np
import pytest
from skgd._fast._stochastic import epoch_dense
from skgd._fast._stochastic_csr import epoch_csr
from skgd._fast._utils import schedule_step

from skgd import GDRegressor
from skgd._epoch_config import epoch_config
from skgd._schedules import LEARNING_RATES, SCHEDULE_CODES, batch_step
from skgd._solver_common import SolverOptions, SolverState


def reference_step(name, eta0, power_t, alpha, t0, t):
    if name == "optimal":
        return 1.0 / (alpha * (t0 + t))
    if name == "invscaling":
        return eta0 / (t + 1.0) ** power_t
    return eta0


@pytest.mark.parametrize("name", ["constant", "optimal", "invscaling"])
def test_schedule_step_is_the_schedule(name):
    for t in [0, 1, 7, 1000, 10**9]:
        got = schedule_step(SCHEDULE_CODES[name], 0.3, 0.4, 0.01, 50.0, t)
        assert got == pytest.approx(reference_step(name, 0.3, 0.4, 0.01, 50.0, t), rel=1e-14)


@pytest.mark.parametrize("name", ["constant", "optimal", "invscaling", "adaptive", "auto"])
def test_batch_step_follows_the_schedule(name):
    options = SolverOptions(learning_rate=name, eta0=0.2, power_t=0.3, alpha=1e-3)
    state = SolverState(W=np.zeros((1, 2)), b=np.zeros(1), t=12, lipschitz=4.0)
    typical_w = math.sqrt(1.0 / math.sqrt(1e-3))
    expected = {
        "constant": 0.2,
        "adaptive": 0.2,
        "invscaling": 0.2 / 13.0**0.3,
        "optimal": 1.0 / (1e-3 * (1.0 / (typical_w * 1e-3) + 12)),
        "auto": 1.0 / (4.0 * math.sqrt(13.0)),
    }[name]
    assert batch_step(options, state) == pytest.approx(expected, rel=1e-14)


def test_every_schedule_name_is_accepted_and_no_other():
    allowed = GDRegressor._parameter_constraints["learning_rate"][0]
    for name in LEARNING_RATES:
        assert allowed.is_satisfied_by(name)
    assert set(SCHEDULE_CODES) <= LEARNING_RATES
    assert not allowed.is_satisfied_by("linear")


def _kernel_args(sparse, n=6, d=3):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, d))
    Y = rng.normal(size=(n, 1))
    sw = np.ones(n)
    order = np.arange(n, dtype=np.intp)
    W, b = np.zeros((1, d)), np.zeros(1)
    buffers = (np.zeros((1, d)), np.zeros(1), np.zeros((1, d)), np.zeros(1))
    if sparse:
        import scipy.sparse as sp

        Xs = sp.csr_matrix(X)
        return epoch_csr, (Xs.data, Xs.indices, Xs.indptr, Y, sw, order, W, b, *buffers)
    return epoch_dense, (X, Y, sw, order, W, b, *buffers, np.ones(d), np.zeros(d))


@pytest.mark.parametrize("sparse", [False, True])
def test_epoch_config_is_what_the_kernels_take(sparse):
    cfg = epoch_config(0, l2=0.1, eta0=0.05)
    kernel, args = _kernel_args(sparse)
    t, n_averaged, loss_sum, weight_sum = kernel(*args, cfg, 0, 0)
    assert t == 6 and weight_sum == 6.0 and np.isfinite(loss_sum)
    # every field is needed: the builder is the one complete description
    for key in cfg:
        partial = {k: v for k, v in cfg.items() if k != key}
        with pytest.raises((TypeError, ValueError, KeyError)):
            kernel(*args, partial, 0, 0)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize(
    "case",
    [dict(schedule=2, l2=0.1, batch_size=4), dict(schedule=1, l1=0.02, l2=0.1, batch_size=3),
     dict(schedule=2, momentum=0.5, l2=0.2, batch_size=2)],
    ids=str,
)
def test_decaying_schedules_in_the_minibatch_loop(case, sparse):
    # the step changes every update: the penalty's per-feature tables follow it
    from test_kernels import test_epoch_equals_reference_epoch

    for loss in ["squared_error", "multinomial"]:
        test_epoch_equals_reference_epoch(case, loss, sparse, "varied", 7)
