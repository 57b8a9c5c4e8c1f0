"""Plain numpy reference of every loss, penalty and proximal operator.

The ground truth the compiled kernels and the solvers are tested against,
written independently of the package (nothing here imports skgd): the
objective reported in ``loss_curve_`` is

.. math::

    J(W, b) = \\frac{1}{\\sum_i s_i} \\sum_i s_i L(y_i, W x_i + b) + \\alpha R(W),
    \\qquad R(W) = \\rho \\|W\\|_1 + \\frac{1 - \\rho}{2} \\|W\\|_F^2 .

Targets are arrays of shape ``(n_samples, n_outputs)``: real values for the
regression losses, -1/+1 for the binary (and one-vs-rest) classification
losses, class probabilities (one-hot) for ``multinomial``.  ``LOSS_CODES``
is this module's own copy of the codes of ``skgd/_fast/_loss.pxd``;
``tests/test_extending.py`` checks that it, the enum and the package's
``skgd._losses.LOSSES`` agree.  Used by the tests and ``benchmarks/``
(which put ``tests/`` on ``sys.path``).
"""

import numpy as np
from scipy.special import expit, log_softmax, softmax

LOSS_CODES = {
    "squared_error": 0,
    "huber": 1,
    "epsilon_insensitive": 2,
    "squared_epsilon_insensitive": 3,
    "log_loss": 4,
    "hinge": 5,
    "squared_hinge": 6,
    "modified_huber": 7,
    "perceptron": 8,
    "multinomial": 9,
}
REGRESSION_LOSSES = (
    "squared_error",
    "huber",
    "epsilon_insensitive",
    "squared_epsilon_insensitive",
)
CLASSIFICATION_LOSSES = (
    "log_loss",
    "hinge",
    "squared_hinge",
    "modified_huber",
    "perceptron",
)


def loss_and_gradient(loss, Y, P, epsilon=0.1):
    """Per-row loss values and derivatives with respect to the predictions.

    Parameters
    ----------
    loss : str
        A key of ``LOSS_CODES``.
    Y : ndarray of shape (n_samples, n_outputs)
        Targets (see the module docstring for their encoding).
    P : ndarray of shape (n_samples, n_outputs)
        Raw predictions ``X @ W.T + b``.
    epsilon : float, default=0.1
        The parameter of ``huber`` and the epsilon-insensitive losses.

    Returns
    -------
    values : ndarray of shape (n_samples,)
        ``L(y_i, p_i)``, summed over the outputs.
    grad : ndarray of shape (n_samples, n_outputs)
        ``dL/dp``.
    """
    Y = np.asarray(Y, dtype=float)
    P = np.asarray(P, dtype=float)
    if loss == "multinomial":
        ysum = Y.sum(axis=1, keepdims=True)
        values = -(Y * log_softmax(P, axis=1)).sum(axis=1)
        return values, ysum * softmax(P, axis=1) - Y
    if loss in REGRESSION_LOSSES:
        r = P - Y
        a = np.abs(r) - epsilon
        if loss == "squared_error":
            values, grad = 0.5 * r**2, r
        elif loss == "huber":
            inside = np.abs(r) <= epsilon
            values = np.where(inside, 0.5 * r**2, epsilon * np.abs(r) - 0.5 * epsilon**2)
            grad = np.clip(r, -epsilon, epsilon)
        elif loss == "epsilon_insensitive":
            values = np.maximum(a, 0.0)
            grad = np.where(a > 0, np.sign(r), 0.0)
        elif loss == "squared_epsilon_insensitive":
            values = np.maximum(a, 0.0) ** 2
            grad = np.where(a > 0, 2.0 * np.sign(r) * a, 0.0)
        else:
            raise ValueError(f"Unknown loss {loss!r}.")
        return values.sum(axis=1), grad
    z = Y * P
    if loss == "log_loss":
        values = np.logaddexp(0.0, -z)
        grad = -Y * expit(-z)
    elif loss == "hinge":
        values = np.maximum(1.0 - z, 0.0)
        grad = np.where(z <= 1.0, -Y, 0.0)
    elif loss == "squared_hinge":
        values = np.maximum(1.0 - z, 0.0) ** 2
        grad = np.where(z < 1.0, -2.0 * Y * (1.0 - z), 0.0)
    elif loss == "modified_huber":
        values = np.where(z >= 1.0, 0.0, np.where(z >= -1.0, (1.0 - z) ** 2, -4.0 * z))
        grad = np.where(z >= 1.0, 0.0, np.where(z >= -1.0, -2.0 * Y * (1.0 - z), -4.0 * Y))
    elif loss == "perceptron":
        values = np.maximum(-z, 0.0)
        grad = np.where(z <= 0.0, -Y, 0.0)
    else:
        raise ValueError(f"Unknown loss {loss!r}.")
    return values.sum(axis=1), grad


def penalty_value(W, l1, l2):
    """``l1 * sum|W| + l2 / 2 * ||W||^2`` (l1 = alpha * l1_ratio, l2 = alpha - l1)."""
    W = np.asarray(W, dtype=float)
    # A term of zero strength adds exactly 0: coefficients beyond ~1e154
    # overflow W * W, and 0 * inf would make an unpenalised objective NaN.
    value = l1 * np.abs(W).sum() if l1 else 0.0
    if l2:
        value += 0.5 * l2 * np.sum(W * W)
    return value


def penalty_strengths(alpha, l1_ratio):
    """Split ``alpha * R`` into the strengths of its L1 and L2 parts."""
    return alpha * l1_ratio, alpha * (1.0 - l1_ratio)


def prox(W, step, l1, l2):
    """Proximal operator of ``step * (l1 |w| + l2 / 2 w^2)``, elementwise.

    ``step`` may be a scalar or broadcast against ``W`` (per-feature steps).
    """
    W = np.asarray(W, dtype=float)
    shrunk = np.maximum(np.abs(W) - step * l1, 0.0)
    return np.sign(W) * shrunk / (1.0 + step * l2)


def cumulative_l1(W, budget, applied):
    """The cumulative L1 penalty of Tsuruoka et al. (2009), elementwise.

    ``budget`` (``u``, broadcast against ``W``) is the sum of the L1
    thresholds ``eta * l1`` accrued so far; ``applied`` (``q``, the shape of
    ``W``, updated in place) the signed shrinkage already applied to each
    coefficient.  A positive coefficient loses at most ``u + q``, a negative
    one at most ``u - q``, and none crosses zero: a coefficient pushed off
    zero by one noisy stochastic gradient is pulled back by the thresholds
    it was spared while it sat at zero.  Returns the new coefficients.
    """
    W = np.asarray(W, dtype=float)
    new = np.where(
        W > 0,
        np.maximum(W - (budget + applied), 0.0),
        np.where(W < 0, np.minimum(W + (budget - applied), 0.0), W),
    )
    applied += new - W
    return new


def objective(X, Y, W, b, sample_weight, loss, l1, l2, epsilon=0.1):
    """The objective ``J(W, b)`` of the module docstring."""
    P = X @ np.asarray(W).T + b
    values, _ = loss_and_gradient(loss, Y, P, epsilon)
    sample_weight = np.asarray(sample_weight, dtype=float)
    data_term = sample_weight @ values / sample_weight.sum()
    return data_term + penalty_value(W, l1, l2)


def data_gradient(X, Y, W, b, sample_weight, loss, epsilon=0.1):
    """Gradient of the data term: ``(G, Gb)`` of shapes (K, d) and (K,)."""
    P = X @ np.asarray(W).T + b
    _, grad = loss_and_gradient(loss, Y, P, epsilon)
    weighted = grad * (np.asarray(sample_weight, dtype=float) / np.sum(sample_weight))[:, None]
    return np.asarray(X.T @ weighted).T, weighted.sum(axis=0)


def reference_epoch(
    X,
    Y,
    sample_weight,
    order,
    W,
    b,
    *,
    loss,
    epsilon,
    batch_size,
    fit_intercept,
    l1,
    l2,
    etas,
    momentum=0.0,
    nesterov=False,
    velocity=None,
    velocity_b=None,
    step_scale=None,
    center=None,
):
    """Replay one stochastic epoch exactly as the compiled kernel defines it.

    Each update takes the rows ``order[start:start + batch_size]``, computes
    their loss derivatives at the current point (the Nesterov look-ahead
    point with ``nesterov``), and takes the gradient step
    ``W <- W - eta * mean_i (s_i / mean(s)) g_i x_i`` (through the velocity
    with momentum), then the penalty: the cumulative L1 penalty
    (:func:`cumulative_l1`, its budget and applied shrinkage starting at zero
    with the epoch) and the L2 prox, division by ``1 + eta * l2``, which
    also shrinks the L1 budget and applied shrinkage.  With a preconditioner
    the step on feature j is
    multiplied by ``step_scale[j]`` and taken on the centred feature
    ``x_j - center[j]``, and the intercept moves so that the intercept of the
    standardised problem is the one being updated.

    Parameters
    ----------
    etas : sequence of float
        The step size of every update of the epoch, in order.

    Returns
    -------
    W, b : the coefficients after the epoch (new arrays).
    velocity, velocity_b : the momentum buffers after the epoch.
    """
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    X = X.astype(float)
    W = np.array(W, dtype=float)
    b = np.array(b, dtype=float)
    sample_weight = np.asarray(sample_weight, dtype=float)
    K, d = W.shape
    velocity = np.zeros((K, d)) if velocity is None else np.array(velocity, dtype=float)
    velocity_b = np.zeros(K) if velocity_b is None else np.array(velocity_b, dtype=float)
    scaled = step_scale is not None
    step_scale = np.ones(d) if step_scale is None else np.asarray(step_scale, float)
    center = np.zeros(d) if center is None else np.asarray(center, float)
    centred = scaled and fit_intercept
    weight_scale = 1.0 / sample_weight.mean()
    budget, applied = np.zeros(d), np.zeros((K, d))  # cumulative L1: u and q
    starts = range(0, len(order), batch_size)
    for eta, start in zip(etas, starts):
        rows = np.asarray(order[start : start + batch_size])
        Xb = X[rows]
        W_eval, b_eval = W, b
        if momentum > 0 and nesterov:
            W_eval, b_eval = W + momentum * velocity, b + momentum * velocity_b
        _, grad = loss_and_gradient(loss, Y[rows], Xb @ W_eval.T + b_eval, epsilon)
        grad *= (sample_weight[rows] * weight_scale / len(rows))[:, None]
        Xc = Xb - center if centred else Xb
        step_W = (grad.T @ Xc) * step_scale
        if centred:
            center_dot = Xb @ (step_scale * center) - np.sum(step_scale * center**2)
            step_b = grad.T @ (1.0 - center_dot)
        else:
            step_b = grad.sum(axis=0)
        if momentum > 0:
            velocity = momentum * velocity - eta * step_W
            W = W + velocity
            if fit_intercept:
                velocity_b = momentum * velocity_b - eta * step_b
                b = b + velocity_b
        else:
            W = W - eta * step_W
            if fit_intercept:
                b = b - eta * step_b
        if l1 > 0 or l2 > 0:
            steps = eta * step_scale
            shrink = 1.0 + steps * l2
            budget = budget + steps * l1
            W_new = cumulative_l1(W, budget, applied) if l1 > 0 else W
            W_new = W_new / shrink
            applied, budget = applied / shrink, budget / shrink
            if centred:
                b = b - (W_new - W) @ center
            W = W_new
    return W, b, velocity, velocity_b
