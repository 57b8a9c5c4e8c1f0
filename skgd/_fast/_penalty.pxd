# The elastic-net penalty at the level of one coefficient, for the kernels.
#
# Design
# ------
# The penalty  l1 |w| + l2 / 2 w^2  enters a stochastic step through its
# proximal operator: soft-threshold by ``eta * l1``, then divide by
# ``1 + eta * l2`` (``prox_coef``).  On sparse rows the kernels take that
# step lazily, so that an update costs O(nnz of the row):
#
# * the coefficients are stored as ``scale * v``; the L2 part of every step
#   only shrinks the scalar ``scale`` (``lazy_advance``);
# * a step that moves every coordinate by the same known drift ``a_j``
#   (the table average of a variance-reduced method, constant for feature j
#   until a row containing j is visited) is recorded once, as the partial
#   sums ``C[t] = sum_{tau < t} eta / scale_tau``; a coordinate is brought up
#   to date just before it is read (``lazy_catch_up``), in O(1) -- or
#   O(log lag) in the rare case that it crosses zero under L1.
#
# The catch-up is exact (equal, up to rounding, to applying the proximal
# steps one by one): in units of v every skipped step moves the coordinate
# by ``-c_tau a_j`` and then soft-thresholds it by ``c_tau l1``, with the
# same ``c_tau`` in both.  The path is therefore piecewise linear in the
# partial sum ``C``: while the coordinate is positive it moves by
# ``-(a_j + l1)`` per unit of ``C``, while negative by ``-(a_j - l1)``, and at
# zero it stays there if ``|a_j| <= l1``.  Only the one step that reaches
# zero needs the step-by-step formula; a binary search on ``C`` finds it.
#
# ``LazyPenalty`` owns this state; a kernel holds one per call.

from libc.math cimport copysign, fabs


cdef inline double prox_coef(double w, double threshold,
                             double inv_shrink) noexcept nogil:
    """prox of eta * (l1 |w| + l2 / 2 w^2) with ``threshold = eta * l1`` and
    ``inv_shrink = 1 / (1 + eta * l2)``: soft-threshold, then shrink."""
    cdef double a = fabs(w) - threshold
    if a <= 0.0:
        return 0.0
    return copysign(a, w) * inv_shrink


ctypedef struct LazyPenalty:
    double step          # eta, the same for every update of the window
    double l1
    double shrink        # 1 + eta * l2
    double scale         # true coefficients = scale * stored ones
    double* C            # partial sums of eta / scale, C[0] = 0 (capacity + 1)
    Py_ssize_t t         # updates recorded in the window
    Py_ssize_t capacity  # updates a window holds before it must be flushed


cdef inline void lazy_reset(LazyPenalty* lp) noexcept nogil:
    """Start a window: the stored coefficients are the true ones."""
    lp.scale = 1.0
    lp.t = 0
    lp.C[0] = 0.0


cdef inline bint lazy_full(LazyPenalty* lp) noexcept nogil:
    """True when the window must be flushed before the next update: it is
    full, or ``scale`` is small enough (1e-9) to be folded back into the
    coefficients, long before ``1 / scale`` could overflow."""
    return lp.t >= lp.capacity or lp.scale < 1e-9


cdef inline double lazy_unit(LazyPenalty* lp) noexcept nogil:
    """``eta / scale``: one step of the current update in stored units."""
    return lp.step / lp.scale


cdef inline void lazy_advance(LazyPenalty* lp) noexcept nogil:
    """Record the current update (its drift and L1 part), then its L2 shrink."""
    lp.C[lp.t + 1] = lp.C[lp.t] + lp.step / lp.scale
    lp.t += 1
    lp.scale /= lp.shrink


cdef inline Py_ssize_t _first_reaching(const double* C, Py_ssize_t last,
                                       Py_ssize_t now, double v,
                                       double rate) noexcept nogil:
    """First update m in [last, now) after which ``v - (C[m+1] - C[last]) rate``
    is <= 0 (it is known to be for m = now - 1)."""
    cdef Py_ssize_t lo = last, hi = now - 1, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if v - (C[mid + 1] - C[last]) * rate <= 0.0:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef inline double _catch_up_nonneg(const double* C, Py_ssize_t last,
                                    Py_ssize_t now, double v, double a,
                                    double l1) noexcept nogil:
    """``lazy_catch_up`` for v > 0, or v == 0 with a <= 0."""
    cdef double rate = a + l1, z, zp, c
    cdef Py_ssize_t m
    if v == 0.0:
        # at zero: pushed up only by a drift stronger than the threshold
        if -a <= l1:
            return 0.0
        return -(C[now] - C[last]) * rate
    z = v - (C[now] - C[last]) * rate
    if rate <= 0.0 or z > 0.0:
        return z
    # The coordinate reaches zero during update m: replay that one update.
    m = _first_reaching(C, last, now, v, rate)
    c = C[m + 1] - C[m]
    zp = v - (C[m] - C[last]) * rate - c * a
    if zp > 0.0 or zp + c * l1 >= 0.0:
        z = 0.0
    else:
        z = zp + c * l1
    # after it: at zero (|a| <= l1 here unless a > l1) or negative
    if a <= l1:
        return 0.0
    return z - (C[now] - C[m + 1]) * (a - l1)


cdef inline double lazy_catch_up(LazyPenalty* lp, double v, double a,
                                 Py_ssize_t last) noexcept nogil:
    """Apply to a stored coordinate ``v`` the updates ``last .. t - 1`` it
    missed: each moves it by ``-c a`` and soft-thresholds it by ``c l1`` with
    ``c = eta / scale`` of that update (see the design note)."""
    cdef Py_ssize_t now = lp.t
    if last >= now:
        return v
    if lp.l1 == 0.0:
        return v - (lp.C[now] - lp.C[last]) * a
    if v < 0.0 or (v == 0.0 and a > 0.0):
        return -_catch_up_nonneg(lp.C, last, now, -v, -a, lp.l1)
    return _catch_up_nonneg(lp.C, last, now, v, a, lp.l1)
