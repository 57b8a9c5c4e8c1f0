"""The penalty of skgd: the elastic net as one small object.

.. math::

    \\alpha R(W) = l_1 \\|W\\|_1 + \\frac{l_2}{2} \\|W\\|_F^2,
    \\qquad l_1 = \\alpha \\rho, \\quad l_2 = \\alpha (1 - \\rho).

The solvers ask this object for the penalty's value, its proximal operator,
its convex conjugate (the duality gaps) and its properties (``smooth``,
``rotation_invariant``) instead of testing the strengths themselves.  The
strengths may be scalars or per-coordinate arrays (the batch solver's
preconditioned coordinates weight them feature by feature).

The stochastic kernels apply the same penalty in C (``skgd/_fast``): the L2
part as a lazy scale, the L1 part as Tsuruoka et al.'s cumulative penalty.
"""

from dataclasses import dataclass

import numpy as np


def soft_threshold(v, t):
    """``sign(v) max(|v| - t, 0)``, the prox of ``t |.|_1`` (``v`` itself at t = 0)."""
    return np.sign(v) * np.maximum(np.abs(v) - t, 0.0) if t else v


@dataclass(frozen=True)
class ElasticNet:
    """``l1 * sum|W| + l2 / 2 * ||W||^2``.

    Parameters
    ----------
    l1, l2 : float or ndarray
        Strengths of the L1 and L2 parts (arrays broadcast against the
        coefficients, per feature).
    """

    l1: object = 0.0
    l2: object = 0.0

    @classmethod
    def from_alpha(cls, alpha, l1_ratio):
        """Split ``alpha * R`` with mixing ``l1_ratio`` into its two strengths."""
        return cls(alpha * l1_ratio, alpha * (1.0 - l1_ratio))

    @property
    def strengths(self):
        """``(l1, l2)``."""
        return self.l1, self.l2

    @property
    def active(self):
        """Whether there is any penalty at all."""
        return bool(np.any(self.l1 > 0) or np.any(self.l2 > 0))

    @property
    def smooth(self):
        """No L1 part: the penalty is differentiable everywhere."""
        return not np.any(self.l1 != 0)

    @property
    def rotation_invariant(self):
        """No L1 part: ``||W||^2`` is unchanged by an orthogonal change of
        coordinates, so a whitening preconditioner keeps the prox a
        coordinate-wise division (L1 is tied to the feature axes)."""
        return self.smooth

    def value(self, W):
        """``l1 * sum|W| + l2 / 2 * ||W||^2`` (scalar strengths)."""
        W = np.asarray(W, dtype=float)
        # A term of zero strength adds exactly 0: coefficients beyond ~1e154
        # overflow W * W, and 0 * inf would make an unpenalised objective NaN.
        value = self.l1 * np.abs(W).sum() if self.l1 else 0.0
        if self.l2:
            value += 0.5 * self.l2 * np.sum(W * W)
        return value

    def prox(self, W, step):
        """Proximal operator of ``step * (l1 |w| + l2 / 2 w^2)``, elementwise.

        A soft-threshold by ``step * l1``, then a shrink by ``1 + step * l2``.
        ``step`` may be a scalar or broadcast against ``W``.
        """
        W = np.asarray(W, dtype=float)
        shrunk = np.maximum(np.abs(W) - step * self.l1, 0.0)
        return np.sign(W) * shrunk / (1.0 + step * self.l2)

    def conjugate(self, V):
        """``R*(V)`` for ``l2 > 0``: a finite quadratic beyond the L1 kink.

        ``sup_W <V, W> - l1 |W|_1 - l2 / 2 |W|^2 = sum (|V| - l1)_+^2 / (2 l2)``.
        """
        excess = np.maximum(np.abs(V) - self.l1, 0.0)
        return float(np.sum(excess * excess)) / (2.0 * self.l2)

    def weighted(self, l1_weights, l2_weights):
        """The same penalty with per-coordinate strengths ``l1 * l1_weights``...

        A zero strength stays no penalty even where a weight overflowed (1 /
        the whitened eigenvalue of a ~1e-150 feature is inf, and 0 * inf is
        NaN).
        """
        l1 = self.l1 * l1_weights if self.l1 else np.zeros_like(l1_weights)
        l2 = self.l2 * l2_weights if self.l2 else np.zeros_like(l2_weights)
        return ElasticNet(l1, l2)
