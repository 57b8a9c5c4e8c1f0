# Point losses of the K-output linear model, shared by every kernel.
#
# Design
# ------
# A loss maps the K raw predictions ``p`` of one row and its K targets ``y`` to
# a value and to the K-vector derivative ``g = dL/dp``.  Every loss except the
# multinomial one is a sum of K independent point losses (K = 1 for a single
# output or a binary problem; one-vs-rest and multi-output regression use
# K > 1).  The loss is an int code fixed for a whole epoch: the ``if`` chain
# below is loop-invariant, so the branch predictor resolves it and there is no
# per-sample virtual call (sklearn's SGD calls ``loss.cy_gradient`` through a
# vtable on every sample).
#
# Conventions follow scikit-learn's SGD losses: regression targets are real;
# binary and one-vs-rest targets are -1/+1; multinomial targets are a
# probability vector (one-hot for hard labels).  The codes must match the
# specs of ``skgd/_losses.py`` (tests/test_extending.py checks it).

from libc.math cimport exp, fabs, log, log1p

cdef enum:
    SQUARED_ERROR = 0
    HUBER = 1
    EPSILON_INSENSITIVE = 2
    SQUARED_EPSILON_INSENSITIVE = 3
    LOG_LOSS = 4
    HINGE = 5
    SQUARED_HINGE = 6
    MODIFIED_HUBER = 7
    PERCEPTRON = 8
    MULTINOMIAL = 9


cdef inline double point_loss_grad(int loss, double y, double p, double epsilon,
                                   double* grad) noexcept nogil:
    """Return L(y, p) and store dL/dp in ``grad[0]``."""
    cdef double r, z, a, e
    if loss == SQUARED_ERROR:
        r = p - y
        grad[0] = r
        return 0.5 * r * r
    elif loss == HUBER:
        r = p - y
        if fabs(r) <= epsilon:
            grad[0] = r
            return 0.5 * r * r
        grad[0] = epsilon if r > 0 else -epsilon
        return epsilon * fabs(r) - 0.5 * epsilon * epsilon
    elif loss == EPSILON_INSENSITIVE:
        r = p - y
        a = fabs(r) - epsilon
        if a <= 0:
            grad[0] = 0.0
            return 0.0
        grad[0] = 1.0 if r > 0 else -1.0
        return a
    elif loss == SQUARED_EPSILON_INSENSITIVE:
        r = p - y
        a = fabs(r) - epsilon
        if a <= 0:
            grad[0] = 0.0
            return 0.0
        grad[0] = 2.0 * a if r > 0 else -2.0 * a
        return a * a
    elif loss == LOG_LOSS:
        # log(1 + exp(-z)) with z = y p, evaluated without overflow on both
        # sides: exp is only ever taken of a non-positive number.
        z = y * p
        if z > 0:
            e = exp(-z)
            grad[0] = -y * e / (1.0 + e)
            return log1p(e)
        e = exp(z)
        grad[0] = -y / (1.0 + e)
        return -z + log1p(e)
    elif loss == HINGE:
        z = y * p
        if z <= 1.0:
            grad[0] = -y
            return 1.0 - z
        grad[0] = 0.0
        return 0.0
    elif loss == SQUARED_HINGE:
        z = y * p
        a = 1.0 - z
        if a > 0:
            grad[0] = -2.0 * y * a
            return a * a
        grad[0] = 0.0
        return 0.0
    elif loss == MODIFIED_HUBER:
        z = y * p
        if z >= 1.0:
            grad[0] = 0.0
            return 0.0
        if z >= -1.0:
            a = 1.0 - z
            grad[0] = -2.0 * y * a
            return a * a
        grad[0] = -4.0 * y
        return -4.0 * z
    else:  # PERCEPTRON
        z = y * p
        if z <= 0.0:
            grad[0] = -y
            return -z
        grad[0] = 0.0
        return 0.0


cdef inline double row_loss_grad(int loss, const double* y, const double* p,
                                 double* grad, Py_ssize_t K,
                                 double epsilon) noexcept nogil:
    """Return the loss of one row and store its K-vector gradient in ``grad``."""
    cdef Py_ssize_t k
    cdef double total = 0.0, pmax, sumexp, log_sumexp, ysum, scale
    if loss == MULTINOMIAL:
        # Softmax cross-entropy  sum_k y_k (lse(p) - p_k), with the log-sum-exp
        # shifted by max(p) so that no exponential overflows.  Everything is
        # formed from the shifted logits p_k - pmax: adding log(sumexp) to
        # pmax first would round it away once |pmax| exceeds ~1e15.
        pmax = p[0]
        for k in range(1, K):
            if p[k] > pmax:
                pmax = p[k]
        # Each exponential is taken once and kept in ``grad`` until the
        # normaliser is known (``grad`` never aliases ``p``).
        sumexp = 0.0
        ysum = 0.0
        for k in range(K):
            grad[k] = exp(p[k] - pmax)
            sumexp += grad[k]
            ysum += y[k]
        log_sumexp = log(sumexp)
        scale = ysum / sumexp
        for k in range(K):
            grad[k] = grad[k] * scale - y[k]
            total += y[k] * (log_sumexp + (pmax - p[k]))
        return total
    for k in range(K):
        total += point_loss_grad(loss, y[k], p[k], epsilon, &grad[k])
    return total
