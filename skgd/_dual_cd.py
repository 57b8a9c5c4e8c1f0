"""Dual coordinate ascent for the hinge and epsilon-insensitive losses.

The subgradient steps of the other solvers stall far from the optimum of a
non-smooth loss; its dual is a box-constrained quadratic, which coordinate
ascent solves exactly (Hsieh et al., 2008, the method of liblinear's dual
solvers; Shalev-Shwartz & Zhang, 2013-2014, SDCA and its proximal form for the
elastic net).  For one output, with ``S = sum_i s_i`` and the penalty
``l1 |w|_1 + l2 / 2 |w|^2`` (``l2 > 0``),

.. math::

    P(w, b) = \\frac{1}{S} \\sum_i s_i L_i(w \\cdot x_i + b) + l_1 \\|w\\|_1
              + \\frac{l_2}{2} \\|w\\|^2 \\;\\ge\\;
    D(\\gamma) = l_2 \\Big[\\sum_i (\\gamma_i y_i - \\epsilon |\\gamma_i|)
              - \\frac{1}{2} \\|\\mathrm{soft}(v, l_1 / l_2)\\|^2\\Big],
    \\qquad v = \\sum_i \\gamma_i x_i ,

for every ``gamma`` in the box ``gamma_i y_i in [0, U_i]`` (hinge, eps = 0)
or ``gamma_i in [-U_i, U_i]`` (epsilon-insensitive), ``U_i = s_i / (l2 S)``,
and -- with an intercept -- ``sum_i gamma_i = 0``.  At the optimum
``w = soft(v, l1 / l2)`` (the model is read off the dual) and ``P = D``.
One epoch makes ``n`` coordinate steps, each maximising ``D`` in one
coefficient, over the rows in a random order (:mod:`skgd._fast._dual_cd`),
skipping the rows held at a bound until the others have converged
(liblinear's shrinking).  The conversion to scikit-learn (unit weights,
``penalty='l2'``, ``l2 = alpha``): ``P = alpha [1/2 |w|^2 + C sum_i L_i]``
with ``C = 1 / (alpha n)``, the objective of ``LinearSVC(loss='hinge', C=C)``
and ``LinearSVR(loss='epsilon_insensitive', C=C)`` with
``fit_intercept=False`` (whose intercept, with ``fit_intercept=True``, is
penalised through ``intercept_scaling``; here it is not).

The intercept is not penalised, so the dual has the equality constraint
``sum_i gamma_i = 0``, which single-coordinate steps cannot keep.  It is
handled exactly by the method of multipliers: each epoch ascends the
augmented dual ``D(gamma) - b_c sum gamma - nu / 2 (sum gamma)^2`` (the
primal with the proximal term ``(b - b_c)^2 / (2 nu)``: an intercept
feature of value ``sqrt(nu)``, ``nu`` the mean squared row norm), then the
multiplier ``b_c`` moves to the intercept of that augmented problem
(``b_c + nu sum gamma``).  The multiplier converges to the optimal intercept
and ``sum gamma`` to zero: no approximation remains at the fixed point.

Stopping rule (certified).  When an evaluation is due (the gap's linear
rate predicts the target, at most ``MAX_CHECK_INTERVAL`` epochs apart, and
after the last epoch; :class:`~skgd._solver_common.CheckSchedule`) the
primal is evaluated at ``w`` and at the intercept that minimises the data
term exactly for that ``w`` (a weighted median of the breakpoints, O(n log n)); the dual at
``gamma`` made feasible by scaling the positive or the negative
coefficients down until they balance (a scaled point stays in the box).
The primal is also evaluated at the average of the epochs' ``w`` since the
last power-of-two epoch, which smooths the oscillation of the primal point
read off the dual; the best point evaluated is the model.  The fit stops
when the relative duality gap ``(P - D) / P``, a bound of the relative
objective gap, is at most ``tol * 1e-6`` (:func:`gap_target`; 1e-9 at the
default ``tol=1e-3``, the rule of every certified solver).

Exact finish.  After every evaluation, the free coefficients (strictly
inside the box) are solved for exactly with the others held fixed
(:meth:`_DualCD.polish`, an active-set step): once the bounded rows are
identified, the gap falls to rounding.  Like liblinear's, coordinate ascent
slows down when ``U_i |x_i|^2`` is large (a weak penalty on many rows); with
at most 512 features and at least as many rows, Newton steps on the smoothed
primal (and smoothed L1 part) run first (:mod:`skgd._smoothed_newton`) and usually finish the fit.
``max_iter`` ends a fit at the best point found, with the estimator's
ConvergenceWarning.

Not covered: pure L1 (``l2 == 0``: the dual has no quadratic term), and the
perceptron, whose optimum is degenerate (``w = 0`` minimises
``max(0, -y p)`` plus any penalty); they keep the other solvers.
"""

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ._fast._dual_cd import (
    dual_cd_sweep_csr,
    dual_cd_sweep_dense,
    row_norms_csr,
    row_norms_dense,
    scores_csr,
    scores_dense,
)
from ._penalties import soft_threshold as _soft
from ._smoothed_newton import SmoothedNewton
from ._smoothed_newton import applies as newton_applies
from ._solver_common import (
    CheckSchedule,
    _divergence_guarded,
    _EpochLoop,
    certified_gap_target,
)
from ._solver_common import GapRule as _CertifiedRule

# The losses whose dual this solver ascends.
DUAL_LOSSES = ("hinge", "epsilon_insensitive")
# Shrinking: the active rows' sweeps stop when their projected gradients
# span less than INNER_TOL_FRACTION of the first sweep's span, then the
# shrunk rows come back and the tolerance is divided by INNER_TOL_DIVISOR.
INNER_TOL_FRACTION = 0.1
INNER_TOL_DIVISOR = 10.0
# The active-set step is tried when it costs at most this many passes over
# the stored values of X (a Gram matrix of the free rows and its solve).
POLISH_COST_EPOCHS = 4.0
# Row chunk of the Newton phase's Gram products (bounded temporaries).
GRAM_CHUNK_ROWS = 2048
# At most this many epochs of coordinate ascent between two certificates.
MAX_CHECK_INTERVAL = 4
# Smallest target: below it the gap, a difference of two sums over the
# rows, is rounding.
GAP_FLOOR = 1e-13


def _relative_gap(primal, dual):
    gap = max(primal - dual, 0.0)
    return gap / primal if primal > 0 else (0.0 if gap == 0 else np.inf)


def gap_target(tol):
    """The relative duality gap at which a fit stops: ``tol * 1e-6``, as for
    every certified solver (:func:`skgd._solver_common.certified_gap_target`)."""
    return certified_gap_target(tol, GAP_FLOOR)


def applies(loss, l2):
    """Whether the dual solver can fit this loss and penalty (an L2 part)."""
    return loss in DUAL_LOSSES and l2 > 0


class _TargetRule(_CertifiedRule):
    """Stop at a relative gap of ``target`` (or when it stalls at rounding)."""

    def update(self, value):
        if self.tol is None or value is None:
            return False
        self.history.append(value)
        if value <= self.tol:
            return True
        recent, before = self.history[-50:], self.history[:-50]
        return bool(before) and value <= 1e-10 and min(recent) >= 0.99 * min(before)


def _best_intercept(z, y, s, loss, epsilon):
    """The ``b`` minimising ``sum_i s_i L_i(z_i + b)`` (piecewise linear, convex).

    Every breakpoint raises the slope by ``s_i``; the minimiser is the first
    breakpoint where the slope, starting from its value at ``-inf``, is no
    longer negative.
    """
    if loss == "hinge":
        points = y - z  # 1 - y (z + b) = 0  <=>  b = y - z  (y = +-1)
        start = -float(s[y > 0].sum())
        weights = s
    else:
        r = y - z
        points = np.concatenate([r - epsilon, r + epsilon])
        start = -float(s.sum())
        weights = np.concatenate([s, s])
    # (the order of tied breakpoints changes nothing: the point returned is
    # the tie's common value; numpy's default sort is 4x faster than its
    # stable one, 0.4 against 1.8 ms on 20,000 rows, and a dense hinge fit
    # with an intercept evaluates this ~160 times)
    order = np.argsort(points)
    slope = start + np.cumsum(weights[order])
    k = int(np.searchsorted(slope, 0.0, side="left"))
    return float(points[order[min(k, len(order) - 1)]])


def _loss_values(z, y, loss, epsilon):
    if loss == "hinge":
        return np.maximum(1.0 - y * z, 0.0)
    return np.maximum(np.abs(y - z) - epsilon, 0.0)


class _RowProducts:
    """Products with the rows of X, accumulated in double, without a copy of X
    (float64 through BLAS, float32 through the compiled passes)."""

    def __init__(self, X):
        self.X = X
        self.blas = X.dtype == np.float64  # float32: the compiled passes
        self.n, self.d = X.shape

    def scores(self, w):
        """``X w``."""
        if self.blas:
            return np.asarray(self.X @ w, dtype=np.float64).ravel()
        return self.scores_and_positive(w, np.zeros(self.n))[0]

    def transpose(self, c):
        """``X^T c``."""
        if self.blas:
            return np.asarray(self.X.T @ c, dtype=np.float64).ravel()
        zero = np.zeros(self.d)
        return self.scores_and_positive(zero, c)[1] - self.scores_and_positive(zero, -c)[1]

    def scores_and_positive(self, w, gamma):
        """``X w`` and ``sum over gamma_i > 0 of gamma_i x_i``, one compiled pass."""
        X, z, v_pos = self.X, np.empty(self.n), np.zeros(self.d)
        if sp.issparse(X):
            scores_csr(X.data, X.indices, X.indptr, w, gamma, z, v_pos)
        else:
            scores_dense(X, w, gamma, z, v_pos)
        return z, v_pos

    def weighted_gram(self, index, weight):
        """``sum_i weight_i x_i x_i^T`` and ``sum_i weight_i x_i`` (rows ``index``)."""
        gram, total = np.zeros((self.d, self.d)), np.zeros(self.d)
        for start in range(0, index.size, GRAM_CHUNK_ROWS):
            part = index[start:start + GRAM_CHUNK_ROWS]
            rows = self.X[part]
            rows = rows.toarray() if sp.issparse(rows) else rows
            rows = rows.astype(np.float64, copy=False)
            scaled = rows * weight[start:start + GRAM_CHUNK_ROWS, None]
            gram += rows.T @ scaled
            total += scaled.sum(axis=0)
        return gram, total


class _Output:
    """The dual state of one output: coefficients, ``v``, ``w``, intercept."""

    def __init__(self, solver, k):
        p = solver.problem
        n, d = p.n_samples, p.n_features
        self.y = np.ascontiguousarray(p.Y[:, k], dtype=np.float64)
        U = solver.upper
        if p.loss == "hinge":
            self.lo = np.where(self.y > 0, 0.0, -U)
            self.hi = np.where(self.y > 0, U, 0.0)
        else:
            self.lo, self.hi = -U, U.copy()
        self.gamma = np.zeros(n)
        self.v = np.zeros(d)
        self.w = self.v if solver.kappa == 0 else np.zeros(d)
        self.intercept = np.zeros(2)  # (multiplier b_c, nu * sum gamma)
        # shrinking: the rows visited are index[:active]; stats carries the
        # extreme projected gradients of the last sweep into the next
        self.index = np.arange(n, dtype=np.intp)
        self.active = n
        self.bounds = (np.inf, -np.inf)
        self.inner_tol = None
        # the certificate: the best primal point and dual value so far
        self.primal, self.dual = np.inf, -np.inf
        self.model = (np.zeros(d), 0.0)
        # the tail average of the epochs' w, a second primal candidate
        self.epochs, self.tail_sum, self.tail_count = 0, np.zeros(d), 0
        # the free set of the last active-set step (a hash), not tried again
        self.polished = None


class _DualCD:
    """The rows' constants and the per-output dual states of one fit."""

    def __init__(self, problem, state):
        self.problem = p = problem
        X = p.X
        n = p.n_samples
        total = float(p.sample_weight.sum())
        self.weights = p.sample_weight / total
        self.upper = self.weights / p.l2
        self.kappa = float(p.l1 / p.l2)
        # the hinge has no insensitive zone, whatever the problem's epsilon
        self.eps = float(p.epsilon) if p.loss == "epsilon_insensitive" else 0.0
        self.rows = _RowProducts(X)
        sq = np.empty(n)
        if sp.issparse(X):
            row_norms_csr(X.data, X.indptr, sq)
        else:
            row_norms_dense(X, sq)
        if not np.all(np.isfinite(sq)):
            raise ValueError(
                "The features are too large for the dual solver: the squared norms "
                "of the rows of X overflow float64. Scale the features."
            )
        live = self.upper > 0
        self.nu = 0.0
        if p.fit_intercept:
            # the intercept's feature on the scale of the others (at least
            # a tiny positive value: the rows may all be zero)
            self.nu = max(float(sq[live].mean()) if live.any() else 0.0, 1e-12)
        self.q = sq + self.nu
        self.outputs = [_Output(self, k) for k in range(p.n_outputs)]
        for k, out in enumerate(self.outputs):
            self._warm_start(out, state.W[k], float(state.b[k]))
            if not p.fit_intercept:
                # A zero row predicts 0 whatever w: its coefficient (which the
                # sweeps skip, q = 0) is the bound its constant residual y_i
                # picks (0 inside the insensitive zone); x_i = 0 leaves v.
                zero = sq == 0
                side = np.where(out.y[zero] > self.eps, out.hi[zero],
                                np.where(out.y[zero] < -self.eps, out.lo[zero], 0.0))
                out.gamma[zero] = side

    # ---- compiled passes --------------------------------------------------
    def _sweep(self, out, seed):
        X = self.problem.X
        stats = np.array(out.bounds, dtype=np.float64)
        args = (out.y, out.lo, out.hi, self.q, out.index, out.active, seed, out.gamma,
                out.v, out.w, out.intercept, self.eps, self.kappa, self.nu, stats)
        if sp.issparse(X):
            active = dual_cd_sweep_csr(X.data, X.indices, X.indptr, *args)
        else:
            active = dual_cd_sweep_dense(X, *args)
        return active, float(stats[0]), float(stats[1])

    def epoch(self, out, rng, shuffle):
        """Sweeps of the active rows until ``n`` coordinate steps are done.

        An epoch ends early when the projected gradients of the active rows
        span less than ``inner_tol`` (the shrunk problem is solved to that
        precision): the shrunk rows are then restored, the tolerance divided
        by ``INNER_TOL_DIVISOR``, and the certificate decides.
        """
        n = self.problem.n_samples
        visited = 0
        while visited < n:
            seed = 0  # keep the order
            if shuffle:
                seed = int(rng.randint(1, np.iinfo(np.int64).max, dtype=np.int64))
            visited += out.active
            out.active, up, low = self._sweep(out, seed)
            if out.inner_tol is None:
                out.inner_tol = INNER_TOL_FRACTION * max(up - low, 0.0)
            if up - low <= out.inner_tol:
                out.active, out.bounds = n, (np.inf, -np.inf)
                out.inner_tol *= 1.0 / INNER_TOL_DIVISOR
                break
            out.bounds = (up if up > 0 else np.inf, low if low < 0 else -np.inf)
        return visited

    # ---- warm start ---------------------------------------------------------
    def _warm_start(self, out, w0, b0):
        """Start from the dual point the model ``(w0, b0)`` suggests.

        A dual point is not determined by a primal one; the coefficients
        take the values the loss's subgradient at ``w0`` gives where it is
        unique (the full bound on the wrong side of the margin, zero on the
        right side), so a fit warm-started at the optimum starts with its
        support vectors.  The multiplier starts at ``b0``.
        """
        out.intercept[0] = b0 if self.problem.fit_intercept else 0.0
        if not np.any(w0) and not b0:
            return
        r = out.y - self.rows.scores(w0) - b0
        p = self.problem
        if p.loss == "hinge":
            gamma = np.where(out.y * r > 0, out.y, 0.0) * self.upper
        else:
            gamma = np.where(np.abs(r) > self.eps, np.sign(r), 0.0) * self.upper
        out.gamma[:] = gamma
        out.v[:] = self.rows.transpose(gamma)
        if out.w is not out.v:
            out.w[:] = _soft(out.v, self.kappa)
        out.intercept[1] = self.nu * float(gamma.sum())

    # ---- certificate --------------------------------------------------------
    def _primal(self, out, w, z):
        """The objective at ``w`` (scores ``z = X w``) and its best intercept."""
        p = self.problem
        b = 0.0
        if p.fit_intercept:
            b = _best_intercept(z, out.y, self.weights, p.loss, self.eps)
        # (products summed by numpy, not BLAS: a threaded ddot on a loaded
        # machine cost 10 ms per call on 20,000 rows)
        loss = _loss_values(z + b, out.y, p.loss, self.eps)
        data = float((self.weights * loss).sum())
        return data + p.penalty.value(w), b

    def _keep(self, out, primal, w, b):
        if primal < out.primal:
            out.primal, out.model = primal, (w.copy(), b)

    def _dual_value(self, out, gamma, v, v_pos):
        """``D`` at ``gamma`` made feasible (``v = sum gamma_i x_i``, ``v_pos``
        its part over ``gamma_i > 0``).

        With an intercept, the positive or the negative coefficients are
        scaled down until they balance (``sum gamma = 0``); a scaled point
        stays in the box.
        """
        p = self.problem
        if p.fit_intercept:
            positive, negative = gamma[gamma > 0].sum(), -gamma[gamma < 0].sum()
            rho_pos = min(1.0, negative / positive) if positive > 0 else 1.0
            rho_neg = min(1.0, positive / negative) if negative > 0 else 1.0
        else:
            rho_pos, rho_neg = 1.0, 1.0
        scaled = np.where(gamma > 0, rho_pos, rho_neg) * gamma
        v_rho = rho_pos * v_pos + rho_neg * (v - v_pos)
        linear = float((scaled * out.y).sum()) - self.eps * float(np.abs(scaled).sum())
        quadratic = 0.5 * float(np.sum(_soft(v_rho, self.kappa) ** 2))
        return p.l2 * (linear - quadratic)

    def end_epoch(self, out):
        """After every epoch of coordinate ascent: the multiplier step of the
        method of multipliers (the intercept's centre moves to the current
        intercept), and ``w`` joins the tail average of the epochs (restarted
        at every epoch numbered a power of two)."""
        if self.problem.fit_intercept:
            out.intercept[0] += out.intercept[1]
        out.epochs += 1
        if out.epochs & (out.epochs - 1) == 0:
            out.tail_sum[:], out.tail_count = out.w, 1
        else:
            out.tail_sum += out.w
            out.tail_count += 1

    def evaluate(self, out):
        """Update the certificate of one output.

        The primal is taken at the current ``w`` and at the tail average of
        the epochs' ``w`` (:meth:`end_epoch`), each with its best intercept;
        the dual at the feasible scaling of ``gamma``.  The primal value of
        ``w`` is not monotone (an error ``e`` of ``w`` costs O(e) in the
        non-smooth loss) and the average smooths its oscillation: the output
        keeps the best point evaluated and the best dual value, whose
        difference is the certified gap.  Then the active-set step
        (:meth:`polish`) may replace the dual point.
        """
        gamma, w = out.gamma, out.w
        z, v_pos = self.rows.scores_and_positive(w, gamma)
        out.dual = max(out.dual, self._dual_value(out, gamma, out.v, v_pos))
        primal, b = self._primal(out, w, z)
        self._keep(out, primal, w, b)
        if out.tail_count > 1:
            average = out.tail_sum / out.tail_count
            primal, b = self._primal(out, average, self.rows.scores(average))
            self._keep(out, primal, average, b)
        self.polish(out)

    # ---- candidate points -----------------------------------------------------
    def consider(self, out, gamma, v, w, intercept=None):
        """Evaluate a dual point ``gamma`` (``v = sum gamma_i x_i``) and the
        primal point ``w``; continue the ascent from ``gamma`` if its dual
        value beats the best so far (``intercept``: the multiplier to restart
        with, if known)."""
        p = self.problem
        z, v_pos = self.rows.scores_and_positive(w, gamma)
        dual = self._dual_value(out, gamma, v, v_pos)
        primal, b = self._primal(out, w, z)
        self._keep(out, primal, w, b)
        if not dual > out.dual:
            return False
        out.dual = dual
        out.gamma[:] = gamma
        out.v[:] = v
        if out.w is not out.v:
            out.w[:] = w
        if p.fit_intercept:
            out.intercept[0] = b if intercept is None else intercept
            out.intercept[1] = self.nu * float(gamma.sum())
        out.active, out.bounds = p.n_samples, (np.inf, -np.inf)
        return True

    def polish(self, out, gamma=None, free=None, direction=None):
        """Solve the optimality conditions on a free set exactly.

        Coordinate ascent finds which coefficients sit at a bound of the box
        long before it resolves the free ones (those strictly inside, the
        support vectors on the margin), whose block of the dual Hessian may
        be badly conditioned.  Holding the other coefficients of ``gamma``
        fixed (by default the current point; ``free``: its coefficients
        strictly inside the box), the free ones ``g`` (rows ``M``) and the
        intercept ``b`` at the optimum solve a linear system: each free row
        sits exactly on its margin, ``x_i . w + b = t_i`` (``t_i = y_i``; for
        the epsilon-insensitive loss ``y_i - eps sign(gamma_i)``), with
        ``w = v_F + X_M^T g - kappa s`` on the support of ``w`` (``v_F`` the
        fixed rows' part of ``v``, ``s`` the signs of ``v``), and with an
        intercept ``sum gamma = 0``.  ``direction`` is the side of the box
        (or of the kink) each free row is on, ``dir_i = -ds_i/dp_i`` (by
        default the sign of ``gamma_i``):

        .. math::

            \\begin{pmatrix} X_M X_M^T & 1 \\\\ 1^T & 0 \\end{pmatrix}
            \\begin{pmatrix} g \\\\ b \\end{pmatrix} =
            \\begin{pmatrix} t_M - X_M (v_F - \\kappa s) \\\\
            -\\sum_{i \\notin M} \\gamma_i \\end{pmatrix}.

        The solution, clipped to the box (on its side of the kink), is
        evaluated like any other point (:meth:`consider`): if the sets were
        right it is the optimum and its duality gap is rounding.  A free set
        is tried once, and only when the step costs at most
        ``POLISH_COST_EPOCHS`` passes over the stored values of X.
        """
        p = self.problem
        if gamma is None:
            gamma = out.gamma
            free = (gamma > out.lo) & (gamma < out.hi) & (gamma != 0.0)
        free = np.flatnonzero(free)
        m = free.size
        key = hash(free.tobytes())
        if m == 0 or key == out.polished:
            return False
        out.polished = key
        X = p.X
        v = self.rows.transpose(gamma) if gamma is not out.gamma else out.v
        support = np.flatnonzero(np.abs(v) > self.kappa) if self.kappa else None
        width = p.n_features if support is None else support.size
        stored = X.nnz if sp.issparse(X) else X.size
        if m > width + p.fit_intercept:
            # more rows than unknowns of w and b: generically not all on the
            # margin at once, the least-squares compromise is not the optimum
            return False
        if m * m * width + m ** 3 / 3.0 > POLISH_COST_EPOCHS * max(stored, 1):
            return False
        rows = X[free]
        rows = rows.toarray() if sp.issparse(rows) else rows
        rows = rows.astype(np.float64, copy=False)
        v_fixed = v - rows.T @ gamma[free]
        centre, active_rows = v_fixed, rows
        if support is not None:
            active_rows = rows[:, support]
            centre = v_fixed[support] - self.kappa * np.sign(v[support])
        side = np.sign(gamma[free]) if direction is None else direction[free]
        target = out.y[free] - self.eps * side
        system = active_rows @ active_rows.T
        rhs = target - active_rows @ centre
        if p.fit_intercept:
            bordered = np.zeros((m + 1, m + 1))
            bordered[:m, :m] = system
            bordered[:m, m] = bordered[m, :m] = 1.0
            system = bordered
            rhs = np.append(rhs, -(gamma.sum() - gamma[free].sum()))
        try:
            solution = scipy.linalg.lstsq(system, rhs, lapack_driver="gelsy",
                                          check_finite=False)[0]
        except (np.linalg.LinAlgError, ValueError):
            return False
        if not np.all(np.isfinite(solution)):
            return False
        g = np.clip(solution[:m], np.where(side > 0, 0.0, out.lo[free]),
                    np.where(side > 0, out.hi[free], 0.0))
        new_gamma = gamma.copy()
        new_gamma[free] = g
        new_v = v_fixed + rows.T @ g
        intercept = float(solution[m]) if p.fit_intercept else None
        return self.consider(out, new_gamma, new_v, _soft(new_v, self.kappa), intercept)


@_divergence_guarded
def solve_dual_cd(problem, state, options):
    """Dual coordinate ascent on the hinge or epsilon-insensitive loss.

    Each epoch sweeps every row once, in a fresh random order from the
    fit's random stream (``shuffle=False``: the rows' order), for each
    output in turn (one-vs-rest classes and regression outputs are separate
    duals).  The fit stops when the relative duality gap is at most
    ``tol * 1e-6`` (see the module docstring); the model returned is the
    best primal point evaluated (``loss_curve_`` is its objective).  The
    learning-rate schedules, momentum, averaging and ``batch_size`` do not
    apply.
    """
    if problem.loss not in DUAL_LOSSES:
        raise ValueError(
            f"solver='dual_cd' fits the losses {DUAL_LOSSES}; {problem.loss!r} is "
            f"not one of them. Use solver='auto'."
        )
    if not problem.l2 > 0:
        raise ValueError(
            "solver='dual_cd' needs a penalty with an L2 part (penalty='l2' or "
            "'elasticnet' with l1_ratio < 1, and alpha > 0); its dual has no "
            "quadratic term otherwise. Use solver='batch'."
        )
    solver = _DualCD(problem, state)
    n = problem.n_samples
    rule = _TargetRule(gap_target(options.tol))
    loop = _EpochLoop(problem, state, options, rule=rule)
    rng = options.random_state
    target = rule.tol
    # the phase's start evaluates the warm start (and its rows on the margin)
    # for coordinate ascent too; its Newton steps run where they apply
    newton = [SmoothedNewton(solver, out, state.W[k], state.b[k])
              for k, out in enumerate(solver.outputs)]
    if not newton_applies(problem, solver.kappa):
        newton = [None] * len(newton)
    # an output's certificate costs about two thirds of an epoch of sweeps
    # (the scores at w and at the tail average): it is evaluated when the
    # gap's rate predicts the target, every epoch without one, and at the end
    schedules = [CheckSchedule(target, MAX_CHECK_INTERVAL) for _ in solver.outputs]
    for epoch in range(1, options.max_iter + 1):
        for k, out in enumerate(solver.outputs):
            if target is not None and np.isfinite(out.primal) \
                    and out.primal - out.dual <= target * out.primal:
                continue  # this output is certified; the others go on
            if newton[k] is not None:
                if newton[k].step():
                    newton[k] = None
            else:
                solver.epoch(out, rng, options.shuffle)
                solver.end_epoch(out)
                if target is None or epoch == options.max_iter \
                        or schedules[k].due(out.epochs):
                    solver.evaluate(out)
                    schedules[k].record(out.epochs, _relative_gap(out.primal, out.dual))
            state.W[k], state.b[k] = out.model
        state.t += n
        primal = sum(out.primal for out in solver.outputs)
        dual = sum(out.dual for out in solver.outputs)
        if loop.end_epoch(primal, 1.0, _relative_gap(primal, dual)):
            break
    return loop.result
