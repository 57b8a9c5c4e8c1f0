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
# loops are written in C with SSE2 intrinsics (below): the same eight sums,
# in vector registers, and the same bits as the scalar code they replace
# (build with -DSKGD_NO_SIMD to get the scalar code).

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
    #define SKGD_KEEP() __asm__ __volatile__("")
    #else
    #define SKGD_PREFETCH(p) ((void)(p))
    #define SKGD_KEEP() ((void)0)
    #endif
    static inline void skgd_prefetch_span(const void *start, Py_ssize_t nbytes)
    {
        const char *p = (const char *)start;
        Py_ssize_t off;
        for (off = 0; off < nbytes; off += 64) {
            SKGD_PREFETCH(p + off);
        }
        if (nbytes > 0) {
            SKGD_PREFETCH(p + nbytes - 1);
        }
        SKGD_KEEP();
    }
    """
    void prefetch "SKGD_PREFETCH"(const void* p) noexcept nogil
    # Prefetch every cache line of ``nbytes`` bytes from ``start``.
    void prefetch_span "skgd_prefetch_span"(const void* start,
                                            Py_ssize_t nbytes) noexcept nogil

cdef extern from *:
    """
    /* Dense dot products and axpys on one row, in SSE2 (the x86-64
       baseline) where available.  GCC does not pack the eight scalar
       partial sums of a dot product into vector registers by itself, and
       converts float32 values one at a time; written with intrinsics, the
       dot keeps exactly the eight partial sums s0..s7 of the scalar code
       (lanes (s0, s1), (s2, s3), ...), so both give the same bits.
       Elsewhere the scalar code below is used. */
    #if (defined(__SSE2__) || defined(_M_X64)) && !defined(SKGD_NO_SIMD)
    #include <emmintrin.h>
    #define SKGD_HAVE_SSE2 1
    #endif

    static inline double skgd_combine8(const double *s)
    {
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
    }

    static inline double skgd_dot_d(const double *x, const double *w, Py_ssize_t d)
    {
        double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        Py_ssize_t j = 0;
    #ifdef SKGD_HAVE_SSE2
        __m128d a0 = _mm_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        for (; j + 8 <= d; j += 8) {
            a0 = _mm_add_pd(a0, _mm_mul_pd(_mm_loadu_pd(x + j), _mm_loadu_pd(w + j)));
            a1 = _mm_add_pd(a1, _mm_mul_pd(_mm_loadu_pd(x + j + 2), _mm_loadu_pd(w + j + 2)));
            a2 = _mm_add_pd(a2, _mm_mul_pd(_mm_loadu_pd(x + j + 4), _mm_loadu_pd(w + j + 4)));
            a3 = _mm_add_pd(a3, _mm_mul_pd(_mm_loadu_pd(x + j + 6), _mm_loadu_pd(w + j + 6)));
        }
        _mm_storeu_pd(s, a0);
        _mm_storeu_pd(s + 2, a1);
        _mm_storeu_pd(s + 4, a2);
        _mm_storeu_pd(s + 6, a3);
    #else
        for (; j + 8 <= d; j += 8) {
            int l;
            for (l = 0; l < 8; l++) s[l] += x[j + l] * w[j + l];
        }
    #endif
        for (; j < d; j++) s[0] += x[j] * w[j];
        return skgd_combine8(s);
    }

    static inline double skgd_dot_f(const float *x, const double *w, Py_ssize_t d)
    {
        double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        Py_ssize_t j = 0;
    #ifdef SKGD_HAVE_SSE2
        __m128d a0 = _mm_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
        for (; j + 8 <= d; j += 8) {
            __m128 lo = _mm_loadu_ps(x + j), hi = _mm_loadu_ps(x + j + 4);
            a0 = _mm_add_pd(a0, _mm_mul_pd(_mm_cvtps_pd(lo), _mm_loadu_pd(w + j)));
            a1 = _mm_add_pd(a1, _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(lo, lo)),
                                           _mm_loadu_pd(w + j + 2)));
            a2 = _mm_add_pd(a2, _mm_mul_pd(_mm_cvtps_pd(hi), _mm_loadu_pd(w + j + 4)));
            a3 = _mm_add_pd(a3, _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(hi, hi)),
                                           _mm_loadu_pd(w + j + 6)));
        }
        _mm_storeu_pd(s, a0);
        _mm_storeu_pd(s + 2, a1);
        _mm_storeu_pd(s + 4, a2);
        _mm_storeu_pd(s + 6, a3);
    #else
        for (; j + 8 <= d; j += 8) {
            int l;
            for (l = 0; l < 8; l++) s[l] += (double)x[j + l] * w[j + l];
        }
    #endif
        for (; j < d; j++) s[0] += (double)x[j] * w[j];
        return skgd_combine8(s);
    }

    /* Two dot products of one row, x.w and x.v, in one pass over x (the
       batch gradient takes the gradient at one point and the loss at
       another): each with the same eight partial sums as skgd_dot_*. */
    #define SKGD_DOT2_BODY(LOAD2)                                              \
        double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                \
        double t[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                \
        Py_ssize_t j = 0;                                                      \
        SKGD_DOT2_SIMD(LOAD2)                                                  \
        for (; j < d; j++) {                                                   \
            s[0] += (double)x[j] * w[j];                                       \
            t[0] += (double)x[j] * v[j];                                       \
        }                                                                      \
        *out_w = skgd_combine8(s);                                             \
        *out_v = skgd_combine8(t);

    #ifdef SKGD_HAVE_SSE2
    #define SKGD_DOT2_SIMD(LOAD2)                                              \
        __m128d a[4], c[4], xx[4];                                             \
        int l;                                                                 \
        for (l = 0; l < 4; l++) a[l] = c[l] = _mm_setzero_pd();                \
        for (; j + 8 <= d; j += 8) {                                           \
            LOAD2(x + j, xx);                                                  \
            for (l = 0; l < 4; l++) {                                          \
                a[l] = _mm_add_pd(a[l], _mm_mul_pd(xx[l], _mm_loadu_pd(w + j + 2 * l))); \
                c[l] = _mm_add_pd(c[l], _mm_mul_pd(xx[l], _mm_loadu_pd(v + j + 2 * l))); \
            }                                                                  \
        }                                                                      \
        for (l = 0; l < 4; l++) {                                              \
            _mm_storeu_pd(s + 2 * l, a[l]);                                    \
            _mm_storeu_pd(t + 2 * l, c[l]);                                    \
        }
    #define SKGD_LOAD8_D(p, out)                                               \
        do { int q_; for (q_ = 0; q_ < 4; q_++) (out)[q_] = _mm_loadu_pd((p) + 2 * q_); } while (0)
    #define SKGD_LOAD8_F(p, out)                                               \
        do {                                                                   \
            __m128 lo_ = _mm_loadu_ps(p), hi_ = _mm_loadu_ps((p) + 4);         \
            (out)[0] = _mm_cvtps_pd(lo_);                                      \
            (out)[1] = _mm_cvtps_pd(_mm_movehl_ps(lo_, lo_));                  \
            (out)[2] = _mm_cvtps_pd(hi_);                                      \
            (out)[3] = _mm_cvtps_pd(_mm_movehl_ps(hi_, hi_));                  \
        } while (0)
    #else
    #define SKGD_DOT2_SIMD(LOAD2)                                              \
        for (; j + 8 <= d; j += 8) {                                           \
            int l;                                                             \
            for (l = 0; l < 8; l++) {                                          \
                s[l] += (double)x[j + l] * w[j + l];                           \
                t[l] += (double)x[j + l] * v[j + l];                           \
            }                                                                  \
        }
    #endif

    static inline void skgd_dot2_d(const double *x, const double *w, const double *v,
                                   Py_ssize_t d, double *out_w, double *out_v)
    {
        SKGD_DOT2_BODY(SKGD_LOAD8_D)
    }

    static inline void skgd_dot2_f(const float *x, const double *w, const double *v,
                                   Py_ssize_t d, double *out_w, double *out_v)
    {
        SKGD_DOT2_BODY(SKGD_LOAD8_F)
    }

    static inline void skgd_axpy_d(double a, const double *x, double *w, Py_ssize_t d)
    {
        Py_ssize_t j = 0;
    #ifdef SKGD_HAVE_SSE2
        __m128d va = _mm_set1_pd(a);
        for (; j + 2 <= d; j += 2)
            _mm_storeu_pd(w + j, _mm_add_pd(_mm_loadu_pd(w + j),
                                            _mm_mul_pd(va, _mm_loadu_pd(x + j))));
    #endif
        for (; j < d; j++) w[j] += a * x[j];
    }

    static inline void skgd_axpy_f(double a, const float *x, double *w, Py_ssize_t d)
    {
        Py_ssize_t j = 0;
    #ifdef SKGD_HAVE_SSE2
        __m128d va = _mm_set1_pd(a);
        for (; j + 4 <= d; j += 4) {
            __m128 v = _mm_loadu_ps(x + j);
            _mm_storeu_pd(w + j, _mm_add_pd(_mm_loadu_pd(w + j),
                                            _mm_mul_pd(va, _mm_cvtps_pd(v))));
            _mm_storeu_pd(w + j + 2, _mm_add_pd(_mm_loadu_pd(w + j + 2),
                                                _mm_mul_pd(va, _mm_cvtps_pd(
                                                    _mm_movehl_ps(v, v)))));
        }
    #endif
        for (; j < d; j++) w[j] += a * (double)x[j];
    }
    """
    double skgd_dot_d(const double* x, const double* w, Py_ssize_t d) noexcept nogil
    double skgd_dot_f(const float* x, const double* w, Py_ssize_t d) noexcept nogil
    void skgd_dot2_d(const double* x, const double* w, const double* v, Py_ssize_t d,
                     double* out_w, double* out_v) noexcept nogil
    void skgd_dot2_f(const float* x, const double* w, const double* v, Py_ssize_t d,
                     double* out_w, double* out_v) noexcept nogil
    void skgd_axpy_d(double a, const double* x, double* w, Py_ssize_t d) noexcept nogil
    void skgd_axpy_f(double a, const float* x, double* w, Py_ssize_t d) noexcept nogil


# Rows visited this many samples ahead are prefetched: far enough to hide
# the DRAM latency of a row behind the work on the ones before it, close
# enough that the row is still in L1/L2 when it is used.
cdef enum:
    PREFETCH_DISTANCE = 3


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


cdef inline void axpy_csr(double a, const floating* values, const index_t* cols,
                          Py_ssize_t nnz, double* w) noexcept nogil:
    cdef Py_ssize_t m
    for m in range(nnz):
        w[cols[m]] += a * values[m]
