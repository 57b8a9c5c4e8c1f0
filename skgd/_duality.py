"""A certified bound on the distance to the optimum: the duality gap.

For the objective of ``skgd._solvers.Problem`` with a smooth loss,

.. math::

    P(W, b) = \\frac{1}{S} \\sum_i s_i f_i(W x_i + b) + R(W), \\qquad
    f_i(p) = L(y_i, p), \\quad S = \\sum_i s_i ,

Fenchel duality gives, for every dual point :math:`\\theta` (one K-vector per
sample) with :math:`\\sum_i s_i \\theta_i = 0` (the intercept's constraint),

.. math::

    P^* \\ge D(\\theta) = -\\frac{1}{S} \\sum_i s_i f_i^*(\\theta_i)
    - R^*\\Big(-\\frac{1}{S} \\sum_i s_i \\theta_i x_i^T\\Big),
    \\qquad R^*(V) = \\sum_{kj} \\frac{(|V_{kj}| - \\ell_1)_+^2}{2 \\ell_2},

so that :math:`P(W, b) - P^* \\le P(W, b) - D(\\theta)`: the *duality gap*
bounds the objective gap, and tends to zero at the optimum for the dual
point built from the loss derivatives :math:`\\theta_i = f_i'(W x_i + b)`.
That point needs no conjugate function: by the Fenchel-Young equality
:math:`f_i^*(\\theta_i) = \\theta_i \\cdot p_i - f_i(p_i)`.  It is made
feasible by scaling samples by factors :math:`\\rho_i \\in [0, 1]`, for which
convexity and :math:`f_i^*(0) = -\\inf f_i = 0` (true of every smooth loss of
skgd, and of the multinomial loss on one-hot targets) give
:math:`f_i^*(\\rho_i \\theta_i) \\le \\rho_i f_i^*(\\theta_i)`:

* with an intercept, the samples are grouped (by the sign of
  :math:`\\theta_{ik}` for a loss that is a sum over the outputs, by class for
  the multinomial loss) and one factor per group and output is chosen so that
  :math:`\\sum_i s_i \\rho_i \\theta_i = 0` (for the multinomial loss, the
  positive null vector of the K x K matrix of group sums, a Markov
  generator);
* without an L2 part (:math:`R^*` is then the indicator of
  :math:`\\|V\\|_\\infty \\le \\ell_1`), every factor is further multiplied by
  :math:`\\min(1, \\ell_1 / \\|V\\|_\\infty)`.

The gap costs one pass over X (two for the multinomial loss with more than
``MAX_GROUPS`` classes, whose per-class gradient sums are not kept).
Without any penalty the dual is feasible only at the optimum itself: no
bound is returned (``inf``).
"""

import numpy as np
import scipy.sparse as sp

from ._fast._duality import dual_pass_csr, dual_pass_dense

# A group-factor vector whose smallest entry is below this (relative to the
# largest) is taken as having a zero there: the rounding of the null vector.
_NULL_VECTOR_RTOL = 1e-12
# Gradient sums kept per group in one pass for at most this many groups (the
# multinomial loss has one group per class).
MAX_GROUPS = 8


def _dual_pass(problem, W, b, rho, G, T, A):
    X = problem.X
    args = (
        problem.Y,
        problem.sample_weight,
        W,
        b,
        problem.loss_code,
        problem.epsilon,
        rho,
        G,
        T,
        A,
    )
    if sp.issparse(X):
        return dual_pass_csr(X.data, X.indices, X.indptr, *args)
    return dual_pass_dense(X, *args)


def _group_factors(T, multinomial, fit_intercept):
    """Factors rho[g, k] in [0, 1] with sum_g rho[g, k] T[g, k] = 0, or None."""
    n_groups, K = T.shape
    rho = np.ones((n_groups, K))
    if not fit_intercept:
        return rho
    if not multinomial:
        positive, negative = T[0], -T[1]
        excess = positive - negative
        with np.errstate(divide="ignore", invalid="ignore"):
            rho[0] = np.where(excess > 0, negative / positive, 1.0)
            rho[1] = np.where(excess < 0, positive / negative, 1.0)
        return rho
    # M[k, c] = T[c, k]: columns sum to zero, off-diagonal >= 0.  Its null
    # vector is the stationary distribution of the Markov chain it generates.
    _, singular, vt = np.linalg.svd(T.T)
    pi = vt[-1]
    pi = pi * np.sign(pi[np.argmax(np.abs(pi))])
    top = pi.max()
    if not top > 0 or pi.min() < -_NULL_VECTOR_RTOL * top:
        return None
    pi = np.clip(pi, 0.0, None) / top
    return np.repeat(pi[:, None], K, axis=1)


def duality_gap(problem, W, b):
    """Return ``(gap, primal)`` at the coefficients (W, b) in user coordinates.

    ``gap >= P(W, b) - P*`` (up to rounding); ``inf`` where no bound is
    available (no penalty, or a degenerate multinomial group).
    """
    K, d = W.shape
    multinomial = problem.loss == "multinomial"
    n_groups = K if multinomial else 2
    # the per-group gradient sums take n_groups * K * d doubles: O(K d) up to
    # MAX_GROUPS groups, beyond which a second pass weights the gradient
    per_group = n_groups <= MAX_GROUPS
    G = np.empty((n_groups if per_group else 0, K, d))
    T, A = np.empty((n_groups, K)), np.empty((n_groups, K))
    ones = np.ones((n_groups, K))
    loss_sum = _dual_pass(problem, W, b, ones, G, T, A)
    total = float(problem.sample_weight.sum())
    primal = loss_sum / total + problem.penalty.value(W)
    rho = _group_factors(T, multinomial, problem.fit_intercept)
    if rho is None or not problem.penalty.active:
        return np.inf, primal
    if per_group:
        V = -np.einsum("gk,gkd->kd", rho, G) / total
    else:
        G1 = np.empty((1, K, d))
        _dual_pass(problem, W, b, rho, G1, np.empty_like(T), np.empty_like(A))
        V = -G1[0] / total
    fenchel = float(np.sum(rho * A)) / total  # sum_i s_i rho_i f_i*(theta_i) / S
    if problem.l2 > 0:
        dual = -fenchel - problem.penalty.conjugate(V)
    else:
        top = float(np.max(np.abs(V), initial=0.0))
        c = 1.0 if top <= problem.l1 else problem.l1 / top
        dual = -c * fenchel
    return max(primal - dual, 0.0), primal
