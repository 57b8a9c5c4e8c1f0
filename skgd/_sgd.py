"""The stochastic solvers: sgd (one sample per step) and minibatch.

Python drives the epochs and owns the random order; one compiled call
(``skgd._fast._stochastic`` for dense rows, ``skgd._fast._stochastic_csr``
for CSR rows) runs each epoch.
"""

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from ._epoch_config import epoch_config
from ._fast._stochastic import epoch_dense
from ._fast._stochastic_csr import epoch_csr
from ._fast._utils import column_frequency_csr, shuffled_order
from ._schedules import schedule_fields
from ._solver_common import (
    _LIPSCHITZ_MARGIN,
    AveragedRule,
    _divergence_guarded,
    _divergence_remedy,
    _EpochLoop,
    _initialise_intercept,
)
from ._step_size import (
    MOMENT_HORIZON_ROWS,
    Preconditioner,
    RunningPreconditioner,
    batch_lipschitz,
    stochastic_lipschitz,
)

# An epoch whose objective exceeds the objective at the start of the call
# by this factor is diverging, even while it is still finite (a geometric
# growth takes many epochs to overflow).  With learning_rate='auto' the step
# is derived from the data and an epoch does not raise the objective; the
# explicit schedules of scikit-learn's SGD legitimately start far above it on
# unscaled data (modified_huber, 'optimal', breast cancer: 2.5e7 times the
# starting objective in the first epoch, then decreasing).
_GROWTH_LIMIT_AUTO = 1e4
_GROWTH_LIMIT_EXPLICIT = 1e12
# Rows on which the starting objective is estimated (evenly spread).
_REFERENCE_ROWS = 1024
# Rows on which the mini-batch smoothness constant is estimated.
_LIPSCHITZ_ROWS = 4096
# learning_rate='auto': the model is the average of the iterates in which
# the m-th iterate has weight ~ m ** AVERAGE_POWER (see _tail_averaged).
AVERAGE_POWER = 2.0


def _average_start(average, batch_size):
    """Number of updates after which averaging starts (-1: no averaging).

    scikit-learn's ASGD: with ``average=a`` (True means 1) the average is
    that of the iterates after the updates that reach ``a`` samples seen,
    the a-th update included -- for one row per update, the average of
    iterates ``a, a + 1, ..., t`` (so ``average=1`` is ``average=True``).
    With mini-batches, averaging starts with the first update whose batch
    reaches ``a`` samples: after ``ceil(a / batch_size) - 1`` updates.
    """
    if average is False or average is None or average == 0:
        return -1
    return -(-int(average) // batch_size) - 1


def _tail_averaged(problem, options):
    """Whether the model is the weighted average of the iterates.

    Part of ``learning_rate='auto'``: unless ``average`` asks for
    scikit-learn's ASGD, the model (``coef_``, the objective of
    ``loss_curve_`` and of the stopping rule) is the average of every
    iterate of the fit, the m-th with weight ~ ``m ** AVERAGE_POWER``
    (Shamir and Zhang's polynomial-decay averaging, 2013), while the
    iterates themselves run on.  The last iterate hovers around the optimum
    at a distance set by the gradient noise and the step; the average does
    not (Polyak and Juditsky, 1992), and the weights let the iterates of the
    first epochs, far from the optimum, fade out of it.  Measured on the
    problems of ``benchmarks/stochastic_gap.py`` (relative gap when
    ``'sgd'`` stops, with :class:`skgd._solver_common.AveragedRule`):
    1.1e-2 .. 4.9e-2 with the last iterate, 2.6e-5 .. 1.6e-3 averaged (the
    uniform mean of each epoch's iterates alone, quick sizes: 1e-3 .. 4e-3).

    Not with an L1 part in the penalty: the cumulative L1 penalty leaves
    exact zeros in the iterates, which an average of iterates that now and
    then leave zero would lose (the Lasso's sparsity); the model is the
    last iterate there, as before.
    """
    average = options.average
    return (options.learning_rate == "auto" and problem.l1 == 0
            and (average is False or average is None or average == 0))


def _averaged_objective(problem, state, online_loss):
    """The objective of the model after an epoch of the tail average.

    Exact (one fused pass, read in order): the stopping rule then sees the
    model's progress, not the noise of the iterates.  The average keeps
    the early iterates with a small weight; when the data change under it
    (``partial_fit`` on chunks on another scale) they can weigh more than
    all the rest.  When the average is worse than the mean loss of the
    iterates of the epoch (``online_loss``, the losses the rows had when
    they were visited, which overestimates the loss of the iterates), it
    is stale: the model is the last iterate and the average starts afresh
    from the next one.
    """
    penalty = problem.penalty
    if state.n_averaged == 0:  # no iterate taken yet
        return problem.data_term(state.W, state.b) + penalty.value(state.W)
    objective = problem.data_term(state.W_avg, state.b_avg) + penalty.value(state.W_avg)
    if not online_loss + penalty.value(state.W) < objective:
        return objective
    state.n_averaged = 0
    return problem.data_term(state.W, state.b) + penalty.value(state.W)


def _average_period(problem, batch_size):
    """Every how many updates the tail average takes an iterate.

    Every update on dense rows, where an update moves every coefficient
    anyway.  On CSR rows an update costs O(nnz of its rows) while taking an
    iterate costs O(n_features) (the lazy penalty is brought up to date):
    one iterate per ``n_features / nnz`` updates keeps the cost of the
    average at most that of the updates.  Successive iterates differ by one
    small step, so thinning them barely changes their mean.  At least four
    iterates per epoch are taken.
    """
    X = problem.X
    if not sp.issparse(X) or X.shape[0] == 0:
        return 1
    per_update = max(X.nnz / X.shape[0], 1.0) * batch_size
    period = int(np.ceil(X.shape[1] / per_update))
    # at least 4 iterates per epoch
    return max(1, min(period, -(-X.shape[0] // batch_size) // 4))


def _minibatch_lipschitz(problem, precond, batch_size):
    """Smoothness of a mini-batch step, with the full gradient's constant.

    :func:`skgd._step_size.stochastic_lipschitz`'s formula (Gower et al.,
    2019) with the largest eigenvalue of the (standardised) Hessian bound,
    found by power iteration (:func:`skgd._step_size.batch_lipschitz`), in
    place of the mean of the rows' constants, its trace bound: 2 to 90 times smaller on
    the problems of ``benchmarks/stochastic_gap.py``, which gives mini-batch
    steps 2 to 18 times longer.  One power iteration per fit (at most 10
    passes) and per chunk in ``partial_fit``, on at most
    ``_LIPSCHITZ_ROWS`` evenly spread rows (a pass over all rows of a
    200,000 x 100 problem costs about an epoch).
    """
    X, sw = problem.X, problem.sample_weight
    fit_intercept, loss = problem.fit_intercept, problem.loss
    one_row = stochastic_lipschitz(X, sw, precond, fit_intercept, loss, 1)
    n, b = problem.n_samples, min(batch_size, problem.n_samples)
    if b <= 1 or n <= 1:
        return one_row
    if n > _LIPSCHITZ_ROWS:  # the eigenvalue of evenly spread rows
        rows = np.linspace(0, n - 1, _LIPSCHITZ_ROWS).astype(np.intp)
        X, sw = X[rows], sw[rows]
    # 1 % of the eigenvalue is accuracy enough for a step (margin 1.05)
    full = batch_lipschitz(X, sw, precond, fit_intercept, loss, n_iter=10, rtol=1e-2)
    full = min(_LIPSCHITZ_MARGIN * full, one_row)
    return (n - b) / (b * (n - 1)) * one_row + n * (b - 1) / (b * (n - 1)) * full


class FrequencyPreconditioner(Preconditioner):
    """Per-feature step multipliers of mini-batches on sparse rows.

    A mini-batch step is the mean of ``B`` rows' gradients.  A feature
    stored in a fraction ``p_j`` of the rows appears in ``B p_j`` rows of a
    batch on average; when that is below one, its gradient is one row's
    divided by ``B``, and so is its step: per epoch, a rare feature moves
    ``B / (eta_B / eta_1)`` times less than under per-sample sgd (~40 times on the
    tf-idf problem of ``benchmarks/stochastic_gap.py``, where the batch step
    is set by the common features and the intercept), and the fit ran to
    ``max_iter`` 6e-2 from the optimum.  The multiplier

    .. math:: D_j = 1 / \\max(p_j, 1 / B) \\in [1, B]

    gives a feature's step back the size of one row's step when it is rare
    (``p_j B <= 1``), and leaves the steps of the features present in every
    batch as they were.  ``D`` is a fixed diagonal preconditioner (the
    fixed point is the exact optimum; the L2 prox takes the same per-feature
    steps, ``_stochastic_csr.pyx``); the smoothness constant is derived in
    its coordinates (:func:`_minibatch_lipschitz`), which keeps the
    steps stable.  With ``B = 1``, ``D = 1``.

    ``D_j`` is rounded to the nearest power of two: the kernel then keeps
    the lazy L2 prox of the features in one scale per power (O(nnz) per
    update; ``_penalty.pxd``).  Measured (numpy replay of the update, the
    20,000-row tf-idf problem, B = 64, 20 epochs, relative gap): 0.71
    without ``D``, 1.8e-2 with it, 1.4e-2 rounded to the nearest power of
    two (3.4e-2 rounded down); ``1 / max(p_j, c / B)`` for c = 0.25, 0.5,
    2, 4: 5.1e-2, 2.7e-2, 2.9e-2, 7.8e-2; the second moment capped the same
    way, ``min(1 / E[x_j^2], B / E[x_j^2 | x_j != 0])``, 2.9e-2.  No
    centring: it would make the rows dense.

    ``partial_fit`` pools the frequencies of its chunks as
    :class:`skgd._step_size.RunningPreconditioner` pools moments: the
    history is discounted to the rows the chunk lacks to make
    ``MOMENT_HORIZON_ROWS``.  Measured (``partial_fit`` on 6,000-row passes
    in chunks of 300 rows of a 3,000 x 3,000 tf-idf-like problem, relative
    gap after 40 passes): 0.87 unscaled, 6.0e-2 with the first chunk's
    frequencies, 5.3e-2 with the pooled ones (chunks of 64 rows: 1.0, 0.19,
    0.18).  Each chunk is one epoch at the decaying step of
    learning_rate='auto': streams stay far from the optimum all the same.

    Parameters
    ----------
    rows : float
        Effective number of rows the frequencies describe.
    freq : ndarray of shape (n_features,)
        Weighted fraction of those rows storing each feature.
    batch_size : int
    """

    def __init__(self, rows, freq, batch_size):
        self.rows, self.freq, self.batch_size = rows, freq, batch_size
        # (a duplicated index can count a row twice: p_j <= 1 all the same)
        p = np.clip(freq, 1.0 / batch_size, 1.0)
        super().__init__(np.exp2(np.rint(-np.log2(p))), np.zeros(freq.shape[0]), True)

    @classmethod
    def from_data(cls, X, sample_weight, batch_size):
        return cls(float(X.shape[0]), _column_frequency(X, sample_weight), batch_size)

    def update(self, X, sample_weight):
        """Pool the frequencies of the chunk X into the (discounted) running ones."""
        rows = float(X.shape[0])
        old = min(self.rows, max(MOMENT_HORIZON_ROWS - rows, 0.0))
        share = rows / (old + rows)
        freq = self.freq + share * (_column_frequency(X, sample_weight) - self.freq)
        self.__init__(old + rows, freq, self.batch_size)


def _column_frequency(X, sample_weight):
    freq = np.empty(X.shape[1])
    column_frequency_csr(X.data, X.indices, X.indptr, sample_weight, freq)
    return freq


def frequency_preconditioner(X, sample_weight, batch_size):
    """The :class:`FrequencyPreconditioner` of CSR X for batches of ``batch_size``."""
    return FrequencyPreconditioner.from_data(X, sample_weight, batch_size)


def _sparse_preconditioned(problem, options, batch_size):
    """Whether the steps on sparse rows take a :class:`FrequencyPreconditioner`.

    With learning_rate='auto', mini-batches and no L1 part (the kernel's
    lazy per-feature penalty keeps L2 only).
    """
    return (options.learning_rate == "auto" and sp.issparse(problem.X)
            and batch_size > 1 and problem.l1 == 0)


def _step_constants(problem, state, options, batch_size):
    """Preconditioner and smoothness constant of ``learning_rate='auto'``.

    A fit derives them once (for mini-batches, see
    :func:`_minibatch_lipschitz`).  ``partial_fit`` pools each chunk into the
    running moments of the preconditioner and re-derives the smoothness
    constant on the chunk, in the updated coordinates: a chunk on another
    scale than the first gets steps for its own scale.
    """
    X, sw = problem.X, problem.sample_weight
    auto = options.learning_rate == "auto"
    if state.precond is None:
        if auto and not sp.issparse(X):
            state.precond = RunningPreconditioner.from_data(
                X, sw, problem.fit_intercept
            )
        elif _sparse_preconditioned(problem, options, batch_size):
            state.precond = frequency_preconditioner(X, sw, batch_size)
        else:
            state.precond = Preconditioner.identity(problem.n_features)
    elif auto and options.incremental:
        if isinstance(state.precond, RunningPreconditioner) and not sp.issparse(X):
            state.precond.update(X, sw)
        elif isinstance(state.precond, FrequencyPreconditioner) and sp.issparse(X):
            state.precond.update(X, sw)
        state.lipschitz = None
    if state.lipschitz is None and auto:
        state.lipschitz = _minibatch_lipschitz(problem, state.precond, batch_size)


def _growth_limit(problem, state, options):
    """The objective above which an epoch of this call is diverging.

    ``factor`` times the larger of the objective at the starting point and
    that of the zero model, estimated on up to ``_REFERENCE_ROWS`` rows; inf
    (no limit) when both are zero, e.g. the perceptron loss at W = 0.
    """
    n = problem.n_samples
    rows = np.unique(np.linspace(0, n - 1, min(n, _REFERENCE_ROWS)).astype(np.intp))
    sw = problem.sample_weight[rows]
    if not sw.sum() > 0:
        return np.inf
    sample = problem
    if len(rows) < n:  # a copy of those rows only
        sample = replace(problem, X=problem.X[rows], Y=problem.Y[rows], sample_weight=sw)
    start = sample.data_term(state.W, state.b)
    zero = sample.data_term(np.zeros_like(state.W), np.zeros_like(state.b))
    reference = max(start, zero) + problem.penalty.value(state.W)
    if not (reference > 0 and np.isfinite(reference)):
        return np.inf
    auto = options.learning_rate == "auto"
    return reference * (_GROWTH_LIMIT_AUTO if auto else _GROWTH_LIMIT_EXPLICIT)


def _check_growth(objective, limit, epoch, learning_rate):
    if np.isfinite(objective) and objective > limit:
        raise ValueError(
            f"The fit diverged at epoch {epoch}: the objective grew to "
            f"{objective:.3g}, beyond {limit:.3g} (a fixed multiple of its value at "
            f"the start), though it is still finite. To fix it, "
            f"{_divergence_remedy(learning_rate)}."
        )


def _solve_stochastic(problem, state, options, batch_size):
    X = problem.X
    n, d, K = problem.n_samples, problem.n_features, problem.n_outputs
    batch_size = max(1, min(batch_size, n))
    _step_constants(problem, state, options, batch_size)
    if state.velocity is None:
        state.velocity, state.velocity_b = np.zeros((K, d)), np.zeros(K)
    if state.W_avg is None:
        state.W_avg, state.b_avg = np.zeros((K, d)), np.zeros(K)
    if options.learning_rate == "auto":
        _initialise_intercept(problem, state, options)
    limit = _growth_limit(problem, state, options)
    tail = _tail_averaged(problem, options)
    average_start = _average_start(options.average, batch_size)
    if not tail and average_start < 0:
        state.n_averaged = 0  # the model is the iterate (no stale average)
    rng = options.random_state
    # the averaged model's objective is exact: its own stopping rule
    rule = AveragedRule(options.tol, options.n_iter_no_change) if tail else None
    loop = _EpochLoop(problem, state, options, rule=rule)
    base = dict(
        loss=problem.loss_code,
        epsilon=problem.epsilon,
        batch_size=batch_size,
        fit_intercept=problem.fit_intercept,
        l1=problem.l1,
        l2=problem.l2,
        momentum=options.momentum,
        nesterov=options.nesterov,
        # the tail average runs over the whole fit (and on over partial_fit
        # calls), its early iterates fading out
        average_start=0 if tail else average_start,
        average_every=_average_period(problem, batch_size) if tail else 1,
        average_power=AVERAGE_POWER if tail else 0.0,
        weight_scale=1.0 / problem.sample_weight.mean(),
        # CSR rows: only the frequency multipliers (no centring; powers of
        # two, without L1, for the lazy kernel).  A preconditioner left by
        # dense chunks of partial_fit is not applied to sparse ones (their
        # steps, derived in its coordinates, are then only shorter).
        preconditioned=(
            isinstance(state.precond, FrequencyPreconditioner) and problem.l1 == 0
            if sp.issparse(X) else state.precond.active
        ),
        center_sq=np.sum(state.precond.step_scale * state.precond.center**2),
    )
    # One index buffer for the fit, reshuffled in place (in C) every epoch
    # from a seed drawn from the estimator's RandomState.
    order = np.arange(n, dtype=np.intp)
    for _ in range(options.max_iter):
        if options.shuffle:
            seed = int(rng.randint(np.iinfo(np.int64).max, dtype=np.int64))
            shuffled_order(order, seed)
        eta, schedule = schedule_fields(options, state)
        cfg = epoch_config(**base, **schedule)
        if sp.issparse(X):
            out = epoch_csr(
                X.data, X.indices, X.indptr, problem.Y, problem.sample_weight, order,
                state.W, state.b, state.velocity, state.velocity_b,
                state.W_avg, state.b_avg, cfg, state.t, state.n_averaged,
                state.precond.step_scale,
            )
        else:
            out = epoch_dense(
                X, problem.Y, problem.sample_weight, order, state.W, state.b,
                state.velocity, state.velocity_b, state.W_avg, state.b_avg,
                state.precond.step_scale, state.precond.center, cfg,
                state.t, state.n_averaged,
            )
        state.t, state.n_averaged, loss_sum, weight_sum = out
        W, b = state.coefficients()
        if tail:
            objective = _averaged_objective(problem, state, loss_sum / weight_sum)
            W, _ = state.coefficients()
        else:
            # Estimated from the losses the rows had when they were visited
            # (free, as in scikit-learn's SGD) plus the penalty at the end
            # of the epoch.
            objective = loss_sum / weight_sum + problem.penalty.value(W)
        _check_growth(objective, limit, state.epochs + 1, options.learning_rate)
        if loop.end_epoch(objective, eta):
            break
    return loop.result


@_divergence_guarded
def solve_sgd(problem, state, options):
    """Stochastic gradient descent: one step per sample.

    L2 is applied by its proximal operator (a shrink that never flips a
    sign), L1 by Tsuruoka et al.'s cumulative penalty (exact zeros), both
    lazily on sparse rows (see ``skgd/_fast/_penalty.pxd``).
    """
    return _solve_stochastic(problem, state, options, batch_size=1)


@_divergence_guarded
def solve_minibatch(problem, state, options):
    """Mini-batch gradient descent: one step per ``batch_size`` rows.

    The step is the mean of the rows' gradients; the penalty is applied as in
    :func:`solve_sgd`.
    """
    return _solve_stochastic(problem, state, options, batch_size=options.batch_size)
