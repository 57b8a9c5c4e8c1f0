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
# already in cache costs little next to reading the row.  When the two
# points hold the same values the second evaluation is skipped.
#
# Deterministic parallel reduction
# --------------------------------
# The rows are split into a number of contiguous blocks that depends only on
# the shape of the problem (``n_blocks``), never on the number of threads.
# Each block accumulates its own partial gradient and loss sequentially over
# its rows; the partials are then added in block order (for the gradient:
# in parallel over features, each feature summing the blocks 0, 1, 2, ...).
# Every floating-point operation and its order are therefore fixed by the
# data, and the result is bit-identical on 1 or any number of threads, with
# or without OpenMP at build time.  OpenMP (``prange``) only decides which
# thread computes which block.
#
# Sums are not normalised here: the caller divides by the total sample weight.

from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc
from cython.parallel cimport prange

from skgd._fast._loss cimport row_loss_grad
from skgd._fast._openmp cimport skgd_max_threads
from skgd._fast._rows cimport axpy_csr, dot_csr, dot_dense, floating, index_t
from skgd._fast._rows cimport prefetch_span, skgd_avx_selected

cdef enum:
    # At most this many blocks: enough to balance two to a few dozen
    # threads; each block adds one partial of K * d doubles to reduce.
    MAX_BLOCKS = 32
    # A block is worth a partial gradient and a thread's wake-up from this
    # many stored values of X on (~30 us of work).
    MIN_BLOCK_VALUES = 65536
    # The partials take at most 1 / PARTIAL_FRACTION of the stored values of
    # X (memory, and the cost of adding them up).
    PARTIAL_FRACTION = 32


cpdef Py_ssize_t n_blocks(Py_ssize_t n_rows, Py_ssize_t n_values, Py_ssize_t n_outputs,
                          Py_ssize_t n_features) noexcept nogil:
    """Number of row blocks of the gradient: a function of the shape only.

    ``n_values`` is the number of stored values of X (n_rows * n_features
    when dense, nnz for CSR).
    """
    cdef Py_ssize_t size = max(1, n_outputs * (n_features + 1))
    cdef Py_ssize_t nb = min(<Py_ssize_t> MAX_BLOCKS, n_values // MIN_BLOCK_VALUES)
    nb = min(nb, n_rows)
    nb = min(nb, n_values // (PARTIAL_FRACTION * size))
    return max(nb, 1)


def max_threads():
    """Threads the parallel gradient uses by default (1 without OpenMP)."""
    return skgd_max_threads()


def avx_selected():
    """Whether this module's rows of 32 values or more run the AVX loops."""
    return bool(skgd_avx_selected())


cdef bint same_values(const double* W, const double* b, const double* W_eval,
                      const double* b_eval, Py_ssize_t K, Py_ssize_t d) noexcept nogil:
    """True when (W_eval, b_eval) holds the values of (W, b)."""
    cdef Py_ssize_t j
    if W == W_eval and b == b_eval:
        return True
    for j in range(K * d):
        if W[j] != W_eval[j]:
            return False
    for j in range(K):
        if b[j] != b_eval[j]:
            return False
    return True


cdef bint all_zero(const double* W, Py_ssize_t size) noexcept nogil:
    """True when every coefficient is zero."""
    cdef Py_ssize_t j
    for j in range(size):
        if W[j] != 0.0:
            return False
    return True


cdef double* rows_output(double[:, ::1] U, Py_ssize_t n, Py_ssize_t K) except? NULL:
    """The buffer of the rows' loss derivatives (n x K), or NULL if not asked."""
    if U is None:
        return NULL
    if U.shape[0] != n or U.shape[1] != K:
        raise ValueError("U must have the shape of Y")
    return &U[0, 0] if n > 0 else NULL


cdef extern from "_simd_tile.h":
    # Dense loops on a tile of rows, with the bits of the row loops of
    # ``_simd.h`` (see the header).
    enum:
        TILE_ROWS "SKGD_TILE_ROWS"
    void skgd_dot_tile_d(const double** x, const double* w, Py_ssize_t d,
                         double* out) noexcept nogil
    void skgd_dot_tile_f(const float** x, const double* w, Py_ssize_t d,
                         double* out) noexcept nogil
    void skgd_axpy_tile_d(const double* a, const double** x, int m, double* g,
                          Py_ssize_t d) noexcept nogil
    void skgd_axpy_tile_f(const double* a, const float** x, int m, double* g,
                          Py_ssize_t d) noexcept nogil

cdef enum:
    # Doubles of scratch per output in a block's slab: the tile's
    # predictions at both points and its derivatives, and one more vector.
    SCRATCH_PER_OUTPUT = 3 * TILE_ROWS + 1
    PREFETCH_ROWS = TILE_ROWS


cdef inline void dot_tile(const floating** x, const double* w, Py_ssize_t d,
                          double* out) noexcept nogil:
    if floating is float:
        skgd_dot_tile_f(x, w, d, out)
    else:
        skgd_dot_tile_d(x, w, d, out)


cdef inline void axpy_tile(const double* a, const floating** x, int m, double* g,
                           Py_ssize_t d) noexcept nogil:
    if floating is float:
        skgd_axpy_tile_f(a, x, m, g, d)
    else:
        skgd_axpy_tile_d(a, x, m, g, d)


cdef inline void tile_dots(const floating** xs, int m, const double* w, Py_ssize_t d,
                           double* dots) noexcept nogil:
    """dots[r] = xs[r] . w for the m rows of a tile (a full one side by side)."""
    cdef int r
    if m == TILE_ROWS:
        dot_tile(xs, w, d, dots)
    else:
        for r in range(m):
            dots[r] = dot_dense(xs[r], w, d)


cdef void tile_dense(const floating** xs, const Py_ssize_t* rows, int m, Py_ssize_t d,
                     const double* Y, Py_ssize_t K, const double* sample_weight,
                     const double* W, const double* b, const double* W_eval,
                     const double* b_eval, bint same_point, bint zero_w, double* G,
                     double* Gb, double* buf, int loss, double epsilon, double* U,
                     double* total) noexcept nogil:
    """Add the m <= TILE_ROWS rows ``xs`` (indices ``rows``) to G, Gb, total.

    Every sum takes the rows' terms one after the other, in row order, so
    the result has the bits of a loop over the rows one at a time.  With
    ``zero_w`` (one point, W = 0: the first pass of a fit, and the class
    sums of the duality gap) the dot products, all +0, are not taken.
    """
    cdef Py_ssize_t k, i
    cdef int r, used
    cdef double s
    cdef double* p = buf                       # (TILE_ROWS, K) at (W, b)
    cdef double* q = buf + TILE_ROWS * K       # (TILE_ROWS, K) at the eval point
    cdef double* g = buf + 2 * TILE_ROWS * K   # (TILE_ROWS, K) derivatives
    cdef double* g_eval = buf + 3 * TILE_ROWS * K
    cdef double dots[TILE_ROWS]
    cdef double coef[TILE_ROWS]
    cdef const floating* picked[TILE_ROWS]
    for k in range(K):
        if zero_w:
            for r in range(m):
                dots[r] = 0.0
        else:
            tile_dots(xs, m, W + k * d, d, dots)
        for r in range(m):
            p[r * K + k] = b[k] + dots[r]
        if not same_point:
            tile_dots(xs, m, W_eval + k * d, d, dots)
            for r in range(m):
                q[r * K + k] = b_eval[k] + dots[r]
    for r in range(m):
        i = rows[r]
        s = sample_weight[i]
        if same_point:
            total[0] += s * row_loss_grad(loss, Y + i * K, p + r * K, g + r * K, K,
                                          epsilon)
        else:
            row_loss_grad(loss, Y + i * K, p + r * K, g + r * K, K, epsilon)
            total[0] += s * row_loss_grad(loss, Y + i * K, q + r * K, g_eval, K,
                                          epsilon)
        if U != NULL:
            for k in range(K):
                U[i * K + k] = g[r * K + k]
    for k in range(K):
        # a row whose derivative is zero adds nothing (not even a signed zero)
        used = 0
        for r in range(m):
            if g[r * K + k] != 0.0:
                coef[used] = sample_weight[rows[r]] * g[r * K + k]
                picked[used] = xs[r]
                Gb[k] += coef[used]
                used += 1
        if used > 0:
            axpy_tile(coef, picked, used, G + k * d, d)


cdef double block_dense(const floating* X, Py_ssize_t d, const double* Y, Py_ssize_t K,
                        const double* sample_weight, const double* W, const double* b,
                        const double* W_eval, const double* b_eval, bint same_point,
                        bint zero_w, double* G, double* Gb, double* buf, Py_ssize_t lo,
                        Py_ssize_t hi, int loss, double epsilon,
                        double* U) noexcept nogil:
    """Gradient and loss sums of rows [lo, hi) into G, Gb (overwritten).

    ``U`` (or NULL) receives each row's loss derivative ``g_i`` (n x K).
    Rows of non-zero weight are taken TILE_ROWS at a time (``tile_dense``).
    """
    cdef Py_ssize_t i, k, j
    cdef double total = 0.0
    cdef const floating* xs[TILE_ROWS]
    cdef Py_ssize_t rows[TILE_ROWS]
    cdef int m = 0
    for j in range(K * d):
        G[j] = 0.0
    for k in range(K):
        Gb[k] = 0.0
    for i in range(lo, hi):
        if sample_weight[i] == 0.0:
            continue
        xs[m] = X + i * d
        rows[m] = i
        m += 1
        if m == TILE_ROWS:
            # the rows after the tile start coming from memory while the
            # tile's losses and updates are computed
            if i + 1 + PREFETCH_ROWS <= hi:
                prefetch_span(X + (i + 1) * d, PREFETCH_ROWS * d * sizeof(floating))
            tile_dense(xs, rows, m, d, Y, K, sample_weight, W, b, W_eval, b_eval,
                       same_point, zero_w, G, Gb, buf, loss, epsilon, U, &total)
            m = 0
    if m > 0:
        tile_dense(xs, rows, m, d, Y, K, sample_weight, W, b, W_eval, b_eval,
                   same_point, zero_w, G, Gb, buf, loss, epsilon, U, &total)
    return total


cdef double block_csr(const floating* vals, const index_t* cols, const index_t* indptr,
                      Py_ssize_t d, const double* Y, Py_ssize_t K,
                      const double* sample_weight, const double* W, const double* b,
                      const double* W_eval, const double* b_eval, bint same_point,
                      double* G, double* Gb, double* buf, Py_ssize_t lo,
                      Py_ssize_t hi, int loss, double epsilon,
                      double* U) noexcept nogil:
    """CSR version of ``block_dense``."""
    cdef Py_ssize_t i, k, j, start, nnz
    cdef double s, total = 0.0
    cdef double* p = buf
    cdef double* q = buf + K
    cdef double* g = buf + 2 * K
    cdef double* g_eval = buf + 3 * K
    for j in range(K * d):
        G[j] = 0.0
    for k in range(K):
        Gb[k] = 0.0
    for i in range(lo, hi):
        s = sample_weight[i]
        if s == 0.0:
            continue
        start = indptr[i]
        nnz = indptr[i + 1] - start
        for k in range(K):
            p[k] = b[k] + dot_csr(vals + start, cols + start, nnz, W + k * d)
        if same_point:
            total += s * row_loss_grad(loss, Y + i * K, p, g, K, epsilon)
        else:
            row_loss_grad(loss, Y + i * K, p, g, K, epsilon)
            for k in range(K):
                q[k] = b_eval[k] + dot_csr(vals + start, cols + start, nnz,
                                           W_eval + k * d)
            total += s * row_loss_grad(loss, Y + i * K, q, g_eval, K, epsilon)
        if U != NULL:
            for k in range(K):
                U[i * K + k] = g[k]
        for k in range(K):
            if g[k] != 0.0:
                axpy_csr(s * g[k], vals + start, cols + start, nnz, G + k * d)
                Gb[k] += s * g[k]
    return total


cdef void reduce_blocks(const double* slabs, Py_ssize_t nb, Py_ssize_t stride,
                        Py_ssize_t size, double* out, int n_threads) noexcept nogil:
    """out[j] = sum over blocks, in block order, of slabs[blk * stride + j].

    Features are split into chunks that threads take independently; each
    feature's sum runs over the blocks in the same order whatever the split.
    """
    cdef Py_ssize_t chunk = 4096, c, j, j0, j1, blk
    cdef Py_ssize_t n_chunks = (size + chunk - 1) // chunk
    if n_chunks == 1:
        n_threads = 1  # not worth waking a thread
    for c in prange(n_chunks, schedule="static", num_threads=n_threads):
        j0 = c * chunk
        j1 = min(j0 + chunk, size)
        for j in range(j0, j1):
            out[j] = slabs[j]
        for blk in range(1, nb):
            for j in range(j0, j1):
                out[j] = out[j] + slabs[blk * stride + j]


cdef Py_ssize_t slab_stride(Py_ssize_t K, Py_ssize_t d) noexcept nogil:
    """Doubles per block: the (K, d) and (K,) partials, the loss total and
    SCRATCH_PER_OUTPUT * K of scratch, rounded up to whole cache lines plus
    one line of padding so that no two threads ever write to the same line (false sharing would
    bounce a line between cores on every row)."""
    cdef Py_ssize_t line = 8  # doubles per 64-byte cache line
    cdef Py_ssize_t used = K * d + K + 1 + SCRATCH_PER_OUTPUT * K
    return (used + line - 1) // line * line + line


cdef int resolve_threads(int n_threads, Py_ssize_t nb) noexcept nogil:
    cdef int available = skgd_max_threads()
    if n_threads <= 0 or n_threads > available:
        n_threads = available
    return <int> max(1, min(<Py_ssize_t> n_threads, nb))


def planned_threads(Py_ssize_t n_rows, Py_ssize_t n_values, Py_ssize_t n_outputs,
                    Py_ssize_t n_features, int n_threads=-1):
    """OpenMP threads a gradient call on this shape runs its row blocks on.

    The arguments are those of :func:`n_blocks` and ``n_threads`` of the
    gradient functions (the tests check that a parallel pass really is one).
    """
    return resolve_threads(n_threads, n_blocks(n_rows, n_values, n_outputs, n_features))


def gradient_dense(const floating[:, ::1] X, const double[:, ::1] Y,
                   const double[::1] sample_weight,
                   const double[:, ::1] W, const double[::1] b,
                   const double[:, ::1] W_eval, const double[::1] b_eval,
                   double[:, ::1] G, double[::1] Gb, int loss, double epsilon,
                   int n_threads=-1, double[:, ::1] U=None):
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
    n_threads : int, default=-1
        OpenMP threads (<= 0: OpenMP's default).  The result does not depend
        on it: see the module's design note.
    U : ndarray of shape (n_samples, n_outputs) or None
        If given, overwritten with each row's loss derivative at (W, b)
        (rows of zero weight are left as they were); the duality gap's
        exact intercept correction reads it (``skgd._gap``).

    Returns
    -------
    loss_sum : float
        ``sum_i s_i L(y_i, W_eval x_i + b_eval)``.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], K = W.shape[0]
    cdef Py_ssize_t nb = n_blocks(n, n * d, K, d)
    # checked before any allocation: a wrong shape raises without a leak
    cdef double* Up = rows_output(U, Y.shape[0], K)
    cdef Py_ssize_t size = K * d, blk
    cdef int threads = resolve_threads(n_threads, nb)
    cdef double total = 0.0
    cdef bint same_point, zero_w
    cdef const floating* Xp = &X[0, 0] if n > 0 and d > 0 else NULL
    # one (K, d) + (K,) partial and its scratch per block
    # One slab per block (see slab_stride), from PyMem_Raw*: seen by
    # tracemalloc, safe without the GIL.  The extra line aligns slab 0.
    cdef Py_ssize_t stride = slab_stride(K, d)
    cdef double* raw = <double*> PyMem_RawMalloc((nb * stride + 8) * sizeof(double))
    cdef double* slabs = <double*> ((<size_t> raw + 63) & ~(<size_t> 63)) if raw != NULL else NULL
    cdef double* slab
    cdef const double* Yp = &Y[0, 0]
    cdef const double* sw = &sample_weight[0]
    cdef const double* Wp = &W[0, 0]
    cdef const double* bp = &b[0]
    cdef const double* We = &W_eval[0, 0]
    cdef const double* be = &b_eval[0]
    if raw == NULL:
        raise MemoryError()
    with nogil:
        same_point = same_values(Wp, bp, We, be, K, d)
        zero_w = same_point and all_zero(Wp, K * d)
        if nb == 1:
            total = block_dense(Xp, d, Yp, K, sw, Wp, bp, We, be, same_point, zero_w,
                                &G[0, 0], &Gb[0], slabs, 0, n, loss,
                                epsilon, Up)
        else:
            for blk in prange(nb, schedule="dynamic", num_threads=threads):
                slab = slabs + blk * stride
                slab[size + K] = block_dense(
                    Xp, d, Yp, K, sw, Wp, bp, We, be, same_point, zero_w, slab,
                    slab + size,
                    slab + size + K + 1, blk * n // nb, (blk + 1) * n // nb, loss,
                    epsilon, Up)
            reduce_blocks(slabs, nb, stride, size, &G[0, 0], threads)
            reduce_blocks(slabs + size, nb, stride, K, &Gb[0], 1)
            for blk in range(nb):
                total += slabs[blk * stride + size + K]
    PyMem_RawFree(raw)
    return total


def gradient_csr(const floating[::1] data, const index_t[::1] indices,
                 const index_t[::1] indptr, const double[:, ::1] Y,
                 const double[::1] sample_weight,
                 const double[:, ::1] W, const double[::1] b,
                 const double[:, ::1] W_eval, const double[::1] b_eval,
                 double[:, ::1] G, double[::1] Gb, int loss, double epsilon,
                 int n_threads=-1, double[:, ::1] U=None):
    """Accumulate the weighted gradient over CSR rows; see ``gradient_dense``."""
    cdef Py_ssize_t n = indptr.shape[0] - 1, K = W.shape[0], d = W.shape[1]
    cdef Py_ssize_t nb = n_blocks(n, data.shape[0], K, d)
    cdef double* Up = rows_output(U, Y.shape[0], K)
    cdef Py_ssize_t size = K * d, blk
    cdef int threads = resolve_threads(n_threads, nb)
    cdef double total = 0.0
    cdef bint same_point
    # Base pointers taken once: a row with no stored value must not index
    # past the end of ``data`` (a bounds-checked build would raise there).
    cdef const floating* vals = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cols = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const index_t* ptr = &indptr[0]
    # One slab per block (see slab_stride), from PyMem_Raw*: seen by
    # tracemalloc, safe without the GIL.  The extra line aligns slab 0.
    cdef Py_ssize_t stride = slab_stride(K, d)
    cdef double* raw = <double*> PyMem_RawMalloc((nb * stride + 8) * sizeof(double))
    cdef double* slabs = <double*> ((<size_t> raw + 63) & ~(<size_t> 63)) if raw != NULL else NULL
    cdef double* slab
    cdef const double* Yp = &Y[0, 0]
    cdef const double* sw = &sample_weight[0]
    cdef const double* Wp = &W[0, 0]
    cdef const double* bp = &b[0]
    cdef const double* We = &W_eval[0, 0]
    cdef const double* be = &b_eval[0]
    if raw == NULL:
        raise MemoryError()
    with nogil:
        same_point = same_values(Wp, bp, We, be, K, d)
        if nb == 1:
            total = block_csr(vals, cols, ptr, d, Yp, K, sw, Wp, bp, We, be,
                              same_point, &G[0, 0], &Gb[0], slabs, 0,
                              n, loss, epsilon, Up)
        else:
            for blk in prange(nb, schedule="dynamic", num_threads=threads):
                slab = slabs + blk * stride
                slab[size + K] = block_csr(
                    vals, cols, ptr, d, Yp, K, sw, Wp, bp, We, be, same_point, slab,
                    slab + size, slab + size + K + 1, blk * n // nb,
                    (blk + 1) * n // nb, loss, epsilon, Up)
            reduce_blocks(slabs, nb, stride, size, &G[0, 0], threads)
            reduce_blocks(slabs + size, nb, stride, K, &Gb[0], 1)
            for blk in range(nb):
                total += slabs[blk * stride + size + K]
    PyMem_RawFree(raw)
    return total
