"""Least squares on the Gram matrix: the batch solver's iterations at d^2 cost.

For the squared error the data term and its gradient depend on X only
through its weighted moments.  With ``w_i = s_i / sum(s)``, the centre
``mu = sum_i w_i x_i`` (0 without an intercept), ``C = sum_i w_i
(x_i - mu)(x_i - mu)^T``, ``r = sum_i w_i (x_i - mu)(y_i - ybar)^T`` and
``q = sum_i w_i (y_i - ybar)^2``, and for every ``W`` the best intercept
``b = ybar - W mu``:

.. math::

    \\frac12 \\sum_i w_i \\|y_i - W x_i - b\\|^2
    = \\frac12 \\sum_k \\left(W_k C W_k^T - 2 W_k r_k + q_k\\right), \\qquad
    G = W C - r^T, \\quad G_b = 0 .

One pass over X (a BLAS-3 product per chunk of rows,
:func:`skgd._step_size.centred_gram`) builds ``C``; every iteration then
costs ``K d^2`` instead of a pass over the ``n x d`` rows.  The same
moments give the whitening preconditioner (its eigendecomposition) and the
exact Lipschitz constant of the standardised problem, so no power
iteration over X is needed either.  Used when ``n >= 2 d`` and ``d <=
GRAM_MAX_FEATURES``: building ``C`` costs about ``d / 4`` passes' worth of
flops, at BLAS-3 speed.
"""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import eigsh

from ._step_size import Preconditioner, WhiteningPreconditioner, centred_gram

# Above this many features the d x d matrix (and its d^3 eigendecomposition)
# stops being small next to the passes over X it replaces.
GRAM_MAX_FEATURES = 1024


def gram_applies(problem, options):
    """Whether the Gram-matrix iterations replace passes over X."""
    n, d = problem.X.shape
    return (
        problem.loss == "squared_error"
        and options.learning_rate == "auto"
        and d <= GRAM_MAX_FEATURES
        and n >= 2 * d
        # a fit of a single iteration (partial_fit) is cheaper on X itself
        and options.max_iter > 1
        and (not sp.issparse(problem.X) or problem.X.nnz >= n)
    )


def _top_eigenvalue(matrix):
    """Largest eigenvalue of a symmetric matrix, to rounding.

    Lanczos (ARPACK, from a fixed start: the same bits every run) instead of
    the full O(d^3) decomposition once d is large enough to matter.
    """
    d = matrix.shape[0]
    if d < 64:
        return float(np.linalg.eigvalsh(matrix)[-1])
    top = eigsh(matrix, k=1, which="LA", tol=1e-12, v0=np.ones(d), return_eigenvectors=False)
    return float(top[0])


class LeastSquaresMoments:
    """The moments of a least-squares problem that do not need ``C``.

    ``mean`` (``mu``), ``y_mean`` (``ybar``), ``cross`` (``r^T``, shape (K, d))
    and ``target_sq`` (``q``): one fused pass over X.

    Parameters
    ----------
    problem : skgd._solver_common.Problem with ``loss='squared_error'``.
    """

    def __init__(self, problem):
        Y, sw = problem.Y, problem.sample_weight
        self.problem = problem
        weights = sw / sw.sum()
        n, K = Y.shape
        self.y_mean = weights @ Y if problem.fit_intercept else np.zeros(K)
        Yc = Y - self.y_mean
        # r^T = sum_i w_i (y_i - ybar)(x_i - mu)^T; the centring of x drops
        # out because the centred targets have weighted mean zero.  The
        # column means come from the same pass.
        if problem.fit_intercept:
            sums = problem.weighted_sums(np.hstack([np.ones((n, 1)), Yc]))
            self.mean, self.cross = sums[0], sums[1:]
        else:
            self.mean, self.cross = np.zeros(problem.n_features), problem.weighted_sums(Yc)
        self.target_sq = weights @ (Yc * Yc)

    def intercept(self, W):
        """The best intercept for ``W``."""
        return self.y_mean - W @ self.mean


class GramOracle(LeastSquaresMoments):
    """The data term of a least-squares problem from its moments.

    Parameters
    ----------
    problem : skgd._solver_common.Problem with ``loss='squared_error'``.
    """

    def __init__(self, problem):
        super().__init__(problem)
        cov, _ = centred_gram(problem.X, problem.sample_weight, problem.fit_intercept,
                              self.mean)
        if cov is None:
            raise FloatingPointError("moments not finite or not accurate")
        self.cov = cov

    def preconditioner(self, whiten):
        """Whitening (no L1) or diagonal standardisation, from ``C``."""
        if whiten:
            pc = WhiteningPreconditioner.from_covariance(self.cov, self.mean)
            if pc is not None:
                return pc
        return Preconditioner.from_moments(self.mean, np.diag(self.cov).copy(),
                                           self.problem.fit_intercept)

    def lipschitz(self, precond):
        """Largest eigenvalue of the standardised Hessian (intercept: 1)."""
        if isinstance(precond, WhiteningPreconditioner):
            scaled = precond.transform.T @ self.cov @ precond.transform
        else:
            root = np.sqrt(precond.step_scale)
            scaled = root[:, None] * self.cov * root[None, :]
        return max(_top_eigenvalue(scaled), 1.0 if self.problem.fit_intercept else 0.0)

    def evaluate(self, W):
        """``(G, Gb, objective, data_term)`` at (W, its best intercept)."""
        WC = W @ self.cov
        G = WC - self.cross
        data = 0.5 * float(np.sum(WC * W) - 2.0 * np.sum(self.cross * W) + self.target_sq.sum())
        data = max(data, 0.0)
        objective = data + self.problem.penalty.value(W)
        return G, np.zeros(W.shape[0]), objective, data
