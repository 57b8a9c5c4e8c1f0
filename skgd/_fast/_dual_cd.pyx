# Dual coordinate ascent for the L2 (or elastic-net) penalised hinge and
# epsilon-insensitive losses, dense and CSR: one epoch per call.
#
# Design
# ------
# Scaled by 1 / l2, the objective of one output is
#
#     P~(w, b) = 1/2 ||w||^2 + kappa ||w||_1 + sum_i U_i L_i(w . x_i + b),
#     U_i = s_i / (l2 S),   kappa = l1 / l2 ,
#
# with L_i the hinge max(0, 1 - y_i p) or max(0, |y_i - p| - eps).  Both
# losses are maxima of linear functions, L_i(p) = max over gamma of
# gamma (y_i - p) - eps |gamma| on a box (hinge: eps = 0 and
# gamma y_i in [0, 1]; eps-insensitive: gamma in [-1, 1]).  Writing one
# dual coefficient gamma_i per row (scaled by U_i, so that its box is
# [lo_i, hi_i] = U_i times the loss's box), the dual is
#
#     D(gamma) = sum_i (gamma_i y_i - eps |gamma_i|) - 1/2 ||soft(v, kappa)||^2,
#     v = sum_i gamma_i x_i,   w = soft(v, kappa),
#
# (subject to sum_i gamma_i = 0 with an unpenalised intercept; see below).
# One coordinate step maximises D in gamma_i exactly when kappa = 0, and
# maximises its quadratic minorant (the conjugate of the elastic net is
# 1-smooth) otherwise -- prox-SDCA:
#
#     gamma_i <- clip(soft(gamma_i + (y_i - p_i) / Q_i, eps / Q_i), lo_i, hi_i),
#
# with p_i = w . x_i + b the current prediction and Q_i = ||x_i||^2 (+ nu_inv).
# Then v += (new - old) x_i and w = soft(v) on the row's support.
#
# The intercept: the equality constraint sum gamma_i = 0 is handled by the
# caller with the method of multipliers.  The kernel maximises the augmented
# dual D(gamma) - b_c sum gamma - nu_inv / 2 (sum gamma)^2 for a fixed
# multiplier b_c (the intercept's centre): its coordinate step is the one
# above with b = b_c + delta, delta = nu_inv sum gamma_i, and Q_i grown by
# nu_inv.  (This is the primal with the proximal term
# (1 / (2 nu_inv)) (b - b_c)^2: the intercept as one more feature of value
# sqrt(nu_inv).)  ``intercept`` holds (b_c, delta); nu_inv = 0 keeps b fixed.

from libc.math cimport INFINITY
from libc.stdint cimport uint64_t

from skgd._fast._rows cimport (PREFETCH_DISTANCE, axpy_csr, axpy_dense, dot_csr,
                               dot_dense, floating, index_t, prefetch, prefetch_span)


cdef inline double soft(double x, double t) noexcept nogil:
    if x > t:
        return x - t
    if x < -t:
        return x + t
    return 0.0


cdef inline double coordinate_step(double gamma, double residual, double q,
                                   double eps, double lo, double hi) noexcept nogil:
    """The new dual coefficient: exact maximiser of the 1-D (minorised) dual."""
    cdef double g = soft(gamma + residual / q, eps / q)
    if g < lo:
        return lo
    if g > hi:
        return hi
    return g


cdef inline double projected_gradient(double gamma, double residual, double eps,
                                      double lo, double hi, double up_old,
                                      double low_old, bint* shrink) noexcept nogil:
    """The projected gradient of ``-D`` in one coordinate; flags a shrink.

    ``-D`` has the one-sided derivatives ``-r + eps`` upwards from
    ``gamma >= 0`` and ``-r - eps`` downwards from ``gamma <= 0`` (``r`` the
    residual ``y_i - p_i``).  A coefficient held at a bound (or, for the
    epsilon-insensitive loss, at the kink 0) by a derivative beyond the
    extreme projected gradients of the previous sweep (``up_old``,
    ``low_old``) is shrunk: left out of the sweeps until the active ones
    have converged (liblinear's shrinking, Hsieh et al. 2008, section 3.2).
    """
    cdef double up = -residual + (eps if gamma >= 0.0 else -eps)
    cdef double down = -residual + (eps if gamma > 0.0 else -eps)
    shrink[0] = False
    if gamma <= lo:
        if up > up_old:
            shrink[0] = True
        return up if up < 0.0 else 0.0
    if gamma >= hi:
        if down < low_old:
            shrink[0] = True
        return down if down > 0.0 else 0.0
    if gamma != 0.0 or eps == 0.0:
        return up
    if up < 0.0:
        return up
    if down > 0.0:
        return down
    if up > up_old and down < low_old:
        shrink[0] = True
    return 0.0


cdef inline uint64_t splitmix64(uint64_t* state) noexcept nogil:
    state[0] += <uint64_t> 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline void shuffle_prefix(Py_ssize_t* index, Py_ssize_t size,
                                uint64_t seed) noexcept nogil:
    """Fisher-Yates on ``index[:size]`` (the active coordinates)."""
    cdef uint64_t state = seed
    cdef Py_ssize_t k, j, tmp
    for k in range(size - 1, 0, -1):
        j = <Py_ssize_t> (splitmix64(&state) % <uint64_t> (k + 1))
        tmp = index[k]
        index[k] = index[j]
        index[j] = tmp


cdef inline void update_w(double delta, const floating* row, const index_t* cols,
                          Py_ssize_t nnz, bint dense, double* vp, double* wp,
                          double kappa) noexcept nogil:
    """``v += delta x_i`` and ``w = soft(v, kappa)`` where ``x_i`` is nonzero."""
    cdef Py_ssize_t m, j
    cdef double vj
    if kappa == 0.0:
        if dense:
            axpy_dense(delta, row, vp, nnz)
        else:
            axpy_csr(delta, row, cols, nnz, vp)
        if wp != vp:
            for m in range(nnz):
                j = m if dense else cols[m]
                wp[j] = vp[j]
        return
    for m in range(nnz):
        j = m if dense else cols[m]
        vj = vp[j] + delta * row[m]
        vp[j] = vj
        wp[j] = soft(vj, kappa)


cdef inline void prefetch_step(const floating* data, const index_t* cols,
                               const index_t* starts, Py_ssize_t d, bint dense,
                               const double* y, const double* lo, const double* hi,
                               const double* q, const double* gamma,
                               const Py_ssize_t* index, Py_ssize_t pos,
                               Py_ssize_t active) noexcept nogil:
    """Ask for what the step at ``pos`` reads: the row and its five scalars.
    The rows are visited in random order, so every one is a cache miss the
    hardware cannot predict; CSR row pointers are asked for twice as far
    ahead, since the row's own prefetch reads them."""
    cdef Py_ssize_t i, start, nnz
    if not dense and pos + PREFETCH_DISTANCE < active:
        prefetch(starts + index[pos + PREFETCH_DISTANCE])
    if pos >= active:
        return
    i = index[pos]
    if dense:
        prefetch_span(data + i * d, d * sizeof(floating))
    else:
        start = starts[i]
        nnz = starts[i + 1] - start
        prefetch_span(data + start, nnz * sizeof(floating))
        prefetch_span(cols + start, nnz * sizeof(index_t))
    prefetch(y + i)
    prefetch(lo + i)
    prefetch(hi + i)
    prefetch(q + i)
    prefetch(gamma + i)


cdef Py_ssize_t sweep(const floating* data, const index_t* cols,
                      const index_t* starts, Py_ssize_t d, bint dense,
                      const double* y, const double* lo, const double* hi,
                      const double* q, Py_ssize_t* index, Py_ssize_t active,
                      uint64_t seed, double* gamma, double* vp, double* wp,
                      double* intercept, double eps, double kappa, double nu_inv,
                      double* stats) noexcept nogil:
    """One sweep over ``index[:active]``; returns the new number of active rows."""
    cdef Py_ssize_t s = 0, i, nnz
    cdef double p, pg, old, new, delta
    cdef double up_old = stats[0], low_old = stats[1]
    cdef double up_new = -INFINITY, low_new = INFINITY
    cdef const floating* row
    cdef const index_t* rcols
    cdef bint shrink
    if seed != 0:
        shuffle_prefix(index, active, seed)
    while s < active:
        prefetch_step(data, cols, starts, d, dense, y, lo, hi, q, gamma, index,
                      s + PREFETCH_DISTANCE, active)
        i = index[s]
        if q[i] <= 0.0 or hi[i] <= lo[i]:
            s += 1
            continue
        if dense:
            row = data + i * d
            rcols = NULL
            nnz = d
        else:
            row = data + starts[i]
            rcols = cols + starts[i]
            nnz = starts[i + 1] - starts[i]
        p = intercept[0] + intercept[1]
        if nnz > 0:
            p += dot_dense(row, wp, nnz) if dense else dot_csr(row, rcols, nnz, wp)
        old = gamma[i]
        pg = projected_gradient(old, y[i] - p, eps, lo[i], hi[i], up_old, low_old,
                                &shrink)
        if shrink:
            # swap it behind the active part and visit the row now at s
            active -= 1
            index[s] = index[active]
            index[active] = i
            continue
        s += 1
        if pg > up_new:
            up_new = pg
        if pg < low_new:
            low_new = pg
        if pg == 0.0:
            continue
        new = coordinate_step(old, y[i] - p, q[i], eps, lo[i], hi[i])
        delta = new - old
        if delta == 0.0:
            continue
        gamma[i] = new
        intercept[1] += nu_inv * delta
        if nnz > 0:
            update_w(delta, row, rcols, nnz, dense, vp, wp, kappa)
    stats[0] = up_new
    stats[1] = low_new
    return active


def dual_cd_sweep_dense(const floating[:, ::1] X, const double[::1] y,
                        const double[::1] lo, const double[::1] hi,
                        const double[::1] q, Py_ssize_t[::1] index,
                        Py_ssize_t active, uint64_t seed, double[::1] gamma,
                        double[::1] v, double[::1] w, double[::1] intercept,
                        double eps, double kappa, double nu_inv, double[::1] stats):
    """One sweep of dual coordinate steps over the active rows.

    Parameters
    ----------
    X : ndarray of shape (n, d), C-contiguous, float32 or float64.
    y : ndarray of shape (n,)
        The targets (-1/+1 labels for the hinge).
    lo, hi : ndarray of shape (n,)
        The box of every dual coefficient; rows with an empty box or
        ``q == 0`` are skipped.
    q : ndarray of shape (n,)
        ``||x_i||^2 + nu_inv``.
    index : ndarray of shape (n,), intp, updated
        A permutation of the rows; the first ``active`` are visited (shuffled
        first unless ``seed == 0``) and the shrunk ones moved behind them.
    active : int
        The number of active rows.
    seed : int
        The seed of this sweep's shuffle; 0 keeps the order of ``index``.
    gamma : ndarray of shape (n,), updated
        The dual coefficients.
    v, w : ndarray of shape (d,), updated
        ``v = sum_i gamma_i x_i`` and ``w = soft(v, kappa)``; with
        ``kappa == 0`` they may be the same array.
    intercept : ndarray of shape (2,), updated
        ``(b_c, delta)``: the intercept is ``b_c + delta``.
    eps, kappa, nu_inv : float
        The loss's insensitivity, ``l1 / l2``, the intercept's coupling.
    stats : ndarray of shape (2,), updated
        In: the largest and smallest projected gradients of the previous
        sweep (``inf``, ``-inf``: no shrinking); out: those of this sweep.

    Returns
    -------
    active : int
        The number of rows still active.
    """
    cdef Py_ssize_t d = X.shape[1]
    cdef double* vp = &v[0] if d > 0 else NULL
    cdef double* wp = &w[0] if d > 0 else NULL
    cdef const floating* data = &X[0, 0] if X.shape[0] > 0 and d > 0 else NULL
    cdef const int* cols = NULL
    with nogil:
        active = sweep(data, cols, NULL, d, True, &y[0], &lo[0], &hi[0], &q[0],
                       &index[0], active, seed, &gamma[0], vp, wp, &intercept[0],
                       eps, kappa, nu_inv, &stats[0])
    return active


def dual_cd_sweep_csr(const floating[::1] data, const index_t[::1] indices,
                      const index_t[::1] indptr, const double[::1] y,
                      const double[::1] lo, const double[::1] hi,
                      const double[::1] q, Py_ssize_t[::1] index,
                      Py_ssize_t active, uint64_t seed, double[::1] gamma,
                      double[::1] v, double[::1] w, double[::1] intercept,
                      double eps, double kappa, double nu_inv, double[::1] stats):
    """:func:`dual_cd_sweep_dense` on CSR rows: O(nnz) per step."""
    cdef double* vp = &v[0] if v.shape[0] > 0 else NULL
    cdef double* wp = &w[0] if w.shape[0] > 0 else NULL
    cdef const floating* dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cp = &indices[0] if indices.shape[0] > 0 else NULL
    with nogil:
        active = sweep(dp, cp, &indptr[0], 0, False, &y[0], &lo[0], &hi[0], &q[0],
                       &index[0], active, seed, &gamma[0], vp, wp, &intercept[0],
                       eps, kappa, nu_inv, &stats[0])
    return active


def row_norms_dense(const floating[:, ::1] X, double[::1] out):
    """``out_i = ||x_i||^2``, accumulated in double."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
    cdef double s, x
    with nogil:
        for i in range(n):
            s = 0.0
            for j in range(d):
                x = X[i, j]
                s += x * x
            out[i] = s


def row_norms_csr(const floating[::1] data, const index_t[::1] indptr, double[::1] out):
    """``out_i = ||x_i||^2`` of CSR rows (canonical format), in double."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, i, m
    cdef double s, x
    with nogil:
        for i in range(n):
            s = 0.0
            for m in range(indptr[i], indptr[i + 1]):
                x = data[m]
                s += x * x
            out[i] = s


def scores_dense(const floating[:, ::1] X, const double[::1] w,
                 const double[::1] gamma, double[::1] out, double[::1] v_pos):
    """``out_i = w . x_i`` and ``v_pos = sum over gamma_i > 0 of gamma_i x_i``."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i
    cdef const double* wp = &w[0] if d > 0 else NULL
    cdef double* vp = &v_pos[0] if d > 0 else NULL
    with nogil:
        for i in range(n):
            if d == 0:
                out[i] = 0.0
                continue
            out[i] = dot_dense(&X[i, 0], wp, d)
            if gamma[i] > 0.0:
                axpy_dense(gamma[i], &X[i, 0], vp, d)


def scores_csr(const floating[::1] data, const index_t[::1] indices,
               const index_t[::1] indptr, const double[::1] w,
               const double[::1] gamma, double[::1] out, double[::1] v_pos):
    """:func:`scores_dense` on CSR rows."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, i, start, nnz
    cdef const double* wp = &w[0] if w.shape[0] > 0 else NULL
    cdef double* vp = &v_pos[0] if v_pos.shape[0] > 0 else NULL
    with nogil:
        for i in range(n):
            start = indptr[i]
            nnz = indptr[i + 1] - start
            out[i] = 0.0
            if nnz == 0:
                continue
            out[i] = dot_csr(&data[start], &indices[start], nnz, wp)
            if gamma[i] > 0.0:
                axpy_csr(gamma[i], &data[start], &indices[start], nnz, vp)
