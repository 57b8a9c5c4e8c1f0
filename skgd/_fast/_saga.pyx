# Epochs of SAGA (Defazio, Bach & Lacoste-Julien, 2014), dense and CSR.
#
# Design
# ------
# The per-sample gradient of a linear model is a scalar per output times the
# row: ``g_ik x_i`` with ``g_ik = (s_i / s_mean) dL/dp_k``.  SAGA keeps the
# last ``g_ik`` seen for every sample in a table (n x K scalars) and their
# average ``abar = (1 / n) sum_i g_i x_i^T`` (K x d), and steps with the
# unbiased, variance-reduced direction
#
#     v = (g_new - g_old) x_i + abar,     W <- prox_{eta R}(W - eta v)
#
# (then ``abar += (g_new - g_old) x_i / n`` and the table entry is
# replaced).  The variance of ``v`` vanishes at the optimum, so a constant
# step converges linearly to the exact minimiser of the objective.
#
# Dense rows are solved in the standardised coordinates of
# ``skgd._step_size.Preconditioner`` without forming them: the step on
# feature j is ``eta * step_scale_j`` on the centred feature ``x_j - mu_j``
# and the intercept moves so that the standardised intercept is the one
# being updated.  Every update moves every coefficient (the average
# ``abar`` is dense), one fused pass per output: step, prox, average.
#
# CSR rows are not centred (that would make them dense) nor scaled (see
# ``skgd._saga``): an update costs O(nnz of the row) through the lazy
# penalty state of ``_penalty.pxd``, which defers the dense part of every
# step (the drift ``-eta abar_j`` and the prox) on the features a row does
# not touch and catches a feature up just before it is read.  A window of
# deferred updates is flushed (every feature caught up, the L2 scale folded
# back) when it holds ``window`` updates and at the end of the epoch, so
# the caller always sees true coefficients.

from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc

from skgd._fast._loss cimport row_loss_grad
from skgd._fast._penalty cimport (LazyPenalty, lazy_advance, lazy_catch_up,
                                  lazy_full, lazy_reset, lazy_unit, prox_coef)
from skgd._fast._rows cimport (PREFETCH_DISTANCE, axpy_csr, axpy_dense, dot_csr,
                               dot_dense, floating, index_t, prefetch,
                               prefetch_span)


cdef inline void prefetch_row(const floating* X, Py_ssize_t d, const double* Y,
                              const double* table, Py_ssize_t K,
                              const Py_ssize_t* order, Py_ssize_t pos,
                              Py_ssize_t n) noexcept nogil:
    """Ask for the row, targets and table entry visited at ``pos``."""
    cdef Py_ssize_t i
    if pos < n:
        i = order[pos]
        prefetch_span(X + i * d, d * sizeof(X[0]))
        prefetch_span(Y + i * K, K * sizeof(double))
        prefetch_span(table + i * K, K * sizeof(double))


def fill_table_dense(const floating[:, ::1] X, const double[:, ::1] Y,
                     const double[::1] sample_weight, double weight_scale,
                     const double[:, ::1] W, const double[::1] b,
                     double[:, ::1] table, double[:, ::1] abar, double[::1] abar_b,
                     int loss, double epsilon):
    """Fill the table with every sample's gradient scalars at (W, b).

    ``table[i] = (s_i * weight_scale) dL/dp (x_i)``, ``abar`` and ``abar_b``
    their averages ``(1 / n) sum_i table[i] x_i`` and ``(1 / n) sum_i
    table[i]`` (the mean gradient).  Returns ``sum_i s_i L_i``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = W.shape[0], i, k, j
    cdef double s, total = 0.0, inv_n = 1.0 / n
    cdef double* p = <double*> PyMem_RawMalloc(2 * K * sizeof(double))
    cdef double* g
    if p == NULL:
        raise MemoryError()
    g = p + K
    with nogil:
        for j in range(K * d):
            abar[0, j] = 0.0
        for k in range(K):
            abar_b[k] = 0.0
        for i in range(n):
            s = sample_weight[i]
            for k in range(K):
                p[k] = b[k] + dot_dense(&X[i, 0], &W[k, 0], d)
            total += s * row_loss_grad(loss, &Y[i, 0], p, g, K, epsilon)
            for k in range(K):
                table[i, k] = g[k] * s * weight_scale
                if table[i, k] != 0.0:
                    axpy_dense(table[i, k] * inv_n, &X[i, 0], &abar[k, 0], d)
                    abar_b[k] += table[i, k] * inv_n
    PyMem_RawFree(p)
    return total


def fill_table_csr(const floating[::1] data, const index_t[::1] indices,
                   const index_t[::1] indptr, const double[:, ::1] Y,
                   const double[::1] sample_weight, double weight_scale,
                   const double[:, ::1] W, const double[::1] b,
                   double[:, ::1] table, double[:, ::1] abar, double[::1] abar_b,
                   int loss, double epsilon):
    """CSR version of ``fill_table_dense``."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, K = W.shape[0], d = W.shape[1]
    cdef Py_ssize_t i, k, j, start, nnz
    cdef double s, total = 0.0, inv_n = 1.0 / n
    cdef const floating* vals = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cols = &indices[0] if indices.shape[0] > 0 else NULL
    cdef double* p = <double*> PyMem_RawMalloc(2 * K * sizeof(double))
    cdef double* g
    if p == NULL:
        raise MemoryError()
    g = p + K
    with nogil:
        for j in range(K * d):
            abar[0, j] = 0.0
        for k in range(K):
            abar_b[k] = 0.0
        for i in range(n):
            s = sample_weight[i]
            start = indptr[i]
            nnz = indptr[i + 1] - start
            for k in range(K):
                p[k] = b[k] + dot_csr(vals + start, cols + start, nnz, &W[k, 0])
            total += s * row_loss_grad(loss, &Y[i, 0], p, g, K, epsilon)
            for k in range(K):
                table[i, k] = g[k] * s * weight_scale
                if table[i, k] != 0.0:
                    axpy_csr(table[i, k] * inv_n, vals + start, cols + start, nnz,
                             &abar[k, 0])
                    abar_b[k] += table[i, k] * inv_n
    PyMem_RawFree(p)
    return total


cdef void step_dense(const floating* x, Py_ssize_t d, double dk, double drift_b,
                     double inv_n, const double* eta, const double* threshold,
                     const double* inv_shrink, const double* mu, bint l1,
                     double* w, double* a, double* moved) noexcept nogil:
    """One output's SAGA step on a dense row, fused with the average update.

    ``w_j <- prox_j(w_j - eta_j (dk x_j + a_j - drift_b mu_j))`` with
    ``drift_b = dk + abar_b`` (the centring of the direction), then
    ``a_j += dk x_j / n``.  ``moved`` receives ``sum_j (new_j - old_j) mu_j``
    (the intercept's share of the change of variables).
    """
    cdef Py_ssize_t j
    cdef double xj, wj, z, new, total = 0.0
    if l1:
        for j in range(d):
            xj = x[j]
            wj = w[j]
            z = wj - eta[j] * (dk * xj + a[j] - drift_b * mu[j])
            new = prox_coef(z, threshold[j], inv_shrink[j])
            total += (new - wj) * mu[j]
            w[j] = new
            a[j] += dk * inv_n * xj
    else:
        for j in range(d):
            xj = x[j]
            wj = w[j]
            new = (wj - eta[j] * (dk * xj + a[j] - drift_b * mu[j])) * inv_shrink[j]
            total += (new - wj) * mu[j]
            w[j] = new
            a[j] += dk * inv_n * xj
    moved[0] = total


def saga_epoch_dense(const floating[:, ::1] X, const double[:, ::1] Y,
                     const double[::1] sample_weight, double weight_scale,
                     const Py_ssize_t[::1] order, double[:, ::1] W, double[::1] b,
                     double[:, ::1] table, double[:, ::1] abar, double[::1] abar_b,
                     const double[::1] step_scale, const double[::1] center,
                     double step, double l1, double l2, int loss, double epsilon,
                     bint fit_intercept):
    """One SAGA epoch over the dense rows ``order`` (see the design note).

    ``step`` is the step in standardised coordinates; feature j steps by
    ``step * step_scale[j]`` on ``x_j - center[j]``.  ``table``, ``abar`` and
    ``abar_b`` (from ``fill_table_dense``) are updated with W and b.

    Returns
    -------
    loss_sum, weight_sum : float
        ``sum s_i L_i`` at the visited points and ``sum s_i`` over the epoch.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = W.shape[0]
    cdef Py_ssize_t n_steps = order.shape[0], r, i, k, j
    cdef double s, dk, ab, moved = 0.0, inv_n = 1.0 / n
    cdef double loss_sum = 0.0, weight_sum = 0.0
    cdef bint with_l1 = l1 > 0.0
    cdef double* buf = <double*> PyMem_RawMalloc((3 * d + 2 * K) * sizeof(double))
    cdef double *eta, *threshold, *inv_shrink, *p, *g
    cdef const floating* Xp = &X[0, 0] if n > 0 and d > 0 else NULL
    if buf == NULL:
        raise MemoryError()
    eta, threshold, inv_shrink = buf, buf + d, buf + 2 * d
    p, g = buf + 3 * d, buf + 3 * d + K
    with nogil:
        for j in range(d):
            eta[j] = step * step_scale[j]
            threshold[j] = eta[j] * l1
            inv_shrink[j] = 1.0 / (1.0 + eta[j] * l2)
        for r in range(n_steps):
            prefetch_row(Xp, d, &Y[0, 0], &table[0, 0], K, &order[0],
                         r + PREFETCH_DISTANCE, n_steps)
            i = order[r]
            s = sample_weight[i]
            for k in range(K):
                p[k] = b[k] + dot_dense(Xp + i * d, &W[k, 0], d)
            loss_sum += s * row_loss_grad(loss, &Y[i, 0], p, g, K, epsilon)
            weight_sum += s
            for k in range(K):
                g[k] *= s * weight_scale
                dk = g[k] - table[i, k]
                ab = abar_b[k]
                step_dense(Xp + i * d, d, dk, dk + ab, inv_n, eta, threshold,
                           inv_shrink, &center[0], with_l1, &W[k, 0], &abar[k, 0],
                           &moved)
                if fit_intercept:
                    b[k] -= step * (dk + ab) + moved
                abar_b[k] = ab + dk * inv_n
                table[i, k] = g[k]
    PyMem_RawFree(buf)
    return loss_sum, weight_sum


cdef void catch_up_all(LazyPenalty* lp, double* W, const double* abar,
                       Py_ssize_t* last, Py_ssize_t K, Py_ssize_t d) noexcept nogil:
    """Flush the window: every coefficient true and up to date, scale 1."""
    cdef Py_ssize_t k, j
    for k in range(K):
        for j in range(d):
            W[k * d + j] = lp.scale * lazy_catch_up(lp, W[k * d + j],
                                                    abar[k * d + j], last[j])
    for j in range(d):
        last[j] = 0
    lazy_reset(lp)


def saga_epoch_csr(const floating[::1] data, const index_t[::1] indices,
                   const index_t[::1] indptr, const double[:, ::1] Y,
                   const double[::1] sample_weight, double weight_scale,
                   const Py_ssize_t[::1] order, double[:, ::1] W, double[::1] b,
                   double[:, ::1] table, double[:, ::1] abar, double[::1] abar_b,
                   double step, double l1, double l2, int loss, double epsilon,
                   bint fit_intercept, Py_ssize_t window):
    """One SAGA epoch over the CSR rows ``order``, O(nnz) per update.

    The deferred (lazy) part of the updates is flushed every ``window``
    updates; the extra memory is ``window + 1`` partial sums and one update
    index per feature.  Returns ``(loss_sum, weight_sum)`` as
    ``saga_epoch_dense``.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, K = W.shape[0], d = W.shape[1]
    cdef Py_ssize_t n_steps = order.shape[0], r, i, k, j, m, start, nnz
    cdef double s, dk, unit, z, inv_n = 1.0 / n
    cdef double loss_sum = 0.0, weight_sum = 0.0
    cdef const floating* vals = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cols = &indices[0] if indices.shape[0] > 0 else NULL
    cdef double* Wp = &W[0, 0]
    cdef double* ap = &abar[0, 0]
    cdef LazyPenalty lp
    cdef double* buf
    cdef Py_ssize_t* last = <Py_ssize_t*> PyMem_RawMalloc(max(d, 1) * sizeof(Py_ssize_t))
    window = max(window, 1)
    buf = <double*> PyMem_RawMalloc((window + 1 + 2 * K) * sizeof(double))
    if buf == NULL or last == NULL:
        PyMem_RawFree(buf)
        PyMem_RawFree(last)
        raise MemoryError()
    lp.C, lp.capacity = buf, window
    lp.step, lp.l1, lp.shrink = step, l1, 1.0 + step * l2
    cdef double* p = buf + window + 1
    cdef double* g = p + K
    with nogil:
        lazy_reset(&lp)
        for j in range(d):
            last[j] = 0
        for r in range(n_steps):
            if lazy_full(&lp):
                catch_up_all(&lp, Wp, ap, last, K, d)
            i = order[r]
            start = indptr[i]
            nnz = indptr[i + 1] - start
            # bring the row's coefficients up to date, then read them
            for m in range(start, start + nnz):
                j = cols[m]
                if last[j] < lp.t:
                    for k in range(K):
                        Wp[k * d + j] = lazy_catch_up(&lp, Wp[k * d + j],
                                                      ap[k * d + j], last[j])
                    last[j] = lp.t
            s = sample_weight[i]
            for k in range(K):
                p[k] = b[k] + lp.scale * dot_csr(vals + start, cols + start, nnz,
                                                 Wp + k * d)
            loss_sum += s * row_loss_grad(loss, &Y[i, 0], p, g, K, epsilon)
            weight_sum += s
            # this update on the row's coefficients now; on the others it
            # is the drift recorded by lazy_advance
            unit = lazy_unit(&lp)
            for k in range(K):
                g[k] *= s * weight_scale
                dk = g[k] - table[i, k]
                for m in range(start, start + nnz):
                    j = k * d + cols[m]
                    z = Wp[j] - unit * (dk * vals[m] + ap[j])
                    Wp[j] = prox_coef(z, unit * l1, 1.0)
                    ap[j] += dk * inv_n * vals[m]
                if fit_intercept:
                    b[k] -= step * (dk + abar_b[k])
                abar_b[k] += dk * inv_n
                table[i, k] = g[k]
            for m in range(start, start + nnz):
                last[cols[m]] = lp.t + 1
            lazy_advance(&lp)
        catch_up_all(&lp, Wp, ap, last, K, d)
    PyMem_RawFree(buf)
    PyMem_RawFree(last)
    return loss_sum, weight_sum
