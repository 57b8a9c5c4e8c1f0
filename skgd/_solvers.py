"""The three solvers: plain functions with one signature.

``solve_batch(problem, state, options)``, ``solve_sgd(...)`` and
``solve_minibatch(...)`` run epochs until the stopping rule or ``max_iter``
and update ``state`` in place (so that ``partial_fit`` and ``warm_start``
continue from it).  They return a :class:`SolverResult`.

Stopping rule: ``tol`` is a relative tolerance on the best measure of
progress each solver has.  The batch solver on a smooth loss knows the exact
gradient: it stops when the proximal-gradient norm has fallen below ``tol``
times its first value (:class:`OptimalityRule`).  The stochastic solvers
(and the batch solver on a non-smooth loss) stop when the objective
decreased by less than ``tol`` per epoch, relative to its value, over the
last ``n_iter_no_change`` epochs (:class:`StoppingRule`).  With early
stopping, every solver stops when ``n_iter_no_change`` epochs in a row do not
raise the best validation score by ``tol`` (scikit-learn's rule).  With
``learning_rate='adaptive'`` they divide the step by 5 instead, until it is
below 1e-6.  ``tol=None`` disables the rule.

Divergence guard: a non-finite objective or coefficient stops the fit with a
``ValueError`` that names the epoch and the remedy.
"""

import functools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from ._fast._gradient import gradient_csr, gradient_dense
from ._fast._stochastic import epoch_csr, epoch_dense
from ._fast._utils import shuffled_order
from ._objective import CURVATURE, LOSS_CODES, penalty_value, prox
from ._step_size import (
    Preconditioner,
    batch_lipschitz,
    batch_preconditioner,
    stochastic_lipschitz,
)

SCHEDULE_CODES = {"constant": 0, "optimal": 1, "invscaling": 2, "adaptive": 0, "auto": 0}
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
    """The data and the objective of one fit (see ``skgd._objective``)."""

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
    def loss_code(self):
        return LOSS_CODES[self.loss]

    @property
    def smooth(self):
        return CURVATURE[self.loss] is not None

    def gradient_pass(self, W, b, W_eval=None, b_eval=None):
        """Mean gradient at (W, b) and objective at (W_eval, b_eval), one pass."""
        W_eval = W if W_eval is None else W_eval
        b_eval = b if b_eval is None else b_eval
        G, Gb = np.empty_like(W), np.empty_like(b)
        args = (self.Y, self.sample_weight, W, b, W_eval, b_eval, G, Gb,
                self.loss_code, self.epsilon)
        if sp.issparse(self.X):
            loss_sum = gradient_csr(self.X.data, self.X.indices, self.X.indptr, *args)
        else:
            loss_sum = gradient_dense(self.X, *args)
        total = self.sample_weight.sum()
        objective = loss_sum / total + penalty_value(W_eval, self.l1, self.l2)
        return G / total, Gb / total, objective


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
    extrapolated: object = None  # accelerated batch: (W~, b~, theta)

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


def _check_finite(epoch, objective, W, b, learning_rate):
    if np.isfinite(objective) and np.all(np.isfinite(W)) and np.all(np.isfinite(b)):
        return
    remedy = (
        "use learning_rate='auto' (steps chosen from the data), a smaller eta0, "
        "or scale the features (e.g. sklearn.preprocessing.StandardScaler)"
    )
    if learning_rate == "auto":
        remedy = "check X and y for extreme values, or scale the features"
    raise ValueError(
        f"The fit diverged at epoch {epoch}: the objective or the coefficients "
        f"became non-finite (objective={float(objective)!r}). To fix it, {remedy}."
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

    def __init__(self, problem, state, options, optimality=False):
        self.options = options
        self.problem = problem
        self.state = state
        self.result = SolverResult(n_iter=0, converged=False)
        self.rule = (
            OptimalityRule(options.tol)
            if optimality
            else StoppingRule(options.tol, options.n_iter_no_change)
        )
        self.val_rule = ValidationRule(options.tol, options.n_iter_no_change)
        self.start = time.perf_counter()

    def end_epoch(self, objective, eta, optimality=None):
        """Record an epoch; return True when the fit should stop.

        ``optimality`` is the proximal-gradient norm of the epoch's step, for
        the solvers that use the :class:`OptimalityRule`.
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
            stop = self.rule.update(optimality if isinstance(self.rule, OptimalityRule) else objective)
            rule = self.rule
        if stop and options.learning_rate == "adaptive" and state.eta > _ADAPTIVE_MIN_ETA:
            state.eta /= _ADAPTIVE_DIVISOR
            rule.reset()
            return False
        if stop:
            self.result.converged = True
        return stop


def _schedule_config(options, state):
    """The step size of this epoch and the kernel's schedule fields."""
    lr = options.learning_rate
    if lr == "auto":
        # 1 / L for the first epoch, then 1 / (L sqrt(epoch)): the decay lets
        # the stochastic iterates settle instead of hovering at a noise level
        # proportional to the step.
        eta = 1.0 / (state.lipschitz * math.sqrt(state.epochs + 1))
    elif lr == "adaptive":
        if state.eta is None:
            state.eta = options.eta0
        eta = state.eta
    else:
        eta = options.eta0
    typical_w = math.sqrt(1.0 / math.sqrt(options.alpha)) if options.alpha > 0 else 1.0
    return eta, {
        "schedule": SCHEDULE_CODES[lr],
        "eta0": eta,
        "power_t": options.power_t,
        # scikit-learn's heuristic for the offset of the 'optimal' schedule
        "optimal_alpha": options.alpha,
        "optimal_t0": 1.0 / (typical_w * options.alpha) if options.alpha > 0 else 1.0,
    }


def _initialise_intercept(problem, state):
    """Start a fresh fit from the best constant model rather than from zero.

    With W = 0 the intercept minimising the data term has a closed form for
    the squared error (the weighted mean of y), the binary log-loss (the
    log-odds) and the multinomial loss (log class frequencies).  Starting
    there removes the intercept's share of the first gradients, which would
    otherwise dominate the optimality reference of the stopping rule.
    """
    fresh = state.t == 0 and not np.any(state.W) and not np.any(state.b)
    if not (fresh and problem.fit_intercept):
        return
    weights = problem.sample_weight / problem.sample_weight.sum()
    mean = weights @ problem.Y
    if problem.loss == "squared_error":
        state.b[:] = mean
    elif problem.loss == "log_loss":
        positive = np.clip((mean + 1.0) / 2.0, 1e-12, 1.0 - 1e-12)
        state.b[:] = np.log(positive / (1.0 - positive))
    elif problem.loss == "multinomial":
        log_freq = np.log(np.clip(mean, 1e-12, None))
        state.b[:] = log_freq - log_freq.mean()


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


@_divergence_guarded
def solve_batch(problem, state, options):
    """Full-batch gradient descent: one proximal step per pass over X.

    With ``learning_rate='auto'`` and a smooth loss this is FISTA (Nesterov's
    accelerated proximal gradient) in standardised coordinates with step
    ``1 / L`` and adaptive restart (O'Donoghue & Candes, 2015): the number of
    iterations grows with the square root of the condition number.  A
    non-smooth loss takes subgradient steps ``1 / (L sqrt(k))``.  Explicit
    schedules run the textbook update on the raw features, with heavy-ball
    or Nesterov momentum if asked.
    """
    if options.learning_rate == "auto" and problem.smooth:
        return _solve_batch_accelerated(problem, state, options)
    return _solve_batch_plain(problem, state, options)


def _solve_batch_accelerated(problem, state, options):
    X, sw = problem.X, problem.sample_weight
    if state.precond is None:
        # standardises sparse input too: this solver never forms X~
        state.precond = batch_preconditioner(
            X, sw, problem.fit_intercept, whiten=problem.l1 == 0
        )
    precond = state.precond
    if state.lipschitz is None:
        state.lipschitz = _LIPSCHITZ_MARGIN * batch_lipschitz(
            X, sw, precond, problem.fit_intercept, problem.loss
        )
    l1_w, l2_w = precond.penalty_weights()
    l1_w, l2_w = problem.l1 * l1_w, problem.l2 * l2_w
    _initialise_intercept(problem, state)
    x_w, x_b = precond.to_standardised(state.W, state.b)
    if state.extrapolated is not None:
        y_w, y_b, theta = state.extrapolated
    else:
        y_w, y_b, theta = x_w.copy(), x_b.copy(), 1.0
    loop = _EpochLoop(problem, state, options, optimality=True)
    step_norm = None  # proximal-gradient norm of the last step
    best = None  # (W~, b~, objective) of the last accepted iterate
    rejections = 0
    for it in range(options.max_iter + 1):
        W_y, b_y = precond.to_original(y_w, y_b)
        W_x, b_x = precond.to_original(x_w, x_b)
        G, Gb, objective_x = problem.gradient_pass(W_y, b_y, W_x, b_x)
        if it > 0:
            # objective_x is the objective of the previous step's result; a
            # rise within the rounding of the objective is no evidence
            # (near the optimum of an ill-conditioned problem the objective
            # stops resolving progress long before the coefficients do)
            rejected = best is not None and (
                objective_x - best[2] > _OBJECTIVE_RTOL * abs(best[2])
            )
            if rejected:
                # Function-value restart with roll-back: a step that raised the
                # objective is undone and the momentum dropped, so the
                # objective never rises.  The gradient was taken at the
                # discarded extrapolated point; the next pass takes a fresh
                # one.  Rejections without progress in between mean the
                # Lipschitz estimate was too small: double it.
                rejections += 1
                if rejections >= 2:
                    state.lipschitz *= 2.0
                x_w, x_b, objective_x = best
                y_w, y_b, theta = x_w.copy(), x_b.copy(), 1.0
                W_x, b_x = precond.to_original(x_w, x_b)
            else:
                rejections = 0
            state.W, state.b = W_x, b_x
            optimality = None if rejected else step_norm
            if loop.end_epoch(objective_x, 1.0 / state.lipschitz, optimality) or it == options.max_iter:
                break
            best = (x_w, x_b, objective_x)
            if rejected:
                continue
        step = 1.0 / state.lipschitz
        g_w, g_b = precond.gradient_to_standardised(G, Gb)
        new_w = prox(y_w - step * g_w, step, l1_w, l2_w)
        new_b = y_b - step * g_b if problem.fit_intercept else y_b
        step_norm = math.sqrt(np.sum((y_w - new_w) ** 2) + np.sum((y_b - new_b) ** 2)) / step
        # Gradient-based adaptive restart: drop the momentum when the step
        # points against the direction of the last move.
        if np.sum((y_w - new_w) * (new_w - x_w)) + np.sum((y_b - new_b) * (new_b - x_b)) > 0:
            theta = 1.0
        theta_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * theta * theta))
        beta = (theta - 1.0) / theta_next
        y_w = new_w + beta * (new_w - x_w)
        y_b = new_b + beta * (new_b - x_b)
        x_w, x_b, theta = new_w, new_b, theta_next
    state.extrapolated = (y_w, y_b, theta)
    state.t += loop.result.n_iter
    return loop.result


def _solve_batch_plain(problem, state, options):
    if state.precond is None:
        state.precond = (
            Preconditioner.from_data(problem.X, problem.sample_weight, problem.fit_intercept)
            if options.learning_rate == "auto"
            else Preconditioner.identity(problem.n_features)
        )
    precond = state.precond
    if state.lipschitz is None and options.learning_rate == "auto":
        state.lipschitz = _LIPSCHITZ_MARGIN * batch_lipschitz(
            problem.X, problem.sample_weight, precond, problem.fit_intercept, problem.loss
        )
    if state.velocity is None:
        # velocities of the plain batch solver live in standardised coordinates
        state.velocity = np.zeros_like(state.W)
        state.velocity_b = np.zeros_like(state.b)
    l1_w, l2_w = precond.penalty_weights()
    l1_w, l2_w = problem.l1 * l1_w, problem.l2 * l2_w
    if options.learning_rate == "auto":
        _initialise_intercept(problem, state)
    mom = options.momentum
    loop = _EpochLoop(problem, state, options, optimality=problem.smooth)
    step_norm = None
    eta = math.nan
    for it in range(options.max_iter + 1):
        x_w, x_b = precond.to_standardised(state.W, state.b)
        v_w, v_b = state.velocity, state.velocity_b
        e_w, e_b = (x_w + mom * v_w, x_b + mom * v_b) if options.nesterov else (x_w, x_b)
        W_e, b_e = precond.to_original(e_w, e_b)
        G, Gb, objective = problem.gradient_pass(W_e, b_e, state.W, state.b)
        if it > 0 and (loop.end_epoch(objective, eta, step_norm) or it == options.max_iter):
            break
        eta = _batch_step(options, state)
        g_w, g_b = precond.gradient_to_standardised(G, Gb)
        v_w = mom * v_w - eta * g_w
        v_b = mom * v_b - eta * g_b if problem.fit_intercept else v_b
        new_w = prox(x_w + v_w, eta, l1_w, l2_w)
        new_b = x_b + v_b if problem.fit_intercept else x_b
        step_norm = math.sqrt(np.sum((new_w - x_w) ** 2) + np.sum((new_b - x_b) ** 2)) / eta
        state.W, state.b = precond.to_original(new_w, new_b)
        state.velocity, state.velocity_b = v_w, v_b
        state.t += 1
    return loop.result


def _batch_step(options, state):
    """Step size of the plain batch solver at update ``state.t``."""
    lr = options.learning_rate
    if lr == "auto":
        return 1.0 / (state.lipschitz * math.sqrt(state.t + 1))
    if lr == "optimal":
        _, cfg = _schedule_config(options, state)
        return 1.0 / (options.alpha * (cfg["optimal_t0"] + state.t))
    if lr == "invscaling":
        return options.eta0 / (state.t + 1.0) ** options.power_t
    eta, _ = _schedule_config(options, state)  # constant, adaptive
    return eta


SOLVERS = {"batch": solve_batch, "sgd": solve_sgd, "minibatch": solve_minibatch}
