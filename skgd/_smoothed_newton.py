"""Newton steps on a smoothed hinge / epsilon-insensitive primal, for n >> d.

Coordinate ascent on the dual (:mod:`skgd._dual_cd`) slows down when the
box is wide and the rows are many compared with the features: on 5,000 x 50
rows with ``alpha = 1e-4`` (``C = 2`` in liblinear's terms) its dual value
grows by ~0.3% of the optimum per epoch, and liblinear needs 100,000
iterations for a relative gap of 5e-5.  With few features the primal is the
easier side: the loss smoothed by ``mu`` (Huber's construction, the Moreau
envelope of the kink),

.. math::

    h_\\mu(s) = \\begin{cases} 0 & s \\le 0 \\\\ s^2 / (2 \\mu) & 0 < s < \\mu
    \\\\ s - \\mu / 2 & s \\ge \\mu \\end{cases}, \\qquad
    s_i = 1 - y_i p_i \\;\\text{(hinge)}, \\quad |y_i - p_i| - \\epsilon
    \\;\\text{(epsilon-insensitive)},

is piecewise quadratic, and Newton's method with a backtracking line search
minimises ``sum_i omega_i h_mu(s_i) + l2 / 2 |w|^2`` (``omega`` the
normalised weights) in a few steps, each one pass over X for the scores,
one for the gradient and the Gram matrix of the rows in the quadratic zone
``0 < s_i < mu`` (the Hessian, ``(d + 1) x (d + 1)``).

At the smoothed optimum, ``gamma_i = omega_i / l2 * dir_i * clip(s_i / mu,
0, 1)`` (``dir_i = y_i``, or the sign of the residual) is a point of the
exact problem's dual box with ``sum gamma = 0`` (the intercept's optimality)
and ``w = sum gamma_i x_i``: the duality gap of the exact problem certifies
it, and it is at most ``mu / 2`` (``h_mu`` is within ``mu / 2`` of the
loss).  As ``mu`` decreases (``MU_DIVISOR`` per level), the quadratic zone
shrinks onto the rows on the margin, the support vectors, and the exact
active-set step (:meth:`skgd._dual_cd._DualCD.polish`, the zone as its free
set) lands on the optimum: the gap falls to rounding after a handful of
levels.  If a level limit or ``max_iter`` ends the phase first, coordinate
ascent continues from the best dual point.

The elastic net's L1 part is smoothed with the loss: ``l1 |w_j|`` becomes
its Huber function of width ``mu_w = mu / (l1 d)`` (so that its error,
``l1 d mu_w / 2``, is the loss's ``mu / 2``), with the curvature
``l1 / mu_w`` on the coefficients inside the width.  The dual point of a
level is then read off with the model ``w = soft(v, l1 / l2)``, and the
active-set step keeps the support of ``v`` beyond the threshold.  Coordinate
ascent alone had run its 1,000 default epochs with the dual still rising on
3,000 x 30 rows (features scaled 0.1...10, ``alpha = 1e-4``,
``l1_ratio = 0.3``), 10% above the optimum; this phase certifies it in
140-170 steps.

Applies with ``n_features <= MAX_FEATURES`` and at least as many rows as
features.
"""

import numpy as np

from ._penalties import soft_threshold

# The Hessian is (d + 1) x (d + 1): beyond this many features coordinate
# ascent is used alone (its steps cost O(nnz) whatever d).
MAX_FEATURES = 512
# Each level divides mu by this; the first mu is the mean slack at the start.
MU_DIVISOR = 10.0
# The phase gives up (coordinate ascent continues) below mu0 * MU_FLOOR.
MU_FLOOR = 1e-12
# Newton steps allowed at one level before it is declared solved anyway.
STEPS_PER_LEVEL = 30
# A level is solved when the Newton decrement is below this (relative).
DECREMENT_TOL = 1e-14
# A warm start's rows within these slacks (relative to max |y|, at least 1)
# are tried as the rows on the margin.
MARGIN_WIDTHS = (1e-9, 1e-6, 1e-3)
# Secant steps of the line search, at most.
LINE_SEARCH_STEPS = 60


def applies(problem, kappa):
    """Whether the smoothed-Newton phase runs before coordinate ascent."""
    n, d = problem.n_samples, problem.n_features
    return 0 < d <= MAX_FEATURES and n >= d


def bracketed_root(slope, lo, f_lo, hi, f_hi, steps):
    """``(root, lo, hi)``: the zero of the non-decreasing ``slope`` in
    ``[lo, hi]`` (``f_lo < 0 <= f_hi`` its values there) by safeguarded
    secant steps (regula falsi, Illinois: the value of an end kept twice in
    a row is halved), and the last bracket; ``root`` None if ``steps`` ran
    out first."""
    side = 0
    for _ in range(steps):
        t = hi - f_hi * (hi - lo) / (f_hi - f_lo)
        if not lo < t < hi:
            t = 0.5 * (lo + hi)
        f = slope(t)
        if f == 0 or hi - lo <= 1e-12 * hi:
            return t, lo, hi
        if f < 0:
            lo, f_lo = t, f
            if side == -1:
                f_hi *= 0.5
            side = -1
        else:
            hi, f_hi = t, f
            if side == 1:
                f_lo *= 0.5
            side = 1
    return None, lo, hi


class SmoothedNewton:
    """The smoothed-Newton phase of one output (see the module docstring)."""

    def __init__(self, solver, out, w0, b0):
        self.solver, self.out = solver, out
        p = solver.problem
        self.rows = solver.rows
        self.omega = solver.weights
        self.l2, self.l1 = float(p.l2), float(p.l1)
        self.intercept = bool(p.fit_intercept)
        self.w = np.array(w0, dtype=np.float64)
        self.b = float(b0) if self.intercept else 0.0
        self.z = self.rows.scores(self.w)
        self.mu = None  # no smoothing yet: the start is offered as it is
        self._offer_primal()
        # the coordinate ascent's start (zero rows at their bounds, or the
        # warm start's subgradient) is the first dual point
        solver.consider(out, out.gamma, out.v, out.w)
        slack, direction = self._slack(self.z + self.b)
        positive = slack[slack > 0]
        self.mu0 = float(np.mean(positive)) if positive.size else 1.0
        self.mu = self.mu0
        self.steps = self.level_steps = 0
        self.finished = False
        if np.any(self.w):
            self._try_margin_rows(slack, direction)

    def _try_margin_rows(self, slack, direction):
        """A warm start at the optimum has its support vectors on the margin
        (``s_i = 0`` to rounding, or to the precision it was fitted to): the
        active-set step on the rows within a few widths of the margin
        certifies it before any smoothing."""
        scale = max(1.0, float(np.max(np.abs(self.out.y))))
        for width in MARGIN_WIDTHS:
            signed = self._share_at(self.z + self.b, mu=width * scale)[0]
            self.solver.polish(self.out, self.omega / self.l2 * signed,
                               np.abs(slack) <= width * scale, direction)

    # ---- the smoothed objective --------------------------------------------
    def _slack(self, p):
        """``s_i`` and the direction ``dir_i = -ds_i/dp_i``."""
        out, eps = self.out, self.solver.eps
        if self.solver.problem.loss == "hinge":
            return 1.0 - out.y * p, out.y
        r = out.y - p
        return np.abs(r) - eps, np.where(r >= 0, 1.0, -1.0)

    def _value(self, z, b, w):
        s, _ = self._slack(z + b)
        mu = self.mu
        h = np.where(s <= 0, 0.0, np.where(s < mu, s * s / (2 * mu), s - mu / 2))
        value = float(self.omega @ h) + 0.5 * self.l2 * float(w @ w)
        if self.l1:
            mu_w, a = self._mu_w(), np.abs(w)
            value += self.l1 * float(np.sum(np.where(a < mu_w, w * w / (2 * mu_w),
                                                     a - mu_w / 2)))
        return value

    def _mu_w(self):
        """The smoothing width of ``|w_j|``: its error ``l1 d mu_w / 2`` at
        most equals the loss's ``mu / 2``."""
        return self.mu / (self.l1 * self.rows.d)

    def _l1_slope(self, w):
        """The gradient of the smoothed L1 part, ``l1 clip(w / mu_w, -1, 1)``."""
        return self.l1 * np.clip(w / self._mu_w(), -1.0, 1.0)

    def _share_at(self, p, mu=None):
        """``clip(s / mu, 0, 1) * dir`` at the predictions ``p`` (the loss's
        derivative is minus it), the rows in the quadratic zone, and ``dir``."""
        mu = self.mu if mu is None else mu
        s, direction = self._slack(p)
        share = np.clip(s / mu, 0.0, 1.0)
        zone = (s > 0) & (s < mu) & (self.omega > 0)
        return share * direction, zone, direction

    # ---- one step -------------------------------------------------------------
    def step(self):
        """One Newton step at the current ``mu``; at a solved level, hand
        the certificate its candidates and lower ``mu``.  Returns whether
        the phase is over."""
        d = self.rows.d
        signed, zone, _ = self._share_at(self.z + self.b)
        c = self.omega * signed
        grad = self.l2 * self.w - self.rows.transpose(c)
        if self.l1:
            grad += self._l1_slope(self.w)
        grad_b = -float(c.sum())
        index = np.flatnonzero(zone)
        curvature = self.omega[index] / self.mu
        gram, column = self.rows.weighted_gram(index, curvature)
        size = d + 1 if self.intercept else d
        hessian = np.zeros((size, size))
        hessian[:d, :d] = gram
        hessian[np.arange(d), np.arange(d)] += self.l2
        if self.l1:
            mu_w = self._mu_w()
            hessian[np.arange(d), np.arange(d)] += np.where(
                np.abs(self.w) < mu_w, self.l1 / mu_w, 0.0)
        full_grad = grad
        if self.intercept:
            hessian[:d, d] = hessian[d, :d] = column
            # no row in the zone leaves b linear: a floor keeps the step finite
            hessian[d, d] = max(float(curvature.sum()), self.l2)
            full_grad = np.append(grad, grad_b)
        try:
            direction = -np.linalg.solve(hessian, full_grad)
        except np.linalg.LinAlgError:
            direction = -full_grad
        decrement = -float(full_grad @ direction)
        value = self._value(self.z, self.b, self.w)
        self.steps += 1
        self.level_steps += 1
        if decrement <= DECREMENT_TOL * max(abs(value), np.finfo(float).tiny) \
                or self.level_steps > STEPS_PER_LEVEL:
            return self._next_level()
        dw = direction[:d]
        db = float(direction[d]) if self.intercept else 0.0
        dz = self.rows.scores(dw)
        t = self._line_search(dw, db, dz)
        if t <= 0.0:
            return self._next_level()
        w_t = self.w + t * dw
        self.w, self.b, self.z = w_t, self.b + t * db, self.z + t * dz
        self._offer_primal()
        # the active-set step on the zone after every step, not only at the
        # end of a level: it lands as soon as the zone is the margin
        self._polish_zone()
        return False

    def _line_search(self, dw, db, dz):
        """The step ``t`` minimising the smoothed objective along the direction.

        Along ``t`` the objective is a convex piecewise quadratic; its
        derivative, monotone in ``t``, is bracketed from the full step and
        its root found by safeguarded secant steps (Illinois) -- Armijo's
        halving, cutting the step at every kink a row crosses, made dozens
        of short steps per level once ``mu`` was small.
        """
        base, move = self.z + self.b, dz + db
        wd, dd = float(self.w @ dw), float(dw @ dw)

        def slope(t):
            signed = self._share_at(base + t * move)[0]
            value = -float(self.omega @ (signed * move)) + self.l2 * (wd + t * dd)
            if self.l1:
                value += float(self._l1_slope(self.w + t * dw) @ dw)
            return value

        lo, f_lo = 0.0, slope(0.0)
        if not f_lo < 0:
            return 0.0
        hi, f_hi = 1.0, slope(1.0)
        while f_hi < 0 and hi < 1e12:
            lo, f_lo, hi = hi, f_hi, 2.0 * hi
            f_hi = slope(hi)
        if f_hi < 0:
            return hi
        root, lo, hi = bracketed_root(slope, lo, f_lo, hi, f_hi, LINE_SEARCH_STEPS)
        return root if root is not None else 0.5 * (lo + hi)

    def _polish_zone(self):
        """The active-set step with the quadratic zone as the free set."""
        signed, zone, direction = self._share_at(self.z + self.b)
        self.solver.polish(self.out, self.omega / self.l2 * signed, zone, direction)

    def _offer_primal(self):
        """The exact objective at ``w`` (with its best intercept) to the certificate.

        With an L1 part, the coefficients inside the smoothing width (where
        the smoothed ``|w_j|`` is quadratic and the exact optimum's zeros
        sit) are offered as exact zeros: the smoothed minimiser has none.
        """
        w, z = self.w, self.z
        if self.l1 and self.mu is not None:
            inside = np.abs(w) < self._mu_w()
            if inside.any():
                w = np.where(inside, 0.0, w)
                z = self.rows.scores(w)
        primal, b = self.solver._primal(self.out, w, z)
        self.solver._keep(self.out, primal, w, b)

    def _next_level(self):
        """Offer this level's points to the certificate, then lower ``mu``."""
        solver, out = self.solver, self.out
        signed = self._share_at(self.z + self.b)[0]
        gamma = self.omega / self.l2 * signed
        v = self.rows.transpose(gamma)
        # the dual point's own primal (with L1, w differs from soft(v)
        # within the smoothing; the smoothed w was offered after its step)
        w = soft_threshold(v, solver.kappa) if solver.kappa else self.w
        solver.consider(out, gamma, v, w, self.b if self.intercept else None)
        self._polish_zone()
        self.level_steps = 0
        self.mu /= MU_DIVISOR
        self.finished = self.mu < self.mu0 * MU_FLOOR
        return self.finished
