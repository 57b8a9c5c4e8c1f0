"""Pure-L1 hinge and epsilon-insensitive fits: a smoothing homotopy.

With an L2 part these losses are fitted on their dual (:mod:`skgd._dual_cd`);
with the L1 penalty alone the dual has no quadratic term, and the batch
solver's subgradient steps stopped 13-140 % above the optimal objective
(1,000 x 20 rows of ``make_classification``, ``alpha`` 1e-3 and 1e-4).  The
loss is smoothed instead, as in :mod:`skgd._smoothed_newton`, by its Huber
construction of width ``mu``,

.. math::

    h_\\mu(s) = \\begin{cases} 0 & s \\le 0 \\\\ s^2 / (2 \\mu) & 0 < s < \\mu
    \\\\ s - \\mu / 2 & s \\ge \\mu \\end{cases}, \\qquad
    s_i = 1 - y_i p_i \\;\\text{(hinge)}, \\quad |y_i - p_i| - \\epsilon
    \\;\\text{(epsilon-insensitive)},

and ``sum_i omega_i h_mu(s_i) + l1 |w|_1`` (``omega`` the normalised sample
weights) is minimised by proximal Newton steps: the Hessian is that of the
rows in the quadratic zone ``0 < s_i < mu`` and of the rows nearest the
margin (``(d + 1) x (d + 1)``), the model with the exact L1 term is solved
by the feature-sign search (:func:`skgd._newton._l1_model_step`), and the
step length minimises the smoothed objective along it (a convex, piecewise
quadratic function of the length: :meth:`_Output.line_minimum`).  ``mu``
starts above every slack (the whole of the loss quadratic) and is divided
by ``MU_DIVISOR`` once a level's optimality conditions hold; as it falls,
the zone shrinks onto the rows on the margin and the smoothed minimiser
onto a minimiser of the exact problem (``h_mu`` is within ``mu / 2`` of the
loss).

**The certificate.**  The exact problem's dual is a linear program: for the
hinge, maximise ``sum_i omega_i a_i`` over ``0 <= a_i <= 1`` with
``|sum_i omega_i a_i y_i x_i|_inf <= l1`` (and ``sum_i omega_i a_i y_i = 0``
with an intercept); for the epsilon-insensitive loss, maximise ``sum_i
omega_i (beta_i y_i - epsilon |beta_i|)`` over ``|beta_i| <= 1`` with
``|sum_i omega_i beta_i x_i|_inf <= l1`` (and ``sum_i omega_i beta_i = 0``).
Two dual points are evaluated, each made feasible (the side of the
intercept's sum that is larger scaled down, then the whole point to the L1
bound), so that every value is a lower bound of the optimum:

* at every step, the smoothed loss's derivative, ``a_i = clip(s_i / mu, 0,
  1)`` (``beta_i`` with the sign of the residual);
* once a level is solved, the solution of the dual restricted to the rows
  nearest the margin, the others at their bounds (a small linear program,
  every constraint kept, solved by scipy's HiGHS).  Its Lagrange
  multipliers are a primal point, evaluated too (where fixed rows change
  side there, they are freed and the program solved again): once the rows
  left free include the margin's, the pair is optimal and the gap falls to
  rounding.  The program runs first at the start, on its rows of least
  ``|s_i|`` alone, so that a warm start at the optimum is certified before
  any step.

The fit returns the best primal point evaluated and stops when the
relative gap is at most ``tol * 1e-6``, as every certified solver; each
Newton step is one iteration of ``max_iter``.  Applies to in-memory X with
at most ``MAX_FEATURES`` features, under ``learning_rate='auto'``.
"""

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from ._newton import _l1_model_step
from ._smoothed_newton import bracketed_root
from ._solver_common import GapRule, _EpochLoop

# The Hessian is (d + 1) x (d + 1), the feature-sign search solves systems
# of it and the restricted linear program has 2 d bounds: beyond this many
# features the subgradient steps remain (5,000 rows of make_classification,
# alpha 1e-3 and 1e-4: 0.35-0.41 s at 128 features, 2.0 s at 256, 17-24 s
# at 500).
MAX_FEATURES = 256
# Each level divides mu by this.
MU_DIVISOR = 3.0
# mu is not divided below this fraction of its start (the smoothed problem
# is the exact one in double precision there).
MU_FLOOR = 1e-13
# The homotopy's first mu: this many times the largest slack at the start
# (every row with a loss in the quadratic zone).
MU_START = 2.0
# A level ends when the largest violation of its optimality conditions is
# at most LEVEL_TOL times l1, or after STEPS_PER_LEVEL steps.  Measured
# (hinge and epsilon-insensitive, 2,000-100,000 x 20-100 rows, alpha 1e-3
# and 1e-4, with the restricted program at each level's end, before its
# tolerances were tightened): 10 steps certified every fit in 22-160
# steps; 30 certified them in 30-292; 5 left the hinge on 50,000 x 100 at
# alpha 1e-4 uncertified after 1,000.  (With the tighter tolerances, 10
# steps: 22-71.)
LEVEL_TOL = 1e-9
STEPS_PER_LEVEL = 10
# The model's Hessian gets this fraction of its largest diagonal entry, at
# least, on the diagonal: with few rows in the zone it is singular, and the
# model unbounded along a flat direction.
DAMPING = 1e-10
# The restricted dual keeps free this many times as many rows of least
# |slack| as the vertex has on its margin.
MARGIN_ROWS_FACTOR = 2
# ... and is solved only once the zone adds at most this many rows to them,
# at most RESTRICTED_ROUNDS times (the rows that change side freed).
RESTRICTED_EXTRA_ROWS = 200
RESTRICTED_ROUNDS = 5
LP_TOLERANCES = {"primal_feasibility_tolerance": 1e-10,
                 "dual_feasibility_tolerance": 1e-10}
# Regula falsi steps of the line search, at most.
LINE_SEARCH_STEPS = 60


def applies(problem, options):
    """Whether :func:`solve_smoothed_l1` fits this problem."""
    in_memory = isinstance(problem.X, np.ndarray) or sp.issparse(problem.X)
    return (problem.loss in ("hinge", "epsilon_insensitive") and problem.l2 == 0
            and problem.l1 > 0 and in_memory
            and 0 < problem.n_features <= MAX_FEATURES
            and options.learning_rate == "auto")


class _Output:
    """One output's smoothed fit: its target column, point and certificate."""

    def __init__(self, problem, y, w, b, omega):
        self.problem, self.y, self.omega = problem, y, omega
        self.hinge = problem.loss == "hinge"
        self.w, self.b = w.astype(float).copy(), float(b)
        self.best = (self.w.copy(), self.b)
        self.primal, self.dual = np.inf, -np.inf
        self.mu = self.mu_floor = None
        self.solved_mu = None  # the mu of a level just solved
        self.slack = self.direction = None  # at the current point (certify)
        self.level_steps = 0

    # ---- the loss ------------------------------------------------------------
    def slack_and_direction(self, w, b):
        """``s_i`` and ``dir_i`` (``-dL/dp = dir_i`` on the linear piece)."""
        p = self.problem.X @ w + b
        if self.hinge:
            return 1.0 - self.y * p, self.y
        residual = self.y - p
        return np.abs(residual) - self.problem.epsilon, np.sign(residual)

    # ---- the certificate -----------------------------------------------------
    def primal_value(self, slack, w):
        """The exact objective ``sum_i omega_i L_i + l1 |w|_1``."""
        return float(self.omega @ np.maximum(slack, 0.0)) + self.problem.l1 * float(
            np.abs(w).sum())

    def dual_value(self, dual_point):
        """The dual objective at ``dual_point`` (``u_i = a_i y_i`` for the
        hinge, ``beta_i`` otherwise; in the box), made feasible first: the
        side of the intercept's sum that is larger scaled down, then the
        whole point to the L1 bound."""
        problem, omega = self.problem, self.omega
        if problem.fit_intercept:
            weighted = omega * dual_point
            up, down = weighted[weighted > 0].sum(), -weighted[weighted < 0].sum()
            if up > down:
                dual_point = np.where(dual_point > 0, dual_point * (down / up), dual_point)
            elif down > up:
                dual_point = np.where(dual_point < 0, dual_point * (up / down), dual_point)
        correlation = float(np.max(np.abs(problem.X.T @ (omega * dual_point)), initial=0.0))
        if correlation > problem.l1:
            dual_point = dual_point * (problem.l1 / correlation)
        if self.hinge:
            return float(omega @ np.abs(dual_point))  # a_i = y_i u_i >= 0
        return float(omega @ (dual_point * self.y - problem.epsilon * np.abs(dual_point)))

    def certify(self, slack, direction):
        """Record the exact objective at the current point and the dual value
        of the point read off the smoothed derivative; once a level is
        solved, the pair of the restricted linear program
        (:meth:`restricted_dual`).  The slacks are kept for the next step."""
        self.slack, self.direction = slack, direction
        self.consider(self.w, self.b, self.primal_value(slack, self.w))
        self.dual = max(self.dual, self.dual_value(
            direction * np.clip(slack / self.mu, 0.0, 1.0)))
        if self.solved_mu is not None:
            self.dual = max(self.dual, self.restricted_dual(slack, direction, self.solved_mu))
            self.solved_mu = None

    def consider(self, w, b, primal):
        if primal < self.primal:
            self.primal, self.best = primal, (w.copy(), b)

    def restricted_dual(self, slack, direction, mu):
        """The dual linear program with the variables of the rows away from
        the margin fixed at their bounds (full where the slack is positive,
        0 where it is negative), over the rows nearest the margin (the zone,
        and ``MARGIN_ROWS_FACTOR`` times as many rows of least ``|slack|``
        as free variables): a small linear program (scipy's HiGHS) whose
        every constraint (the L1 bound on every feature, the intercept's
        sum) is kept, so that its solution is a feasible dual point.

        Its Lagrange multipliers are the solution of the primal with those
        rows' losses linearised (or dropped): the exact optimum if no fixed
        row changes side there.  The rows that do are freed and the program
        solved again (constraint generation), at most
        ``RESTRICTED_ROUNDS`` times.  Returns the best dual value."""
        problem = self.problem
        count = np.count_nonzero(self.w) + int(problem.fit_intercept)
        free = np.union1d(np.flatnonzero((slack > 0) & (slack < mu)),
                          np.argsort(np.abs(slack))[:MARGIN_ROWS_FACTOR * max(count, 1)])
        if free.size > MARGIN_ROWS_FACTOR * max(count, 1) + RESTRICTED_EXTRA_ROWS:
            return -np.inf  # the zone is still wide: the linear program would be too
        fixed = np.where(slack > 0, direction, 0.0)
        best = -np.inf
        for _ in range(RESTRICTED_ROUNDS):
            found = self.solve_restricted(free, fixed)
            if found is None:
                break
            point, (w, b) = found
            best = max(best, self.dual_value(point))
            new_slack = self.slack_and_direction(w, b)[0]
            self.consider(w, b, self.primal_value(new_slack, w))
            outside = np.ones(slack.size, dtype=bool)
            outside[free] = False
            flipped = np.flatnonzero(outside & ((fixed != 0) != (new_slack > 0)))
            if flipped.size == 0:
                break
            free = np.union1d(free, flipped)
        return best

    def solve_restricted(self, free, fixed):
        """``(dual point, (w, b))`` of the restricted program, or None."""
        problem, omega, X = self.problem, self.omega, self.problem.X
        d = problem.n_features
        rows = X[free]
        rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
        # u_f = sign_f * v_f with v_f in [0, 1]: the hinge's u_i = a_i y_i;
        # the epsilon-insensitive loss's beta_i = v+ - v- (two columns)
        if self.hinge:
            columns = [(self.y[free], omega[free].copy())]
        else:
            value = omega[free] * self.y[free]
            columns = [(np.ones(free.size), value - problem.epsilon * omega[free]),
                       (-np.ones(free.size), -value - problem.epsilon * omega[free])]
        A = np.hstack([(rows * (omega[free] * sign)[:, None]).T for sign, _ in columns])
        held = fixed.copy()
        held[free] = 0.0
        base = np.asarray(X.T @ (omega * held)).ravel()  # the fixed rows' correlations
        A_eq = b_eq = None
        if problem.fit_intercept:
            A_eq = np.hstack([omega[free] * sign for sign, _ in columns])[None, :]
            b_eq = [-float(omega @ held)]
        gain = np.hstack([g for _, g in columns])
        # (the bounds scaled to 1, at HiGHS's tightest feasibility
        # tolerance: a point that exceeds l1 by the default tolerance, 3e-10
        # at l1 = 1e-3, is scaled down by that relative amount, 3e-7, and
        # so is its dual value, far from a certified 1e-9)
        scale = 1.0 / problem.l1
        found = linprog(-gain, A_ub=np.vstack([A, -A]) * scale,
                        b_ub=np.r_[problem.l1 - base, problem.l1 + base] * scale,
                        A_eq=A_eq, b_eq=b_eq, bounds=(0.0, 1.0), method="highs",
                        options=LP_TOLERANCES)
        if found.status != 0:
            return None
        v = found.x.reshape(len(columns), free.size)
        point = held
        point[free] = sum(sign * part for (sign, _), part in zip(columns, v))
        # the multipliers (scipy reports the sensitivities of the minimised
        # objective, their negatives): a feature's two bounds give its
        # coefficient, the intercept's sum the intercept
        bounds = found.ineqlin.marginals * scale  # (upper bounds, then lower)
        w = bounds[d:] - bounds[:d]
        b = -float(found.eqlin.marginals[0]) if problem.fit_intercept else self.b
        return point, (w, b)

    # ---- one proximal Newton step --------------------------------------------
    def next_level(self):
        self.solved_mu = self.mu  # (the restricted program reads its zone)
        self.mu = max(self.mu / MU_DIVISOR, self.mu_floor)
        self.level_steps = 0

    def step(self):
        """One step at the current level (the level falls when it is solved)."""
        problem, omega, mu = self.problem, self.omega, self.mu
        X, d = problem.X, problem.n_features
        slack, direction = self.slack, self.direction  # (certify's, at this point)
        pull = omega * direction * np.clip(slack / mu, 0.0, 1.0)  # -dJ/dp per row
        # the rows that curve, and the vertex's candidates for the margin
        # (as many rows of least |slack| as free variables): without them a
        # zone emptied by a smaller mu leaves the model flat along the
        # support, its step zero, and the homotopy stuck
        count = min(np.count_nonzero(self.w) + int(problem.fit_intercept), slack.size)
        zone = np.union1d(np.flatnonzero((slack > 0) & (slack < mu)),
                          np.argsort(np.abs(slack))[:count])
        width = d + 1 if problem.fit_intercept else d
        grad = np.zeros(width)
        grad[:d] = -np.asarray(X.T @ pull).ravel()
        H = np.zeros((width, width))
        if zone.size:
            rows = X[zone]
            curvature = omega[zone] / mu
            weighted = rows.multiply(curvature[:, None]).tocsr() if sp.issparse(rows) \
                else rows * curvature[:, None]
            gram = rows.T @ weighted
            H[:d, :d] = gram.toarray() if sp.issparse(gram) else gram
            if problem.fit_intercept:
                column = np.asarray(weighted.sum(axis=0)).ravel()
                H[:d, d] = H[d, :d] = column
                H[d, d] = curvature.sum()
        if problem.fit_intercept:
            grad[d] = -pull.sum()
        diagonal = np.arange(width)
        H[diagonal, diagonal] += DAMPING * max(float(np.max(np.diag(H), initial=0.0)),
                                               problem.l1)
        x0 = np.r_[self.w, self.b] if problem.fit_intercept else self.w
        penalty = np.full(width, problem.l1)
        if problem.fit_intercept:
            penalty[d] = 0.0
        # the level is solved when the smoothed problem's optimality
        # conditions hold to LEVEL_TOL (relative to l1, the bound of the
        # coefficients' gradients at the optimum)
        on = x0 != 0
        violation = np.where(on, np.abs(grad + penalty * np.sign(x0)),
                             np.maximum(np.abs(grad) - penalty, 0.0))
        self.level_steps += 1
        if float(np.max(violation)) <= LEVEL_TOL * problem.l1 \
                or self.level_steps > STEPS_PER_LEVEL:
            self.next_level()
            return
        move = _l1_model_step(H, grad, x0, penalty)
        decrease = float(grad @ move) + float(
            penalty @ (np.abs(x0 + move) - np.abs(x0)))
        if not decrease < 0:
            # the model's solve failed (a near-singular Hessian): a proximal
            # gradient step, scaled by the Hessian's diagonal
            scale = np.diag(H)
            target = x0 - grad / scale
            target = np.sign(target) * np.maximum(np.abs(target) - penalty / scale, 0.0)
            move = target - x0
        t = self.line_minimum(slack, move)
        if t > 0:
            self.w = self.w + t * move[:d]
            if problem.fit_intercept:
                self.b = self.b + t * move[d]
        else:
            self.next_level()  # no decrease along the step: solved to rounding

    def line_minimum(self, slack, move):
        """The step length minimising the smoothed objective along ``move``.

        Along the line the slacks are piecewise linear in ``t`` and the
        objective convex, its right derivative

        .. math:: \\phi'(t) = \\sum_i \\omega_i \\operatorname{clip}(s_i(t) / \\mu,
                  0, 1) \\, s_i'(t) + l_1 \\sum_j \\operatorname{sign}(w_j + t
                  \\delta_j) \\delta_j

        costs O(n + d) once the scores' change ``X delta`` is known: the
        full step where it is still negative at ``t = 1`` (which keeps the
        model's exact zeros), else its zero in ``(0, 1)`` by regula falsi
        (Illinois).  0 if the objective does not fall along ``move``."""
        problem, omega, d = self.problem, self.omega, self.problem.n_features
        change = np.asarray(problem.X @ move[:d]).ravel()
        if problem.fit_intercept:
            change = change + move[d]
        w, dw, l1 = self.w, move[:d], problem.l1
        if self.hinge:
            rate = -self.y * change  # s_i(t) = s_i + t rate_i
        else:
            residual = self.direction * (slack + problem.epsilon)  # y - p, from |y - p|

        def derivative(t):
            if self.hinge:
                s_t, ds = slack + t * rate, rate
            else:
                r = residual - t * change
                sign = np.where(r != 0, np.sign(r), -np.sign(change))
                s_t, ds = np.abs(r) - problem.epsilon, -sign * change
            coefficient = w + t * dw
            sign_w = np.where(coefficient != 0, np.sign(coefficient), np.sign(dw))
            return float(omega @ (np.clip(s_t / self.mu, 0.0, 1.0) * ds)) \
                + l1 * float(sign_w @ dw)

        low, d_low = 0.0, derivative(0.0)
        if not d_low < 0:
            return 0.0
        high, d_high = 1.0, derivative(1.0)
        if d_high <= 0:
            return 1.0  # (a longer step would lose the model's exact zeros)
        root, low, _ = bracketed_root(derivative, low, d_low, high, d_high,
                                      LINE_SEARCH_STEPS)
        return root if root is not None else low  # (lower there than at 0)


def solve_smoothed_l1(problem, state, options):
    """Fit a pure-L1 hinge or epsilon-insensitive problem by the smoothing
    homotopy of the module docstring, output by output; stop on the
    relative duality gap ``tol * 1e-6`` of the exact problem."""
    omega = problem.sample_weight / problem.sample_weight.sum()
    outputs = [_Output(problem, problem.Y[:, k], state.W[k], state.b[k], omega)
               for k in range(problem.n_outputs)]
    for out in outputs:
        slack, direction = out.slack_and_direction(out.w, out.b)
        out.mu = MU_START * max(float(np.max(slack, initial=0.0)), 1.0)
        out.mu_floor = MU_FLOOR * out.mu
        # the restricted program on the rows of least |slack| alone: a warm
        # start at the optimum is certified before any step
        out.solved_mu = 0.0
        out.certify(slack, direction)
    rule = GapRule(options.tol)
    loop = _EpochLoop(problem, state, options, rule=rule)
    target = rule.target if options.tol is not None else None
    for _ in range(options.max_iter):
        for out in outputs:
            if target is not None and out.primal - out.dual <= target * out.primal:
                continue  # certified; the other outputs go on
            out.step()
            out.certify(*out.slack_and_direction(out.w, out.b))
        for k, out in enumerate(outputs):
            state.W[k], state.b[k] = out.best
        state.t += problem.n_samples
        primal = sum(out.primal for out in outputs)
        dual = sum(out.dual for out in outputs)
        if loop.end_epoch(primal, 1.0, rule.relative_gap(primal, dual)):
            break
    return loop.result
