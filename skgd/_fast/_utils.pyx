# Single passes over X for the data-dependent constants of a fit (feature
# moments for the preconditioner, squared row norms for step sizes), so that
# Python never builds an n_samples x n_features temporary such as X ** 2.

from skgd._fast._rows cimport floating, index_t


def column_moments_dense(const floating[:, ::1] X, const double[::1] sample_weight,
                         double[::1] mean, double[::1] var):
    """Weighted mean and variance of every column (two-pass, numerically safe).

    ``sample_weight`` is normalised here: the results are weighted averages.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
    cdef double total = 0.0, s, diff
    with nogil:
        for j in range(d):
            mean[j] = 0.0
            var[j] = 0.0
        for i in range(n):
            s = sample_weight[i]
            total += s
            for j in range(d):
                mean[j] += s * X[i, j]
        for j in range(d):
            mean[j] /= total
        for i in range(n):
            s = sample_weight[i]
            for j in range(d):
                diff = X[i, j] - mean[j]
                var[j] += s * diff * diff
        for j in range(d):
            var[j] /= total


def column_sq_mean_csr(const floating[::1] data, const index_t[::1] indices,
                       const index_t[::1] indptr, const double[::1] sample_weight,
                       double[::1] sq_mean):
    """Weighted mean of x_ij ** 2 for every column of a CSR matrix."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = sq_mean.shape[0], i, m
    cdef double total = 0.0, s, v
    with nogil:
        for m in range(d):
            sq_mean[m] = 0.0
        for i in range(n):
            s = sample_weight[i]
            total += s
            for m in range(indptr[i], indptr[i + 1]):
                v = data[m]
                sq_mean[indices[m]] += s * v * v
        for m in range(d):
            sq_mean[m] /= total


def row_sq_norms_dense(const floating[:, ::1] X, const double[::1] step_scale,
                       const double[::1] center, double[::1] out):
    """out_i = sum_j step_scale_j * (x_ij - center_j) ** 2."""
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], i, j
    cdef double acc, diff
    with nogil:
        for i in range(n):
            acc = 0.0
            for j in range(d):
                diff = X[i, j] - center[j]
                acc += step_scale[j] * diff * diff
            out[i] = acc


def row_sq_norms_csr(const floating[::1] data, const index_t[::1] indptr,
                     double[::1] out):
    """out_i = sum_j x_ij ** 2 over the stored values of row i."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, i, m
    cdef double acc
    with nogil:
        for i in range(n):
            acc = 0.0
            for m in range(indptr[i], indptr[i + 1]):
                acc += data[m] * data[m]
            out[i] = acc
