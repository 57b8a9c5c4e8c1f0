# The full-batch gradient in one fused pass over X.
#
# Design
# ------
# For every row the K predictions, the loss and its K-vector derivative are
# computed and the row is immediately accumulated into the gradient, so X is
# read exactly once per call (not once for X @ W and once for X.T @ r).  The
# loss value can be taken at a second point (W_eval, b_eval): accelerated
# gradient methods evaluate the gradient at an extrapolated point but report
# the objective at the iterate, and the second dot product on a row that is
# already in cache costs little next to reading the row.
#
# Sums are not normalised here: the caller divides by the total sample weight.

from libc.stdlib cimport free, malloc

from skgd._fast._loss cimport row_loss_grad
from skgd._fast._rows cimport (axpy_csr, axpy_dense, dot_csr, dot_dense,
                               floating, index_t)


def gradient_dense(const floating[:, ::1] X, const double[:, ::1] Y,
                   const double[::1] sample_weight,
                   const double[:, ::1] W, const double[::1] b,
                   const double[:, ::1] W_eval, const double[::1] b_eval,
                   double[:, ::1] G, double[::1] Gb, int loss, double epsilon):
    """Accumulate the weighted gradient of the data term over dense rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous
    Y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,)
    W, b : coefficients (n_outputs, n_features) and intercepts (n_outputs,)
        The point at which the gradient is taken.
    W_eval, b_eval : the point at which the loss value is taken (may be the
        same arrays as ``W`` and ``b``).
    G, Gb : outputs, overwritten with ``sum_i s_i g_i x_i`` and ``sum_i s_i g_i``.
    loss : int, a code of ``skgd._fast._loss``.
    epsilon : float, the loss parameter (huber, epsilon-insensitive).

    Returns
    -------
    loss_sum : float
        ``sum_i s_i L(y_i, W_eval x_i + b_eval)``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = W.shape[0]
    cdef Py_ssize_t i, k
    cdef bint same_point = &W_eval[0, 0] == &W[0, 0] and &b_eval[0] == &b[0]
    cdef double s, total = 0.0
    cdef double* buf = <double*> malloc(4 * K * sizeof(double))
    cdef double* p = buf
    cdef double* q = buf + K
    cdef double* g = buf + 2 * K
    cdef double* g_eval = buf + 3 * K
    if buf == NULL:
        raise MemoryError()
    G[:, :] = 0.0
    Gb[:] = 0.0
    with nogil:
        for i in range(n):
            s = sample_weight[i]
            if s == 0.0:
                continue
            for k in range(K):
                p[k] = b[k] + dot_dense(&X[i, 0], &W[k, 0], d)
            if same_point:
                total += s * row_loss_grad(loss, &Y[i, 0], p, g, K, epsilon)
            else:
                row_loss_grad(loss, &Y[i, 0], p, g, K, epsilon)
                for k in range(K):
                    q[k] = b_eval[k] + dot_dense(&X[i, 0], &W_eval[k, 0], d)
                total += s * row_loss_grad(loss, &Y[i, 0], q, g_eval, K, epsilon)
            for k in range(K):
                if g[k] != 0.0:
                    axpy_dense(s * g[k], &X[i, 0], &G[k, 0], d)
                    Gb[k] += s * g[k]
    free(buf)
    return total


def gradient_csr(const floating[::1] data, const index_t[::1] indices,
                 const index_t[::1] indptr, const double[:, ::1] Y,
                 const double[::1] sample_weight,
                 const double[:, ::1] W, const double[::1] b,
                 const double[:, ::1] W_eval, const double[::1] b_eval,
                 double[:, ::1] G, double[::1] Gb, int loss, double epsilon):
    """Accumulate the weighted gradient over CSR rows; see ``gradient_dense``."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, K = W.shape[0]
    cdef Py_ssize_t i, k, start, nnz
    # Base pointers taken once: a row with no stored value must not index
    # past the end of ``data`` (a bounds-checked build would raise there).
    cdef const floating* vals = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cols = &indices[0] if indices.shape[0] > 0 else NULL
    cdef bint same_point = &W_eval[0, 0] == &W[0, 0] and &b_eval[0] == &b[0]
    cdef double s, total = 0.0
    cdef double* buf = <double*> malloc(4 * K * sizeof(double))
    cdef double* p = buf
    cdef double* q = buf + K
    cdef double* g = buf + 2 * K
    cdef double* g_eval = buf + 3 * K
    if buf == NULL:
        raise MemoryError()
    G[:, :] = 0.0
    Gb[:] = 0.0
    with nogil:
        for i in range(n):
            s = sample_weight[i]
            if s == 0.0:
                continue
            start = indptr[i]
            nnz = indptr[i + 1] - start
            for k in range(K):
                p[k] = b[k] + dot_csr(vals + start, cols + start, nnz, &W[k, 0])
            if same_point:
                total += s * row_loss_grad(loss, &Y[i, 0], p, g, K, epsilon)
            else:
                row_loss_grad(loss, &Y[i, 0], p, g, K, epsilon)
                for k in range(K):
                    q[k] = b_eval[k] + dot_csr(vals + start, cols + start, nnz,
                                               &W_eval[k, 0])
                total += s * row_loss_grad(loss, &Y[i, 0], q, g_eval, K, epsilon)
            for k in range(K):
                if g[k] != 0.0:
                    axpy_csr(s * g[k], vals + start, cols + start, nnz, &G[k, 0])
                    Gb[k] += s * g[k]
    free(buf)
    return total
