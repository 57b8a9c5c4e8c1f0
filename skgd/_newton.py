"""A Newton finish for slow logistic and margin-loss fits of the batch solver.

FISTA in whitened coordinates needs a number of iterations that grows with
the square root of the condition number, and a weak penalty on nearly
separable classes makes that large: the loss curves by ``p (1 - p)``, almost
zero on the rows the model already separates, so along those directions
only ``alpha`` is left.  On scikit-learn's breast-cancer data (426 x 30,
standardised, ``alpha = 1e-4``) 1,000 iterations ended at a relative gap of
5e-9 with a certificate of 8e-8, short of the default 1e-9.

When a fit has not stopped after ``NEWTON_AFTER`` iterations and the
problem is small enough for its Hessian (``K (d + 1)`` parameters at most
``MAX_PARAMETERS``, the weighted Gram products within ``MAX_HESSIAN_FLOPS``),
the batch solver continues from its best point with Newton's method on the
same objective (with an L1 part, proximal Newton: see
:func:`_l1_model_step`):

.. math::

    \\begin{pmatrix} H_{WW} + \\alpha I & H_{Wb} \\\\ H_{bW} & H_{bb}
    \\end{pmatrix} \\Delta = -\\nabla J, \\qquad
    H = \\frac{1}{S} \\sum_i s_i A_i \\otimes z_i z_i^T ,

with ``z_i = (x_i - mu, 1)`` (the intercept taken at the weighted mean
``mu`` of the rows; ``x_i`` without an intercept), ``A_i = p_i (1 - p_i)``
for the binary log-loss, the second derivative of the margin losses
(``squared_hinge``, ``modified_huber``: 2 on their quadratic piece, 0
elsewhere, a generalised Hessian: semismooth Newton, with only the rows on
that piece in the Gram products) and ``diag(p_i) - p_i p_i^T`` for the
multinomial one (whose intercepts are defined up to a common constant, which the step
leaves alone), and a backtracking line search on the exact objective.  Each
Newton iteration is one epoch of ``n_iter_``: a gradient pass (which the
certificate reads, as before), the Hessian (one pass over X: for the
softmax ``K`` weighted Gram products and one product for the ``K^2`` blocks
of ``p_i p_i^T``), its Cholesky factor (scaled by its diagonal), and the
line search's passes.  The stopping rule is unchanged: the duality gap
certifies the model.

**The sampled start.**  Where ``n`` is large against ``d`` (dense rows,
the Gram products of ``SAMPLE_ROWS_PER_PARAMETER (d + 1)`` rows costing at
most ``SAMPLED_COST_RATIO`` gradient passes' multiply-adds), ``fit``
takes these steps from its first iteration, with the Hessian of a fixed
random sample of the rows in place of all of them: sub-sampled Newton
(Byrd, Chin, Neveitt & Nocedal, 2011; Roosta-Khorasani & Mahoney, 2019).
The gradient, the objective and the certificate stay exact; the sample's
error only slows the local rate from quadratic to linear, about
``sqrt((d + 1) / m)`` per step.  Its Hessian follows the probabilities,
which no fixed preconditioner does: on the standardised binary problem of
``benchmarks/time_to_solution.py`` (200,000 x 100) the accelerated
iterations needed the whitening (one ``n d^2`` covariance, 61 ms) and 13
passes; the sampled steps need neither the whitening nor more than 9
passes, with 5 Gram products of 10,100 rows (5 ms each in single
precision; formed in the first three steps, then every third).  A sample
that misses curvature of the full data (a feature stored in a handful of
rows) shows as shortened or slowly shrinking steps after the global
phase: the fit then hands its best point to the accelerated iterations,
which finish it.
"""

import warnings

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.linalg import cho_factor, cho_solve

from ._fast._coordinate_model import l1_model_descent
from ._losses import MARGIN_CAP, margin_curvature
from ._threads import sum_over_row_parts

# The iteration of the accelerated solver after which the Newton finish may
# take over (fits that certify earlier never pay for a Hessian).
NEWTON_AFTER = 50
# At most this many parameters K (d + 1): the Hessian is solved densely.
MAX_PARAMETERS = 1024
# At most this many multiply-adds for one Hessian (n (d + 1)^2 K (K + 1) / 2).
# Measured on 200,000 x 100 dense rows (2e9 of them): 0.17 s, 18 gradient
# passes; the elastic-net squared_hinge fit there certified after 53
# iterations (2.0 s) with the finish, 269 (7.5 s) without it.
MAX_HESSIAN_FLOPS = 4e9
# Rows per chunk of the Hessian's Gram products (bounded temporaries).
CHUNK_ROWS = 2048
# Where Cholesky fails (a Hessian singular to rounding), the eigenvalues of
# the scaled Hessian below this fraction of the largest are floored there.
EIGENVALUE_FLOOR = 1e-15
# The relative rounding of the objective (a mean of n terms): a promised
# decrease below it cannot be checked by the objective.
OBJECTIVE_ROUNDING = 1e-14
# Armijo's sufficient decrease and the number of halvings of the step.
ARMIJO = 1e-4
MAX_HALVINGS = 40

# The sampled start: rows of the Hessian's sample per parameter of an output
# (d + 1), and the bound on its cost, the Gram products of the sample
# against SAMPLED_COST_RATIO times the multiply-adds of a gradient pass.
SAMPLE_ROWS_PER_PARAMETER = 100
SAMPLED_COST_RATIO = 8.0
# Iterations of the global phase, in which the line search may shorten the
# step; afterwards a shortened step, or an objective decrease that shrank by
# less than SAMPLED_RATE from one step to the next, means the sample misses
# curvature the full data have: the accelerated solver takes over.
SAMPLED_GLOBAL_ITERATIONS = 3
SAMPLED_RATE = 0.25
SAMPLED_MAX_ITERATIONS = 20
# After the global phase the probabilities, and with them the Hessian, move
# little from one step to the next: it is formed anew every SAMPLED_REFRESH
# steps only.  Measured on the binary problems of
# benchmarks/time_to_solution.py (whole fits, median of 5): standardised
# 0.205 -> 0.174 s (9 steps either way), unscaled 0.222 -> 0.196 s (10).
# Never after the global phase: 16 and 12 steps.
SAMPLED_REFRESH = 3
_SAMPLE_SEED = 0
# With an L1 part the step minimises the model with the L1 term exactly
# (proximal Newton), by an active-set method on the K (d + 1) parameters: at
# most L1_MAX_PARAMETERS of them, L1_MODEL_ROUNDS rounds, until the model's
# optimality conditions hold to L1_MODEL_RTOL of its largest coefficient.
L1_MAX_PARAMETERS = 256
L1_MODEL_ROUNDS = 500
L1_MODEL_RTOL = 1e-12
# Eigenvalues of the diagonally scaled active block below this fraction of
# the largest are flat directions of the L1 model (rounding of a zero).
L1_FLAT = 1e-12
# Problems too wide for the Hessian (more than MAX_PARAMETERS parameters or
# MAX_HESSIAN_FLOPS) solve the Newton system by conjugate gradients: at most
# CG_MAX_ITERATIONS Hessian-vector products (two passes over X each), to a
# residual of min(CG_FORCING, sqrt(|g|)) times the gradient's norm.
CG_MAX_ITERATIONS = 100
CG_FORCING = 0.1
# Problems too wide for the L1 model's Hessian minimise the proximal
# Newton model by coordinate descent on the columns of a working
# set (skgd._fast._coordinate_model): the non-zero coefficients and the zero
# ones whose gradient exceeds the penalty.  At most CD_MAX_SWEEPS sweeps, to
# a largest violation of the model's optimality conditions of CD_FORCING
# times that at the start (the inexact steps converge linearly at about
# that rate).  Measured on tf-idf 20,000 x 20,000 (log-loss and squared
# hinge, alpha 1e-4 and 1e-5): 10 or 30 sweeps, or a forcing of 0.3, took
# 1.2-6x the Newton steps and up to 2x the time.  A column whose rows do not
# curve gets CD_CURVATURE_FLOOR times the largest curvature.  These steps
# are cheap from the start (no Hessian to form): they take over from the
# accelerated iterations after COORDINATE_NEWTON_AFTER of them (measured
# without an intercept, log-loss, alpha 1e-4: after 0, 2, 5, 10, 20
# iterations the fits took 0.12, 0.14, 0.15, 0.16, 0.16 s).
COORDINATE_NEWTON_AFTER = 0
CD_MAX_SWEEPS = 100
CD_FORCING = 0.1
# Once the sweeps have cost CD_PASS_SHARE times max_iter passes over X
# (about the cost of that many accelerated iterations), the model is too
# ill-conditioned for coordinate descent (a weak penalty, correlated columns
# too many for the exact finish below): the accelerated iterations continue
# from the model reached.  Measured on tf-idf 20,000 x 20,000 at alpha 1e-6
# (100 sweeps every step): letting the sweeps go on certified the log-loss
# in 6.4 s but the squared hinge only after 587 steps and 63 s, where 1,000
# FISTA iterations take 2.7 s.
CD_PASS_SHARE = 1.0
CD_CURVATURE_FLOOR = 1e-6
# Where the working set is small (at most POLISH_MAX_PARAMETERS coefficients
# per output), CD_POLISH_SWEEPS sweeps find the support and the
# feature-sign search on the working set's dense Hessian finishes the model
# exactly from there (correlated columns, which coordinate descent crawls
# along, cost it nothing).
POLISH_MAX_PARAMETERS = 1024
CD_POLISH_SWEEPS = 10
# A sparse Gram product costs about this many times a dense one per
# multiply-add (scipy's, against BLAS).
SPARSE_GRAM_PENALTY = 10
# Where the working set is too large for the exact finish (the binary
# log-loss on sparse columns), CD_SUPPORT_SWEEPS sweeps find the support and
# signs, and conjugate gradients minimise the model on that support with
# the signs fixed (a smooth quadratic: CG needs about the square root of the
# iterations coordinate descent needs on an ill-conditioned one), at most
# CG_MAX_ITER products, to the forcing of the sweeps.
CD_SUPPORT_SWEEPS = 10
CG_MAX_ITER = 200
# These steps keep converging on models too ill-conditioned for the sweeps
# alone, and get SUPPORT_CG_PASS_SHARE times max_iter passes before the
# hand-back (text rows at alpha 1e-6, 2,000-3,000 x 3,000, noisy labels:
# with CD_PASS_SHARE they were handed back at a violation of 3e-12, and
# FISTA ran to max_iter; with 3 times it they certify in 25-38 steps,
# 0.14-0.36 s).
SUPPORT_CG_PASS_SHARE = 3.0
# What newton_direction returns where the proximal Newton model's exact
# minimiser (the active-set method stops only when no round lowers the model
# beyond its rounding) is the point itself: its optimality conditions hold to
# the rounding of the gradient.  With an L1 part but no L2 the certificate
# cannot show that when the penalty is weak: its dual point is scaled into
# the box |G_j| <= l1, which costs a gap of about (residual / l1) times the
# loss, and with the residual at the gradient's rounding (~1e-16 of its
# terms) and l1 = 5e-7 (alpha = 1 / (10 n), n = 200,000) that floor is
# above the default target of 1e-10.  The batch solver then stops there,
# converged.
STATIONARY = "stationary"


def _width(problem):
    return problem.n_features + (1 if problem.fit_intercept else 0)


def _newton_problem(problem):
    """The losses and penalties of Newton's method here, rows in memory."""
    if problem.loss not in ("log_loss", "multinomial", *MARGIN_CAP) \
            or not problem.l1 + problem.l2 > 0:
        return False
    if not (isinstance(problem.X, np.ndarray) or sp.issparse(problem.X)):
        return False  # dask: the rows are not here
    limit = L1_MAX_PARAMETERS if problem.l1 else MAX_PARAMETERS
    return problem.n_outputs * _width(problem) <= limit


def _hessian_multiply_adds(problem, n_rows):
    """The size of one Hessian's Gram products over ``n_rows`` rows:
    ``n_rows (d + 1)^2 K (K + 1) / 2`` (its distinct blocks; ``K`` blocks
    for the losses that are a sum over the outputs)."""
    K, width = problem.n_outputs, _width(problem)
    blocks = K * (K + 1) / 2 if problem.loss == "multinomial" else K
    return n_rows * width * width * blocks


def _dense_applies(problem):
    """Whether the Newton steps may form and factorise the Hessian."""
    return (_newton_problem(problem)
            and _hessian_multiply_adds(problem, problem.n_samples) <= MAX_HESSIAN_FLOPS)


def _cg_applies(problem):
    """Whether the Newton steps are solved by conjugate gradients instead:
    too wide a problem for its Hessian, with an L2 penalty only (no L1
    model to minimise), a loss that is a sum over the outputs (the binary
    log-loss, the margin losses), double-precision rows in memory (the
    products with X take them as they are)."""
    X = problem.X
    return (problem.loss in ("log_loss", *MARGIN_CAP) and problem.l1 == 0
            and problem.l2 > 0 and X.dtype == np.float64
            and (isinstance(X, np.ndarray) or sp.issparse(X))
            and not _dense_applies(problem))


def _coordinate_applies(problem):
    """Whether the L1 model is minimised by coordinate descent instead: a
    penalty with an L1 part on a problem too wide for the dense model, rows
    in memory (sparse; dense ones while the working set is small enough for
    the exact finish), a loss that is a sum over the outputs."""
    X = problem.X
    return (problem.loss in ("log_loss", *MARGIN_CAP) and problem.l1 > 0
            and (sp.issparse(X) or isinstance(X, np.ndarray))
            and not _dense_applies(problem))


def finish_after(problem):
    """The iteration after which the accelerated solver hands over to
    Newton steps: ``NEWTON_AFTER``, or ``COORDINATE_NEWTON_AFTER`` for the
    coordinate-descent steps."""
    return COORDINATE_NEWTON_AFTER if _coordinate_applies(problem) else NEWTON_AFTER


def applies(problem):
    """Whether a slow fit of this problem may finish with Newton steps."""
    return _dense_applies(problem) or _cg_applies(problem) or _coordinate_applies(problem)


def sample_size(problem):
    """Rows of the sampled start's Hessian: ``SAMPLE_ROWS_PER_PARAMETER (d + 1)``."""
    return min(problem.n_samples, SAMPLE_ROWS_PER_PARAMETER * _width(problem))


def sampled_start_applies(problem, options):
    """Whether ``fit`` starts with Newton steps on a sampled Hessian.

    Dense rows only (a sparse column absent from the sample has no
    curvature there), not in ``partial_fit`` (whose calls continue the
    accelerated sequences), and only where the sample's Gram products cost
    at most ``SAMPLED_COST_RATIO`` gradient passes' multiply-adds: the
    binary log-loss on 200,000 x 100 does (10,100 rows), a 10-class softmax
    on 100,000 x 50 does not (55 products of 5,100 rows).
    """
    if options.incremental or not isinstance(problem.X, np.ndarray):
        return False
    if not _newton_problem(problem) or problem.l1 or problem.loss in MARGIN_CAP:
        # (a margin loss's curvature jumps where a row's margin crosses a
        # kink: a sample's Hessian need not see the rows near them)
        return False
    pass_size = problem.n_samples * _width(problem) * problem.n_outputs
    return (_hessian_multiply_adds(problem, sample_size(problem))
            <= SAMPLED_COST_RATIO * pass_size)


class HessianSample:
    """A fixed sample of the rows, centred and gathered once (dense X).

    ``rows`` holds the sampled ``z_i = (x_i - center, 1)`` in float32: at
    most ``SAMPLED_COST_RATIO / (d + 1)`` of X's rows (the cost rule), drawn
    without replacement by a fixed seed (a fit is reproducible).
    """

    def __init__(self, problem, center, size):
        rng = np.random.default_rng(_SAMPLE_SEED)
        self.index = np.sort(rng.choice(problem.n_samples, size, replace=False))
        # single precision: the sample's Hessian only shapes the step (the
        # gradient and the objective stay exact), and its Gram products run
        # at twice the speed.  Centred in double, then stored.
        d = problem.n_features
        self.rows = np.ones((size, _width(problem)), dtype=np.float32)
        # take, not X[index]: 0.7 instead of 8 ms on 10,100 rows of 100
        gathered = problem.X.take(self.index, axis=0)
        gathered -= center
        self.rows[:, :d] = gathered
        self.factor = None  # the last Hessian's, see newton_direction
        self.steps = 0

    def refresh_due(self):
        """Whether the next step forms the sample's Hessian anew."""
        return (self.steps < SAMPLED_GLOBAL_ITERATIONS
                or self.steps % SAMPLED_REFRESH == 0)


def _row_curvatures(problem, derivative, index=None):
    """``(weights, a)``: ``s_i / S`` and the rows' curvature factors, n x K
    (over the rows ``index`` only if given, ``S`` their weight): ``a_i = p_i
    (1 - p_i)`` for the binary log-loss, the margin losses' second
    derivatives per output (``skgd._losses.margin_curvature``: a
    generalised Hessian, the loss being piecewise quadratic), the
    probabilities ``p_i`` for the softmax, whose curvature is
    ``diag(p_i) - p_i p_i^T``."""
    weights = problem.sample_weight
    if index is not None:
        weights, derivative = weights[index], derivative[index]
    weights = weights / weights.sum()
    if problem.loss == "log_loss":
        a = np.abs(derivative)  # sigma(-y z); A = sigma(z) sigma(-z)
        return weights, a * (1.0 - a)
    if problem.loss in MARGIN_CAP:
        return weights, margin_curvature(problem.loss, derivative)
    Y = problem.Y if index is None else problem.Y[index]
    return weights, derivative + Y  # dL/dz_k = p_k - y_k


def hessian(problem, derivative, center, sample=None):
    """The Hessian of the data term in the coordinates ``(W_k, c_k)`` per
    output, ``c_k = b_k + W_k . center`` (the rows ``z_i = (x_i - center,
    1)``; ``(x_i)`` alone without an intercept); over a
    :class:`HessianSample`'s rows only if given.  The Gram products are
    summed over fixed parts of the rows on the batch solver's threads."""
    X = problem.X
    K = problem.n_outputs
    width = _width(problem)
    weights, curvature = _row_curvatures(problem, derivative,
                                         None if sample is None else sample.index)
    n = problem.n_samples if sample is None else len(sample.index)

    def rows_of(start, stop):
        if sample is not None:
            return sample.rows[start:stop]
        rows = X[start:stop]
        rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows, dtype=np.float64)
        if problem.fit_intercept:
            rows = np.hstack([rows - center, np.ones((stop - start, 1))])
        return rows

    def part(lo, hi):
        H = np.zeros((K * width, K * width))
        for start in range(lo, hi, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, hi)
            rows = rows_of(start, stop)
            w = weights[start:stop]
            # sum_i w_i A_i (x) z_i z_i^T: the diagonal blocks (A_i diagonal
            # but for the softmax's), then for the softmax, A_i = diag(p_i) -
            # p_i p_i^T, all K^2 blocks of the second term in one product
            p = curvature[start:stop]
            if problem.loss in MARGIN_CAP:
                # only the rows on a quadratic piece curve (near the optimum
                # of a separable problem, a fraction of them)
                curved = np.flatnonzero(p.any(axis=1))
                rows, w, p = rows[curved], w[curved], p[curved]
            for k in range(K):
                block = slice(k * width, (k + 1) * width)
                H[block, block] += (rows * (w * p[:, k])[:, None].astype(rows.dtype)).T @ rows
            if problem.loss != "multinomial":
                continue
            M = (rows[:, None, :] * (np.sqrt(w)[:, None] * p).astype(rows.dtype)[:, :, None])
            M = M.reshape(stop - start, K * width)
            H -= M.T @ M
        return H

    # parts of at least CHUNK_ROWS rows (a sample of 10,000 rows: four)
    return sum_over_row_parts(n, CHUNK_ROWS // 4, part)


def _factorise(H, flat=None):
    """A solver of ``H x = r``: the Hessian scaled by its diagonal, factorised
    by Cholesky (an eigendecomposition with eigenvalues floored at
    ``EIGENVALUE_FLOOR`` of the largest where that fails); None if ``H`` is
    not positive.  ``flat`` (optional) is a direction along which ``H`` is
    zero and the right-hand sides are too (the softmax intercepts' common
    constant): it is given unit curvature, which leaves the solutions of
    those right-hand sides unchanged and makes the matrix definite."""
    scale = 1.0 / np.sqrt(np.maximum(np.diag(H), np.finfo(float).tiny))
    scaled = H * scale[:, None] * scale[None, :]
    if not np.all(np.isfinite(scaled)):
        return None
    if flat is not None:
        v = flat / scale
        scaled += np.outer(v, v) / float(v @ v)
    try:
        factor = cho_factor(scaled, lower=True, check_finite=False)
        return lambda r: scale * cho_solve(factor, scale * r, check_finite=False)
    except np.linalg.LinAlgError:
        pass
    values, vectors = np.linalg.eigh(scaled)
    top = float(values[-1]) if values.size else 0.0
    if not (np.isfinite(top) and top > 0):
        return None
    values = np.maximum(values, EIGENVALUE_FLOOR * top)
    return lambda r: scale * (vectors @ ((vectors.T @ (scale * r)) / values))


def _active_set_step(H, derivative, penalty, sign, active, tol):
    """``(step, ray)``: the move of the L1 model's active-set round.

    With ``u`` zero off ``active`` and of the signs ``sign`` on it the model
    is a quadratic whose stationary point is ``u + step``, ``H_AA step_A =
    r = -(derivative_A + penalty_A sign_A)`` (``ray`` False).  Where
    ``H_AA`` is singular (collinear features under L1 alone, the softmax's
    common shift of the classes) the quadratic is flat along its null space;
    if ``r`` has a part there (beyond ``tol``) the model falls linearly
    along it, without a stationary point: ``step`` is that part, a ray to
    follow to its first zero crossing (``ray`` True).  Otherwise the
    least-norm solution.  None if no finite move is found."""
    A = np.flatnonzero(active)
    step = np.zeros_like(derivative)
    if A.size == 0:
        return step, False
    block = H[np.ix_(A, A)]
    r = -(derivative[A] + penalty[A] * sign[A])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
            step[A] = scipy.linalg.solve(block, r, assume_a="pos", check_finite=False)
        if np.all(np.isfinite(step)):
            return step, False
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgWarning, ValueError):
        pass
    # scaled by the diagonal (features on any scale), then by eigenvalues
    scale = 1.0 / np.sqrt(np.maximum(np.diag(block), np.finfo(float).tiny))
    values, vectors = np.linalg.eigh(block * scale[:, None] * scale[None, :])
    top = float(values[-1])
    if not (np.isfinite(top) and top > 0):
        return None
    flat = values <= L1_FLAT * top
    coef = vectors.T @ (scale * r)
    null_part = (vectors[:, flat] @ coef[flat]) / scale  # r's part on the null space
    if np.max(np.abs(null_part), initial=0.0) > tol:
        step[A] = scale * (vectors[:, flat] @ coef[flat])
        return step, True
    step[A] = scale * (vectors[:, ~flat] @ (coef[~flat] / values[~flat]))
    return (step, False) if np.all(np.isfinite(step)) else None


def _l1_model_step(H, grad, x0, penalty, start=None):
    """The step ``s`` minimising ``grad . s + s^T H s / 2 + sum_j penalty_j
    |x0_j + s_j|`` (the Newton model of the smooth part plus the exact L1
    term), by an active-set method, the *feature-sign search* of Lee,
    Battle, Raina & Ng (2007), in ``u = x0 + s``:

    * on the active set (the non-zero and the unpenalised coordinates) with
      fixed signs the model is a quadratic, minimised by one linear system;
      the move from ``u`` toward that minimiser stops at the best of the
      points where a coordinate reaches zero and the minimiser itself (the
      model is convex along the segment and its kinks are those points), so
      coordinates that change sign leave the set;
    * once the active set is optimal, the zero coordinate whose derivative
      most exceeds its penalty joins it with the sign that lowers the model.

    Each round lowers the model, so no active set repeats: the exact
    minimiser in finitely many rounds (in practice a few per Newton step,
    the support settling as the outer iterations converge), whatever the
    features' scales and collinearity, where coordinate descent crawled.
    ``start`` (optional) is the point ``u`` the search starts from (an
    approximate minimiser: fewer rounds), ``x0`` by default.
    """
    c = grad - H @ x0  # the model is c . u + u^T H u / 2 + penalty . |u| + const
    free = penalty == 0
    u = x0.copy() if start is None else start.copy()  # (any start: each round lowers)
    sign = np.sign(u)
    active = (u != 0) | free
    scale = max(float(np.max(np.abs(c), initial=0.0)), float(np.max(penalty, initial=0.0)),
                np.finfo(float).tiny)
    tol = L1_MODEL_RTOL * scale

    for _ in range(L1_MODEL_ROUNDS):
        derivative = c + H @ u
        on = active & ~free
        if np.any(np.abs(derivative[on] + penalty[on] * sign[on]) > tol) \
                or np.any(np.abs(derivative[free]) > tol):
            found = _active_set_step(H, derivative, penalty, sign, active, tol)
            if found is None:
                break
            direction, ray = found
            # the candidates: the stationary point and every zero crossing on
            # the way (along a ray, where the model falls linearly, its first
            # crossing), compared by their change of the model (its value
            # itself would round the small changes near the end away)
            slope, curvature = float(derivative @ direction), float(direction @ (H @ direction))
            with np.errstate(divide="ignore", invalid="ignore"):
                when = np.where(on & (u != 0), -u / direction, np.inf)
            crossings = when[(when > 0) & (when < (np.inf if ray else 1.0))]
            best, best_change = None, 0.0
            if ray:
                if crossings.size == 0:
                    break  # unbounded along a flat unpenalised direction: rounding
                taus = [crossings.min()]
            elif crossings.size == 0:
                # no sign changes on the way: the stationary point is the
                # minimiser on the set, lower in exact arithmetic, whose
                # decrease (the square of a residual near the end) rounding
                # would hide
                taus, best = [], u + direction
            else:
                taus = np.append(crossings, 1.0)
            for tau in taus:
                candidate = u + tau * direction
                candidate[when == tau] = 0.0  # (exactly, not to rounding)
                change = (tau * slope + 0.5 * tau * tau * curvature
                          + float(penalty @ (np.abs(candidate) - np.abs(u))))
                if change < best_change:
                    best, best_change = candidate, change
            if best is None:
                break  # no lower point: the model's rounding
            u = best
            sign = np.sign(u)
            active = (u != 0) | free  # the coordinates that reached zero leave
            continue
        # the active set is optimal: the zero coordinate whose derivative
        # most exceeds its penalty joins, with the sign that lowers the model
        violation = np.where(active, -np.inf, np.abs(derivative) - penalty)
        j = int(np.argmax(violation))
        if not violation[j] > tol:
            break
        active[j] = True
        sign[j] = -np.sign(derivative[j])
    return u - x0


def _penalised_hessian(problem, derivative, center, sample):
    """:func:`hessian` with the L2 part on the coefficients' diagonal."""
    K, d, width = problem.n_outputs, problem.n_features, _width(problem)
    H = hessian(problem, derivative, center, sample)
    index = np.arange(K * width).reshape(K, width)
    H[index[:, :d].ravel(), index[:, :d].ravel()] += problem.l2
    return H


def _smooth_step(problem, grad, derivative, center, sample):
    """``(step, slope)`` solving the Newton system (L2 penalty), or None."""
    K, d, width = problem.n_outputs, problem.n_features, _width(problem)
    if sample is not None and sample.factor is not None and not sample.refresh_due():
        factor = sample.factor
    else:
        flat = None
        if problem.loss == "multinomial" and problem.fit_intercept:
            flat = np.zeros((K, width))
            flat[:, d] = 1.0
            flat = flat.ravel()
        factor = _factorise(_penalised_hessian(problem, derivative, center, sample), flat)
    if sample is not None:
        sample.factor = factor
        sample.steps += 1
    if factor is None:
        return None
    step = -factor(grad)
    return step, float(grad @ step)


def _proximal_step(problem, grad, W, derivative, center):
    """``(step, slope)`` minimising the Newton model plus the exact L1 term,
    or ``STATIONARY`` where the model's minimiser is the current point.  ``slope`` is
    the model's decrease (the smooth part to first order, the L1 term
    exactly), which bounds the objective's derivative along the step and so
    serves Armijo's rule."""
    K, d, width = problem.n_outputs, problem.n_features, _width(problem)
    x0 = np.zeros((K, width))
    x0[:, :d] = W
    penalty = np.zeros((K, width))
    penalty[:, :d] = problem.l1
    x0, penalty = x0.ravel(), penalty.ravel()
    H = _penalised_hessian(problem, derivative, center, None)
    step = _l1_model_step(H, grad, x0, penalty)
    if not np.any(step):
        return STATIONARY  # no coordinate of the model moves: its minimiser
    # The active-set method only lowers the model from 0, so the decrease is
    # negative; a computed one that is not lies below the rounding of its
    # two terms, and the line search's rounding rule judges the step.
    decrease = float(grad @ step) + float(
        penalty @ (np.abs(x0 + step) - np.abs(x0)))
    return step, min(decrease, -np.finfo(float).tiny)


def _column_moments(X, C, center):
    """``sum_i C_ik (x_ij - center_j)^2`` (K, d) without an n x d temporary
    (dense rows by chunks; sparse ones square their stored values only)."""
    if sp.issparse(X):
        squares = sp.csr_matrix((X.data * X.data, X.indices, X.indptr), shape=X.shape)
        S2 = np.asarray(squares.T @ C).T
        S1 = np.asarray(X.T @ C).T
    else:
        S2 = np.zeros((C.shape[1], X.shape[1]))
        S1 = np.zeros_like(S2)
        for start in range(0, X.shape[0], CHUNK_ROWS):
            rows, c = X[start:start + CHUNK_ROWS], C[start:start + CHUNK_ROWS]
            S2 += c.T @ (rows * rows)
            S1 += c.T @ rows
    return S2 - 2.0 * S1 * center + np.outer(C.sum(axis=0), center * center)


def _conjugate_gradient_step(problem, grad, derivative, center):
    """``(step, slope)``: the Newton system solved inexactly by conjugate
    gradients on Hessian-vector products, for problems too wide to form the
    Hessian (truncated Newton; liblinear's trust-region Newton solves the
    same systems).  Each product is two passes over X, ``H v = X^T (A (X
    v)) + l2 v`` in the centred coordinates of
    :func:`newton_direction`, ``A`` the rows' curvatures (zero on the rows
    beyond a margin loss's margin).  Preconditioned by the Hessian's
    diagonal (features on any scale); stopped when the residual is below
    ``min(CG_FORCING, sqrt(|g|))`` times the gradient's norm (the forcing
    term shrinks with the gradient: superlinear convergence near the
    optimum), after ``CG_MAX_ITERATIONS`` products, or along a direction of
    no curvature.  None if no step was found."""
    X, K, d, width = problem.X, problem.n_outputs, problem.n_features, _width(problem)
    fit_intercept, l2 = problem.fit_intercept, problem.l2
    weights, curvature = _row_curvatures(problem, derivative)
    C = weights[:, None] * curvature  # (n, K)

    def product(v):
        V = v.reshape(K, width)
        Z = np.asarray(X @ V[:, :d].T)
        if fit_intercept:
            Z += V[:, d] - V[:, :d] @ center
        R = C * Z
        out = np.empty_like(V)
        out[:, :d] = np.asarray(X.T @ R).T + l2 * V[:, :d]
        if fit_intercept:
            total = R.sum(axis=0)
            out[:, :d] -= np.outer(total, center)
            out[:, d] = total
        return out.ravel()

    diagonal = np.empty((K, width))
    diagonal[:, :d] = _column_moments(X, C, center) + l2
    if fit_intercept:
        diagonal[:, d] = C.sum(axis=0)
    diagonal = np.maximum(diagonal.ravel(), np.finfo(float).tiny)
    norm = float(np.linalg.norm(grad))
    if not norm > 0:
        return None
    target = min(CG_FORCING, np.sqrt(norm)) * norm
    x = np.zeros_like(grad)
    r = -grad
    z = r / diagonal
    p, rz = z.copy(), float(r @ z)
    for _ in range(CG_MAX_ITERATIONS):
        Hp = product(p)
        curve = float(p @ Hp)
        if not curve > 0:
            break
        a = rz / curve
        x += a * p
        r -= a * Hp
        if float(np.linalg.norm(r)) <= target:
            break
        z = r / diagonal
        rz, previous = float(r @ z), rz
        p = z + (rz / previous) * p
    if not np.any(x):
        return None
    return x, float(grad @ x)


class ColumnStore:
    """The per-fit state of the coordinate-descent steps: sparse X in CSC
    (one copy of its stored values, as liblinear copies its data) and the
    passes over X their sweeps have cost so far (a sweep costs the working
    set's share of the stored values twice: a product and an update)."""

    def __init__(self, X, max_iter, share=CD_PASS_SHARE):
        self.csc = None
        if sp.issparse(X):
            self.csc = X.tocsc()
            self.csc.sort_indices()
            self.stored = np.diff(self.csc.indptr)
            self.stored_total = max(float(self.csc.nnz), 1.0)
        self.n_features = X.shape[1]
        self.passes = 0.0
        self.budget = share * max_iter

    def gather(self, X, working):
        """``(stored, columns, block)``: X's columns as the kernel reads them,
        the working set's indices there, and for dense X the working set's
        columns themselves (column-major, n x |S|: a copy of that part of
        X for each step), None for sparse X."""
        if self.csc is not None:
            csc = self.csc
            return (csc.data, csc.indices, csc.indptr, False), working, None
        n, size = X.shape[0], working.size
        block = np.asfortranarray(X[:, working])
        stored = (block.ravel(order="F"), np.empty(0, dtype=np.intp),
                  np.arange(size + 1, dtype=np.intp) * n, True)
        return stored, np.arange(size, dtype=np.intp), block

    def record(self, sweeps, working):
        """Count ``sweeps`` over the columns ``working``."""
        if self.csc is None:
            share = working.size / max(self.n_features, 1)
        else:
            share = float(self.stored[working].sum()) / self.stored_total
        self.passes += sweeps * share

    def give_up(self):
        """Hand the fit back to the accelerated iterations."""
        self.passes = np.inf

    def stalled(self):
        """Whether the sweeps have cost their share of the fit's budget
        (``CD_PASS_SHARE``): the model is too ill-conditioned for them."""
        return self.passes >= self.budget


def _support_cg_applies(problem):
    """Whether the steps of a wide working set end with CG on its support
    (:func:`_support_conjugate_gradient`): the binary log-loss on sparse
    columns.  (A margin loss's model is singular on the rows beyond the
    margin: CG could run off along a flat direction.)"""
    return sp.issparse(problem.X) and problem.loss == "log_loss"


def column_store(problem, max_iter):
    """A :class:`ColumnStore` where the coordinate-descent steps apply, else None."""
    if not _coordinate_applies(problem):
        return None
    share = SUPPORT_CG_PASS_SHARE if _support_cg_applies(problem) else CD_PASS_SHARE
    return ColumnStore(problem.X, max_iter, share)


def _working_set_hessian(X, working, c, sums, inv_total, l2, block=None):
    """The centred Hessian of the coordinate model on the columns
    ``working``: ``sum_i c_i (x_i - mu)(x_i - mu)^T + l2 I`` (``mu = sums /
    C``; uncentred without an intercept).  For sparse X a sparse product
    where the columns are sparse enough (``sum_i nnz_i^2`` multiply-adds, at
    ``SPARSE_GRAM_PENALTY`` times the cost of dense ones), by chunks of
    dense rows otherwise; for dense X from ``block``, the working set's
    columns.  None where it costs more than ``MAX_HESSIAN_FLOPS``."""
    size = working.size
    dense_cost = float(X.shape[0]) * size * size
    if block is not None:
        if dense_cost > MAX_HESSIAN_FLOPS:
            return None
        H = block.T @ (c[:, None] * block)
    else:
        columns = X[:, working]
        counts = np.diff(columns.indptr).astype(np.float64)
        sparse_cost = SPARSE_GRAM_PENALTY * float(counts @ counts)
        if min(sparse_cost, dense_cost) > MAX_HESSIAN_FLOPS:
            return None
        if sparse_cost < dense_cost:
            H = np.asarray((columns.T @ (sp.diags(c) @ columns)).todense())
        else:
            H = np.zeros((size, size))
            for start in range(0, X.shape[0], CHUNK_ROWS):
                rows = columns[start:start + CHUNK_ROWS].toarray()
                H += rows.T @ (c[start:start + CHUNK_ROWS, None] * rows)
    H = np.asarray(H, dtype=np.float64)  # (float32 columns give float32 products)
    H -= inv_total * np.outer(sums, sums)
    H[np.diag_indices_from(H)] += l2
    return H


def _coordinate_step(problem, W, G, Gb, derivative, store):
    """``(dW, db, slope)`` minimising the proximal Newton model of a wide
    L1 fit by coordinate descent on a working set (see
    ``_coordinate_model.pyx``), output by output; ``STATIONARY`` where no
    coordinate moves; None if no descent step was found.

    The working set is the features that are non-zero for some output or
    whose gradient exceeds the penalty for some output; the others keep
    their zero.  With an intercept the columns are centred at the rows'
    curvature-weighted mean inside the kernel (without filling them in),
    which decouples the intercept's step."""
    K = problem.n_outputs
    l1, l2 = float(problem.l1), float(problem.l2)
    grad = G + l2 * W
    working = np.flatnonzero(
        np.any(W != 0, axis=0) | np.any(np.abs(grad) > l1, axis=0)).astype(np.intp)
    dW, db = np.zeros_like(W), np.zeros(K)
    weights, curvature = _row_curvatures(problem, derivative)
    C = weights[:, None] * curvature  # (n, K): the rows' weighted curvatures
    residual = np.empty(problem.n_samples)
    # (not a margin loss on sparse columns: the rows beyond the margin leave
    # its model singular there, and the active-set solves fall back to
    # eigendecompositions, 17-22 rounds of them: 1.3 s a step at 931 text
    # columns, against 0.05 s for the whole fit by the sweeps)
    polish = working.size <= POLISH_MAX_PARAMETERS and not (
        problem.loss in MARGIN_CAP and sp.issparse(problem.X))
    support_cg = not polish and _support_cg_applies(problem)
    if not sp.issparse(problem.X) and not (
            polish and problem.n_samples * working.size ** 2 <= MAX_HESSIAN_FLOPS):
        # dense columns are gathered for each step (a copy of that part of
        # X): only a working set small enough for the exact finish
        store.give_up()
        return None
    stored, indices, block = store.gather(problem.X, working)
    all_sums = np.asarray(problem.X.T @ C)[working]  # s_kj, every output in one pass
    columns = store.csc[:, working] if support_cg else None
    # (their squares, for CG's diagonal preconditioner, once for every output)
    squared = columns.multiply(columns).tocsc() if support_cg else None
    sweeps_allowed = (CD_POLISH_SWEEPS if polish
                      else CD_SUPPORT_SWEEPS if support_cg else CD_MAX_SWEEPS)
    slope = 0.0
    for k in range(K):
        c = np.ascontiguousarray(C[:, k])
        w, g = W[k, working], grad[k, working]
        sums = np.ascontiguousarray(all_sums[:, k])
        total = float(c.sum())
        inv_total = 1.0 / total if problem.fit_intercept and total > 0 else 0.0
        g_centred = np.ascontiguousarray(g - float(Gb[k]) * inv_total * sums)
        start = np.maximum(np.abs(g_centred) - l1, 0.0)
        start[w != 0] = np.abs(g_centred + l1 * np.sign(w))[w != 0]
        step = np.zeros_like(w)
        if np.max(start, initial=0.0) > 0:
            tol = CD_FORCING * float(np.max(start))
            sweeps, largest = l1_model_descent(
                *stored, indices, c, sums, inv_total, g_centred, np.ascontiguousarray(w),
                l1, l2, step, residual, CD_CURVATURE_FLOOR, sweeps_allowed, tol)
            store.record(sweeps, working)
            if largest > tol and support_cg:
                step, products = _support_conjugate_gradient(
                    columns, squared, c, sums, inv_total, l1, l2, g_centred, w, step, tol)
                store.record(products, working)
            if largest > tol and polish:
                H = _working_set_hessian(problem.X, working, c, sums, inv_total, l2, block)
                if H is None and block is not None:
                    store.give_up()
                    return None
                if H is not None:
                    step = _l1_model_step(H, g_centred, w, np.full(w.size, l1),
                                          start=w + step)
        # the intercept's step: v' = -g_b / C in the centred coordinates
        step_b = -(float(Gb[k]) + float(sums @ step)) * inv_total
        dW[k, working], db[k] = step, step_b
        # the model's decrease: the smooth part to first order, the L1 term exactly
        slope += float(g @ step) + float(Gb[k]) * step_b + l1 * float(
            np.sum(np.abs(w + step) - np.abs(w)))
    if not (np.any(dW) or np.any(db)):
        return STATIONARY
    return dW, db, min(slope, -np.finfo(float).tiny)


def _support_conjugate_gradient(columns, squared, c, sums, inv_total, l1, l2, g, w,
                                step, tol):
    """``(step, products)``: the coordinate model's step improved by
    conjugate gradients on its support, with the signs held.

    The model is ``m(u) = g.u + 1/2 u'Au + l1 |w + u|_1`` with ``A`` the
    centred Hessian of the working set's ``columns`` (sparse, n x m;
    ``squared`` their squares): ``A v = X'(c * Xv) - s (s.v) / C + l2 v``.
    On the support ``S`` of ``x = w + step`` with signs ``sigma`` it is the
    quadratic
    ``g.u + 1/2 u'Au + l1 sigma.(w + u)``, whose minimiser over ``u_S`` (the
    other coordinates held) Jacobi-preconditioned CG approaches from
    ``step``, until the largest entry of its gradient is at most ``tol``.
    Where coordinates of ``x`` change sign on the way, the step is the
    better, by the model, of two: the segment from ``step`` to the CG
    iterate stopped where the first coordinate reaches zero (the quadratic
    falls along it and the model equals it until then, so the model falls
    at least as much as at ``step``), and the CG iterate with the crossed
    coordinates set to zero.  ``products`` counts the products with ``A``
    (each costs about a sweep).
    """
    x = w + step
    support = np.flatnonzero(x)
    if support.size == 0:
        return step, 0
    sigma = np.sign(x[support])

    def apply(v):
        out = columns.T @ (c * (columns @ v)) + l2 * v
        if inv_total:
            out -= sums * (float(sums @ v) * inv_total)
        return out

    square_sums = np.asarray(squared.T @ c).ravel()
    diagonal = (square_sums - sums * sums * inv_total + l2)[support]
    diagonal = np.maximum(diagonal, np.finfo(float).tiny)
    u = step.copy()
    residual = -(g + apply(u))[support] - l1 * sigma  # minus the gradient on S
    products = 1
    z = residual / diagonal
    direction = z.copy()
    rz = float(residual @ z)
    full = np.zeros_like(step)
    while products < CG_MAX_ITER and np.max(np.abs(residual)) > tol:
        full[support] = direction
        Ad = apply(full)[support]
        products += 1
        curvature = float(direction @ Ad)
        if not curvature > 0:
            break
        alpha = rz / curvature
        u[support] += alpha * direction
        residual -= alpha * Ad
        z = residual / diagonal
        rz_next = float(residual @ z)
        direction = z + (rz_next / rz) * direction
        rz = rz_next
    moved = w[support] + u[support]
    crossed = np.flatnonzero(np.sign(moved) != sigma)
    if crossed.size == 0:
        return u, products
    # (the projected candidate usually goes much further: the segment stops
    # at the first of often hundreds of crossings)
    start = x[support][crossed]
    fractions = start / (start - moved[crossed])
    first = int(np.argmin(fractions))
    stopped = step + float(fractions[first]) * (u - step)
    stopped[support[crossed[first]]] = -w[support[crossed[first]]]
    projected = u.copy()
    projected[support[crossed]] = -w[support[crossed]]
    products += 2

    def model(v):
        return float(g @ v + 0.5 * (v @ apply(v)) + l1 * np.sum(np.abs(w + v)))

    u = projected if model(projected) < model(stopped) else stopped
    return u, products


def newton_direction(problem, W, b, G, Gb, derivative, center, sample=None, columns=None):
    """``(dW, db, slope)``: the Newton step and the derivative of the
    objective along it (negative), or None if it is not a descent step, or
    ``STATIONARY`` if, with an L1 part, the model's minimiser is the point
    itself (see ``STATIONARY``).

    Solved in centred coordinates (the intercept decoupled from features
    with offsets) and scaled by the Hessian's diagonal (features on any
    scale), by :func:`_factorise`; with an L1 part, a proximal Newton step
    (:func:`_l1_model_step`).  With a :class:`HessianSample`, the Hessian is
    that of its rows (the gradient is the full one), formed anew in the
    global phase and then every ``SAMPLED_REFRESH`` steps.
    """
    if _coordinate_applies(problem):
        if columns is None:
            columns = column_store(problem, np.inf)  # (no budget: a single step)
        found = _coordinate_step(problem, W, G, Gb, derivative, columns)
        if found is STATIONARY or found is None:
            return found
        dW, db, slope = found
        ok = np.all(np.isfinite(dW)) and np.all(np.isfinite(db)) and slope < 0
        return (dW, db, slope) if ok else None
    K, d, width = problem.n_outputs, problem.n_features, _width(problem)
    grad = np.zeros((K, width))
    grad[:, :d] = G + problem.l2 * W
    if problem.fit_intercept:
        # chain rule to (W, c): dJ/dW' = dJ/dW - dJ/db center, dJ/dc = dJ/db
        grad[:, :d] -= np.outer(Gb, center)
        grad[:, d] = Gb
    if problem.l1:
        found = _proximal_step(problem, grad.ravel(), W, derivative, center)
        if found is STATIONARY:
            return STATIONARY
    elif _cg_applies(problem):
        found = _conjugate_gradient_step(problem, grad.ravel(), derivative, center)
    else:
        found = _smooth_step(problem, grad.ravel(), derivative, center, sample)
    if found is None:
        return None
    step, slope = found
    if not (np.all(np.isfinite(step)) and slope < 0):
        return None
    step = step.reshape(K, width)
    dW = step[:, :d]
    db = step[:, d] - dW @ center if problem.fit_intercept else np.zeros(K)
    if problem.loss == "multinomial":
        # no move along the common constant of the intercepts (their
        # Hessian is flat there): they keep the sum the accelerated
        # iterations kept
        db = db - db.mean()
    return dW, db, slope
