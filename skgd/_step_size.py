"""Data-dependent constants of a fit: the preconditioner and the step sizes.

``learning_rate='auto'`` solves the same objective in standardised
coordinates: with ``sigma_j`` the (weighted) spread of feature j and
``mu_j`` its mean, the change of variables

.. math::

    \\tilde w_j = \\sigma_j w_j, \\qquad \\tilde b = b + \\sum_j w_j \\mu_j

turns ``x_j`` into ``(x_j - mu_j) / sigma_j``.  The objective's value is
unchanged (the intercept is not penalised; the penalty of ``w`` becomes a
per-feature penalty of ``w~``), so its optimum is the optimum in the user's
coordinates.  Gradient steps on ``w~`` written back on ``w`` are steps
multiplied by ``step_scale_j = 1 / sigma_j^2`` on centred features: this is
what the kernels receive.  The stochastic kernels never centre sparse input
(centring would destroy sparsity); mini-batches scale its steps per feature
by the feature's frequency instead (``skgd._sgd.frequency_preconditioner``),
sgd not at all.  The batch solver, which
only maps coefficients and gradients, standardises sparse input as well
(``batch_preconditioner``).

All constants are weighted by the sample weights, so that an integer weight
means exactly what repeating the row means.
"""

import math

import numpy as np
import scipy.sparse as sp

from ._fast._gradient import gradient_csr, gradient_dense
from ._fast._utils import (
    column_moments_csr,
    column_moments_dense,
    row_sq_norms_csr,
    row_sq_norms_dense,
)
from ._losses import LOSSES
from ._threads import sum_over_row_parts

# Rows of history the running moments of partial_fit describe (see
# RunningPreconditioner).
MOMENT_HORIZON_ROWS = 1000
# A feature whose standard deviation is below this fraction of its mean is a
# constant up to rounding: its step is left at 1 instead of being blown up.
_RELATIVE_SPREAD_FLOOR = 1e-10


class Preconditioner:
    """Per-feature step multipliers and centring vector (identity if off).

    Parameters
    ----------
    step_scale : ndarray of shape (n_features,)
    center : ndarray of shape (n_features,)
    active : bool
        False for the identity (explicit schedules, sparse input).
    """

    def __init__(self, step_scale, center, active):
        self.step_scale = step_scale
        self.center = center
        self.active = active

    @classmethod
    def identity(cls, n_features):
        return cls(np.ones(n_features), np.zeros(n_features), False)

    @classmethod
    def from_data(cls, X, sample_weight, fit_intercept):
        """Standardise dense X by its weighted mean and spread."""
        if sp.issparse(X):
            return cls.identity(X.shape[1])
        mean, var = _chunk_moments(X, sample_weight)
        return cls.from_moments(mean, var, fit_intercept)

    @classmethod
    def from_moments(cls, mean, var, fit_intercept):
        """Standardise by given weighted column means and variances."""
        if not fit_intercept:
            # Without an intercept the features cannot be centred: scale by
            # the root mean square instead of the standard deviation.
            var = var + mean**2
            mean = np.zeros_like(mean)
        floor = np.maximum((_RELATIVE_SPREAD_FLOOR * mean) ** 2, np.finfo(float).tiny)
        with np.errstate(divide="ignore", over="ignore"):
            # a constant column (up to rounding) is scaled by its magnitude:
            # left at 1, a column of 1e15 took steps 1e15 times too long
            constant = np.where(mean * mean > np.finfo(float).tiny, 1.0 / (mean * mean), 1.0)
            step_scale = np.where(var > floor, 1.0 / var, np.minimum(constant, 1.0))
        step_scale[~np.isfinite(step_scale)] = 1.0
        return cls(step_scale, mean, True)

    # --- change of variables ------------------------------------------------
    def to_original(self, W_t, b_t):
        """Map standardised coefficients (W~, b~) to the user's (W, b)."""
        W = W_t * np.sqrt(self.step_scale)
        return W, b_t - W @ self.center

    def to_standardised(self, W, b):
        W_t = W / np.sqrt(self.step_scale)
        return W_t, b + W @ self.center

    def gradient_to_standardised(self, G, Gb):
        """Chain rule: the gradient in (W~, b~) from the one in (W, b)."""
        return (G - np.outer(Gb, self.center)) * np.sqrt(self.step_scale), Gb

    def penalty_weights(self):
        """Per-feature factors of the L1 and L2 strengths in (W~, b~)."""
        root = np.sqrt(self.step_scale)
        return root, self.step_scale


class RunningPreconditioner(Preconditioner):
    """The standardising preconditioner of a stream of chunks (dense X).

    ``partial_fit`` sees the data one chunk at a time.  Standardising by the
    first chunk alone leaves every later chunk on whatever scale it has,
    with steps derived for the first one: a stream whose scale grew by 10
    diverged.  This keeps running weighted moments of the chunks, pooled by
    the pairwise update of Chan, Golub and LeVeque (1979) (means and sums of
    squared deviations, no cancellation) -- the per-feature normalisation
    of Ross, Mineiro and Langford's normalised online learning, updated per
    chunk rather than per row.  The moments follow a drift: before a chunk
    is pooled, the history is discounted to the rows the chunk lacks to make
    ``MOMENT_HORIZON_ROWS``, so the preconditioner describes roughly the
    last ``max(MOMENT_HORIZON_ROWS, chunk rows)`` rows: chunks of a few rows
    get the moments of many, a large chunk its own.  Pooled over the whole
    stream instead, one chunk of scale 100 dominated the variance for good
    and slowed every later chunk of scale 1 a hundredfold (relative gap 148
    after five such chunks, 4.2 with the horizon).
    The step is re-derived from each chunk's own row norms in the updated
    coordinates (``stochastic_lipschitz``), which keeps every epoch stable.

    Parameters
    ----------
    rows : float
        Effective number of rows of the running moments.
    mean, var : ndarray of shape (n_features,)
        Running weighted column means and variances.
    fit_intercept : bool
    """

    def __init__(self, rows, mean, var, fit_intercept):
        self.rows, self.mean, self.var = rows, mean, var
        self.fit_intercept = fit_intercept
        super().__init__(None, None, True)
        self._standardise()

    @classmethod
    def from_data(cls, X, sample_weight, fit_intercept):
        mean, var = _chunk_moments(X, sample_weight)
        return cls(float(X.shape[0]), mean, var, fit_intercept)

    def update(self, X, sample_weight):
        """Pool the moments of the chunk X into the (discounted) running ones."""
        mean, var = _chunk_moments(X, sample_weight)
        rows = float(X.shape[0])
        old = min(self.rows, max(MOMENT_HORIZON_ROWS - rows, 0.0))
        share = rows / (old + rows)
        delta = mean - self.mean
        # written as corrections of the running values: a chunk with the
        # same moments changes no bit (partial_fit on the same data is fit)
        self.mean = self.mean + share * delta
        self.var = (self.var + share * (var - self.var)
                    + share * (1.0 - share) * delta**2)
        self.rows = old + rows
        self._standardise()

    def _standardise(self):
        fixed = Preconditioner.from_moments(self.mean, self.var, self.fit_intercept)
        self.step_scale, self.center = fixed.step_scale, fixed.center


def _chunk_moments(X, sample_weight):
    """Weighted column means and variances of dense X (two-pass)."""
    d = X.shape[1]
    mean, var = np.empty(d), np.empty(d)
    column_moments_dense(X, sample_weight, mean, var)
    return mean, var


# Dense problems up to this many features are whitened for the batch solver:
# the d x d covariance, its eigendecomposition (d^3) and the per-iteration
# maps (K d^2) stay small next to a pass over the rows.
WHITENING_MAX_FEATURES = 512
# Eigenvalues below this fraction of the largest are directions X does not
# span (collinear or constant columns): they are kept, with a floored scale.
_EIGENVALUE_FLOOR = 1e-12
# Rows per chunk of the covariance: ~1 MB of float64, a BLAS-3 call each.
# The peak of a default batch fit holds two chunks per thread that sums
# row parts (skgd._threads; bench.py's memory row on 2 threads: 0.101 x
# X.nbytes at 2 MB, over its goal of 0.1); with one-thread BLAS on two
# Python threads 1 MB builds the 200,000 x 100 Gram matrix faster than 2 MB
# (58 vs 80 ms) and the 50,000 x 500 one too (215 vs 231 ms).
_COVARIANCE_CHUNK_BYTES = 1 << 20


def centred_gram(X, sample_weight, fit_intercept, mean=None):
    """Weighted covariance ``sum_i w_i (x_i - mu)(x_i - mu)^T`` and ``mu``.

    ``w_i = s_i / sum(s)``; without an intercept ``mu = 0`` (the uncentred
    second moment); ``mean``, if given, is ``mu``.  Dense X: one BLAS-3 product ``chunk^T chunk`` per
    chunk of rows, each chunk centred and scaled by ``sqrt(w_i)`` in
    float64 -- no n x d temporary, float32 input accumulated in double.
    (OpenBLAS's ``syrk``, which does half the flops, measured slower than
    its ``gemm`` on such tall chunks.)  CSR X: ``X^T diag(w) X - mu mu^T``
    by sparse products over chunks of rows (small ``d`` only).  Returns
    ``(None, None)`` if the moments are not finite, or (CSR) not accurate.
    """
    n, d = X.shape
    weights = sample_weight / sample_weight.sum()
    # dense rows: chunks of ~2 MB, summed by parts of rows (skgd._threads)
    rows = max(64, _COVARIANCE_CHUNK_BYTES // (8 * max(d, 1)))
    if not fit_intercept:
        mean = np.zeros(d)
    elif mean is None and sp.issparse(X):
        mean = np.asarray(X.T @ weights, dtype=np.float64).ravel()
    elif mean is None:
        mean = sum_over_row_parts(n, rows, lambda lo, hi: np.asarray(
            X[lo:hi].T @ weights[lo:hi], dtype=np.float64))
    if not np.all(np.isfinite(mean)):
        return None, None
    if sp.issparse(X):
        # by chunks of ~1M stored values: the scaled copy of a chunk is the
        # only temporary
        rows = max(1, (n << 20) // max(X.nnz, 1))
        cov = np.zeros((d, d))
        for start in range(0, n, rows):
            chunk = X[start:start + rows]
            scaled = sp.diags(weights[start:start + chunk.shape[0]]) @ chunk
            cov += (chunk.T @ scaled).toarray()
        second_moment = np.diag(cov).copy()
        cov -= np.outer(mean, mean)
        # X^T W X - mu mu^T cancels on a column whose mean dwarfs its spread
        # (1e4 +- 1e-2): with a second moment above 1e6 times the variance,
        # fewer than ten digits of the covariance are left.  Refuse; the
        # batch solver then runs its passes over X, whose column moments are
        # computed in two passes (no cancellation).
        if np.any(np.diag(cov) < 1e-6 * second_moment):
            return None, None
    else:
        root = np.sqrt(weights)

        def part(lo, hi):
            acc = np.zeros((d, d))
            for start in range(lo, hi, rows):
                stop = min(start + rows, hi)
                chunk = np.asarray(X[start:stop], dtype=np.float64) - mean
                chunk *= root[start:stop, None]
                acc += chunk.T @ chunk
            return acc

        cov = sum_over_row_parts(n, rows, part)
        cov = 0.5 * (cov + cov.T)  # exactly symmetric
    if not np.all(np.isfinite(cov)):
        return None, None
    return cov, mean


class WhiteningPreconditioner(Preconditioner):
    """Full-matrix preconditioner of the batch solver: whiten the features.

    With the weighted covariance ``Sigma = V diag(lam) V^T`` (uncentred second
    moment without intercept), the coordinates ``z = diag(lam)^{1/2} V^T w``
    turn ``x - mu`` into features with identity covariance, so that the
    Hessian of the squared error is the identity: correlated features no
    longer slow gradient descent down, whatever their scales.  The L2
    penalty stays separable in z (``||w||^2 = sum_j z_j^2 / lam_j``); an L1
    penalty would not, so this is used only without one.
    """

    def __init__(self, transform, eigenvalues, center):
        self.transform = transform          # T = V diag(lam)^{-1/2}: w = T z
        self.eigenvalues = eigenvalues
        self.inverse_t = np.linalg.inv(transform).T
        super().__init__(None, center, True)

    @classmethod
    def from_data(cls, X, sample_weight, fit_intercept):
        """Whitening of dense X, or None where it is not numerically sound."""
        cov, mean = centred_gram(X, sample_weight, fit_intercept)
        if cov is None:
            return None
        return cls.from_covariance(cov, mean)

    @classmethod
    def from_covariance(cls, cov, mean):
        """Whitening for a given weighted covariance (second moment) and centre."""
        if not np.all(np.isfinite(cov)):
            return None
        eigenvalues, vectors = np.linalg.eigh(cov)
        top = eigenvalues[-1]
        if not top > 0:
            return None
        eigenvalues = np.maximum(eigenvalues, _EIGENVALUE_FLOOR * top)
        return cls(vectors / np.sqrt(eigenvalues), eigenvalues, mean)

    def to_original(self, W_t, b_t):
        W = W_t @ self.transform.T
        return W, b_t - W @ self.center

    def to_standardised(self, W, b):
        return W @ self.inverse_t, b + W @ self.center

    def gradient_to_standardised(self, G, Gb):
        return (G - np.outer(Gb, self.center)) @ self.transform, Gb

    def penalty_weights(self):
        return np.zeros_like(self.eigenvalues), 1.0 / self.eigenvalues


class OutputCentring(Preconditioner):
    """A preconditioner whose intercept of output ``k`` is centred at ``C[k]``.

    ``base`` maps the features (standardising or whitening them, centred at
    the plain weighted mean); here output ``k``'s intercept in the new
    coordinates is ``b_k + W_k . C[k]``.  A logistic loss weighs row ``i``
    of output ``k`` by its curvature ``h_ik = p_ik (1 - p_ik)``: centring at
    the curvature-weighted mean ``C[k] = sum_i h_ik x_i / sum_i h_ik`` makes
    the intercept orthogonal to the features in the Hessian, which the plain
    mean does not (the rows the model is unsure of are not centred).  On
    the 10-class, 100,000 x 50 problem of ``benchmarks/time_to_solution.py``
    the condition number of the whitened Hessian at the optimum fell from
    13.4 to 3.9 (4.4 without an intercept).
    """

    def __init__(self, base, centres, intercept_sum=0.0):
        self.base, self.centres = base, centres
        # the softmax's intercepts are defined up to a common constant: the
        # iterates keep their sum (in the user's coordinates) at this value
        self.intercept_sum = intercept_sum
        super().__init__(getattr(base, "step_scale", None), None, True)

    @staticmethod
    def centres(sums, mass):
        """``sums[k] / mass[k]``: weighted means of the rows, or None where a
        weight sum vanishes (or anything overflowed)."""
        if not (np.all(mass > 0) and np.all(np.isfinite(mass))):
            return None
        centres = sums / mass[:, None]
        return centres if np.all(np.isfinite(centres)) else None

    def _features(self, W_t):
        return self.base.to_original(W_t, np.zeros(W_t.shape[0]))[0]

    def to_original(self, W_t, b_t):
        W = self._features(W_t)
        return W, b_t - np.einsum("kj,kj->k", W, self.centres)

    def to_standardised(self, W, b):
        W_t = self.base.to_standardised(W, np.zeros(W.shape[0]))[0]
        return W_t, b + np.einsum("kj,kj->k", W, self.centres)

    def gradient_to_standardised(self, G, Gb):
        shifted = G - Gb[:, None] * self.centres + np.outer(Gb, self.base.center)
        return self.base.gradient_to_standardised(shifted, Gb)

    def penalty_weights(self):
        return self.base.penalty_weights()

    def remove_softmax_gauge(self, W_t, b_t):
        """Subtract the mean over outputs of the coefficients (in the user's
        coordinates), and shift the intercepts back to their sum, which
        leaves every softmax probability unchanged.

        The softmax's loss is flat along ``W_k -> W_k + v`` for every k, a
        direction only the L2 penalty curves (by ``alpha``), and the optimum
        has ``sum_k W_k = 0``.  The plain centring keeps the iterates there
        (the loss's gradients sum to zero over the outputs); with one centre
        per output the chain rule adds ``-sum_k Gb_k C[k]`` to that sum, the
        iterates drift along the flat direction, and the fit slowed from 35
        iterations to 260.  The projection lowers the penalty and moves no
        probability.
        """
        mean_t = W_t.mean(axis=0, keepdims=True)
        W_t = W_t - mean_t
        b_t = b_t - self.centres @ self._features(mean_t)[0]
        # and the intercepts' common constant: their sum stays put (adding a
        # constant to every b_k adds it to every b~_k)
        _, b = self.to_original(W_t, b_t)
        return W_t, b_t + (self.intercept_sum - b.sum()) / b.size

    def gram_growth(self):
        """Factor by which the new centring can raise the top eigenvalue of
        the standardised Gram matrix of ``[x, 1]`` (exact for whitening).

        With ``delta`` the shift of the centre in standardised units, the
        Gram matrix of ``(z - delta, 1)`` (``E z = 0``, ``E z z^T = I``)
        differs from the identity in the plane of ``delta`` and the
        intercept, where it is ``[[1 + s^2, -s], [-s, 1]]``, ``s = |delta|``.
        """
        shift = self.centres - self.base.center
        delta = self.base.gradient_to_standardised(shift, np.zeros(shift.shape[0]))[0]
        s = float(np.sqrt(np.max(np.sum(delta * delta, axis=1), initial=0.0)))
        return 1.0 + 0.5 * s * s + s * math.sqrt(1.0 + 0.25 * s * s)


def whitened_rounding(whitening):
    """Bound on how far rounding moves the whitened Gram matrix off the identity.

    A direction of eigenvalue ``lam`` is whitened by ``lam^{-1/2}``: the
    rounding of the covariance (``~eps * lam_max``) grows to ``eps *
    lam_max / lam`` there.  Measured on a covariance of condition 4e10: the
    top eigenvalue is 1 - 1.6e-8.
    """
    spread = whitening.eigenvalues[-1] / whitening.eigenvalues[0]
    return 1e-8 + 64 * np.finfo(float).eps * spread


def batch_preconditioner(X, sample_weight, fit_intercept, whiten=False):
    """The preconditioner of the batch solver: standardise dense and sparse X.

    The batch solver never forms the standardised matrix: it maps the
    coefficients to the user's coordinates before each fused pass over X and
    the gradient back by the chain rule, so centring costs nothing and keeps
    CSR input sparse.  Sparse input is therefore standardised as well (the
    stochastic kernels, which step on rows, cannot centre it: mini-batches
    only scale its steps by feature frequency), which makes the batch
    solver's iteration count independent of
    the feature scales for both formats.  With ``whiten`` (no L1 penalty),
    dense input with at most ``WHITENING_MAX_FEATURES`` features is whitened
    (:class:`WhiteningPreconditioner`), which also removes the correlations.
    """
    if not sp.issparse(X):
        if whiten and X.shape[1] <= min(WHITENING_MAX_FEATURES, X.shape[0]):
            whitening = WhiteningPreconditioner.from_data(X, sample_weight, fit_intercept)
            if whitening is not None:
                return whitening
        return Preconditioner.from_data(X, sample_weight, fit_intercept)
    d = X.shape[1]
    mean, var = np.empty(d), np.empty(d)
    column_moments_csr(X.data, X.indices, X.indptr, sample_weight, mean, var)
    return Preconditioner.from_moments(mean, var, fit_intercept)


# For the non-smooth losses the automatic step uses this stand-in curvature
# (the size of their derivative), together with a decaying schedule.
NONSMOOTH_CURVATURE = 1.0


def loss_curvature(loss):
    """Curvature bound of the loss (a stand-in for the non-smooth ones)."""
    c = LOSSES[loss].curvature
    return NONSMOOTH_CURVATURE if c is None else c


def _norm(*parts):
    """Euclidean norm of the arrays put end to end, by scaling first.

    Gram-matrix products of features of magnitude 1e150 reach 1e300: their
    squares would overflow, their norm does not.
    """
    top = max(float(np.max(np.abs(part), initial=0.0)) for part in parts)
    if top == 0.0 or not np.isfinite(top):
        return top
    return top * float(np.sqrt(sum(np.sum((part / top) ** 2) for part in parts)))


def _usable_constant(value):
    """A smoothness constant whose inverse is a finite, positive step.

    Zero (X and the intercept column all zero: no gradient to take) or a
    subnormal value are floored at the smallest normal double, whose inverse
    is finite.  A non-finite constant means that squared norms of the rows
    overflowed: no step size can be derived, which is an error the user can
    fix, not a fit that silently makes no progress.
    """
    if not np.isfinite(value):
        raise ValueError(
            "The features are too large to derive a step size: the squared norms "
            "of the rows of X overflow float64. Scale the features (e.g. "
            "sklearn.preprocessing.StandardScaler, or MaxAbsScaler for sparse X)."
        )
    return max(float(value), np.finfo(float).tiny)


def _row_bounds(X, sample_weight, precond, fit_intercept):
    """Weighted squared row norms in standardised coordinates (+ intercept)."""
    norms = np.empty(X.shape[0])
    if sp.issparse(X) and precond.active:
        # per-feature scaling without centring (the stochastic solvers'
        # sparse preconditioner, skgd._sgd.frequency_preconditioner)
        row_sq_norms_csr(X.data, X.indices, X.indptr, norms, precond.step_scale)
    elif sp.issparse(X):
        row_sq_norms_csr(X.data, X.indices, X.indptr, norms)
    else:
        row_sq_norms_dense(X, precond.step_scale, precond.center, norms)
    relative_weight = sample_weight / sample_weight.mean()
    return relative_weight * (norms + float(fit_intercept))


def stochastic_lipschitz(X, sample_weight, precond, fit_intercept, loss, batch_size):
    """Smoothness constant of a mini-batch gradient step, ``L(b)``.

    With ``L_max`` the largest per-row constant and ``L_mean`` their mean
    (an upper bound of the full gradient's constant), the expected
    smoothness of a batch of ``b`` rows drawn without replacement from ``n``
    (Gower et al., 2019, "SGD: general analysis and improved rates") is

    .. math:: L(b) = \\frac{n - b}{b (n - 1)} L_{max} + \\frac{n (b - 1)}{b (n - 1)} L_{mean}

    which is ``L_max`` for plain SGD and ``L_mean`` for the full batch.
    """
    bounds = _row_bounds(X, sample_weight, precond, fit_intercept)
    n = bounds.shape[0]
    l_max, l_mean = float(bounds.max()), float(bounds.mean())
    b = min(batch_size, n)
    if n == 1:
        smooth = l_max
    else:
        smooth = (n - b) / (b * (n - 1)) * l_max + n * (b - 1) / (b * (n - 1)) * l_mean
    return _usable_constant(loss_curvature(loss) * smooth)


def batch_lipschitz(X, sample_weight, precond, fit_intercept, loss, n_iter=30, rtol=1e-4):
    """Largest eigenvalue of the weighted Gram matrix, by power iteration.

    Works in standardised coordinates with the intercept as one more
    coordinate; each iteration is one fused pass over X (the gradient of the
    squared loss at zero targets is the Gram matrix times the point).  The
    estimate approaches the eigenvalue from below; callers add a margin and
    a monotonicity safeguard.
    """
    n, d = X.shape
    eig = _power_iteration(X, sample_weight, precond, fit_intercept, n_iter, rtol,
                           np.ones((1, d)))
    if eig == 0.0:
        # The all-ones start can be orthogonal to every row (one row
        # [1, -1, 0]): a start in general position meets the top eigenvector
        # with probability one.  (Fixed seed: the same bits every fit.)
        start = np.random.RandomState(0).standard_normal((1, d))
        eig = _power_iteration(X, sample_weight, precond, fit_intercept, n_iter, rtol, start)
    return _usable_constant(loss_curvature(loss) * eig)


def _power_iteration(X, sample_weight, precond, fit_intercept, n_iter, rtol, v_w):
    n, d = X.shape
    kernel = _gradient_kernel(X)
    Y = np.zeros((n, 1))
    sw_sum = sample_weight.sum()
    G, Gb = np.empty((1, d)), np.empty(1)
    v_b = np.ones(1) * float(fit_intercept)
    eig = 0.0
    for _ in range(n_iter):
        norm = _norm(v_w, v_b)
        if norm == 0.0 or not np.isfinite(norm):
            break
        v_w, v_b = v_w / norm, v_b / norm
        W, b = precond.to_original(v_w, v_b)
        kernel(Y, sample_weight, W, b, W, b, G, Gb, 0, 0.0)
        h_w, h_b = precond.gradient_to_standardised(G / sw_sum, Gb / sw_sum)
        if not fit_intercept:
            h_b = np.zeros(1)
        new = _norm(h_w, h_b)
        converged = abs(new - eig) <= rtol * new
        eig, v_w, v_b = new, h_w, h_b
        if converged:
            break
    return eig


def _gradient_kernel(X):
    """Bind X to the fused gradient kernel of its format."""
    if sp.issparse(X):
        def kernel(*args):
            return gradient_csr(X.data, X.indices, X.indptr, *args)
    else:
        def kernel(*args):
            return gradient_dense(X, *args)
    return kernel
