"""The stochastic solvers: sgd (one sample per step) and minibatch.

Python drives the epochs and owns the random order; one compiled call
(``skgd._fast._stochastic``) runs each epoch.
"""

import numpy as np
import scipy.sparse as sp

from ._fast._stochastic import epoch_csr, epoch_dense
from ._fast._utils import shuffled_order
from ._objective import penalty_value
from ._solver_common import (
    _divergence_guarded,
    _EpochLoop,
    _initialise_intercept,
    _schedule_config,
)
from ._step_size import Preconditioner, stochastic_lipschitz


def _average_start(average, batch_size):
    """Number of updates after which averaging starts (-1: no averaging)."""
    if average is False or average is None or average == 0:
        return -1
    if average is True or average == 1:
        return 0
    return int(average) // batch_size


def _solve_stochastic(problem, state, options, batch_size):
    X = problem.X
    n, d, K = problem.n_samples, problem.n_features, problem.n_outputs
    batch_size = max(1, min(batch_size, n))
    if state.precond is None:
        state.precond = (
            Preconditioner.from_data(X, problem.sample_weight, problem.fit_intercept)
            if options.learning_rate == "auto"
            else Preconditioner.identity(d)
        )
    if state.lipschitz is None and options.learning_rate == "auto":
        state.lipschitz = stochastic_lipschitz(
            X, problem.sample_weight, state.precond, problem.fit_intercept,
            problem.loss, batch_size,
        )
    if state.velocity is None:
        state.velocity, state.velocity_b = np.zeros((K, d)), np.zeros(K)
    if state.W_avg is None:
        state.W_avg, state.b_avg = np.zeros((K, d)), np.zeros(K)
    if options.learning_rate == "auto":
        _initialise_intercept(problem, state)
    rng = options.random_state
    loop = _EpochLoop(problem, state, options)
    base = {
        "loss": problem.loss_code,
        "epsilon": problem.epsilon,
        "batch_size": batch_size,
        "fit_intercept": problem.fit_intercept,
        "l1": problem.l1,
        "l2": problem.l2,
        "momentum": options.momentum,
        "nesterov": options.nesterov,
        "average_start": _average_start(options.average, batch_size),
        "weight_scale": 1.0 / problem.sample_weight.mean(),
        "preconditioned": state.precond.active,
        "center_sq": float(np.sum(state.precond.step_scale * state.precond.center**2)),
    }
    # One index buffer for the fit, reshuffled in place (in C) every epoch
    # from a seed drawn from the estimator's RandomState.
    order = np.arange(n, dtype=np.intp)
    for _ in range(options.max_iter):
        if options.shuffle:
            seed = int(rng.randint(np.iinfo(np.int64).max, dtype=np.int64))
            shuffled_order(order, seed)
        eta, schedule = _schedule_config(options, state)
        cfg = {**base, **schedule}
        if sp.issparse(X):
            out = epoch_csr(
                X.data, X.indices, X.indptr, problem.Y, problem.sample_weight, order,
                state.W, state.b, state.velocity, state.velocity_b,
                state.W_avg, state.b_avg, cfg, state.t, state.n_averaged,
            )
        else:
            out = epoch_dense(
                X, problem.Y, problem.sample_weight, order, state.W, state.b,
                state.velocity, state.velocity_b, state.W_avg, state.b_avg,
                state.precond.step_scale, state.precond.center, cfg,
                state.t, state.n_averaged,
            )
        state.t, state.n_averaged, loss_sum, weight_sum = out
        # The epoch's objective is estimated from the losses the rows had
        # when they were visited (free, as in scikit-learn's SGD) plus the
        # penalty at the end of the epoch.
        W, _ = state.coefficients()
        objective = loss_sum / weight_sum + penalty_value(W, problem.l1, problem.l2)
        if loop.end_epoch(objective, eta):
            break
    return loop.result


@_divergence_guarded
def solve_sgd(problem, state, options):
    """Stochastic gradient descent: one step per sample.

    L2 is applied by its proximal operator (a shrink that never flips a
    sign), L1 by Tsuruoka et al.'s cumulative penalty (exact zeros), both
    lazily on sparse rows (see ``skgd/_fast/_stochastic.pyx``).
    """
    return _solve_stochastic(problem, state, options, batch_size=1)


@_divergence_guarded
def solve_minibatch(problem, state, options):
    """Mini-batch gradient descent: one step per ``batch_size`` rows.

    The step is the mean of the rows' gradients; the penalty is applied as in
    :func:`solve_sgd`.
    """
    return _solve_stochastic(problem, state, options, batch_size=options.batch_size)
