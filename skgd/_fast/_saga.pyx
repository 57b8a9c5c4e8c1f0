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
# ``skgd._saga``): an update costs O(nnz of the row).  The dense part of
# every step (the drift ``-eta abar_j`` and the prox) is deferred on the
# features a row does not touch: without L1 as a linear drift read off each
# feature's record, with L1 through the lazy penalty state of
# ``_penalty.pxd``, which catches a feature up just before it is read (the
# record forms are described above the CSR epochs).  A window of deferred
# updates is flushed (every feature made true, the L2 scale folded back)
# when it holds ``window`` updates and at the end of the epoch, so the
# caller always sees true coefficients.

from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc

from skgd._fast._loss cimport row_loss_grad
from skgd._fast._penalty cimport (MIN_SCALE, LazyPenalty, Penalty, lazy_advance,
                                  lazy_catch_up, lazy_full, lazy_reset, lazy_unit,
                                  penalty_feature_steps, penalty_new, prox_coef)
from skgd._fast._rows cimport (PREFETCH_DISTANCE, axpy_csr, axpy_dense, dot2_dense,
                               dot_csr, dot_dense, floating, index_t, prefetch,
                               prefetch_csr_row, prefetch_span)


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


cdef inline double table_row(int loss, const double* y, const double* p, double* g,
                             double s, double weight_scale, double inv_n,
                             Py_ssize_t K, double epsilon, double* table_row,
                             double* abar_b) noexcept nogil:
    """Store one sample's scalars in its table row and add them to ``abar_b``;
    leave in ``g`` their share of ``abar`` (divided by n).  Returns s L."""
    cdef Py_ssize_t k
    cdef double value = row_loss_grad(loss, y, p, g, K, epsilon)
    for k in range(K):
        table_row[k] = g[k] * s * weight_scale
        abar_b[k] += table_row[k] * inv_n
        g[k] = table_row[k] * inv_n
    return s * value


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
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = W.shape[0], i, k
    cdef double s, total = 0.0, inv_n = 1.0 / n
    cdef double* p = <double*> PyMem_RawMalloc(2 * K * sizeof(double))
    cdef double* g
    if p == NULL:
        raise MemoryError()
    g = p + K
    abar[:, :] = 0.0
    abar_b[:] = 0.0
    with nogil:
        for i in range(n):
            s = sample_weight[i]
            for k in range(K):
                p[k] = b[k] + dot_dense(&X[i, 0], &W[k, 0], d)
            total += table_row(loss, &Y[i, 0], p, g, s, weight_scale, inv_n, K,
                               epsilon, &table[i, 0], &abar_b[0])
            for k in range(K):
                if g[k] != 0.0:
                    axpy_dense(g[k], &X[i, 0], &abar[k, 0], d)
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
    cdef Py_ssize_t i, k, start, nnz
    cdef double s, total = 0.0, inv_n = 1.0 / n
    cdef const floating* vals = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cols = &indices[0] if indices.shape[0] > 0 else NULL
    cdef double* p = <double*> PyMem_RawMalloc(2 * K * sizeof(double))
    cdef double* g
    if p == NULL:
        raise MemoryError()
    g = p + K
    abar[:, :] = 0.0
    abar_b[:] = 0.0
    with nogil:
        for i in range(n):
            s = sample_weight[i]
            start = indptr[i]
            nnz = indptr[i + 1] - start
            for k in range(K):
                p[k] = b[k] + dot_csr(vals + start, cols + start, nnz, &W[k, 0])
            total += table_row(loss, &Y[i, 0], p, g, s, weight_scale, inv_n, K,
                               epsilon, &table[i, 0], &abar_b[0])
            for k in range(K):
                if g[k] != 0.0:
                    axpy_csr(g[k], vals + start, cols + start, nnz, &abar[k, 0])
    PyMem_RawFree(p)
    return total


cdef extern from *:
    """
    #include <math.h>
    /* One output's SAGA step on a dense row, fused with the average update:
         w_j <- prox_j(w_j - eta_j (dk x_j + a_j - drift_b mu_j)),
         a_j += dk x_j / n,
       with drift_b = dk + abar_b (the centring of the direction) and
       prox_j the prox_coef of _penalty.pxd (soft-threshold by threshold_j,
       then shrink by inv_shrink_j; without L1 only the shrink).
       The pointers never alias and no reduction runs along the loop, so the
       compiler vectorises it (restrict is what Cython cannot say). */
    #define SKGD_SAGA_STEP(name, xtype)                                        \
    static inline void name(const xtype *restrict x, Py_ssize_t d, double dk,  \
                            double drift_b, double inv_n,                      \
                            const double *restrict eta,                        \
                            const double *restrict threshold,                  \
                            const double *restrict inv_shrink,                 \
                            const double *restrict mu, int l1,                 \
                            double *restrict w, double *restrict a)            \
    {                                                                          \
        Py_ssize_t j;                                                          \
        double step_avg = dk * inv_n;                                          \
        if (l1) {                                                              \
            for (j = 0; j < d; j++) {                                          \
                double xj = (double)x[j];                                      \
                double z = w[j] - eta[j] * (dk * xj + a[j] - drift_b * mu[j]); \
                w[j] = skgd_prox_coef(z, threshold[j], inv_shrink[j]);         \
                a[j] += step_avg * xj;                                         \
            }                                                                  \
        } else {                                                               \
            for (j = 0; j < d; j++) {                                          \
                double xj = (double)x[j];                                      \
                w[j] = (w[j] - eta[j] * (dk * xj + a[j] - drift_b * mu[j]))    \
                       * inv_shrink[j];                                        \
                a[j] += step_avg * xj;                                         \
            }                                                                  \
        }                                                                      \
    }
    SKGD_SAGA_STEP(skgd_saga_step_d, double)
    SKGD_SAGA_STEP(skgd_saga_step_f, float)
    """
    void skgd_saga_step_d(const double* x, Py_ssize_t d, double dk, double drift_b,
                          double inv_n, const double* eta, const double* threshold,
                          const double* inv_shrink, const double* mu, int l1,
                          double* w, double* a) noexcept nogil
    void skgd_saga_step_f(const float* x, Py_ssize_t d, double dk, double drift_b,
                          double inv_n, const double* eta, const double* threshold,
                          const double* inv_shrink, const double* mu, int l1,
                          double* w, double* a) noexcept nogil


cdef inline void step_dense(const floating* x, Py_ssize_t d, double dk, double drift_b,
                            double inv_n, const double* eta, const double* threshold,
                            const double* inv_shrink, const double* mu, bint l1,
                            double* w, double* a) noexcept nogil:
    """One output's SAGA step on a dense row (see the C code above)."""
    if floating is float:
        skgd_saga_step_f(x, d, dk, drift_b, inv_n, eta, threshold, inv_shrink, mu,
                         l1, w, a)
    else:
        skgd_saga_step_d(x, d, dk, drift_b, inv_n, eta, threshold, inv_shrink, mu,
                         l1, w, a)


cdef inline double centred_dot(const floating* x, const double* mu, const double* w,
                               Py_ssize_t d) noexcept nogil:
    """``w . x - w . mu``; for float64 rows both in one pass over w."""
    cdef double wx, wm
    if floating is double:
        dot2_dense(w, x, mu, d, &wx, &wm)
        return wx - wm
    return dot_dense(x, w, d) - dot_dense(mu, w, d)


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
    cdef double s, dk, ab, inv_n = 1.0 / n
    cdef double loss_sum = 0.0, weight_sum = 0.0
    cdef bint with_l1 = l1 > 0.0
    cdef double* buf = <double*> PyMem_RawMalloc((3 * d + 3 * K) * sizeof(double))
    cdef double *eta, *threshold, *inv_shrink, *p, *g, *b_std
    cdef const floating* Xp = &X[0, 0] if n > 0 and d > 0 else NULL
    cdef const double* mu = &center[0] if d > 0 else NULL
    cdef const double* scale_j = &step_scale[0] if d > 0 else NULL
    cdef Penalty pen
    if buf == NULL:
        raise MemoryError()
    eta, threshold, inv_shrink = buf, buf + d, buf + 2 * d
    p, g, b_std = buf + 3 * d, buf + 3 * d + K, buf + 3 * d + 2 * K
    # the per-feature steps and shrinks of the penalty, fixed for the epoch
    pen = penalty_new(l1, l2, NULL, NULL, eta, inv_shrink)
    with nogil:
        penalty_feature_steps(&pen, step, scale_j, d)
        for j in range(d):
            threshold[j] = eta[j] * l1
        # the intercept of the standardised problem, b + W mu: the one SAGA
        # steps on (the user's intercept is b_std - W mu)
        for k in range(K):
            b_std[k] = b[k] + dot_dense(mu, &W[k, 0], d)
        for r in range(n_steps):
            prefetch_row(Xp, d, &Y[0, 0], &table[0, 0], K, &order[0],
                         r + PREFETCH_DISTANCE, n_steps)
            i = order[r]
            s = sample_weight[i]
            for k in range(K):
                p[k] = b_std[k] + centred_dot(Xp + i * d, mu, &W[k, 0], d)
            loss_sum += s * row_loss_grad(loss, &Y[i, 0], p, g, K, epsilon)
            weight_sum += s
            for k in range(K):
                g[k] *= s * weight_scale
                dk = g[k] - table[i, k]
                ab = abar_b[k]
                step_dense(Xp + i * d, d, dk, dk + ab, inv_n, eta, threshold,
                           inv_shrink, mu, with_l1, &W[k, 0], &abar[k, 0])
                if fit_intercept:
                    b_std[k] -= step * (dk + ab)
                abar_b[k] = ab + dk * inv_n
                table[i, k] = g[k]
        for k in range(K):
            b[k] = b_std[k] - dot_dense(mu, &W[k, 0], d)
    PyMem_RawFree(buf)
    return loss_sum, weight_sum


# CSR epochs keep, per feature, one record of doubles, so that everything an
# update reads or writes for one non-zero is in one or two cache lines,
# instead of arrays of d entries missed one after the other (d is large where
# data are sparse).  The record has one of two forms.
#
# * With an L1 part, the deferred steps of a feature are piecewise linear in
#   the partial sums of ``LazyPenalty`` and are replayed from the update at
#   which the feature was last brought up to date: the record is that index,
#   then (v_kj, a_kj) for every output (``stamped``, 1 + 2K doubles).
# * Without it, the deferred drift is linear: after update t a feature that
#   no row has touched since holds ``v_kj = u_kj - C_t a_kj``, with
#   ``C_t = sum_{tau < t} eta / scale_tau`` and ``u_kj`` constant until a row
#   touches the feature.  The record is (u_kj, a_kj) (``drift``, 2K doubles):
#   no index, no catch-up sweep, no table of partial sums; a non-zero costs
#   one read of its record for the dot product and one read and write for
#   the update.  ``u`` is re-based (every feature made true) with the window,
#   which bounds ``C_t`` by ``window`` steps, and so the rounding of
#   ``u - C_t a``: it is that of the drift since the window began.


cdef inline double take_difference(double g_new, double* table_ik, double* b_k,
                                   double* abar_b_k, double step, double inv_n,
                                   bint fit_intercept) noexcept nogil:
    """Replace a sample's table entry by ``g_new``; step the intercept with
    the old average and update the average.  Returns ``g_new - g_old``."""
    cdef double dk = g_new - table_ik[0]
    if fit_intercept:
        b_k[0] -= step * (dk + abar_b_k[0])
    abar_b_k[0] += dk * inv_n
    table_ik[0] = g_new
    return dk


cdef inline void prefetch_saga_row(const floating* vals, const index_t* cols,
                                   const index_t* indptr, const double* Y,
                                   const double* sample_weight,
                                   const double* table, Py_ssize_t K,
                                   const Py_ssize_t* order, Py_ssize_t pos,
                                   Py_ssize_t n_steps) noexcept nogil:
    """Ask for the row visited at ``pos`` (as a plain CSR epoch does) and for
    its table entry."""
    prefetch_csr_row(vals, cols, indptr, Y, K, sample_weight, False, order, pos,
                     n_steps)
    if pos < n_steps:
        prefetch(table + order[pos] * K)


cdef void drift_rebase(double* rec, Py_ssize_t K, Py_ssize_t d, double C,
                       double scale) noexcept nogil:
    """Make every drift record true at a window's end: ``u <- scale (u - C a)``."""
    cdef Py_ssize_t j, k
    cdef double* f
    for j in range(d):
        f = rec + j * 2 * K
        for k in range(K):
            f[2 * k] = scale * (f[2 * k] - C * f[2 * k + 1])


cdef inline double dot_drift(const floating* vals, const index_t* cols,
                             Py_ssize_t nnz, const double* rec, Py_ssize_t R,
                             double C) noexcept nogil:
    cdef Py_ssize_t m
    cdef double total = 0.0
    cdef const double* f
    for m in range(nnz):
        f = rec + cols[m] * R
        total += vals[m] * (f[0] - C * f[1])
    return total


cdef (double, double) epoch_csr_drift(
        const floating* vals, const index_t* cols, const index_t* indptr,
        const double* Y, const double* sample_weight, double weight_scale,
        const Py_ssize_t* order, Py_ssize_t n_steps, Py_ssize_t n, double* b,
        double* table, double* abar_b, double* rec, Py_ssize_t K, Py_ssize_t d,
        double* p, double* g, double step, double l2, int loss, double epsilon,
        bint fit_intercept, Py_ssize_t window) noexcept nogil:
    """The CSR epoch without L1, on drift records (see above)."""
    cdef Py_ssize_t R = 2 * K, r, i, k, m, start, nnz, t = 0
    cdef double s, dk, unit, v, C = 0.0, C_next, scale = 1.0
    cdef double shrink = 1.0 + step * l2, inv_n = 1.0 / n
    cdef double loss_sum = 0.0, weight_sum = 0.0
    cdef double* f
    for r in range(n_steps):
        if t >= window or scale < MIN_SCALE:
            drift_rebase(rec, K, d, C, scale)
            C, scale, t = 0.0, 1.0, 0
        prefetch_saga_row(vals, cols, indptr, Y, sample_weight, table, K, order,
                          r + PREFETCH_DISTANCE, n_steps)
        i = order[r]
        start = indptr[i]
        nnz = indptr[i + 1] - start
        s = sample_weight[i]
        for k in range(K):
            p[k] = b[k] + scale * dot_drift(vals + start, cols + start, nnz,
                                            rec + 2 * k, R, C)
        loss_sum += s * row_loss_grad(loss, &Y[i * K], p, g, K, epsilon)
        weight_sum += s
        # the row's features take this update's step now, the others drift;
        # the stored scale takes the L2 shrink
        unit = step / scale
        C_next = C + unit
        for k in range(K):
            dk = take_difference(g[k] * s * weight_scale, &table[i * K + k], &b[k],
                                 &abar_b[k], step, inv_n, fit_intercept)
            for m in range(start, start + nnz):
                f = rec + cols[m] * R + 2 * k
                v = f[0] - C * f[1] - unit * (dk * vals[m] + f[1])
                f[1] += dk * inv_n * vals[m]
                f[0] = v + C_next * f[1]
        C = C_next
        scale /= shrink
        t += 1
    drift_rebase(rec, K, d, C, scale)
    return loss_sum, weight_sum


cdef inline Py_ssize_t stamped_size(Py_ssize_t K) noexcept nogil:
    return 1 + 2 * K


cdef void catch_up_all(LazyPenalty* lp, double* rec, Py_ssize_t K,
                       Py_ssize_t d) noexcept nogil:
    """Flush the window: every coefficient true and up to date, scale 1."""
    cdef Py_ssize_t k, j, R = stamped_size(K)
    cdef double* f
    for j in range(d):
        f = rec + j * R
        for k in range(K):
            f[1 + 2 * k] = lp.scale * lazy_catch_up(lp, f[1 + 2 * k], f[2 + 2 * k],
                                                    <Py_ssize_t> f[0])
        f[0] = 0.0
    lazy_reset(lp)


cdef inline void catch_up_row(LazyPenalty* lp, double* rec, const index_t* cols,
                              Py_ssize_t nnz, Py_ssize_t K) noexcept nogil:
    """Bring the coefficients of a row's features up to date."""
    cdef Py_ssize_t m, k, last, R = stamped_size(K)
    cdef double* f
    for m in range(nnz):
        f = rec + cols[m] * R
        last = <Py_ssize_t> f[0]
        if last < lp.t:
            for k in range(K):
                f[1 + 2 * k] = lazy_catch_up(lp, f[1 + 2 * k], f[2 + 2 * k], last)
            f[0] = lp.t


cdef inline double dot_records(const floating* vals, const index_t* cols,
                               Py_ssize_t nnz, const double* rec,
                               Py_ssize_t R) noexcept nogil:
    cdef Py_ssize_t m
    cdef double total = 0.0
    for m in range(nnz):
        total += vals[m] * rec[cols[m] * R]
    return total


cdef (double, double) epoch_csr_stamped(
        const floating* vals, const index_t* cols, const index_t* indptr,
        const double* Y, const double* sample_weight, double weight_scale,
        const Py_ssize_t* order, Py_ssize_t n_steps, Py_ssize_t n, double* b,
        double* table, double* abar_b, double* rec, Py_ssize_t K, Py_ssize_t d,
        double* p, double* g, LazyPenalty* lp, int loss, double epsilon,
        bint fit_intercept) noexcept nogil:
    """The CSR epoch with an L1 part, on stamped records (see above)."""
    cdef Py_ssize_t R = stamped_size(K), r, i, k, m, start, nnz
    cdef double s, dk, unit, threshold, inv_n = 1.0 / n
    cdef double loss_sum = 0.0, weight_sum = 0.0
    cdef double* f
    lazy_reset(lp)
    for r in range(n_steps):
        if lazy_full(lp):
            catch_up_all(lp, rec, K, d)
        prefetch_saga_row(vals, cols, indptr, Y, sample_weight, table, K, order,
                          r + PREFETCH_DISTANCE, n_steps)
        i = order[r]
        start = indptr[i]
        nnz = indptr[i + 1] - start
        catch_up_row(lp, rec, cols + start, nnz, K)
        s = sample_weight[i]
        for k in range(K):
            p[k] = b[k] + lp.scale * dot_records(vals + start, cols + start, nnz,
                                                 rec + 1 + 2 * k, R)
        loss_sum += s * row_loss_grad(loss, &Y[i * K], p, g, K, epsilon)
        weight_sum += s
        # this update on the row's coefficients now; on the others it
        # is the drift recorded by lazy_advance
        unit = lazy_unit(lp)
        threshold = unit * lp.l1
        for k in range(K):
            dk = take_difference(g[k] * s * weight_scale, &table[i * K + k], &b[k],
                                 &abar_b[k], lp.step, inv_n, fit_intercept)
            for m in range(start, start + nnz):
                f = rec + cols[m] * R + 2 * k
                f[1] = prox_coef(f[1] - unit * (dk * vals[m] + f[2]), threshold, 1.0)
                f[2] += dk * inv_n * vals[m]
        for m in range(start, start + nnz):
            rec[cols[m] * R] = lp.t + 1
        lazy_advance(lp)
    catch_up_all(lp, rec, K, d)
    return loss_sum, weight_sum


def saga_epoch_csr(const floating[::1] data, const index_t[::1] indices,
                   const index_t[::1] indptr, const double[:, ::1] Y,
                   const double[::1] sample_weight, double weight_scale,
                   const Py_ssize_t[::1] order, double[:, ::1] W, double[::1] b,
                   double[:, ::1] table, double[:, ::1] abar, double[::1] abar_b,
                   double step, double l1, double l2, int loss, double epsilon,
                   bint fit_intercept, Py_ssize_t window):
    """One SAGA epoch over the CSR rows ``order``, O(nnz) per update.

    The deferred (lazy) part of the updates is flushed every ``window``
    updates.  The extra memory is the feature records, at most
    ``(1 + 2K) d`` doubles, and (with an L1 part) ``window + 1`` partial
    sums.  Returns ``(loss_sum, weight_sum)`` as ``saga_epoch_dense``.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, K = W.shape[0], d = W.shape[1]
    cdef bint stamped = l1 > 0.0
    cdef Py_ssize_t R = stamped_size(K) if stamped else 2 * K
    cdef Py_ssize_t n_steps = order.shape[0], k, j, head = 1 if stamped else 0
    cdef double loss_sum, weight_sum
    cdef const floating* vals = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cols = &indices[0] if indices.shape[0] > 0 else NULL
    cdef LazyPenalty lp
    cdef double *rec, *p, *g
    if n_steps == 0:
        return 0.0, 0.0
    window = max(window, 1)
    cdef Py_ssize_t n_sums = window + 1 if stamped else 0
    cdef double* buf = <double*> PyMem_RawMalloc(
        (n_sums + 2 * K + R * d) * sizeof(double))
    if buf == NULL:
        raise MemoryError()
    p, g, rec = buf + n_sums, buf + n_sums + K, buf + n_sums + 2 * K
    lp.C, lp.capacity = buf, window
    lp.step, lp.l1, lp.shrink = step, l1, 1.0 + step * l2
    with nogil:
        for j in range(d):
            if stamped:
                rec[j * R] = 0.0
            for k in range(K):
                rec[j * R + head + 2 * k] = W[k, j]
                rec[j * R + head + 1 + 2 * k] = abar[k, j]
        if stamped:
            loss_sum, weight_sum = epoch_csr_stamped(
                vals, cols, &indptr[0], &Y[0, 0], &sample_weight[0], weight_scale,
                &order[0], n_steps, n, &b[0], &table[0, 0],
                &abar_b[0], rec, K, d, p, g, &lp, loss, epsilon, fit_intercept)
        else:
            loss_sum, weight_sum = epoch_csr_drift(
                vals, cols, &indptr[0], &Y[0, 0], &sample_weight[0], weight_scale,
                &order[0], n_steps, n, &b[0], &table[0, 0],
                &abar_b[0], rec, K, d, p, g, step, l2, loss, epsilon, fit_intercept,
                window)
        for j in range(d):
            for k in range(K):
                W[k, j] = rec[j * R + head + 2 * k]
                abar[k, j] = rec[j * R + head + 1 + 2 * k]
    PyMem_RawFree(buf)
    return loss_sum, weight_sum
