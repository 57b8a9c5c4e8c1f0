"""Numpy replay of the SAGA epochs, kept apart from the kernels it checks.

The update is written in the standardised coordinates themselves
(``X~ = (X - center) * sqrt(step_scale)``, formed explicitly), with the
eager proximal step on every coefficient at every update; the kernels
instead work in the user's coordinates without forming X~ and defer the
dense part of the steps on sparse rows.  Both must give the same iterates.
"""

import numpy as np
from reference import loss_and_gradient


def _prox(Z, step, l1, l2):
    return np.sign(Z) * np.maximum(np.abs(Z) - step * l1, 0.0) / (1.0 + step * l2)


def saga_reference(
    X,
    Y,
    sample_weight,
    orders,
    W,
    b,
    *,
    step,
    l1,
    l2,
    loss,
    epsilon,
    fit_intercept,
    step_scale=None,
    center=None,
):
    """Run SAGA epochs (one per entry of ``orders``) from (W, b); return (W, b).

    The table starts at the gradients of every sample at (W, b).
    """
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    X = X.astype(float)
    n, d = X.shape
    root = np.ones(d) if step_scale is None else np.sqrt(step_scale)
    center = np.zeros(d) if center is None else np.asarray(center, float)
    Xt = (X - center) * root
    Wt = np.asarray(W, float) / root
    bt = np.asarray(b, float) + np.asarray(W, float) @ center
    # the penalty of w = root * w~ in the standardised coordinates
    l1_t, l2_t = l1 * root, l2 * root**2
    relative = np.asarray(sample_weight, float) / np.mean(sample_weight)
    _, grad = loss_and_gradient(loss, Y, Xt @ Wt.T + bt, epsilon)
    table = grad * relative[:, None]
    avg, avg_b = table.T @ Xt / n, table.mean(axis=0)
    for order in orders:
        for i in order:
            _, g = loss_and_gradient(
                loss, Y[i : i + 1], (Xt[i] @ Wt.T + bt)[None], epsilon
            )
            g = g[0] * relative[i]
            delta = g - table[i]
            Wt = _prox(Wt - step * (np.outer(delta, Xt[i]) + avg), step, l1_t, l2_t)
            if fit_intercept:
                bt = bt - step * (delta + avg_b)
            avg = avg + np.outer(delta, Xt[i]) / n
            avg_b = avg_b + delta / n
            table[i] = g
    W_out = Wt * root
    return W_out, bt - W_out @ center
