# Inner products and updates on one row of X, dense or CSR.
#
# Rows are read through raw pointers so that the compiler sees plain
# contiguous loops it can vectorise.  Accumulation is always in double, also
# for float32 data: the coefficients live in double and only X is float32.
#
# Dense dot products keep eight partial sums.  A single running sum is one
# dependency chain of d additions (the vectoriser may not reorder a
# floating-point sum on its own), which costs ~4 cycles per feature; eight
# independent chains let the additions overlap.  The partial sums are
# combined in a fixed order, so a dot product does not depend on anything
# but its inputs (no threads, no alignment-dependent peeling).  The dense
# loops are written in C, in ``_simd.h``: SSE2 intrinsics, and AVX where the
# CPU has it, keep the same eight sums in vector registers and give the same
# bits as plain scalar code (which -DSKGD_NO_SIMD builds instead).

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int
    long long

cdef extern from *:
    """
    /* Software prefetch: shuffled rows are memory-latency bound, so the
       kernels ask for the rows a few samples ahead while computing on the
       current one.  A no-op where the builtin is unavailable.
       The empty volatile asm gives the span helper a side effect: GCC's
       interprocedural passes otherwise find that a function which only
       prefetches is "const" and delete the calls to it as dead code. */
    #if defined(__GNUC__) || defined(__clang__)
    #define SKGD_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
    #define SKGD_PREFETCH_EARLY(p) __builtin_prefetch((const void *)(p), 0, 0)
    #define SKGD_KEEP() __asm__ __volatile__("")
    #else
    #define SKGD_PREFETCH(p) ((void)(p))
    #define SKGD_PREFETCH_EARLY(p) ((void)(p))
    #define SKGD_KEEP() ((void)0)
    #endif
    /* Prefetch every cache line of a span (and its last byte) with the
       prefetch macro PF: one function per locality hint, which must be a
       compile-time constant. */
    #define SKGD_DEFINE_PREFETCH_SPAN(name, PF)                               \
        static inline void name(const void *start, Py_ssize_t nbytes)         \
        {                                                                     \
            const char *p = (const char *)start;                              \
            Py_ssize_t off;                                                   \
            for (off = 0; off < nbytes; off += 64) {                          \
                PF(p + off);                                                  \
            }                                                                 \
            if (nbytes > 0) {                                                 \
                PF(p + nbytes - 1);                                           \
            }                                                                 \
            SKGD_KEEP();                                                      \
        }
    SKGD_DEFINE_PREFETCH_SPAN(skgd_prefetch_span, SKGD_PREFETCH)
    SKGD_DEFINE_PREFETCH_SPAN(skgd_prefetch_span_early, SKGD_PREFETCH_EARLY)
    """
    void prefetch "SKGD_PREFETCH"(const void* p) noexcept nogil
    # Prefetch every cache line of ``nbytes`` bytes from ``start``.
    void prefetch_span "skgd_prefetch_span"(const void* start,
                                            Py_ssize_t nbytes) noexcept nogil
    # The same with the non-temporal hint, for the first request of a row
    # further ahead (see PREFETCH_EARLY_DISTANCE).
    void prefetch_span_early "skgd_prefetch_span_early"(
        const void* start, Py_ssize_t nbytes) noexcept nogil

cdef extern from "_simd.h":
    # Dense loops on one row (C: scalar, SSE2 and run-time AVX, one order of
    # operations and the same bits; see the header).
    double skgd_dot_d(const double* x, const double* w, Py_ssize_t d) noexcept nogil
    double skgd_dot_f(const float* x, const double* w, Py_ssize_t d) noexcept nogil
    void skgd_dot2_d(const double* x, const double* w, const double* v, Py_ssize_t d,
                     double* out_w, double* out_v) noexcept nogil
    void skgd_dot2_f(const float* x, const double* w, const double* v, Py_ssize_t d,
                     double* out_w, double* out_v) noexcept nogil
    void skgd_axpy_d(double a, const double* x, double* w, Py_ssize_t d) noexcept nogil
    void skgd_axpy_f(double a, const float* x, double* w, Py_ssize_t d) noexcept nogil
    void skgd_axpy_centered_d(double a, const double* x, const double* m, double* w,
                              Py_ssize_t d) noexcept nogil
    void skgd_axpy_centered_f(double a, const float* x, const double* m, double* w,
                              Py_ssize_t d) noexcept nogil
    double skgd_step_shrink_d(double c, const double* x, const double* m,
                              const double* eta, const double* inv_shrink, double* w,
                              Py_ssize_t d) noexcept nogil
    double skgd_step_shrink_f(double c, const float* x, const double* m,
                              const double* eta, const double* inv_shrink, double* w,
                              Py_ssize_t d) noexcept nogil
    # 1 if rows of SKGD_AVX_MIN_FEATURES values or more take the AVX loops.
    int skgd_avx_selected() noexcept nogil


# Rows visited this many samples ahead are prefetched: far enough to hide
# the DRAM latency of a row behind the work on the ones before it, close
# enough that the row is still in L1/L2 when it is used.
cdef enum:
    PREFETCH_DISTANCE = 3

# Dense rows are asked for twice: first PREFETCH_EARLY_DISTANCE samples
# ahead (non-temporal hint), then again PREFETCH_DISTANCE ahead.  With each
# 800-byte row 13 cache lines, the core's outstanding misses run out and
# part of a single round of prefetches is lost; the early round starts the
# DRAM reads, the second one catches what it missed.  On the benchmark's
# 200k x 100 shuffled epoch this took a C loop from ~34 to ~29 ms.
cdef enum:
    PREFETCH_EARLY_DISTANCE = 8


cdef inline void prefetch_csr_row(const floating* vals, const index_t* cols,
                                  const index_t* indptr, const double* Y,
                                  Py_ssize_t K, const double* sample_weight,
                                  bint uniform_weight,
                                  const Py_ssize_t* order, Py_ssize_t pos,
                                  Py_ssize_t n) noexcept nogil:
    """Ask for the values, indices, target and weight of the row at ``pos``,
    and for the row pointers of the row as far again ahead: reading
    ``indptr`` here would otherwise be a cache miss of its own before the
    prefetches of the row can even be issued."""
    cdef Py_ssize_t i, start, nnz
    if pos + PREFETCH_DISTANCE < n:
        prefetch(indptr + order[pos + PREFETCH_DISTANCE])
    if pos < n:
        i = order[pos]
        start = indptr[i]
        nnz = indptr[i + 1] - start
        prefetch_span(vals + start, nnz * sizeof(vals[0]))
        prefetch_span(cols + start, nnz * sizeof(cols[0]))
        prefetch_span(Y + i * K, K * sizeof(double))
        if not uniform_weight:
            prefetch(sample_weight + i)


cdef inline double dot_dense(const floating* x, const double* w,
                             Py_ssize_t d) noexcept nogil:
    if floating is float:
        return skgd_dot_f(x, w, d)
    else:
        return skgd_dot_d(x, w, d)


cdef inline void dot2_dense(const floating* x, const double* w, const double* v,
                            Py_ssize_t d, double* out_w, double* out_v) noexcept nogil:
    """``out_w = x . w`` and ``out_v = x . v`` in one pass over x, each equal
    to its ``dot_dense``."""
    if floating is float:
        skgd_dot2_f(x, w, v, d, out_w, out_v)
    else:
        skgd_dot2_d(x, w, v, d, out_w, out_v)


cdef inline double dot_csr(const floating* values, const index_t* cols,
                           Py_ssize_t nnz, const double* w) noexcept nogil:
    # Two partial sums: the gathers w[cols[m]] dominate, not the additions.
    cdef Py_ssize_t m = 0
    cdef double s0 = 0.0, s1 = 0.0
    while m + 2 <= nnz:
        s0 += values[m] * w[cols[m]]
        s1 += values[m + 1] * w[cols[m + 1]]
        m += 2
    if m < nnz:
        s0 += values[m] * w[cols[m]]
    return s0 + s1


cdef inline void axpy_dense(double a, const floating* x, double* w,
                            Py_ssize_t d) noexcept nogil:
    if floating is float:
        skgd_axpy_f(a, x, w, d)
    else:
        skgd_axpy_d(a, x, w, d)


cdef inline void axpy_centered_dense(double a, const floating* x, const double* m,
                                     double* w, Py_ssize_t d) noexcept nogil:
    """``w += a * (x - m)``, element by element."""
    if floating is float:
        skgd_axpy_centered_f(a, x, m, w, d)
    else:
        skgd_axpy_centered_d(a, x, m, w, d)


cdef inline double step_shrink_dense(double c, const floating* x, const double* m,
                                     const double* eta, const double* inv_shrink,
                                     double* w, Py_ssize_t d) noexcept nogil:
    """``w_j <- (w_j - eta_j c (x_j - m_j)) inv_shrink_j``; returns the sum of
    ``(new_j - stepped_j) m_j`` over features (four partial sums)."""
    if floating is float:
        return skgd_step_shrink_f(c, x, m, eta, inv_shrink, w, d)
    else:
        return skgd_step_shrink_d(c, x, m, eta, inv_shrink, w, d)


cdef inline void axpy_csr(double a, const floating* values, const index_t* cols,
                          Py_ssize_t nnz, double* w) noexcept nogil:
    cdef Py_ssize_t m
    for m in range(nnz):
        w[cols[m]] += a * values[m]
