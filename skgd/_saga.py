"""The variance-reduced solver: SAGA, stopped on a certified duality gap.

Python owns the epochs, the sample order and the stopping rule; one compiled
call (``skgd._fast._saga``) runs each epoch.  See :func:`solve_saga`.
"""

import math

import numpy as np
import scipy.sparse as sp

from ._duality import duality_gap
from ._fast._saga import (
    fill_table_csr,
    fill_table_dense,
    saga_epoch_csr,
    saga_epoch_dense,
)
from ._fast._utils import shuffled_order
from ._solver_common import (
    CheckSchedule,
    OptimalityRule,
    _divergence_guarded,
    _EpochLoop,
    _initialise_intercept,
    certified_gap_target,
)
from ._step_size import Preconditioner, _row_bounds, loss_curvature

# SAGA's step (Defazio, Bach & Lacoste-Julien, 2014): 1 / (2 (L_max + mu n))
# with strong convexity mu (their Theorem 1), 1 / (3 L_max) without it
# (Theorem 2).  Measured on the benchmark problems, 1 / (2 L_max) reaches a
# relative gap of 1e-6 in 20-25% fewer epochs than 1 / (3 L_max).
STRONGLY_CONVEX_DIVISOR = 2.0
CONVEX_DIVISOR = 3.0
# The relative gap is resolved down to about this (it is the difference of
# two sums of n terms); a tighter target would never be met.
GAP_FLOOR = 1e-14
# A CSR window of deferred updates holds at least this many updates (and at
# least n_features: flushing it costs one pass over the coefficients).
MIN_WINDOW = 1024
# At most this many epochs between two gap checks.
MAX_CHECK_INTERVAL = 10


def gap_target(tol):
    """The relative duality gap at which a fit stops: ``tol * 1e-6``, as for
    every certified solver (:func:`skgd._solver_common.certified_gap_target`)."""
    return certified_gap_target(tol, GAP_FLOOR)


class GapRule(OptimalityRule):
    """Stop when the relative duality gap is at most ``target``."""

    def __init__(self, target):
        super().__init__(target)

    def update(self, value):
        return self.tol is not None and value is not None and value <= self.tol


def _preconditioner(problem):
    """Standardise dense input; CSR keeps the user's coordinates.

    SAGA's step is set by the largest row norm, not by the spectrum: scaling
    rare sparse features up to unit variance multiplies the norm of the rows
    that hold them by up to sqrt(n) and the step down accordingly.
    """
    if sp.issparse(problem.X):
        return Preconditioner.identity(problem.n_features)
    return Preconditioner.from_data(
        problem.X, problem.sample_weight, problem.fit_intercept
    )


def saga_step(problem, precond):
    """The step of SAGA in standardised coordinates (see the constants).

    ``L_max`` is the largest per-sample smoothness constant; ``mu`` the
    strong convexity the L2 penalty guarantees (its smallest per-feature
    strength in standardised coordinates).
    """
    bounds = _row_bounds(
        problem.X, problem.sample_weight, precond, problem.fit_intercept
    )
    lmax = loss_curvature(problem.loss) * float(bounds.max(initial=0.0))
    if not np.isfinite(lmax):
        raise ValueError(
            "The features are too large to derive a step size: the squared norms "
            "of the rows of X overflow float64. Scale the features."
        )
    lmax = max(lmax, np.finfo(float).tiny)
    mu = problem.l2 * float(np.min(precond.step_scale, initial=1.0))
    if mu > 0:
        # (the unpenalised intercept is outside the theorem's assumption;
        # the step is the one of the strongly convex part)
        return 1.0 / (STRONGLY_CONVEX_DIVISOR * (lmax + mu * problem.n_samples))
    return 1.0 / (CONVEX_DIVISOR * lmax)


class _Saga:
    """The table, its averages and the compiled epoch of one fit."""

    def __init__(self, problem, state, step):
        self.problem, self.state, self.step = problem, state, step
        n, d, K = problem.n_samples, problem.n_features, problem.n_outputs
        self.weight_scale = 1.0 / problem.sample_weight.mean()
        self.table = np.empty((n, K))
        self.abar, self.abar_b = np.empty((K, d)), np.empty(K)
        self.window = max(d, MIN_WINDOW)
        X, p = problem.X, problem
        args = (
            p.Y,
            p.sample_weight,
            self.weight_scale,
            state.W,
            state.b,
            self.table,
            self.abar,
            self.abar_b,
            p.loss_code,
            p.epsilon,
        )
        if sp.issparse(X):
            fill_table_csr(X.data, X.indices, X.indptr, *args)
        else:
            fill_table_dense(X, *args)

    def epoch(self, order):
        p, s, X = self.problem, self.state, self.problem.X
        common = (
            p.Y,
            p.sample_weight,
            self.weight_scale,
            order,
            s.W,
            s.b,
            self.table,
            self.abar,
            self.abar_b,
        )
        settings = (self.step, p.l1, p.l2, p.loss_code, p.epsilon, p.fit_intercept)
        if sp.issparse(X):
            return saga_epoch_csr(
                X.data, X.indices, X.indptr, *common, *settings, self.window
            )
        precond = (s.precond.step_scale, s.precond.center)
        return saga_epoch_dense(X, *common, *precond, *settings)

    def gradient_norm(self, W, b):
        """Norm of the full gradient in standardised coordinates (no penalty)."""
        G, Gb, objective = self.problem.gradient_pass(W, b)
        g_w, g_b = self.state.precond.gradient_to_standardised(G, Gb)
        if not self.problem.fit_intercept:
            g_b = np.zeros_like(g_b)
        return math.sqrt(np.sum(g_w**2) + np.sum(g_b**2)), objective


@_divergence_guarded
def solve_saga(problem, state, options):
    """SAGA: a variance-reduced stochastic gradient with constant step.

    Every epoch visits the rows in a fresh random order; each update costs
    about one plain SGD step (O(nnz) on CSR rows) and the iterates converge
    linearly to the exact optimum of a smooth, L2-penalised objective (and
    to it, sublinearly, without strong convexity).  The step is
    ``1 / (3 L_max)`` in standardised coordinates (dense input).  The fit
    stops when the relative duality gap of :mod:`skgd._duality` is at most
    ``tol * 1e-6`` (:func:`gap_target`); without a penalty, where no gap
    exists, when the norm of the full gradient has fallen below ``tol``
    times its initial value, as the batch solver.  The explicit learning-rate
    schedules, momentum, averaging and ``batch_size`` do not apply.
    """
    if not problem.smooth:
        raise ValueError(
            f"solver='saga' needs a smooth loss; {problem.loss!r} is not "
            f"differentiable. Use solver='batch' or 'sgd'."
        )
    n = problem.n_samples
    if state.precond is None:
        state.precond = _preconditioner(problem)
    _initialise_intercept(problem, state)
    saga = _Saga(problem, state, saga_step(problem, state.precond))
    penalised = problem.penalty.active
    loop = _EpochLoop(problem, state, options, optimality=True)
    if penalised:
        loop.rule = GapRule(gap_target(options.tol))
    else:
        # the gradient at the start is the table's average
        start_w, start_b = state.precond.gradient_to_standardised(
            saga.abar, saga.abar_b
        )
        start_b = start_b if problem.fit_intercept else np.zeros_like(start_b)
        loop.rule.reference = math.sqrt(np.sum(start_w**2) + np.sum(start_b**2))
    schedule = CheckSchedule(loop.rule.tol, MAX_CHECK_INTERVAL)
    rng = options.random_state
    order = np.arange(n, dtype=np.intp)
    for epoch in range(1, options.max_iter + 1):
        if options.shuffle:
            shuffled_order(
                order, int(rng.randint(np.iinfo(np.int64).max, dtype=np.int64))
            )
        loss_sum, weight_sum = saga.epoch(order)
        state.t += n
        measure = None
        objective = loss_sum / weight_sum + problem.penalty.value(state.W)
        if options.tol is not None and schedule.due(epoch):
            if penalised:
                gap, objective = duality_gap(problem, state.W, state.b)
                measure = (
                    gap / abs(objective) if objective else (0.0 if gap == 0 else np.inf)
                )
                schedule.record(epoch, measure)
            else:
                measure, objective = saga.gradient_norm(state.W, state.b)
                schedule.record(epoch, measure / max(loop.rule.reference, 1e-300))
        if loop.end_epoch(objective, saga.step, measure):
            break
    return loop.result
