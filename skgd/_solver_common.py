"""What every solver shares: the problem, options, state, stopping rules.

The solvers themselves are plain functions in :mod:`skgd._batch` and
:mod:`skgd._sgd`; :mod:`skgd._solvers` maps the names of the ``solver``
parameter to them.  See :mod:`skgd._solvers` for the stopping rule and the
divergence guard.
"""

import functools
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp

from ._fast._gradient import gradient_csr, gradient_dense
from ._gap import DualityGap
from ._gram import GramOracle
from ._losses import LOSSES, softmax_curvature
from ._penalties import ElasticNet
from ._step_size import (
    OutputCentring,
    Preconditioner,
    batch_lipschitz,
    batch_preconditioner,
)

# Margin on the power-iteration estimate of the Lipschitz constant, which
# approaches the largest eigenvalue from below.
_LIPSCHITZ_MARGIN = 1.05
# Relative rounding level of the computed objective (a sum over the rows in
# double): the accelerated batch solver treats smaller rises as no change.
_OBJECTIVE_RTOL = 1e-12
_ADAPTIVE_DIVISOR = 5.0
_ADAPTIVE_MIN_ETA = 1e-6


@dataclass
class Problem:
    """The data and the objective of one fit.

    The objective is the mean loss plus the penalty,
    ``sum_i s_i L(y_i, W x_i + b) / sum_i s_i + l1 |W|_1 + l2 / 2 |W|^2``:
    the loss is a name of :data:`skgd._losses.LOSSES`, the penalty an
    :class:`skgd._penalties.ElasticNet` of strengths ``(l1, l2)``.
    """

    X: object
    Y: np.ndarray
    sample_weight: np.ndarray
    loss: str
    epsilon: float
    l1: float
    l2: float
    fit_intercept: bool

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def n_features(self):
        return self.X.shape[1]

    @property
    def n_outputs(self):
        return self.Y.shape[1]

    @property
    def loss_spec(self):
        """The :class:`skgd._losses.Loss` of the objective."""
        return LOSSES[self.loss]

    @property
    def loss_code(self):
        return self.loss_spec.code

    @property
    def smooth(self):
        return self.loss_spec.smooth

    @property
    def penalty(self):
        """The :class:`skgd._penalties.ElasticNet` of the objective."""
        return ElasticNet(self.l1, self.l2)

    # ---- the statistics of X the batch solver takes (skgd._dask overrides
    # them with block-wise sums) ----
    def batch_preconditioner(self, whiten):
        """The accelerated batch solver's preconditioner (``batch_preconditioner``)."""
        return batch_preconditioner(self.X, self.sample_weight, self.fit_intercept,
                                    whiten=whiten)

    def diagonal_preconditioner(self):
        """Per-feature standardisation (``Preconditioner.from_data``)."""
        return Preconditioner.from_data(self.X, self.sample_weight, self.fit_intercept)

    def batch_lipschitz(self, precond, n_iter=30, rtol=1e-4):
        """Largest eigenvalue of the standardised Gram matrix (``batch_lipschitz``)."""
        return batch_lipschitz(self.X, self.sample_weight, precond, self.fit_intercept,
                               self.loss, n_iter=n_iter, rtol=rtol)

    def gram_oracle(self):
        """Least squares on the Gram matrix (:class:`skgd._gram.GramOracle`)."""
        return GramOracle(self)

    def duality_gap(self, feature_mean=None):
        """The certificate of the fit, or None (:class:`skgd._gap.DualityGap`)."""
        return DualityGap.for_problem(self, feature_mean)

    def target_mean(self):
        """Weighted mean of the targets, shape (n_outputs,)."""
        return (self.sample_weight / self.sample_weight.sum()) @ self.Y

    def gradient_pass(self, W, b, W_eval=None, b_eval=None, per_sample=None):
        """Mean gradient at (W, b) and objective at (W_eval, b_eval), one pass.

        ``per_sample`` (optional, (n_samples, n_outputs) float64) receives
        each row's loss derivative at (W, b).
        """
        W_eval = W if W_eval is None else W_eval
        b_eval = b if b_eval is None else b_eval
        G, Gb, loss_sum = self._loss_pass(W, b, W_eval, b_eval, per_sample)
        total = self.sample_weight.sum()
        objective = loss_sum / total + self.penalty.value(W_eval)
        return G / total, Gb / total, objective

    def data_term(self, W, b):
        """The mean loss at (W, b) (the compiled kernels, one pass)."""
        _, _, loss_sum = self._loss_pass(W, b, W, b)
        return loss_sum / self.sample_weight.sum()

    def _loss_pass(self, W, b, W_eval, b_eval, per_sample=None):
        """Summed gradient at (W, b) and summed loss at (W_eval, b_eval)."""
        G, Gb = np.empty_like(W), np.empty_like(b)
        args = (self.Y, self.sample_weight, W, b, W_eval, b_eval, G, Gb,
                self.loss_code, self.epsilon)
        if sp.issparse(self.X):
            loss_sum = gradient_csr(self.X.data, self.X.indices, self.X.indptr, *args,
                                    U=per_sample)
        else:
            loss_sum = gradient_dense(self.X, *args, U=per_sample)
        return G, Gb, loss_sum

    def curvature_centres(self, W, b, derivative=None):
        """Per output, the mean of the rows weighted by their softmax
        curvature at (W, b) (:class:`~skgd._step_size.OutputCentring`), or
        None where a weight sum vanishes; ``derivative``: the rows' loss
        derivatives at (W, b) if a pass already holds them."""
        if derivative is None:
            derivative = np.zeros((self.n_samples, self.n_outputs))
            self.gradient_pass(W, b, per_sample=derivative)
        curvature = softmax_curvature(derivative, self.Y)
        mass = (self.sample_weight / self.sample_weight.sum()) @ curvature
        return OutputCentring.centres(self.weighted_sums(curvature), mass)

    def weighted_sums(self, T):
        """``sum_i w_i T_i x_i^T`` of shape (K, d), ``w_i = s_i / sum(s)``.

        One fused pass of the squared-loss gradient at zero with the targets
        ``T`` (n, K): accumulated in double, in parallel, without a copy of X
        (float32 X included, which ``X.T @ v`` would cast to a copy).
        """
        T = np.ascontiguousarray(T, dtype=np.float64)
        aux = replace(self, Y=T, loss="squared_error", l1=0.0, l2=0.0)
        K = T.shape[1]
        G, _, _ = aux.gradient_pass(np.zeros((K, self.n_features)), np.zeros(K))
        return -G


@dataclass
class SolverOptions:
    """How to run the solver (the estimator's parameters, resolved)."""

    learning_rate: str = "auto"
    eta0: float = 0.01
    power_t: float = 0.25
    alpha: float = 0.0
    momentum: float = 0.0
    nesterov: bool = False
    average: object = False
    batch_size: int = 1
    max_iter: int = 1000
    tol: object = 1e-3
    n_iter_no_change: int = 5
    shuffle: bool = True
    random_state: object = None
    verbose: int = 0
    validation: object = None  # callable (W, b) -> score, or None
    incremental: bool = False  # partial_fit: one epoch on one chunk of a stream


@dataclass
class SolverState:
    """Everything a fit continues from (kept by the estimator between calls)."""

    W: np.ndarray
    b: np.ndarray
    t: int = 0
    epochs: int = 0
    eta: object = None
    lipschitz: object = None
    precond: object = None
    velocity: object = None
    velocity_b: object = None
    W_avg: object = None
    b_avg: object = None
    n_averaged: int = 0
    extrapolated: object = None  # accelerated batch: (Y~, yb~, theta[, X~, xb~])
    curvature: object = None  # accelerated batch: its step's local curvature
    # accelerated batch, multinomial: (centres, intercept sum) of the
    # per-output intercept centring the sequences continue in, once chosen
    output_centring: object = None
    # accelerated batch: the fit has handed over to Newton steps (skgd._newton)
    newton: bool = False
    rng: object = None  # RandomState of the shuffling seeds, continued by partial_fit

    def coefficients(self):
        """The model: the averaged iterate once averaging has started."""
        if self.n_averaged > 0:
            return self.W_avg, self.b_avg
        return self.W, self.b


@dataclass
class SolverResult:
    n_iter: int
    converged: bool
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    # the batch solver's subgradient steps on a non-smooth loss: a stop on
    # the objective's decrease, which certifies nothing
    subgradient: bool = False


class StoppingRule:
    """The stopping rule on the objective (lower is better).

    The fit stops when, over the last ``n_iter_no_change`` epochs, the
    objective decreased by less than ``tol`` per epoch relative to its value
    (``J[k - n] - J[k] < n * tol * |J[k - n]|``).  Comparing with the value
    ``n`` epochs back, rather than with the best value so far, lets a
    momentum method's occasional small rise pass as long as the trend is
    still downwards.
    """

    def __init__(self, tol, n_iter_no_change):
        self.tol = tol
        self.patience = n_iter_no_change
        self.history = []

    def update(self, value):
        """Record an epoch's objective; return True when the fit should stop."""
        if self.tol is None:
            return False
        self.history.append(value)
        if len(self.history) <= self.patience:
            return False
        before = self.history[-1 - self.patience]
        return before - value < self.patience * self.tol * abs(before)

    def reset(self):
        self.history = self.history[-1:]


class AveragedRule(StoppingRule):
    """The stopping rule on the exact objective of an averaged model.

    The stochastic solvers under ``learning_rate='auto'`` return the average
    of their iterates, whose objective is evaluated exactly (no noise) and
    which converges at a rate near ``1 / k`` over the epochs k.  A decrease
    ``delta`` per epoch after k epochs then leaves a gap of about
    ``k * delta``, far more than ``delta``: :class:`StoppingRule`, which
    stops on the decrease alone, stopped at relative gaps up to 3e-2 (on
    the problems of ``benchmarks/stochastic_gap.py`` and
    ``tests/test_sgd_defaults.py``).  This rule stops when that estimate of
    the remaining gap is small: with ``n = n_iter_no_change``, after epoch
    ``k``,

    .. math:: \\frac{k}{n} (J_{k-n} - J_k) < n \\cdot tol \\cdot |J_k| ,

    the rule of :class:`StoppingRule` with the decrease weighted by
    ``k / n`` (5e-3 of the objective at the defaults; measured gaps at the
    stop 2e-5 .. 5e-3).  A fit converging more slowly than ``1 / k`` runs
    on to ``max_iter``.
    """

    def update(self, value):
        if self.tol is None:
            return False
        self.history.append(value)
        k = len(self.history)
        if k <= self.patience:
            return False
        before = self.history[-1 - self.patience]
        remaining = k / self.patience * (before - value)
        return remaining < self.patience * self.tol * abs(value)


class OptimalityRule:
    """The stopping rule of the batch solver on a smooth loss.

    The full gradient is exact there, so the rule measures optimality
    directly: the fit stops when the norm of the proximal-gradient step
    ``L * (y_k - x_{k+1})`` (in standardised coordinates; zero exactly at
    the optimum, penalty included) has fallen below ``tol`` times its value
    at the first epoch.  Unlike a decrease of the objective, this does not
    mistake the slow phase of an ill-conditioned problem for convergence.
    """

    def __init__(self, tol):
        self.tol = tol
        self.reference = None

    def update(self, value):
        if self.tol is None or value is None:
            return False
        if self.reference is None:
            self.reference = value
        return value <= self.tol * self.reference

    def reset(self):
        pass


# Every solver with a duality gap (batch, saga, dual_cd) stops at a relative
# gap of ``tol * GAP_PER_TOL`` (:func:`certified_gap_target`): the default
# tol=1e-3 certifies 1e-9, at least the precision scikit-learn's exact
# solvers reach at their defaults (Lasso and LogisticRegression(lbfgs): 1e-10
# to 1e-9 on the problems of benchmarks/time_to_solution.py).
GAP_PER_TOL = 1e-6
# Below this relative gap the rounding of the objective and of the dual
# value (sums over the rows in double) hides any further progress.
ROUNDING_GAP = 1e-13

# ... or when the gap has stopped shrinking for this many iterations, once
# it is below STALLED_GAP (rounding-dominated, ill-conditioned data).
_STALL_ITERATIONS = 50
_STALLED_GAP = 1e-10


def certified_gap_target(tol, floor=ROUNDING_GAP):
    """The relative duality gap at which a certified fit stops (None: never)."""
    return None if tol is None else max(tol * GAP_PER_TOL, floor)


class CheckSchedule:
    """When a certified solver pays for its certificate: predicted from the
    linear rate.

    The gap of a linearly convergent method decreases geometrically; from
    the last two checks the epoch where it will reach ``target`` is
    extrapolated (at least one and at most ``max_interval`` epochs ahead;
    two after the first check, and always two without a target).
    """

    def __init__(self, target, max_interval):
        self.target, self.max_interval = target, max_interval
        self.next = 1
        self.last = None  # (epoch, gap)

    def due(self, epoch):
        return epoch >= self.next

    def record(self, epoch, gap):
        interval = 2
        if self.last is not None and self.target and 0 < gap < self.last[1]:
            rate = math.log(gap / self.last[1]) / (epoch - self.last[0])
            interval = math.ceil(math.log(self.target / gap) / rate)
        self.next = epoch + min(max(interval, 1), self.max_interval)
        self.last = (epoch, gap)


class GapRule:
    """The certified stopping rule of the batch solver (smooth losses).

    Every gradient pass yields a dual value ``D`` (:mod:`skgd._gap`), a lower
    bound of the optimum ``J*``; with ``P`` the objective of the returned
    model and ``D_max`` the best dual value so far, the fit stops when

    .. math:: \\frac{P - D_{max}}{P} \\le tol \\cdot 10^{-6},

    which guarantees the relative objective gap ``(P - J*) / J*`` to that
    precision (``max(tol * 1e-6, 1e-13)``: no smaller gap is resolved in
    double precision).  ``P`` is floored at ``1e-9`` times the first
    objective: on a problem whose optimum is ~0 (an exact fit) the gap is
    relative to the objective of the starting model instead.
    """

    def __init__(self, tol):
        self.tol = tol
        self.scale = None
        self.history = []

    @property
    def target(self):
        """The relative gap that stops the fit."""
        return certified_gap_target(self.tol if self.tol is not None else 0.0)

    def relative_gap(self, primal, dual):
        if self.scale is None:
            self.scale = 1e-9 * abs(primal)
        return max(primal - dual, 0.0) / max(abs(primal), self.scale, np.finfo(float).tiny)

    def update(self, value):
        if self.tol is None or value is None:
            return False
        self.history.append(value)
        if value <= self.target:
            return True
        recent = self.history[-_STALL_ITERATIONS:]
        before = self.history[:-_STALL_ITERATIONS]
        return bool(before) and value <= _STALLED_GAP and min(recent) >= 0.99 * min(before)

    def reset(self):
        pass


class ValidationRule:
    """scikit-learn's rule on a validation score (higher is better).

    ``n_iter_no_change`` epochs in a row whose score does not exceed the best
    score by ``tol`` stop the fit.
    """

    def __init__(self, tol, n_iter_no_change):
        self.tol = tol
        self.patience = n_iter_no_change
        self.best = -math.inf
        self.count = 0

    def update(self, score):
        if self.tol is None:
            return False
        self.count = 0 if score > self.best + self.tol else self.count + 1
        self.best = max(self.best, score)
        return self.count >= self.patience

    def reset(self):
        self.count = 0


def _divergence_remedy(learning_rate):
    """What to change when a fit with this learning rate diverges."""
    if learning_rate == "auto":
        return "check X and y for extreme values, or scale the features"
    return (
        "use learning_rate='auto' (steps chosen from the data), a smaller eta0, "
        "or scale the features (e.g. sklearn.preprocessing.StandardScaler)"
    )


def _check_finite(epoch, objective, W, b, learning_rate):
    if np.isfinite(objective) and np.all(np.isfinite(W)) and np.all(np.isfinite(b)):
        return
    raise ValueError(
        f"The fit diverged at epoch {epoch}: the objective or the coefficients "
        f"became non-finite (objective={float(objective)!r}). To fix it, "
        f"{_divergence_remedy(learning_rate)}."
    )


def _divergence_guarded(solver):
    """Run ``solver`` with numpy's floating-point warnings off.

    An overflow in the iterates (the objective, a step norm, the penalty of
    huge coefficients) is not an error by itself: it makes the objective or
    the coefficients non-finite, which ``_check_finite`` turns into a
    ValueError naming the epoch and the remedy at the end of that epoch.  A
    RuntimeWarning on top of it would only be noise (and an error under
    ``-W error::RuntimeWarning``).
    """

    @functools.wraps(solver)
    def guarded(problem, state, options):
        with np.errstate(all="ignore"):
            return solver(problem, state, options)

    return guarded


class _EpochLoop:
    """Book-keeping shared by the solvers: history, stopping, verbose, guard."""

    def __init__(self, problem, state, options, optimality=False, rule=None):
        self.options = options
        self.problem = problem
        self.state = state
        self.result = SolverResult(n_iter=0, converged=False)
        if rule is not None:
            self.rule = rule
        elif optimality:
            self.rule = OptimalityRule(options.tol)
        else:
            self.rule = StoppingRule(options.tol, options.n_iter_no_change)
        self.val_rule = ValidationRule(options.tol, options.n_iter_no_change)
        self.start = time.perf_counter()

    def end_epoch(self, objective, eta, optimality=None):
        """Record an epoch; return True when the fit should stop.

        ``optimality`` is the proximal-gradient norm of the epoch's step, for
        the solvers that use the :class:`OptimalityRule`, or the relative
        duality gap for the :class:`GapRule`.
        """
        state, options = self.state, self.options
        state.epochs += 1
        self.result.n_iter += 1
        W, b = state.coefficients()
        _check_finite(state.epochs, objective, W, b, options.learning_rate)
        self.result.loss_curve.append(float(objective))
        if options.verbose:
            print(
                f"-- Epoch {state.epochs}: objective {objective:.6g}, step size "
                f"{eta:.4g}, elapsed {time.perf_counter() - self.start:.3f} s"
            )
        if options.validation is not None:
            score = float(options.validation(W, b))
            self.result.validation_scores.append(score)
            stop = self.val_rule.update(score)
            rule = self.val_rule
        else:
            measured = isinstance(self.rule, (OptimalityRule, GapRule))
            stop = self.rule.update(optimality if measured else objective)
            rule = self.rule
        if stop and options.learning_rate == "adaptive" and state.eta > _ADAPTIVE_MIN_ETA:
            state.eta /= _ADAPTIVE_DIVISOR
            rule.reset()
            return False
        if stop:
            self.result.converged = True
        return stop


def _initialise_intercept(problem, state, options=None):
    """Start a fresh fit from the best constant model rather than from zero.

    With W = 0 the intercept minimising the data term has a closed form for
    the squared error (the weighted mean of y), the binary log-loss (the
    log-odds) and the multinomial loss (log class frequencies): the
    ``intercept_start`` of the loss's spec (:mod:`skgd._losses`).  Starting
    there removes the intercept's share of the first gradients, which would
    otherwise dominate the optimality reference of the stopping rule.

    In ``partial_fit`` the data are the first chunk, whose class frequencies
    are an estimate of the stream's: they are clipped to
    ``[1 / (2 K), 1 - 1 / (2 K)]`` for K classes, so that a class absent from
    the first chunk starts ``log(2 K - 1)`` below the others instead of at
    log(1e-12) ~ -28, an intercept that steps of size ~1/L never undo (that
    class was then never predicted).  Frequencies inside the range start as
    in ``fit``.
    """
    fresh = state.t == 0 and not np.any(state.W) and not np.any(state.b)
    start = problem.loss_spec.intercept_start  # None: no closed form
    if not (fresh and problem.fit_intercept and start is not None):
        return
    n_classes = max(problem.n_outputs, 2)
    floor = 0.5 / n_classes if options is not None and options.incremental else 1e-12
    state.b[:] = start(problem.target_mean(), floor)
