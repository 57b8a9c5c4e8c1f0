# Single passes over X for the data-dependent constants of a fit (feature
# moments for the preconditioner, squared row norms for step sizes), so that
# Python never builds an n_samples x n_features temporary such as X ** 2.

cimport cython
from cpython.mem cimport PyMem_RawCalloc, PyMem_RawFree
from cython.parallel cimport prange
from libc.stdint cimport uint32_t, uint64_t

from skgd._fast._openmp cimport skgd_max_threads
from skgd._fast._rows cimport floating, index_t
from skgd._fast._schedule cimport schedule_step as _schedule_step


def column_moments_dense(const floating[:, ::1] X, const double[::1] sample_weight,
                         double[::1] mean, double[::1] var):
    """Weighted mean and variance of every column (two-pass, numerically safe).

    ``sample_weight`` is normalised here: the results are weighted averages.
    numpy's ``np.average((X - mean) ** 2, weights=...)`` and scikit-learn's
    ``_incremental_mean_and_var`` form n x d temporaries (and upcast float32
    X to a float64 copy first); this reads X twice in place.
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


def column_moments_csr(const floating[::1] data, const index_t[::1] indices,
                       const index_t[::1] indptr, const double[::1] sample_weight,
                       double[::1] mean, double[::1] var):
    """Weighted mean and variance of every column of a CSR matrix (two-pass).

    The variance sums squared deviations from the mean: the stored values
    in the second pass, the implicit zeros as ``(weight of the rows without
    a stored value) * mean ** 2``.  E[x^2] - E[x]^2 is all rounding for a
    column like 1e4 +- 1e-2 (it left that column unscaled and the batch fit
    stopped at a relative objective gap of 0.14).  This is what
    ``sklearn.utils.sparsefuncs.mean_variance_axis`` computes, but that
    needs weights in X's dtype and accumulates and returns float32 for
    float32 X, where a square above 3.4e38 (an entry above 1.8e19) becomes
    inf (measured: variance inf for a column of 1e20); here every sum is
    in double, as in ``column_moments_dense``, without copying X.
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = mean.shape[0], i, m, j
    cdef double total = 0.0, s, diff
    cdef double* stored = <double*> PyMem_RawCalloc(d, sizeof(double))
    if stored == NULL:
        raise MemoryError()
    with nogil:
        for j in range(d):
            mean[j] = 0.0
            var[j] = 0.0
        for i in range(n):
            s = sample_weight[i]
            total += s
            for m in range(indptr[i], indptr[i + 1]):
                mean[indices[m]] += s * data[m]
                stored[indices[m]] += s
        for j in range(d):
            mean[j] /= total
        for i in range(n):
            s = sample_weight[i]
            for m in range(indptr[i], indptr[i + 1]):
                diff = data[m] - mean[indices[m]]
                var[indices[m]] += s * diff * diff
        for j in range(d):
            var[j] = (var[j] + (total - stored[j]) * mean[j] * mean[j]) / total
    PyMem_RawFree(stored)


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


def row_sq_norms_csr(const floating[::1] data, const index_t[::1] indices,
                     const index_t[::1] indptr, double[::1] out,
                     const double[::1] step_scale=None):
    """out_i = sum_j step_scale_j x_ij ** 2 over the stored values of row i.

    ``step_scale`` (a per-feature preconditioner, no centring) defaults to
    ones: the plain squared norms.  Kept instead of
    ``sklearn.utils.extmath.row_norms(X, squared=True)``, which is faster
    (measured 2.5 ms against 6.7 ms on a 200,000 x 2,000 CSR matrix at
    0.5 % density) but sums float32 rows in float32: a row with an entry
    above 1.8e19 gets an infinite norm, where this double sum gives the
    finite step size (and the rounding of long float32 rows, 2.9e-7
    relative measured, stays out of the step).
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, i, m
    cdef double acc
    cdef bint scaled = step_scale is not None
    with nogil:
        for i in range(n):
            acc = 0.0
            for m in range(indptr[i], indptr[i + 1]):
                if scaled:
                    acc += step_scale[indices[m]] * data[m] * data[m]
                else:
                    acc += data[m] * data[m]
            out[i] = acc


def column_frequency_csr(const floating[::1] data, const index_t[::1] indices,
                         const index_t[::1] indptr, const double[::1] sample_weight,
                         double[::1] out):
    """out_j = weighted fraction of the rows that store a non-zero in column j.

    ``sum_i s_i [x_ij != 0] / sum_i s_i``, in one pass over the stored
    values, without a copy of them (explicit zeros are not counted).
    """
    cdef Py_ssize_t n = indptr.shape[0] - 1, d = out.shape[0], i, m, j
    cdef double total = 0.0, s
    with nogil:
        for j in range(d):
            out[j] = 0.0
        for i in range(n):
            s = sample_weight[i]
            total += s
            for m in range(indptr[i], indptr[i + 1]):
                if data[m] != 0:
                    out[indices[m]] += s
        if total > 0.0:
            for j in range(d):
                out[j] /= total

# ---- random visiting order -----------------------------------------------------
# numpy's RandomState.permutation draws each swap index through the legacy
# bounded-integer path (~15 ns a row: 3 ms of a 35 ms SGD epoch on 200,000
# rows).  The Fisher-Yates shuffle below draws from SplitMix64 (Steele, Lea
# and Flood, 2014), seeded once per epoch from the estimator's RandomState,
# with Lemire's (2019) multiply-shift bounded integers (unbiased: the rare
# draws that would favour small values are rejected).  Python still owns the
# order: it is a plain index array that a reference can replay.

cdef inline uint64_t splitmix64(uint64_t* state) noexcept nogil:
    cdef uint64_t z
    state[0] += <uint64_t> 0x9E3779B97F4A7C15ULL
    z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EBULL
    return z ^ (z >> 31)


@cython.cdivision(True)
cdef inline uint64_t bounded(uint64_t* state, uint64_t bound) noexcept nogil:
    """A uniform integer in [0, bound), bound >= 1."""
    cdef uint64_t x, m, threshold
    cdef uint32_t low
    if bound <= <uint64_t> 0xFFFFFFFFULL:
        # Lemire: the high half of x * bound for a 32-bit x, rejecting the
        # low halves below 2**32 mod bound.
        x = splitmix64(state) >> 32
        m = x * bound
        low = <uint32_t> m
        if low < bound:
            threshold = (<uint64_t> 0x100000000ULL - bound) % bound
            while low < threshold:
                x = splitmix64(state) >> 32
                m = x * bound
                low = <uint32_t> m
        return m >> 32
    # more than 2**32 rows: reject the top 2**64 mod bound values
    threshold = (<uint64_t> 0 - bound) % bound
    x = splitmix64(state)
    while x < threshold:
        x = splitmix64(state)
    return x % bound


def shuffled_order(Py_ssize_t[::1] order, uint64_t seed):
    """Fill ``order`` with a uniformly random permutation of 0 .. n - 1.

    Parameters
    ----------
    order : ndarray of shape (n,), dtype intp, overwritten.
    seed : int in [0, 2**64), the state of the generator.
    """
    cdef Py_ssize_t n = order.shape[0], i, j, tmp
    cdef uint64_t state = seed
    with nogil:
        for i in range(n):
            order[i] = i
        for i in range(n - 1, 0, -1):
            j = <Py_ssize_t> bounded(&state, <uint64_t> (i + 1))
            tmp = order[i]
            order[i] = order[j]
            order[j] = tmp


def schedule_step(int schedule, double eta0, double power_t, double optimal_alpha,
                  double optimal_t0, long long t):
    """The step of update ``t`` under a schedule code: the epoch kernels'
    formula (``_schedule.pxd``), for the solvers that step from Python."""
    return _schedule_step(schedule, eta0, power_t, optimal_alpha, optimal_t0, t)


cdef enum:
    # values per block of the finiteness check (~64 KB of doubles)
    FINITE_BLOCK = 8192


cdef bint block_finite(const floating* v, Py_ssize_t n) noexcept nogil:
    """Whether v[0:n] is finite, from the bits: a value is an infinity or a
    NaN exactly when its exponent bits are all ones, and adding one unit of
    the lowest exponent bit then carries into the sign bit.  Integer ANDs,
    adds and ORs only, which the compiler turns into vector instructions
    (a floating-point sum could not be reordered to vectorise)."""
    cdef const uint64_t* b64 = <const uint64_t*> v
    cdef const uint32_t* b32 = <const uint32_t*> v
    cdef uint64_t acc64 = 0
    cdef uint32_t acc32 = 0
    cdef Py_ssize_t i
    if floating is double:
        for i in range(n):
            acc64 |= (b64[i] & 0x7FF0000000000000ULL) + 0x0010000000000000ULL
        return (acc64 >> 63) == 0
    else:
        for i in range(n):
            acc32 |= (b32[i] & 0x7F800000U) + 0x00800000U
        return (acc32 >> 31) == 0


def all_finite(const floating[::1] values, int n_threads=-1):
    """Whether every value is finite (no NaN, no infinity).

    The check of scikit-learn's input validation, in parallel over fixed
    blocks on the OpenMP threads: an n x d array is one pass over memory.
    The caller raises scikit-learn's own error where this says False.
    """
    cdef Py_ssize_t n = values.shape[0]
    cdef Py_ssize_t n_blocks = (n + FINITE_BLOCK - 1) // FINITE_BLOCK, blk, lo
    cdef int bad = 0
    cdef int threads = skgd_max_threads() if n_threads <= 0 else n_threads
    if n == 0:
        return True
    if n_blocks < 4:
        threads = 1  # not worth waking a thread
    with nogil:
        for blk in prange(n_blocks, schedule="static", num_threads=threads):
            lo = blk * FINITE_BLOCK
            if not block_finite(&values[0] + lo, min(FINITE_BLOCK, n - lo)):
                bad += 1
    return bad == 0
