"""Working sets for L1-penalised least squares: Gram columns on demand.

An L1 penalty leaves most coefficients at zero, and for the squared error
the gradient at ``W`` needs only the Gram columns of the features in the
support of ``W``.  With ``C = sum_i w_i (x_i - mu)(x_i - mu)^T`` and the
cross moments ``r`` of :mod:`skgd._gram`,

.. math::

    G = W_S C_{S\\cdot} - r^T, \\qquad
    \\frac12 \\sum_i w_i \\|y_i - W x_i - b\\|^2
    = \\frac12 \\sum_k \\left(W_{kS} C_{SS} W_{kS}^T - 2 W_k r_k + q_k\\right)

for every ``W`` supported on the working set ``S``.  The solver runs FISTA
(standardised coordinates, step ``1 / L`` with ``L`` the top eigenvalue of
the standardised ``C_SS``, adaptive restart) on the coefficients of ``S``
only, the others held at zero.  Each iteration costs ``K d |S|`` for the
full gradient, from which the duality gap of the **whole** problem
(:mod:`skgd._gap`) certifies the returned model; the gap of the problem
restricted to ``S`` is the same formula with the gradient outside ``S``
masked.  When the restricted gap is a small part of the full one, the
features outside ``S`` that violate their optimality condition
``max_k |G_kj| <= l1`` join ``S``, the most violating first, doubling it.

Only the columns ``C_{.S}`` are ever formed: one pass over X per growth of
``S``, ``2 n d |S_new|`` flops, against ``2 n d^2`` for the whole Gram
matrix (the full :class:`skgd._gram.GramOracle`).  On the Lasso problem of
``benchmarks/time_to_solution.py`` (50,000 x 500, 25 non-zeros) ``S`` ends
with about 40-80 features.
"""

import math

import numpy as np

from ._gram import gram_applies
from ._solver_common import _OBJECTIVE_RTOL, GapRule, _EpochLoop
from ._step_size import _COVARIANCE_CHUNK_BYTES
from ._threads import sum_over_row_parts

# Below this many features the whole d x d Gram matrix costs about as much
# as the columns of a working set, and the plain Gram iterations are used.
WORKING_SET_MIN_FEATURES = 64
# Size of the first working set (the features of largest |r_j|).
_FIRST_SIZE = 16
# The working set grows once the restricted problem's gap is at most this
# fraction of the full gap: the rest of the gap is then outside S.
_GROW_FRACTION = 0.25
_GROWTH = 2
_CANDIDATE_SCORE = 0.8


def working_set_applies(problem, options):
    """Whether the L1 working-set iterations replace the full Gram matrix."""
    return (
        gram_applies(problem, options)
        # in-memory dense rows (not CSR, not the blocks of a dask array)
        and isinstance(problem.X, np.ndarray)
        and problem.n_features >= WORKING_SET_MIN_FEATURES
        and np.all(np.asarray(problem.penalty.l1) > 0)
    )


class GramColumns:
    """Columns of the weighted centred Gram matrix, formed when first needed.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    weights : ndarray of shape (n_samples,), summing to 1
    mean : ndarray of shape (n_features,)
        The weighted column means (zeros without an intercept).
    """

    def __init__(self, X, weights, mean):
        self.X, self.weights, self.mean = X, weights, mean
        d = X.shape[1]
        self.features = np.empty(0, dtype=np.intp)  # in the order formed
        self.columns = np.empty((d, 0))  # C[:, features]
        self.position = np.full(d, -1, dtype=np.intp)

    def add(self, features):
        """Form the columns of ``features`` not yet known: one pass over X."""
        new = np.asarray(features, dtype=np.intp)
        new = np.unique(new[self.position[new] < 0])
        if new.size == 0:
            return
        X, weights, mean = self.X, self.weights, self.mean
        n, d = X.shape
        rows = max(64, _COVARIANCE_CHUNK_BYTES // (8 * max(d, 1)))

        def part(lo, hi):
            acc = np.zeros((d, new.size))
            for start in range(lo, hi, rows):
                stop = min(start + rows, hi)
                # both sides centred in double: no cancellation on columns
                # whose mean dwarfs their spread
                chunk = np.asarray(X[start:stop], dtype=np.float64) - mean
                acc += chunk.T @ (chunk[:, new] * weights[start:stop, None])
            return acc

        block = sum_over_row_parts(n, rows, part)
        if not np.all(np.isfinite(block)):
            raise FloatingPointError("Gram columns not finite")
        self.position[new] = self.features.size + np.arange(new.size)
        self.features = np.concatenate([self.features, new])
        self.columns = np.hstack([self.columns, block])

    def of(self, features):
        """``C[:, features]`` (all formed)."""
        return self.columns[:, self.position[features]]


class _Restricted:
    """FISTA's view of the problem on the working set ``S``."""

    def __init__(self, gram, features, cross, penalty):
        self.features = features
        self.cols = gram.of(features)  # C[:, S]
        block = self.cols[features]  # C_SS
        diag = np.diag(block).copy()
        # standardised coordinates z_j = w_j sigma_j (a constant column, of
        # zero variance, is left unscaled: its coefficient only meets the
        # penalty)
        self.scale = np.where(diag > 0, 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0)), 1.0)
        scaled = self.scale[:, None] * block * self.scale[None, :]
        top = float(np.linalg.eigvalsh(scaled)[-1]) if features.size else 1.0
        self.lipschitz = max(top, np.finfo(float).tiny) * (1.0 + 1e-10)
        self.cross = cross[:, features]
        self.penalty = penalty.weighted(self.scale, self.scale**2)


def solve_working_set(problem, state, options, gram):
    """FISTA on a growing working set, certified by the full duality gap.

    ``gram`` holds the moments that need no Gram matrix
    (:class:`skgd._gram.LeastSquaresMoments`).  Updates
    ``state`` in place and returns the :class:`SolverResult`.
    """
    X = problem.X
    weights = problem.sample_weight / problem.sample_weight.sum()
    columns = GramColumns(X, weights, gram.mean)
    certificate = problem.duality_gap(gram.mean)
    penalty = problem.penalty
    l1 = np.asarray(penalty.l1, dtype=float)
    cross, q = gram.cross, float(np.sum(gram.target_sq))
    K, d = state.W.shape
    W = np.array(state.W, dtype=float)
    zeros_b = np.zeros(K)
    rule = GapRule(options.tol)
    loop = _EpochLoop(problem, state, options, rule=rule)

    def evaluate(W_S, sub):
        """The full gradient, the data term and the objective at ``W_S``."""
        WC = W_S @ sub.cols.T  # (K, d): W_S C_{S.}
        G = WC - cross
        data = 0.5 * float(np.sum(WC[:, sub.features] * W_S) - 2.0 * np.sum(sub.cross * W_S) + q)
        data = max(data, 0.0)
        return G, data, data + penalty.value(W_S)

    support = np.flatnonzero(np.any(W != 0, axis=0))
    if support.size == 0:
        first = np.argsort(-np.max(np.abs(cross), axis=0), kind="stable")[:_FIRST_SIZE]
        support = np.sort(first)
    features = support
    lower = -math.inf
    started = False
    while True:
        columns.add(features)
        sub = _Restricted(columns, features, cross, penalty)
        mask = np.zeros(d, dtype=bool)
        mask[features] = True
        step = 1.0 / sub.lipschitz
        x = W[:, features] / sub.scale  # standardised
        y, theta, best = x.copy(), 1.0, None
        while True:  # FISTA on S, until S grows or the fit stops
            W_S = y * sub.scale
            G, data, objective = evaluate(W_S, sub)
            W_full = np.zeros((K, d))
            W_full[:, features] = W_S
            lower = max(lower, certificate.dual(W_full, zeros_b, G, zeros_b, data))
            restricted = certificate.dual(W_full, zeros_b, np.where(mask, G, 0.0), zeros_b, data)
            g = G[:, features] * sub.scale
            # the function-value restart of the batch solver (skgd._batch)
            if best is not None and not (objective - best[1] <= _OBJECTIVE_RTOL * abs(best[1])):
                y, g, objective = best[0], best[2], best[1]
                x, theta = y, 1.0
            else:
                best = (y, objective, g)
            W = np.zeros((K, d))
            W[:, features] = best[0] * sub.scale
            state.W, state.b = W, gram.intercept(W)
            full_gap = rule.relative_gap(best[1], lower)
            # the starting point is evaluated, not counted as an iteration
            # (as in the batch solver)
            if started and (loop.end_epoch(best[1], step, full_gap)
                            or loop.result.n_iter >= options.max_iter):
                state.t += loop.result.n_iter
                return loop.result
            started = True
            inner_gap = max(best[1] - restricted, 0.0) / max(abs(best[1]), np.finfo(float).tiny)
            if inner_gap <= _GROW_FRACTION * full_gap:
                outside = np.max(np.abs(G), axis=0) / np.broadcast_to(l1, (K, d)).min(axis=0)
                outside[mask] = 0.0
                if np.any(outside > 1.0):
                    # A growth costs a pass over X whatever its size: the
                    # block is filled with the next most likely features
                    # (the largest |G_j| / l1, violating or close to it).
                    candidates = np.flatnonzero(outside > _CANDIDATE_SCORE)
                    order = candidates[np.argsort(-outside[candidates], kind="stable")]
                    added = order[: max(_GROWTH * features.size, _FIRST_SIZE)]
                    features = np.sort(np.concatenate([np.flatnonzero(np.any(W != 0, axis=0)),
                                                       features, added]))
                    features = np.unique(features)
                    break
            new = sub.penalty.prox(y - step * g, step)
            # gradient-based adaptive restart
            if np.sum((y - new) * (new - x)) > 0:
                theta = 1.0
            theta_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * theta * theta))
            y = new + (theta - 1.0) / theta_next * (new - x)
            x, theta = new, theta_next
