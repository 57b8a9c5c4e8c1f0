"""Duality gaps: a certified bound on ``J(W, b) - J*`` for the batch solver.

The objective of ``skgd._solvers.Problem``, with ``w_i = s_i / sum(s)``,

.. math::

    P(W, b) = \\sum_i w_i f_i(W x_i + b) + R(W), \\qquad
    R(W) = l_1 \\|W\\|_1 + \\frac{l_2}{2} \\|W\\|_F^2,

has the Fenchel dual (one dual vector ``u_i`` per row, the intercept adding
the constraint ``sum_i w_i u_i = 0``)

.. math::

    D(u) = -\\sum_i w_i f_i^*(u_i) - R^*\\Big(-\\sum_i w_i u_i x_i^T\\Big),
    \\qquad P(W, b) - J^* \\le P(W, b) - D(u) \\text{ for every feasible } u .

The dual point is built from one fused gradient pass, as scikit-learn's
Lasso builds it from the residual: ``u_i = f_i'(W x_i + b)`` (so that the
pass's gradient is ``G = sum_i w_i u_i x_i^T``), made feasible by

* the **intercept**: a shift of the residuals (squared error) or a mixture
  of the class probabilities with a fixed distribution (logistic,
  multinomial), which keeps ``u`` in the domain of ``f^*``;
* the **L1 penalty without L2** (``R^*`` is the indicator of
  ``||V||_inf <= l_1``): a scaling of ``u`` by ``min(1, l_1 / ||G||_inf)``.

For the logistic losses the intercept's feasibility step (a mixture of the
probabilities) is bounded by convexity below, which loses ``t sum_i w_i
KL(pi || p_i)``: first order in ``t``, that is in the intercept's gradient,
where the rest of the gap is second order.  In memory the batch solver's
pass also keeps each row's derivative ``u_i`` (n x K), and near the stop the
mixture's ``f^*`` is summed exactly (on a dask collection one more pass over
the blocks, where they live, recomputes them: ``DualityGap.rows_mixture``): on the multinomial problem of
``benchmarks/time_to_solution.py`` the certified stop came after 35
iterations instead of 70 (the true gap was below 1e-10 after about 30).

``sum_i w_i f_i^*(u_i)`` needs no second pass: by the Fenchel-Young equality
at ``u_i = f_i'(z_i)`` it is ``<G, W> + <G_b, b> - sum_i w_i f_i(z_i)``, and
the feasibility steps above change it by amounts computed from the class
(or target) sums, or bound it from above by convexity of ``f^*`` -- which
keeps ``D`` a valid lower bound of ``J*``.  Both vanish at the optimum, where
the gap is zero.

For the margin losses ``squared_hinge`` and ``modified_huber`` (one binary
output per class) ``u_i = -y_i a_i`` with ``a_i = |u_i| >= 0`` and ``f^*(u_i)
= a_i^2 / 4 - a_i`` (``skgd._losses.MARGIN_CAP``): the sums are exact from
each row's ``a`` (the pass's ``per_sample``; on a dask collection one
more pass over the blocks, ``DualityGap.rows_margin``).  Their intercept's feasibility
scales the ``a`` of the class with the larger sum ``sum_i w_i a_i`` down to
the other's: the rows that carry no loss stay at ``a = 0`` (a mixture like
the logistic one would lift them off it, which costs first order in the
intercept's gradient), and with the exact sums the gap is second order
again.  That class's share of the gradient costs one more product with X.

Supported: ``squared_error``, binary ``log_loss``, ``multinomial``,
``squared_hinge`` and ``modified_huber`` with ``l1 + l2 > 0``; elsewhere ``DualityGap.for_problem``
returns None and the solver falls back to its optimality rule.
"""

import numpy as np
from scipy.special import expit, logsumexp

from ._fast._duality import binary_mixture_entropy, multinomial_mixture_entropy
from ._losses import MARGIN_CAP


# p log p with 0 log 0 = 0
def _xlogx(p):
    p = np.asarray(p, dtype=float)
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)


# The exact intercept correction is summed (n K logarithms) once the tangent
# bound says the gap could be within this factor of the stopping target.
# Binary: not only at the stop, the exact values also tighten the aggregate
# dual point of later passes (200,000 x 100, unscaled, accelerated steps: 16
# iterations at 1 and 1e3, 13 at 1e4 and summing at every pass).  The
# softmax's sums cost K times more and measured no such gain (10 classes,
# 100,000 x 50: 18 iterations from 1 to 1e8), so only where they may stop
# the fit (seven sums less: 0.39 -> 0.36 s).
_EXACT_REACH = {"log_loss": 1e4, "multinomial": 1.0}


class DualityGap:
    """Dual values at the points of the batch solver's gradient passes.

    Parameters
    ----------
    problem : skgd._solver_common.Problem
    feature_mean : ndarray of shape (n_features,)
        ``sum_i w_i x_i`` (the weighted column means).
    target_sums : ndarray of shape (n_outputs, n_features) or None
        ``sum_i w_i y_i x_i^T`` over the targets' encoding (one-hot for the
        multinomial loss, the positive class for the binary log-loss); None
        for the squared error, which does not need it.
    """

    def __init__(self, problem, feature_mean, target_sums=None):
        self.loss = problem.loss
        self.penalty = problem.penalty
        self.l1, self.l2 = problem.l1, problem.l2
        self.fit_intercept = problem.fit_intercept
        weights = problem.sample_weight / problem.sample_weight.sum()
        self.mean = feature_mean
        self.target_sums = target_sums
        self._aggregate = None  # (c, G) of the combined dual point (L2 only)
        # Where the rows are not in memory (dask): a callable summing the
        # intercept mixture's f* over them at (W, b), see _rows_sum
        self.rows_mixture = None
        # There, for the margin losses: a callable returning their class sums
        # and the positive class's gradient at (W, b) (see _margin_sums)
        self.rows_margin = None
        self.weights = weights
        self.Y = problem.Y if self.loss == "multinomial" else None
        self.positive = problem.Y[:, 0] > 0 if self.loss == "log_loss" else None
        if self.loss in MARGIN_CAP:
            self.positive = problem.Y > 0  # (n, K): each output's classes
            self.weighted_sums = problem.weighted_sums  # sum_i w_i T_i x_i^T
        if self.loss == "squared_error":
            self.target_mean = weights @ problem.Y
        elif self.loss == "log_loss":
            positive = problem.Y[:, 0] > 0
            self.class_weight = np.array([weights[positive].sum(), weights[~positive].sum()])
        else:
            self.target_mean = weights @ problem.Y  # class frequencies

    @classmethod
    def for_problem(cls, problem, feature_mean=None):
        """The certificate of ``problem``, or None where none is cheap."""
        if not problem.penalty.active:
            return None
        if problem.loss in MARGIN_CAP:
            # the dual point is built from the rows' derivatives (the pass's
            # per_sample in memory; on dask, rows_margin sums it)
            return cls(problem, problem.weighted_sums(np.ones((problem.n_samples, 1)))[0]
                       if feature_mean is None else feature_mean)
        if problem.loss not in ("squared_error", "log_loss", "multinomial"):
            return None
        if problem.loss == "log_loss" and problem.n_outputs != 1:
            return None
        columns = [] if feature_mean is not None else [np.ones((problem.n_samples, 1))]
        if problem.loss == "multinomial":
            columns.append(problem.Y)
        elif problem.loss == "log_loss":
            columns.append(problem.Y > 0)
        # the means and the class sums in one pass
        sums = problem.weighted_sums(np.hstack(columns)) if columns else None
        if feature_mean is None:
            feature_mean, sums = sums[0], sums[1:]
        return cls(problem, feature_mean, sums if problem.loss != "squared_error" else None)

    def constant_model(self, b, per_sample=None):
        """The data term's mean gradient ``(G, Gb)`` and value at ``W = 0``.

        Every row's margin is then ``b``: its loss derivative depends on its
        class only, so the gradient is a combination of the class sums this
        certificate's pass took, and the first pass of a fit from the
        constant model is saved.  ``per_sample`` (optional) receives each
        row's derivative.  None for the squared error.
        """
        if self.loss == "log_loss":
            n_plus, n_minus = self.class_weight
            margin = float(b[0])
            # the derivative of log(1 + exp(-y z)) is -y sigma(-y z)
            on_plus, on_minus = -expit(-margin), expit(margin)
            plus = self.target_sums[0]
            G = (on_plus * plus + on_minus * (self.mean - plus))[None, :]
            Gb = np.array([on_plus * n_plus + on_minus * n_minus])
            data = n_plus * np.logaddexp(0.0, -margin) + n_minus * np.logaddexp(0.0, margin)
            if per_sample is not None:
                per_sample[:, 0] = np.where(self.positive, on_plus, on_minus)
            return G, Gb, float(data)
        if self.loss == "multinomial":
            log_p = b - logsumexp(b)
            p = np.exp(log_p)
            G = np.outer(p, self.mean) - self.target_sums
            if per_sample is not None:
                np.subtract(p, self.Y, out=per_sample)
            return G, p - self.target_mean, -float(self.target_mean @ log_p)
        return None

    def dual(self, W, b, G, Gb, data_term, per_sample=None, primal=None, target=None):
        """A lower bound of ``J*`` from the pass at (W, b).

        ``G, Gb`` are the mean gradient of the data term at (W, b) and
        ``data_term`` its value there.  ``per_sample`` (optional, shape
        (n_samples, n_outputs)) holds each row's loss derivative ``u_i``
        from the same pass: with it, the logistic losses' intercept
        correction can be summed exactly instead of bounded by convexity
        (n K logarithms).  Given the objective ``primal`` and the relative
        gap ``target`` of the stopping rule, that sum is only taken near the
        stop: when the bound does not certify ``target`` but the tangent of
        the exact sum (a bound from the other side) comes within
        ``_EXACT_REACH`` times it (a factor per loss).
        """
        W = np.asarray(W, dtype=float)
        # sum_i w_i f*(u_i) by the Fenchel-Young equality
        conj = float(np.sum(G * W) + np.dot(Gb, b)) - data_term
        exact = None
        if self.loss == "squared_error":
            conj, G = self._squared_intercept(conj, data_term, G, Gb)
        elif self.loss in MARGIN_CAP:
            if per_sample is None and self.rows_margin is None:
                return -np.inf
            conj, G = self._margin_intercept(W, b, G, Gb, per_sample)
        elif self.loss == "log_loss":
            conj, G, exact = self._binary_intercept(conj, G, Gb, W, b, per_sample)
        else:
            conj, G, exact = self._multinomial_intercept(conj, G, Gb, W, b, per_sample)
        if not np.isfinite(conj):
            return -np.inf
        if exact is not None:
            tangent, exact_sum = exact
            if primal is None:
                conj = exact_sum()
            else:
                limit = target * abs(primal)
                bounded = primal - self._value(conj, G, commit=False)
                hopeful = primal - self._value(min(tangent, conj), G, commit=False)
                # near the stop the exact sums also feed the aggregate dual
                # point of later passes (_aggregated): taken from
                # _EXACT_REACH times the target on
                if bounded > limit and hopeful <= _EXACT_REACH[self.loss] * limit:
                    conj = min(exact_sum(), conj)
        return self._value(conj, G, commit=True)

    def _value(self, conj, G, commit):
        """``D`` from ``sum_i w_i f*(u_i)`` and the gradient of the dual point."""
        if self.l2 > 0 and self.l1 == 0:
            return self._aggregated(-conj, G, commit)
        if self.l2 > 0:
            return -conj - self.penalty.conjugate(G)
        # Only L1: scale u into the dual-feasible box ||G||_inf <= l1.
        top = float(np.max(np.abs(G), initial=0.0))
        scale = 1.0 if top <= self.l1 else self.l1 / top
        if self.loss == "squared_error":
            # f*(s u) = s^2 u^2 / 2 + s u y: the two sums kept apart
            quad, lin = self._squared_parts
            return -(scale * scale * quad + scale * lin)
        if self.loss in MARGIN_CAP:
            # f*(-y s a) = s^2 a^2 / 4 - s a (s a stays within the cap)
            linear, square = self._margin_parts
            return -(scale * scale * square / 4.0 - scale * linear)
        # f* convex with f*(0 residual) = 0: f*(s u) <= s f*(u)
        return -scale * conj

    def _aggregated(self, value, G, commit=True):
        """The best dual value on the segment from the aggregate to this point.

        With only an L2 penalty, ``D(u) = -sum_i w_i f*(u_i) - ||G(u)||^2 /
        (2 l2)``.  Both points are feasible, so every convex combination is;
        ``f*`` is convex and ``G`` linear in ``u``, so the combination with
        weight ``lam`` has a dual value of at least ``(1 - lam) c_a + lam
        c_b - ||(1 - lam) G_a + lam G_b||^2 / (2 l2)`` (``c = -sum w f*``),
        a concave quadratic in ``lam`` maximised in closed form.  The
        gradients of successive iterates oscillate around ``-l2 W*``: their
        combination cancels much of it, which tightens the certificate.
        """
        aggregate = (value, G)
        if self._aggregate is not None:
            c_a, G_a = self._aggregate
            delta = G - G_a
            norm2 = float(np.sum(delta * delta))
            lam = 1.0
            if norm2 > 0:
                lam = ((value - c_a) * self.l2 - float(np.sum(G_a * delta))) / norm2
                lam = min(max(lam, 0.0), 1.0)
            aggregate = ((1 - lam) * c_a + lam * value, G_a + lam * delta)
        if commit:
            self._aggregate = aggregate
        c, G = aggregate
        return c - float(np.sum(G * G)) / (2.0 * self.l2)

    # --- feasibility for the intercept: sum_i w_i u_i = 0 -------------------
    def _squared_intercept(self, conj, data_term, G, Gb):
        # f*(u) = u^2 / 2 + u y; shifting u by its mean c keeps it finite:
        # sum w f*(u - c) = sum w f*(u) - c^2 / 2 - c ybar (per output).
        c = Gb if self.fit_intercept else np.zeros_like(Gb)
        quad = data_term - 0.5 * float(c @ c)
        # sum w (u - c) y = sum w u y - c ybar, with sum w u y = conj - data_term
        lin = conj - data_term - float(c @ self.target_mean)
        self._squared_parts = (quad, lin)
        return quad + lin, G - np.outer(c, self.mean)

    def _margin_sums(self, u, with_gradient):
        """The margin losses' class sums from the rows' derivatives ``u``
        (n, K): per output ``(A_+, A_-, Q_+, Q_-)``, ``A_c = sum over class
        c of w a`` and ``Q_c`` the same of ``w a^2`` (``a = |u|``), and the
        positive class's share of the gradient (one product with X) if
        ``with_gradient``."""
        a = np.abs(u)
        wa = self.weights[:, None] * a
        wq = wa * a
        a_plus = np.where(self.positive, wa, 0.0).sum(axis=0)
        q_plus = np.where(self.positive, wq, 0.0).sum(axis=0)
        sums = (a_plus, wa.sum(axis=0) - a_plus, q_plus, wq.sum(axis=0) - q_plus)
        G_plus = self.weighted_sums(np.where(self.positive, u, 0.0)) if with_gradient else None
        return sums, G_plus

    def _margin_intercept(self, W, b, G, Gb, u):
        """``(sum_i w_i f*(u'_i), G(u'))`` for the margin losses, ``u'`` the
        rows' derivatives ``u`` (None: summed where the rows are, by
        ``rows_margin``) with the larger class's scaled so that ``sum_i w_i
        u'_i = 0`` per output (with an intercept)."""
        balance = self.fit_intercept and np.any(Gb != 0)
        if u is None:
            (a_plus, a_minus, q_plus, q_minus), G_plus = self.rows_margin(W, b)
        else:
            (a_plus, a_minus, q_plus, q_minus), G_plus = self._margin_sums(u, balance)
        rho_plus = rho_minus = np.ones_like(a_plus)
        if balance:
            # per output Gb = A_- - A_+: the larger sum is scaled to the other
            with np.errstate(divide="ignore", invalid="ignore"):
                rho_plus = np.where(a_plus > a_minus, a_minus / a_plus, 1.0)
                rho_minus = np.where(a_minus > a_plus, a_plus / a_minus, 1.0)
            G = rho_plus[:, None] * G_plus + rho_minus[:, None] * (G - G_plus)
        linear = float(np.sum(rho_plus * a_plus + rho_minus * a_minus))
        square = float(np.sum(rho_plus**2 * q_plus + rho_minus**2 * q_minus))
        self._margin_parts = (linear, square)
        return square / 4.0 - linear, G

    def _binary_intercept(self, conj, G, Gb, W, b, per_sample=None):
        # u_i = -y_i p_i, p_i in [0, 1], f*(u) = p log p + (1 - p) log(1 - p).
        # sum w u = A_minus - A_plus, A_c = sum over class c of w p.  A
        # mixture p' = (1 - t) p + t pi_c (pi = 1 on the class with the
        # smaller sum, 0 on the other) balances them; by convexity
        # sum w f*(u') <= (1 - t) sum w f*(u) (f* vanishes at p = 0, 1).
        # That bound loses t * sum w KL(pi || p_i), first order in t (so in
        # the intercept's gradient); with the rows' u the mixture's f* is
        # summed exactly, and the gap is second order again.
        if not self.fit_intercept or Gb[0] == 0.0:
            return conj, G, None
        excess = float(Gb[0])  # = A_minus - A_plus
        n_plus, n_minus = self.class_weight
        plus_sum = self.target_sums[0]
        G_u = G
        if excess > 0:  # raise the positive class: pi_plus = 1
            t = excess / (excess + n_plus)
            G = (1 - t) * G - t * plus_sum
            # sum over the raised rows of w y z (z = x W + b)
            raised_margin = float(W[0] @ plus_sum + b[0] * n_plus)
        else:
            t = -excess / (-excess + n_minus)
            G = (1 - t) * G + t * (self.mean - plus_sum)
            raised_margin = -float(W[0] @ (self.mean - plus_sum) + b[0] * n_minus)
        if per_sample is None and self.rows_mixture is None:
            return (1 - t) * conj, G, None
        # phi(t) = sum w f*(p'), convex: phi(t) >= phi(0) + t phi'(0) with
        # phi'(0) = -sum w (r_i - p_i) y_i z_i (log(p / (1 - p)) = -y z)
        # = -raised_margin - (<G, W> + Gb b) (u = -y p)
        slope = -raised_margin - float(np.sum(G_u * W) + Gb[0] * b[0])
        tangent = conj + t * slope

        def exact_sum():
            # p = -y u = |u|, raised by t on the rows of the raised class
            if per_sample is None:
                return self.rows_mixture(W, b, t, raise_positive=excess > 0)
            raised = self.positive if excess > 0 else ~self.positive
            return binary_mixture_entropy(per_sample, raised.view(np.uint8), self.weights, t)
        return (1 - t) * conj, G, (tangent, exact_sum)

    def _multinomial_intercept(self, conj, G, Gb, W, b, per_sample=None):
        # u_i = q_i - Y_i, q_i on the simplex, f*(u) = sum_k q_k log q_k.
        # The mixture q' = (1 - t) q + t pi with pi = (c - (1 - t) Q) / t
        # (Q = sum w q, c the class frequencies) has sum w q' = c; the
        # smallest t keeping pi >= 0 is max_k (1 - c_k / Q_k).
        if not self.fit_intercept:
            return conj, G, None
        c = self.target_mean
        Q = Gb + c
        with np.errstate(divide="ignore", invalid="ignore"):
            t = float(np.max(np.where(Q > c, 1.0 - c / Q, 0.0), initial=0.0))
        if t <= 0.0:
            return conj, G, None
        pi = np.maximum((c - (1 - t) * Q) / t, 0.0)
        bounded = (1 - t) * conj + t * float(np.sum(_xlogx(pi)))
        G_u = G
        G = (1 - t) * G - t * self.target_sums + t * np.outer(pi, self.mean)
        if per_sample is None and self.rows_mixture is None:
            return bounded, G, None
        # the tangent of phi(t) = sum w f*(q'): phi'(0) = sum_i w_i sum_k
        # (pi_k - q_ik) z_ik (log q = z - logsumexp z), from the sums of
        # the pass: sum_i w z_ik = W_k mu + b_k and sum_i w q_ik z_ik =
        # W_k (G_k + T_k) + b_k Q_k
        slope = float(pi @ (W @ self.mean + b)) - float(
            np.sum(W * (G_u + self.target_sums)) + b @ Q)
        tangent = conj + t * slope

        def exact_sum():  # q_i = u_i + Y_i
            if per_sample is None:
                return self.rows_mixture(W, b, t, pi=pi)
            return multinomial_mixture_entropy(per_sample, self.Y, self.weights, t, pi)
        return bounded, G, (tangent, exact_sum)
