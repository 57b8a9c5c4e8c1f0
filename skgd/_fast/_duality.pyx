# One pass over X for a duality gap: the loss, the derivatives grouped.
#
# The dual point of a linear model is built from the loss derivatives
# ``theta_i = dL/dp (x_i)`` at the current coefficients (``skgd._duality``
# explains the maths).  With an intercept the dual point must satisfy
# ``sum_i s_i rho_i theta_i = 0``, which is reached by scaling the samples
# group by group: for a loss that is a sum over the outputs, output k of
# sample i is in group 0 if ``theta_ik >= 0`` and in group 1 otherwise; for
# the multinomial loss sample i is in the group of its class (the largest
# target).  Per group and output this pass returns
#
#     T[g, k] = sum s_i theta_ik,   A[g, k] = sum s_i (theta_ik p_ik - L_ik)
#
# (for the multinomial loss, whose value is not a sum over k, the loss is
# subtracted in ``A[g, 0]``) and the gradient sums ``sum s_i theta_ik x_i``
# either per group (``G`` of shape (n_groups, K, d)), or already weighted by
# given group factors ``rho[g, k]`` (``G`` of shape (1, K, d)), or not at all
# (``G`` with no rows).

from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc
from cython.parallel cimport prange
from libc.math cimport fabs, log

from skgd._fast._loss cimport MULTINOMIAL, row_loss_grad
from skgd._fast._openmp cimport skgd_max_threads
from skgd._fast._rows cimport axpy_csr, axpy_dense, dot_csr, dot_dense, floating, index_t


cdef inline Py_ssize_t group_of(int loss, const double* y, const double* g,
                                Py_ssize_t K, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t c, best = 0
    if loss != MULTINOMIAL:
        return 0 if g[k] >= 0.0 else 1
    for c in range(1, K):
        if y[c] > y[best]:
            best = c
    return best


cdef inline double accumulate_row(int loss, const double* y, const double* p,
                                  double* g, double s, Py_ssize_t K, double epsilon,
                                  Py_ssize_t mode, const double* rho, double* T,
                                  double* A, double* coef) noexcept nogil:
    """Loss and group sums of one row at the predictions ``p``; returns
    ``s L``.  ``coef[k]`` receives the factor of x_i in G[.., k] and
    ``coef[K + k]`` its group; ``g`` and ``coef[2K]`` are scratch."""
    cdef Py_ssize_t k, grp
    cdef double value = row_loss_grad(loss, y, p, g, K, epsilon)
    for k in range(K):
        grp = group_of(loss, y, g, K, k)
        T[grp * K + k] += s * g[k]
        A[grp * K + k] += s * g[k] * p[k]
        if loss != MULTINOMIAL:
            # a sum over the outputs: each output's own loss to its group
            A[grp * K + k] -= s * (value if K == 1 else row_loss_grad(
                loss, &y[k], &p[k], &coef[2 * K], 1, epsilon))
        coef[k] = s * g[k] * (rho[grp * K + k] if mode == 1 else 1.0)
        coef[K + k] = grp
    if loss == MULTINOMIAL:
        A[group_of(loss, y, g, K, 0) * K] -= s * value
    return s * value


cdef Py_ssize_t start_pass(double[:, :, ::1] G, double[:, ::1] T, double[:, ::1] A):
    """Zero the outputs; return the mode: 0 per group, 1 weighted, 2 no G."""
    T[:, :] = 0.0
    A[:, :] = 0.0
    if G.shape[0] == 0:
        return 2
    G[:, :, :] = 0.0
    return 1 if G.shape[0] == 1 else 0


def dual_pass_dense(const floating[:, ::1] X, const double[:, ::1] Y,
                    const double[::1] sample_weight, const double[:, ::1] W,
                    const double[::1] b, int loss, double epsilon,
                    const double[:, ::1] rho, double[:, :, ::1] G,
                    double[:, ::1] T, double[:, ::1] A):
    """Fill ``T``, ``A`` (n_groups, K) and ``G`` (see the module note) at (W, b).

    Returns ``sum_i s_i L_i``.  ``T``, ``A`` and ``G`` are overwritten.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = W.shape[0], i, k
    cdef Py_ssize_t mode = start_pass(G, T, A)
    cdef double s, total = 0.0
    cdef double* buf = <double*> PyMem_RawMalloc((4 * K + 1) * sizeof(double))
    cdef double *p, *g, *coef
    if buf == NULL:
        raise MemoryError()
    p, g, coef = buf, buf + K, buf + 2 * K
    with nogil:
        for i in range(n):
            s = sample_weight[i]
            if s == 0.0:
                continue
            for k in range(K):
                p[k] = b[k] + dot_dense(&X[i, 0], &W[k, 0], d)
            total += accumulate_row(loss, &Y[i, 0], p, g, s, K, epsilon, mode,
                                    &rho[0, 0], &T[0, 0], &A[0, 0], coef)
            if mode == 2:
                continue
            for k in range(K):
                if coef[k] != 0.0:
                    axpy_dense(coef[k], &X[i, 0],
                               &G[0 if mode == 1 else <Py_ssize_t> coef[K + k], k, 0], d)
    PyMem_RawFree(buf)
    return total


def dual_pass_csr(const floating[::1] data, const index_t[::1] indices,
                  const index_t[::1] indptr, const double[:, ::1] Y,
                  const double[::1] sample_weight, const double[:, ::1] W,
                  const double[::1] b, int loss, double epsilon,
                  const double[:, ::1] rho, double[:, :, ::1] G,
                  double[:, ::1] T, double[:, ::1] A):
    """CSR version of ``dual_pass_dense``."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, K = W.shape[0], d = W.shape[1]
    cdef Py_ssize_t i, k, start, nnz
    cdef Py_ssize_t mode = start_pass(G, T, A)
    cdef double s, total = 0.0
    cdef const floating* vals = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cols = &indices[0] if indices.shape[0] > 0 else NULL
    cdef double* buf = <double*> PyMem_RawMalloc((4 * K + 1) * sizeof(double))
    cdef double *p, *g, *coef
    if buf == NULL:
        raise MemoryError()
    p, g, coef = buf, buf + K, buf + 2 * K
    with nogil:
        for i in range(n):
            s = sample_weight[i]
            if s == 0.0:
                continue
            start = indptr[i]
            nnz = indptr[i + 1] - start
            for k in range(K):
                p[k] = b[k] + dot_csr(vals + start, cols + start, nnz, &W[k, 0])
            total += accumulate_row(loss, &Y[i, 0], p, g, s, K, epsilon, mode,
                                    &rho[0, 0], &T[0, 0], &A[0, 0], coef)
            if mode == 2:
                continue
            for k in range(K):
                if coef[k] != 0.0:
                    axpy_csr(coef[k], vals + start, cols + start, nnz,
                             &G[0 if mode == 1 else <Py_ssize_t> coef[K + k], k, 0])
    PyMem_RawFree(buf)
    return total


# ---- the exact intercept correction of the batch solver's certificate ------
#
# skgd._gap makes the dual point of the logistic losses feasible for the
# intercept by a mixture of each row's probabilities with a fixed
# distribution, and needs sum_i w_i f*(mixture_i), f* the negative entropy.
# These sum it from the rows' loss derivatives u_i of the last pass, in one
# sweep without temporaries (numpy needed four n x K arrays).

cdef inline double xlogx(double p) noexcept nogil:
    return p * log(p) if p > 0.0 else 0.0


cdef enum:
    # The mixture sums run over fixed blocks of at least this many rows (at
    # most MIXTURE_BLOCKS of them), whose totals are added in block order:
    # the same bits on any number of threads.
    MIXTURE_BLOCK_ROWS = 4096
    MIXTURE_BLOCKS = 32


cdef Py_ssize_t mixture_blocks(Py_ssize_t n) noexcept nogil:
    return max(1, min(<Py_ssize_t> MIXTURE_BLOCKS, n // MIXTURE_BLOCK_ROWS))


cdef double add_in_order(const double* partial, Py_ssize_t nb) noexcept nogil:
    cdef double total = 0.0
    cdef Py_ssize_t blk
    for blk in range(nb):
        total += partial[blk]
    return total


def multinomial_mixture_entropy(const double[:, ::1] U, const double[:, ::1] Y,
                                const double[::1] weights, double t,
                                const double[::1] pi):
    """``sum_i w_i sum_k q'_ik log q'_ik``, ``q' = (1 - t)(u_i + y_i) + t pi``."""
    cdef Py_ssize_t n = U.shape[0], K = U.shape[1], i, k, blk, lo, hi
    cdef Py_ssize_t nb = mixture_blocks(n)
    cdef double row, q, acc
    cdef double partial[MIXTURE_BLOCKS]
    cdef int threads = <int> max(1, min(<Py_ssize_t> skgd_max_threads(), nb))
    with nogil:
        for blk in prange(nb, schedule="static", num_threads=threads):
            lo = blk * n // nb
            hi = (blk + 1) * n // nb
            acc = 0.0
            for i in range(lo, hi):
                row = 0.0
                for k in range(K):
                    q = (1.0 - t) * (U[i, k] + Y[i, k]) + t * pi[k]
                    row = row + xlogx(q)
                acc = acc + weights[i] * row
            partial[blk] = acc
    return add_in_order(partial, nb)


def binary_mixture_entropy(const double[:, ::1] U, const unsigned char[::1] raised,
                           const double[::1] weights, double t):
    """``sum_i w_i (p' log p' + (1 - p') log(1 - p'))``, ``p' = (1 - t)|u_i| + t r_i``."""
    cdef Py_ssize_t n = U.shape[0], i, blk, lo, hi
    cdef Py_ssize_t nb = mixture_blocks(n)
    cdef double p, acc
    cdef double partial[MIXTURE_BLOCKS]
    cdef int threads = <int> max(1, min(<Py_ssize_t> skgd_max_threads(), nb))
    with nogil:
        for blk in prange(nb, schedule="static", num_threads=threads):
            lo = blk * n // nb
            hi = (blk + 1) * n // nb
            acc = 0.0
            for i in range(lo, hi):
                p = (1.0 - t) * fabs(U[i, 0]) + t * raised[i]
                acc = acc + weights[i] * (xlogx(p) + xlogx(1.0 - p))
            partial[blk] = acc
    return add_in_order(partial, nb)
