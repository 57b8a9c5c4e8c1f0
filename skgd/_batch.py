"""The full-batch solver: accelerated proximal gradient (FISTA) or plain GD."""

import math

import numpy as np
import scipy.sparse as sp

from . import _newton as newton
from . import _smoothed_l1 as smoothed_l1
from ._gram import GramOracle, LeastSquaresMoments, gram_applies
from ._losses import MARGIN_CAP
from ._schedules import batch_step
from ._solver_common import (
    _LIPSCHITZ_MARGIN,
    _OBJECTIVE_RTOL,
    GapRule,
    _divergence_guarded,
    _EpochLoop,
    _initialise_intercept,
)
from ._step_size import (
    OutputCentring,
    Preconditioner,
    WhiteningPreconditioner,
    _usable_constant,
    loss_curvature,
    whitened_rounding,
)
from ._threads import single_threaded_blas
from ._working_set import solve_working_set, working_set_applies


@_divergence_guarded
def solve_batch(problem, state, options):
    """Full-batch gradient descent: one proximal step per pass over X.

    With ``learning_rate='auto'`` and a smooth loss this is FISTA (Nesterov's
    accelerated proximal gradient) in standardised coordinates with step
    ``1 / L`` and adaptive restart (O'Donoghue & Candes, 2015): the number of
    iterations grows with the square root of the condition number.  The
    squared error with ``n >= 2 d`` iterates on the d x d Gram matrix
    (:mod:`skgd._gram`: one pass over X, then ``d^2`` per iteration).  Where
    a duality gap is cheap (squared error, binary and multinomial log-loss,
    ``squared_hinge`` and ``modified_huber`` with a penalty;
    :mod:`skgd._gap`) the fit stops on it
    (:class:`~skgd._solver_common.GapRule`): the model returned is certified
    within a relative objective gap of ``tol * 1e-6``.  The logistic losses
    with an L2 penalty and many rows against few features start with Newton
    steps on the Hessian of a row sample instead (:mod:`skgd._newton`),
    handing over to these iterations if the sample proves a poor model of
    the curvature.  A non-smooth loss
    takes subgradient steps ``1 / (L sqrt(k))``.  Explicit schedules run the
    textbook update on the raw features, with heavy-ball or Nesterov
    momentum if asked.  BLAS runs on one thread meanwhile: its few large
    products are split over Python threads instead (:mod:`skgd._threads`).
    """
    with single_threaded_blas():
        return _solve_batch(problem, state, options)


def _solve_batch(problem, state, options):
    if smoothed_l1.applies(problem, options):
        return smoothed_l1.solve_smoothed_l1(problem, state, options)
    if working_set_applies(problem, options):
        try:
            moments = LeastSquaresMoments(problem)
            return solve_working_set(problem, state, options, moments)
        except FloatingPointError:
            pass  # moments not finite: the passes over X below
    if options.learning_rate == "auto" and problem.smooth:
        return _solve_batch_accelerated(problem, state, options)
    return _solve_batch_plain(problem, state, options)


class _DataOracle:
    """Gradient, objective and data term at one point: one fused pass over X.

    For the logistic losses with an intercept the pass also keeps each row's
    loss derivative (``per_sample``, n x K), from which the certificate sums
    its intercept correction exactly (:mod:`skgd._gap`).
    """

    def __init__(self, problem, keep_rows=False, certificate=None):
        self.problem = problem
        self.per_sample = (np.zeros((problem.n_samples, problem.n_outputs))
                           if keep_rows else None)
        # in memory, the constant model (W = 0, where a fit from scratch
        # starts) is evaluated from the certificate's class sums, no pass
        self.certificate = certificate if (
            isinstance(problem.X, np.ndarray) or sp.issparse(problem.X)) else None

    def evaluate(self, W, b):
        if self.certificate is not None and not np.any(W):
            found = self.certificate.constant_model(b, self.per_sample)
            if found is not None:
                G, Gb, data = found
                return G, Gb, data, data
        if self.per_sample is None:
            G, Gb, objective = self.problem.gradient_pass(W, b)
        else:
            G, Gb, objective = self.problem.gradient_pass(W, b, per_sample=self.per_sample)
        return G, Gb, objective, objective - self.problem.penalty.value(W)


def _centre(problem, certificate):
    """The weighted mean of the rows (zero without an intercept), from the
    certificate's pass."""
    return certificate.mean if problem.fit_intercept else np.zeros(problem.n_features)


def _setup(problem, state, options, certificate=None):
    """The oracle, preconditioner, Lipschitz constant and certificate of a fit
    (``certificate``: the one a sampled start built)."""
    # whitening rotates the coordinates, which only an L2 penalty survives
    whiten = problem.penalty.rotation_invariant
    if gram_applies(problem, options):
        try:
            oracle = problem.gram_oracle()
        except FloatingPointError:
            oracle = None
        if oracle is not None:
            if state.precond is None:
                state.precond = oracle.preconditioner(whiten)
            if state.lipschitz is None:
                # exact: the eigenvalue of the d x d standardised Gram matrix
                state.lipschitz = _usable_constant(oracle.lipschitz(state.precond))
            return oracle, problem.duality_gap(oracle.mean)
    if state.precond is None:
        # standardises sparse input too: this solver never forms X~
        state.precond = problem.batch_preconditioner(whiten)
    if state.lipschitz is None and isinstance(state.precond, WhiteningPreconditioner):
        # Whitened and centred, the features and the intercept column have
        # the identity as their weighted Gram matrix (floored eigenvalues
        # only shrink it): the constant is the loss's curvature, without a
        # power iteration over X.  The margin covers the rounding of C.
        state.lipschitz = (1.0 + whitened_rounding(state.precond)) * loss_curvature(problem.loss)
    if state.lipschitz is None and _local_curvature_applies(problem):
        # The steps follow the local curvature, and the bound only caps them
        # (an underestimate costs a rejected point, which doubles it): a
        # rough estimate with a wider margin does.  On the sparse tf-idf
        # problem of benchmarks/time_to_solution.py the full estimate took
        # 30 passes before the first step; this one 10, and the fit ran 32
        # iterations instead of 31.
        state.lipschitz = _ROUGH_LIPSCHITZ_MARGIN * problem.batch_lipschitz(
            state.precond, n_iter=_ROUGH_POWER_ITERATIONS, rtol=1e-2)
    if state.lipschitz is None:
        state.lipschitz = _LIPSCHITZ_MARGIN * problem.batch_lipschitz(state.precond)
    if certificate is None:
        certificate = problem.duality_gap()
    in_memory = isinstance(problem.X, np.ndarray) or sp.issparse(problem.X)
    keep_rows = certificate is not None and in_memory and (
        # the logistic losses' exact intercept correction (on dask the
        # certificate recomputes it on the workers, DualityGap.rows_mixture)
        (problem.fit_intercept and problem.loss in ("log_loss", "multinomial"))
        # the margin losses' dual point is the rows' derivatives
        or problem.loss in MARGIN_CAP
        # the Hessian of a Newton finish weights the rows by them
        or newton.applies(problem))
    return _DataOracle(problem, keep_rows, certificate), certificate


def _solve_batch_accelerated(problem, state, options):
    loop = certificate = None
    if newton.sampled_start_applies(problem, options):
        # Newton steps on a sampled Hessian from the first iteration; if the
        # sample misses curvature, the accelerated iterations take over from
        # the model they reached, with the same certificate and history
        certificate = problem.duality_gap()
        if certificate is not None:
            _initialise_intercept(problem, state, options)
            loop = _EpochLoop(problem, state, options, optimality=True,
                              rule=GapRule(options.tol))
            sample = newton.HessianSample(problem, _centre(problem, certificate),
                                          newton.sample_size(problem))
            if _newton_finish(problem, state, options, _DataOracle(problem, True, certificate),
                              certificate, loop.rule, loop, -math.inf, math.inf, sample):
                return loop.result
            state.newton = False
    oracle, certificate = _setup(problem, state, options, certificate)
    precond = state.precond
    gram = isinstance(oracle, GramOracle)
    penalty = problem.penalty.weighted(*precond.penalty_weights())
    _initialise_intercept(problem, state, options)
    x_w, x_b = precond.to_standardised(state.W, state.b)
    if gram and problem.fit_intercept:
        # in centred coordinates the best intercept is the mean of y, whatever W
        x_b = oracle.y_mean.copy()
    if state.extrapolated is not None and state.extrapolated[0].shape == x_w.shape:
        # partial_fit continues the sequences (the model returned is the best
        # point evaluated, which need not be the iterate x), in the
        # coordinates they were left in
        if state.output_centring is not None:
            precond = OutputCentring(precond, *state.output_centring)
            x_w, x_b = precond.to_standardised(state.W, state.b)
        y_w, y_b, theta = state.extrapolated[:3]
        if len(state.extrapolated) == 5:
            x_w, x_b = state.extrapolated[3:]
    else:
        state.output_centring = None
        y_w, y_b, theta = x_w.copy(), x_b.copy(), 1.0
    if loop is not None:  # after a sampled start
        rule = loop.rule
    else:
        rule = GapRule(options.tol) if certificate is not None else None
        loop = _EpochLoop(problem, state, options, optimality=True, rule=rule)
    done = loop.result.n_iter
    budget = options.max_iter - done
    # The step: 1 / L with L the global bound state.lipschitz, or, for the
    # logistic losses under an L2 penalty, a local estimate (_LocalCurvature)
    adaptive = _local_curvature_applies(problem)
    if state.curvature is None or state.extrapolated is None:
        state.curvature = _LocalCurvature(state.lipschitz, adaptive)
    curvature = state.curvature  # partial_fit continues it with the sequences
    best = None  # (W~, b~, objective, gradient~) of the best point evaluated
    lower = -math.inf  # the best dual value: a lower bound of the optimum
    step_norm = None  # proximal-gradient norm of the last step
    rejections = 0
    recentre_due = (not gram and _recentring_applies(problem)
                    and state.output_centring is None)
    newton_after = (newton.finish_after(problem) if rule is not None and not gram
                    and oracle.per_sample is not None and newton.applies(problem)
                    else None)
    if newton_after is not None and state.newton:
        if _newton_finish(problem, state, options, oracle, certificate, rule, loop,
                          -math.inf, math.inf) or loop.result.n_iter >= options.max_iter:
            return loop.result
        # the coordinate-descent steps stalled: the accelerated iterations go on
        newton_after, state.newton = None, False
        done = loop.result.n_iter
        x_w, x_b, y_w, y_b, theta = _fresh_sequences(state, precond)
    for it in range(budget + 1):
        W_y, b_y = precond.to_original(y_w, y_b)
        if gram:
            b_y = oracle.intercept(W_y)
            G, Gb, objective, data = oracle.evaluate(W_y)
        else:
            G, Gb, objective, data = oracle.evaluate(W_y, b_y)
        if certificate is not None and np.isfinite(objective):
            per_sample = None if gram else oracle.per_sample
            # the rule compares the best objective with the best dual value
            primal = objective if best is None else min(objective, best[2])
            lower = max(lower, certificate.dual(W_y, b_y, G, Gb, data, per_sample,
                                                primal, rule.target))
        # Counted over partial_fit's calls too, and never at a call's last
        # evaluation (the next call evaluates that point again, in the new
        # coordinates, rounded): a stream of calls takes the steps of one
        # fit.  At an improving point, whose gradient becomes the best one's.
        if recentre_due and state.t + it >= _RECENTRE_ITERATION and it < budget \
                and (best is None or objective <= best[2]):
            recentre_due = False
            recentred = _recentre(problem, state, precond, W_y, b_y, oracle.per_sample)
            if recentred is not None:
                # the secant to this point in the old coordinates first (a
                # stream of partial_fit calls measured it in the call before)
                curvature.accept(y_w, y_b, *precond.gradient_to_standardised(G, Gb))
                x_w, x_b = recentred.to_standardised(*precond.to_original(x_w, x_b))
                y_w, y_b = recentred.to_standardised(W_y, b_y)
                precond = recentred
                state.output_centring = (recentred.centres, recentred.intercept_sum)
                best = None  # replaced below by y, in the new coordinates
                curvature.previous = None
                curvature.bound = state.lipschitz
        g_w, g_b = precond.gradient_to_standardised(G, Gb)
        # The gradient and the objective are taken at the same point y:
        # the certificate needs both there.  A point worse than the best
        # one (beyond the rounding of the objective) is a function-value
        # restart: the momentum is dropped and the next step starts from
        # the best point, with its stored gradient (no pass is wasted).
        # Two in a row without progress mean the step was too long.
        rejected = best is not None and not (
            objective - best[2] <= _OBJECTIVE_RTOL * abs(best[2]))  # NaN: rejected
        if rejected:
            rejections += 1
            if rejections >= 2 and curvature.at_bound():
                state.lipschitz *= 2.0
            curvature.reject(state.lipschitz)
            y_w, y_b, _, g_w, g_b = best[0], best[1], best[2], best[3], best[4]
            x_w, x_b, theta = y_w, y_b, 1.0
        else:
            rejections = 0
            best = (y_w, y_b, objective, g_w, g_b)
            curvature.accept(y_w, y_b, g_w, g_b)
        if it > 0:
            state.W, state.b = precond.to_original(best[0], best[1])
            if gram:
                state.b = oracle.intercept(state.W)
            measure = step_norm
            if rule is not None:
                measure = rule.relative_gap(best[2], lower)
            # a slow fit of a small problem: Newton's method from here (the
            # iterations of earlier partial_fit calls count)
            slow = newton_after is not None and state.t + it >= newton_after
            if loop.end_epoch(best[2], 1.0 / curvature.value, measure) \
                    or loop.result.n_iter >= options.max_iter:
                state.newton = slow and not loop.result.converged  # the next call's
                break
            if slow:
                state.t += loop.result.n_iter - done
                if _newton_finish(problem, state, options, oracle, certificate, rule, loop,
                                  lower, best[2]):
                    return loop.result
                # the coordinate-descent steps stalled (skgd._newton.CD_PASS_SHARE):
                # the accelerated iterations continue from the model reached,
                # with fresh momentum, for the rest of the budget
                newton_after, state.newton = None, False
                done = loop.result.n_iter
                if done >= options.max_iter:
                    break
                x_w, x_b, y_w, y_b, theta = _fresh_sequences(state, precond)
                best, curvature.previous = None, None
                continue
        step = 1.0 / curvature.value
        new_w = penalty.prox(y_w - step * g_w, step)
        new_b = y_b - step * g_b if problem.fit_intercept and not gram else y_b
        if problem.loss == "multinomial" and isinstance(precond, OutputCentring):
            new_w, new_b = precond.remove_softmax_gauge(new_w, new_b)
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
    state.extrapolated = (y_w, y_b, theta, x_w, x_b)
    state.t += loop.result.n_iter - done
    return loop.result


def _fresh_sequences(state, precond):
    """``(x_w, x_b, y_w, y_b, theta)``: the accelerated sequences started
    anew, without momentum, at the model ``state`` holds (after Newton steps
    that handed the fit back)."""
    x_w, x_b = precond.to_standardised(state.W, state.b)
    return x_w, x_b, x_w.copy(), x_b.copy(), 1.0


def _newton_finish(problem, state, options, oracle, certificate, rule, loop, lower,
                   best_objective, sample=None):
    """Newton steps from the best point until the certificate stops the fit
    (:mod:`skgd._newton`); each is one epoch of the fit's budget.

    With a :class:`~skgd._newton.HessianSample` (the sampled start of a
    fit), the steps hand the fit back -- False is returned, the model being
    the best point reached -- once the sample proves a poor model of the
    curvature: after ``SAMPLED_GLOBAL_ITERATIONS`` steps, a step the line
    search had to shorten or an objective decrease that shrank by less than
    ``SAMPLED_RATE`` (a linear rate no faster than the accelerated
    iterations'); also after ``SAMPLED_MAX_ITERATIONS`` steps without a
    certified stop, or a step that is not a descent.  False too when the
    coordinate-descent steps of a wide L1 fit stall
    (:class:`~skgd._newton.ColumnStore`): the accelerated iterations then
    continue.  Otherwise True: the fit has ended.
    """
    done = loop.result.n_iter
    W, b = state.W.copy(), state.b.copy()
    G, Gb, objective, data = oracle.evaluate(W, b)
    derivative = oracle.per_sample.copy()
    # the accelerated sequences are not continued: later calls take Newton
    # steps too (partial_fit, warm starts)
    state.extrapolated, state.curvature = None, None
    state.output_centring = None
    state.newton = sample is None
    best_objective = min(best_objective, objective)
    center = _centre(problem, certificate)
    columns = newton.column_store(problem, options.max_iter)
    finished, decrease = True, None  # False: the accelerated iterations take over
    while loop.result.n_iter < options.max_iter:
        found = newton.newton_direction(problem, W, b, G, Gb, derivative, center, sample,
                                        columns)
        if found is newton.STATIONARY:
            # the optimality conditions hold to rounding, where the L1
            # certificate's floor may lie above its target (skgd._newton)
            loop.result.converged = True
            break
        if found is None:
            # (the coordinate-descent steps may give up: then the
            # accelerated iterations continue)
            finished = sample is None and not (columns is not None and columns.stalled())
            break
        dW, db, slope = found
        # Near the optimum the decrease the step promises is below the
        # rounding of the objective, which can then not judge it: the full
        # step is taken (Newton's, in its quadratic regime) and kept if the
        # objective did not rise beyond that rounding.
        rounding = newton.OBJECTIVE_ROUNDING * abs(objective)
        t = 1.0
        for _ in range(newton.MAX_HALVINGS):
            trial = oracle.evaluate(W + t * dW, b + t * db)
            if trial[2] <= objective + newton.ARMIJO * t * slope \
                    or (-slope <= rounding and trial[2] <= objective + rounding):
                break
            t *= 0.5
        else:
            finished = sample is None
            break  # no decrease left: rounding
        W, b = W + t * dW, b + t * db
        previous = objective
        G, Gb, objective, data = trial
        derivative = oracle.per_sample.copy()
        lower = max(lower, certificate.dual(W, b, G, Gb, data, derivative,
                                            max(objective, best_objective), rule.target))
        if not objective <= best_objective + rounding:
            finished = sample is None
            break  # (not a descent step after all: the model stays)
        # the model is this point (the certificate is measured from its own
        # objective), and the next step starts from it, as a later call does
        best_objective = objective
        state.W, state.b = W.copy(), b.copy()
        if loop.end_epoch(best_objective, t, rule.relative_gap(best_objective, lower)):
            break
        if columns is not None and columns.stalled():
            finished = False
            break
        if sample is not None:
            steps = loop.result.n_iter - done
            last, decrease = decrease, previous - objective
            slow = (steps > newton.SAMPLED_GLOBAL_ITERATIONS and last is not None
                    and decrease > newton.SAMPLED_RATE * last
                    and decrease > 100 * rounding)
            if slow or (steps > newton.SAMPLED_GLOBAL_ITERATIONS and t < 1.0) \
                    or steps >= newton.SAMPLED_MAX_ITERATIONS:
                finished = False
                break
    state.t += loop.result.n_iter - done
    return finished


# The iteration at which the logistic losses re-centre their intercepts at
# the curvature-weighted means (OutputCentring): by then the probabilities
# are those of the optimum to within a few percent.  Measured on the
# 10-class problem: centres from iteration 2 gave a Hessian condition
# number of 4.9, from 4 on 3.98 (3.95 at the optimum; 13.4 unweighted).
_RECENTRE_ITERATION = 3


def _recentring_applies(problem):
    """The multinomial loss with an intercept and no L1 part in the penalty
    (the softmax gauge is removed by subtracting the mean coefficients, which
    lowers an L2 penalty but not an L1 one).  The binary log-loss measured
    more iterations (13 -> 16-20 on the benchmark's problems)."""
    return (problem.fit_intercept and problem.loss == "multinomial"
            and problem.l1 == 0)


def _recentre(problem, state, precond, W, b, derivative):
    """The preconditioner with each output's intercept centred at the
    curvature-weighted mean of the rows at (W, b) (one pass over X; two on
    dask), and the Lipschitz bound grown to match; None if a weight sum
    vanishes."""
    centres = problem.curvature_centres(W, b, derivative)
    if centres is None:
        return None
    base = precond.base if isinstance(precond, OutputCentring) else precond
    recentred = OutputCentring(base, centres, intercept_sum=float(b.sum()))
    state.lipschitz *= recentred.gram_growth()
    return recentred


# The rough power iteration of the bound under local-curvature steps.
_ROUGH_POWER_ITERATIONS = 10
_ROUGH_LIPSCHITZ_MARGIN = 1.25


def _local_curvature_applies(problem):
    """Whether the steps follow :class:`_LocalCurvature`'s local estimate."""
    return problem.loss in ("log_loss", "multinomial", *MARGIN_CAP) and problem.penalty.smooth


class _LocalCurvature:
    """The curvature ``L`` of FISTA's steps: a local estimate, capped by the bound.

    The bound (``loss_curvature`` times the top eigenvalue of the
    standardised Gram matrix) holds everywhere; where the loss's curvature
    varies it is loose near the optimum (a logistic loss curves by
    ``p (1 - p) <= 1/4``, a softmax by well below its bound ``1/2`` once the
    classes separate), and FISTA's iteration count grows with ``sqrt(L)``.
    Between two accepted points the secant ``||g - g'|| / ||y - y'||``
    measures the curvature met along the path; the step uses ``_SAFETY``
    times it, falling at most by half per iteration and never below
    ``bound / _RANGE``; once the iterates move by less than ``_RESOLVED``
    relative to their size, the bound again.  A rejected point (the objective rose, which the
    function-value restart catches) doubles it back toward the bound.
    Measured on ``benchmarks/time_to_solution.py``'s problems (iterations to
    a relative gap of 1e-10): 10-class multinomial 87 -> 30, standardised
    binary logistic 17 -> 13; the margin losses (certified; their curvature
    is 2 on the rows short of the margin, 0 beyond) on the tf-idf problem of
    ``benchmarks/stochastic_gap.py`` 190 -> 130 (``squared_hinge``) and
    192 -> 145 (``modified_huber``), 43-54 -> 44-45 on its dense 200,000 x
    100 rows.  Used with an L2 penalty only: with an L1 part it measured
    slower (a fit that stopped after 1333 iterations ran the 3000 of
    ``max_iter``).
    """

    _SAFETY = 2.0
    _RANGE = 50.0
    _RESOLVED = 1e-8  # relative move below which the secant is not trusted

    def __init__(self, bound, adaptive):
        self.bound = self.value = bound
        self.adaptive = adaptive
        self.previous = None  # (y_w, y_b, g_w, g_b) of the last accepted point

    def at_bound(self):
        return self.value >= self.bound

    def accept(self, y_w, y_b, g_w, g_b):
        if not self.adaptive:
            return
        if self.previous is not None:
            p_w, p_b, q_w, q_b = self.previous
            moved = float(np.sum((y_w - p_w) ** 2) + np.sum((y_b - p_b) ** 2))
            if moved == 0.0:
                return  # the same point again (partial_fit re-evaluates it)
            turned = float(np.sum((g_w - q_w) ** 2) + np.sum((g_b - q_b) ** 2))
            size = float(np.sum(y_w * y_w) + np.sum(y_b * y_b))
            if moved > self._RESOLVED**2 * size and np.isfinite(turned):
                local = self._SAFETY * math.sqrt(turned / moved)
                self.value = min(self.bound, max(local, 0.5 * self.value,
                                                 self.bound / self._RANGE))
            else:
                # a move this small is mostly rounding, and so is the secant:
                # the bound's step contracts the iterates instead of letting
                # them wander within the objective's rounding (~sqrt(eps))
                self.value = self.bound
        self.previous = (y_w, y_b, g_w, g_b)

    def reject(self, bound):
        self.bound = bound
        self.value = min(2.0 * self.value, bound) if self.adaptive else bound


def _solve_batch_plain(problem, state, options):
    if state.precond is None:
        state.precond = (
            problem.diagonal_preconditioner()
            if options.learning_rate == "auto"
            else Preconditioner.identity(problem.n_features)
        )
    precond = state.precond
    if state.lipschitz is None and options.learning_rate == "auto":
        state.lipschitz = _LIPSCHITZ_MARGIN * problem.batch_lipschitz(precond)
    if state.velocity is None:
        # velocities of the plain batch solver live in standardised coordinates
        state.velocity = np.zeros_like(state.W)
        state.velocity_b = np.zeros_like(state.b)
    penalty = problem.penalty.weighted(*precond.penalty_weights())
    if options.learning_rate == "auto":
        _initialise_intercept(problem, state, options)
    mom = options.momentum
    loop = _EpochLoop(problem, state, options, optimality=problem.smooth)
    loop.result.subgradient = not problem.smooth
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
        eta = batch_step(options, state)
        g_w, g_b = precond.gradient_to_standardised(G, Gb)
        v_w = mom * v_w - eta * g_w
        v_b = mom * v_b - eta * g_b if problem.fit_intercept else v_b
        new_w = penalty.prox(x_w + v_w, eta)
        new_b = x_b + v_b if problem.fit_intercept else x_b
        step_norm = math.sqrt(np.sum((new_w - x_w) ** 2) + np.sum((new_b - x_b) ** 2)) / eta
        state.W, state.b = precond.to_original(new_w, new_b)
        state.velocity, state.velocity_b = v_w, v_b
        state.t += 1
    return loop.result

