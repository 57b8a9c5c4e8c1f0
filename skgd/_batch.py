"""The full-batch solver: accelerated proximal gradient (FISTA) or plain GD."""

import math

import numpy as np

from ._objective import prox
from ._solver_common import (
    _LIPSCHITZ_MARGIN,
    _OBJECTIVE_RTOL,
    _divergence_guarded,
    _EpochLoop,
    _initialise_intercept,
    _schedule_config,
)
from ._step_size import Preconditioner


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


def _penalty_strengths(problem, precond):
    """Per-coordinate L1 and L2 strengths in the preconditioned coordinates."""
    l1_w, l2_w = precond.penalty_weights()
    # A zero strength is no penalty even where a weight overflowed (1 / the
    # whitened eigenvalue of a ~1e-150 feature is inf, and 0 * inf is NaN).
    l1_w = problem.l1 * l1_w if problem.l1 else np.zeros_like(l1_w)
    l2_w = problem.l2 * l2_w if problem.l2 else np.zeros_like(l2_w)
    return l1_w, l2_w


def _solve_batch_accelerated(problem, state, options):
    if state.precond is None:
        # standardises sparse input too: this solver never forms X~
        state.precond = problem.batch_preconditioner(whiten=problem.l1 == 0)
    precond = state.precond
    if state.lipschitz is None:
        state.lipschitz = _LIPSCHITZ_MARGIN * problem.batch_lipschitz(precond)
    l1_w, l2_w = _penalty_strengths(problem, precond)
    _initialise_intercept(problem, state, options)
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
    l1_w, l2_w = _penalty_strengths(problem, precond)
    if options.learning_rate == "auto":
        _initialise_intercept(problem, state, options)
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
