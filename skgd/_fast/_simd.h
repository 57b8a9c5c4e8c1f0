/* Dense row loops of skgd's kernels: dot products and axpys on one row.
 *
 * Every dot product keeps eight partial sums s0..s7 (s_l takes the features
 * j = l mod 8 of the first 8 * floor(d / 8), s0 also the tail) and combines
 * them as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)).  Three
 * implementations follow that one order, so they give the same bits:
 *
 *   - scalar C (any compiler; also with -DSKGD_NO_SIMD);
 *   - SSE2, the x86-64 baseline: the sums in four registers of two lanes;
 *   - AVX, chosen at run time when the CPU has it (GCC and clang on x86):
 *     the sums in two registers of four lanes, float32 values widened four
 *     at a time.  Multiplications and additions stay separate (no FMA,
 *     which would round once instead of twice), so a model does not depend
 *     on the machine that fitted it (-DSKGD_NO_AVX leaves it out).
 *
 * GCC neither packs the scalar partial sums into vector registers by itself
 * nor widens float32 values more than one at a time; hence the intrinsics.
 * The AVX functions cannot be inlined into baseline code, so they are only
 * called for rows of at least SKGD_AVX_MIN_FEATURES values, where the call
 * costs little next to the loop.
 */
#ifndef SKGD_SIMD_H
#define SKGD_SIMD_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__SSE2__) || defined(_M_X64)) && !defined(SKGD_NO_SIMD)
#include <emmintrin.h>
#define SKGD_HAVE_SSE2 1
#endif

#if defined(SKGD_HAVE_SSE2) && (defined(__GNUC__) || defined(__clang__)) \
    && (defined(__x86_64__) || defined(__i386__)) && !defined(SKGD_NO_AVX)
#include <immintrin.h>
#define SKGD_HAVE_AVX_DISPATCH 1
#define SKGD_AVX_MIN_FEATURES 32
#define SKGD_TARGET_AVX __attribute__((target("avx")))
#endif

static inline double skgd_combine8(const double *s)
{
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* the features after the last whole group of four go to h0 */
#define SKGD_STEP_SHRINK_TAIL                                                \
    for (; j < d; j++) {                                                     \
        double stepped_ = w[j] - eta[j] * (c * ((double)x[j] - m[j]));       \
        double shrunk_ = stepped_ * inv_shrink[j];                           \
        h[0] += (shrunk_ - stepped_) * m[j];                                 \
        w[j] = shrunk_;                                                      \
    }                                                                        \
    return (h[0] + h[1]) + (h[2] + h[3]);

/* ---- AVX (run-time dispatch) ------------------------------------------- */

#ifdef SKGD_HAVE_AVX_DISPATCH

/* 1 if the CPU and OS run AVX, 0 if not or if the environment variable
   SKGD_DISABLE_AVX is set to a non-empty value other than "0" (read once per
   process, on the first long row; the tests use it to check that both paths
   give the same bits); -1 not decided yet (a benign race: every thread
   stores the same answer). */
static int skgd_avx_state = -1;

static inline int skgd_use_avx(Py_ssize_t d)
{
    if (d < SKGD_AVX_MIN_FEATURES) {
        return 0;
    }
    if (skgd_avx_state < 0) {
        const char *off = getenv("SKGD_DISABLE_AVX");
        __builtin_cpu_init();
        skgd_avx_state = (off != NULL && off[0] != '\0' && strcmp(off, "0") != 0)
                             ? 0
                             : (__builtin_cpu_supports("avx") ? 1 : 0);
    }
    return skgd_avx_state;
}

#define SKGD_AVX_LOAD4_D(p) _mm256_loadu_pd(p)
#define SKGD_AVX_LOAD4_F(p) _mm256_cvtps_pd(_mm_loadu_ps(p))

/* lanes (s0, s1, s2, s3) and (s4, s5, s6, s7) */
#define SKGD_AVX_DOT(LOAD4)                                                  \
    double s[8];                                                             \
    Py_ssize_t j = 0;                                                        \
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();              \
    for (; j + 8 <= d; j += 8) {                                             \
        lo = _mm256_add_pd(lo, _mm256_mul_pd(LOAD4(x + j), _mm256_loadu_pd(w + j))); \
        hi = _mm256_add_pd(hi, _mm256_mul_pd(LOAD4(x + j + 4),               \
                                             _mm256_loadu_pd(w + j + 4)));   \
    }                                                                        \
    _mm256_storeu_pd(s, lo);                                                 \
    _mm256_storeu_pd(s + 4, hi);                                             \
    for (; j < d; j++) s[0] += (double)x[j] * w[j];                          \
    return skgd_combine8(s);

SKGD_TARGET_AVX static double
skgd_dot_d_avx(const double *x, const double *w, Py_ssize_t d)
{
    SKGD_AVX_DOT(SKGD_AVX_LOAD4_D)
}

SKGD_TARGET_AVX static double
skgd_dot_f_avx(const float *x, const double *w, Py_ssize_t d)
{
    SKGD_AVX_DOT(SKGD_AVX_LOAD4_F)
}

#define SKGD_AVX_DOT2(LOAD4)                                                 \
    double s[8], t[8];                                                       \
    Py_ssize_t j = 0;                                                        \
    __m256d slo = _mm256_setzero_pd(), shi = _mm256_setzero_pd();            \
    __m256d tlo = _mm256_setzero_pd(), thi = _mm256_setzero_pd();            \
    for (; j + 8 <= d; j += 8) {                                             \
        __m256d xlo = LOAD4(x + j), xhi = LOAD4(x + j + 4);                  \
        slo = _mm256_add_pd(slo, _mm256_mul_pd(xlo, _mm256_loadu_pd(w + j))); \
        shi = _mm256_add_pd(shi, _mm256_mul_pd(xhi, _mm256_loadu_pd(w + j + 4))); \
        tlo = _mm256_add_pd(tlo, _mm256_mul_pd(xlo, _mm256_loadu_pd(v + j))); \
        thi = _mm256_add_pd(thi, _mm256_mul_pd(xhi, _mm256_loadu_pd(v + j + 4))); \
    }                                                                        \
    _mm256_storeu_pd(s, slo);                                                \
    _mm256_storeu_pd(s + 4, shi);                                            \
    _mm256_storeu_pd(t, tlo);                                                \
    _mm256_storeu_pd(t + 4, thi);                                            \
    for (; j < d; j++) {                                                     \
        s[0] += (double)x[j] * w[j];                                         \
        t[0] += (double)x[j] * v[j];                                         \
    }                                                                        \
    *out_w = skgd_combine8(s);                                               \
    *out_v = skgd_combine8(t);

SKGD_TARGET_AVX static void
skgd_dot2_d_avx(const double *x, const double *w, const double *v, Py_ssize_t d,
                double *out_w, double *out_v)
{
    SKGD_AVX_DOT2(SKGD_AVX_LOAD4_D)
}

SKGD_TARGET_AVX static void
skgd_dot2_f_avx(const float *x, const double *w, const double *v, Py_ssize_t d,
                double *out_w, double *out_v)
{
    SKGD_AVX_DOT2(SKGD_AVX_LOAD4_F)
}

#define SKGD_AVX_AXPY(LOAD4)                                                 \
    Py_ssize_t j = 0;                                                        \
    __m256d va = _mm256_set1_pd(a);                                          \
    for (; j + 4 <= d; j += 4)                                               \
        _mm256_storeu_pd(w + j, _mm256_add_pd(_mm256_loadu_pd(w + j),        \
                                              _mm256_mul_pd(va, LOAD4(x + j)))); \
    for (; j < d; j++) w[j] += a * (double)x[j];

SKGD_TARGET_AVX static void
skgd_axpy_d_avx(double a, const double *x, double *w, Py_ssize_t d)
{
    SKGD_AVX_AXPY(SKGD_AVX_LOAD4_D)
}

SKGD_TARGET_AVX static void
skgd_axpy_f_avx(double a, const float *x, double *w, Py_ssize_t d)
{
    SKGD_AVX_AXPY(SKGD_AVX_LOAD4_F)
}

/* w += a (x - m): element by element, as in the scalar code */
#define SKGD_AVX_AXPY_CENTERED(LOAD4)                                        \
    Py_ssize_t j = 0;                                                        \
    __m256d va = _mm256_set1_pd(a);                                          \
    for (; j + 4 <= d; j += 4)                                               \
        _mm256_storeu_pd(w + j, _mm256_add_pd(                               \
            _mm256_loadu_pd(w + j),                                          \
            _mm256_mul_pd(va, _mm256_sub_pd(LOAD4(x + j), _mm256_loadu_pd(m + j))))); \
    for (; j < d; j++) w[j] += a * ((double)x[j] - m[j]);

SKGD_TARGET_AVX static void
skgd_axpy_centered_d_avx(double a, const double *x, const double *m, double *w,
                         Py_ssize_t d)
{
    SKGD_AVX_AXPY_CENTERED(SKGD_AVX_LOAD4_D)
}

SKGD_TARGET_AVX static void
skgd_axpy_centered_f_avx(double a, const float *x, const double *m, double *w,
                         Py_ssize_t d)
{
    SKGD_AVX_AXPY_CENTERED(SKGD_AVX_LOAD4_F)
}

/* The preconditioned, penalised step of one row (see skgd_step_shrink_*):
   the shift sums h0..h3 are the four lanes of one register. */
#define SKGD_AVX_STEP_SHRINK(LOAD4)                                          \
    double h[4];                                                             \
    Py_ssize_t j = 0;                                                        \
    __m256d vc = _mm256_set1_pd(c), acc = _mm256_setzero_pd();               \
    for (; j + 4 <= d; j += 4) {                                             \
        __m256d mj = _mm256_loadu_pd(m + j);                                 \
        __m256d stepped = _mm256_sub_pd(                                     \
            _mm256_loadu_pd(w + j),                                          \
            _mm256_mul_pd(_mm256_loadu_pd(eta + j),                          \
                          _mm256_mul_pd(vc, _mm256_sub_pd(LOAD4(x + j), mj)))); \
        __m256d shrunk = _mm256_mul_pd(stepped, _mm256_loadu_pd(inv_shrink + j)); \
        acc = _mm256_add_pd(acc, _mm256_mul_pd(_mm256_sub_pd(shrunk, stepped), mj)); \
        _mm256_storeu_pd(w + j, shrunk);                                     \
    }                                                                        \
    _mm256_storeu_pd(h, acc);                                                \
    SKGD_STEP_SHRINK_TAIL

SKGD_TARGET_AVX static double
skgd_step_shrink_d_avx(double c, const double *x, const double *m, const double *eta,
                       const double *inv_shrink, double *w, Py_ssize_t d)
{
    SKGD_AVX_STEP_SHRINK(SKGD_AVX_LOAD4_D)
}

SKGD_TARGET_AVX static double
skgd_step_shrink_f_avx(double c, const float *x, const double *m, const double *eta,
                       const double *inv_shrink, double *w, Py_ssize_t d)
{
    SKGD_AVX_STEP_SHRINK(SKGD_AVX_LOAD4_F)
}

#define SKGD_DISPATCH_AVX(call) if (skgd_use_avx(d)) { call; }
#else
#define SKGD_DISPATCH_AVX(call)
#endif  /* SKGD_HAVE_AVX_DISPATCH */

/* 1 if the rows long enough for it take the AVX loops in this module (each
   module that includes this header decides for itself), 0 if not: the
   tests check that the AVX path runs where the CPU has AVX. */
static inline int skgd_avx_selected(void)
{
#ifdef SKGD_HAVE_AVX_DISPATCH
    return skgd_use_avx(SKGD_AVX_MIN_FEATURES);
#else
    return 0;
#endif
}

/* ---- SSE2 and scalar --------------------------------------------------- */

#ifdef SKGD_HAVE_SSE2
#define SKGD_LOAD8_D(p, out)                                                 \
    do {                                                                     \
        (out)[0] = _mm_loadu_pd(p);                                          \
        (out)[1] = _mm_loadu_pd((p) + 2);                                    \
        (out)[2] = _mm_loadu_pd((p) + 4);                                    \
        (out)[3] = _mm_loadu_pd((p) + 6);                                    \
    } while (0)
#define SKGD_LOAD8_F(p, out)                                                 \
    do {                                                                     \
        __m128 lo_ = _mm_loadu_ps(p), hi_ = _mm_loadu_ps((p) + 4);           \
        (out)[0] = _mm_cvtps_pd(lo_);                                        \
        (out)[1] = _mm_cvtps_pd(_mm_movehl_ps(lo_, lo_));                    \
        (out)[2] = _mm_cvtps_pd(hi_);                                        \
        (out)[3] = _mm_cvtps_pd(_mm_movehl_ps(hi_, hi_));                    \
    } while (0)

/* lanes (s0, s1), (s2, s3), (s4, s5), (s6, s7) */
#define SKGD_DOT_MAIN(LOAD8)                                                 \
    {                                                                        \
        __m128d a[4], xx[4];                                                 \
        int l;                                                               \
        for (l = 0; l < 4; l++) a[l] = _mm_setzero_pd();                     \
        for (; j + 8 <= d; j += 8) {                                         \
            LOAD8(x + j, xx);                                                \
            for (l = 0; l < 4; l++)                                          \
                a[l] = _mm_add_pd(a[l], _mm_mul_pd(xx[l], _mm_loadu_pd(w + j + 2 * l))); \
        }                                                                    \
        for (l = 0; l < 4; l++) _mm_storeu_pd(s + 2 * l, a[l]);             \
    }
#define SKGD_DOT2_MAIN(LOAD8)                                                \
    {                                                                        \
        __m128d a[4], c[4], xx[4];                                           \
        int l;                                                               \
        for (l = 0; l < 4; l++) a[l] = c[l] = _mm_setzero_pd();              \
        for (; j + 8 <= d; j += 8) {                                         \
            LOAD8(x + j, xx);                                                \
            for (l = 0; l < 4; l++) {                                        \
                a[l] = _mm_add_pd(a[l], _mm_mul_pd(xx[l], _mm_loadu_pd(w + j + 2 * l))); \
                c[l] = _mm_add_pd(c[l], _mm_mul_pd(xx[l], _mm_loadu_pd(v + j + 2 * l))); \
            }                                                                \
        }                                                                    \
        for (l = 0; l < 4; l++) {                                            \
            _mm_storeu_pd(s + 2 * l, a[l]);                                  \
            _mm_storeu_pd(t + 2 * l, c[l]);                                  \
        }                                                                    \
    }
#else
#define SKGD_DOT_MAIN(LOAD8)                                                 \
    for (; j + 8 <= d; j += 8) {                                             \
        int l;                                                               \
        for (l = 0; l < 8; l++) s[l] += (double)x[j + l] * w[j + l];         \
    }
#define SKGD_DOT2_MAIN(LOAD8)                                                \
    for (; j + 8 <= d; j += 8) {                                             \
        int l;                                                               \
        for (l = 0; l < 8; l++) {                                            \
            s[l] += (double)x[j + l] * w[j + l];                             \
            t[l] += (double)x[j + l] * v[j + l];                             \
        }                                                                    \
    }
#endif

#define SKGD_DOT(LOAD8)                                                      \
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                  \
    Py_ssize_t j = 0;                                                        \
    SKGD_DOT_MAIN(LOAD8)                                                     \
    for (; j < d; j++) s[0] += (double)x[j] * w[j];                          \
    return skgd_combine8(s);

#define SKGD_DOT2(LOAD8)                                                     \
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                  \
    double t[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                  \
    Py_ssize_t j = 0;                                                        \
    SKGD_DOT2_MAIN(LOAD8)                                                    \
    for (; j < d; j++) {                                                     \
        s[0] += (double)x[j] * w[j];                                         \
        t[0] += (double)x[j] * v[j];                                         \
    }                                                                        \
    *out_w = skgd_combine8(s);                                               \
    *out_v = skgd_combine8(t);

/* x . w */
static inline double skgd_dot_d(const double *x, const double *w, Py_ssize_t d)
{
    SKGD_DISPATCH_AVX(return skgd_dot_d_avx(x, w, d))
    SKGD_DOT(SKGD_LOAD8_D)
}

static inline double skgd_dot_f(const float *x, const double *w, Py_ssize_t d)
{
    SKGD_DISPATCH_AVX(return skgd_dot_f_avx(x, w, d))
    SKGD_DOT(SKGD_LOAD8_F)
}

/* x . w and x . v in one pass over x, each with the bits of skgd_dot_* */
static inline void skgd_dot2_d(const double *x, const double *w, const double *v,
                               Py_ssize_t d, double *out_w, double *out_v)
{
    SKGD_DISPATCH_AVX(skgd_dot2_d_avx(x, w, v, d, out_w, out_v); return)
    SKGD_DOT2(SKGD_LOAD8_D)
}

static inline void skgd_dot2_f(const float *x, const double *w, const double *v,
                               Py_ssize_t d, double *out_w, double *out_v)
{
    SKGD_DISPATCH_AVX(skgd_dot2_f_avx(x, w, v, d, out_w, out_v); return)
    SKGD_DOT2(SKGD_LOAD8_F)
}

/* w += a x */
static inline void skgd_axpy_d(double a, const double *x, double *w, Py_ssize_t d)
{
    Py_ssize_t j = 0;
    SKGD_DISPATCH_AVX(skgd_axpy_d_avx(a, x, w, d); return)
#ifdef SKGD_HAVE_SSE2
    {
        __m128d va = _mm_set1_pd(a);
        for (; j + 2 <= d; j += 2)
            _mm_storeu_pd(w + j, _mm_add_pd(_mm_loadu_pd(w + j),
                                            _mm_mul_pd(va, _mm_loadu_pd(x + j))));
    }
#endif
    for (; j < d; j++) w[j] += a * x[j];
}

static inline void skgd_axpy_f(double a, const float *x, double *w, Py_ssize_t d)
{
    Py_ssize_t j = 0;
    SKGD_DISPATCH_AVX(skgd_axpy_f_avx(a, x, w, d); return)
#ifdef SKGD_HAVE_SSE2
    {
        __m128d va = _mm_set1_pd(a);
        for (; j + 4 <= d; j += 4) {
            __m128 v = _mm_loadu_ps(x + j);
            _mm_storeu_pd(w + j, _mm_add_pd(_mm_loadu_pd(w + j),
                                            _mm_mul_pd(va, _mm_cvtps_pd(v))));
            _mm_storeu_pd(w + j + 2, _mm_add_pd(_mm_loadu_pd(w + j + 2),
                                                _mm_mul_pd(va, _mm_cvtps_pd(
                                                    _mm_movehl_ps(v, v)))));
        }
    }
#endif
    for (; j < d; j++) w[j] += a * (double)x[j];
}

/* w += a (x - m), the gradient of a row on centred features */
static inline void skgd_axpy_centered_d(double a, const double *x, const double *m,
                                        double *w, Py_ssize_t d)
{
    Py_ssize_t j = 0;
    SKGD_DISPATCH_AVX(skgd_axpy_centered_d_avx(a, x, m, w, d); return)
#ifdef SKGD_HAVE_SSE2
    {
        __m128d va = _mm_set1_pd(a);
        for (; j + 2 <= d; j += 2)
            _mm_storeu_pd(w + j, _mm_add_pd(
                _mm_loadu_pd(w + j),
                _mm_mul_pd(va, _mm_sub_pd(_mm_loadu_pd(x + j), _mm_loadu_pd(m + j)))));
    }
#endif
    for (; j < d; j++) w[j] += a * (x[j] - m[j]);
}

static inline void skgd_axpy_centered_f(double a, const float *x, const double *m,
                                        double *w, Py_ssize_t d)
{
    Py_ssize_t j = 0;
    SKGD_DISPATCH_AVX(skgd_axpy_centered_f_avx(a, x, m, w, d); return)
#ifdef SKGD_HAVE_SSE2
    {
        __m128d va = _mm_set1_pd(a);
        for (; j + 4 <= d; j += 4) {
            __m128 v = _mm_loadu_ps(x + j);
            _mm_storeu_pd(w + j, _mm_add_pd(
                _mm_loadu_pd(w + j),
                _mm_mul_pd(va, _mm_sub_pd(_mm_cvtps_pd(v), _mm_loadu_pd(m + j)))));
            _mm_storeu_pd(w + j + 2, _mm_add_pd(
                _mm_loadu_pd(w + j + 2),
                _mm_mul_pd(va, _mm_sub_pd(_mm_cvtps_pd(_mm_movehl_ps(v, v)),
                                          _mm_loadu_pd(m + j + 2)))));
        }
    }
#endif
    for (; j < d; j++) w[j] += a * ((double)x[j] - m[j]);
}

/* The step of one row in preconditioned SGD with an L2 penalty:
       stepped_j = w_j - eta_j c (x_j - m_j),  w_j <- stepped_j inv_shrink_j,
   returning sum_j (w_j - stepped_j) m_j, the intercept's shift, kept as four
   partial sums h0..h3 (feature j goes to h_{j mod 4}, the tail to h0) and
   combined as (h0 + h1) + (h2 + h3). */
#define SKGD_STEP_SHRINK_SCALAR                                              \
    for (; j + 4 <= d; j += 4) {                                             \
        int l;                                                               \
        for (l = 0; l < 4; l++) {                                            \
            double stepped = w[j + l] - eta[j + l] * (c * ((double)x[j + l] - m[j + l])); \
            double shrunk = stepped * inv_shrink[j + l];                     \
            h[l] += (shrunk - stepped) * m[j + l];                           \
            w[j + l] = shrunk;                                               \
        }                                                                    \
    }
#ifdef SKGD_HAVE_SSE2
#define SKGD_STEP_SHRINK_PAIR(XV, OFF, ACC)                                  \
    do {                                                                     \
        __m128d mj_ = _mm_loadu_pd(m + j + (OFF));                           \
        __m128d st_ = _mm_sub_pd(                                            \
            _mm_loadu_pd(w + j + (OFF)),                                     \
            _mm_mul_pd(_mm_loadu_pd(eta + j + (OFF)),                        \
                       _mm_mul_pd(vc, _mm_sub_pd((XV), mj_))));              \
        __m128d sh_ = _mm_mul_pd(st_, _mm_loadu_pd(inv_shrink + j + (OFF))); \
        ACC = _mm_add_pd(ACC, _mm_mul_pd(_mm_sub_pd(sh_, st_), mj_));        \
        _mm_storeu_pd(w + j + (OFF), sh_);                                   \
    } while (0)
#endif

static inline double skgd_step_shrink_d(double c, const double *x, const double *m,
                                        const double *eta, const double *inv_shrink,
                                        double *w, Py_ssize_t d)
{
    double h[4] = {0, 0, 0, 0};
    Py_ssize_t j = 0;
    SKGD_DISPATCH_AVX(return skgd_step_shrink_d_avx(c, x, m, eta, inv_shrink, w, d))
#ifdef SKGD_HAVE_SSE2
    {
        __m128d vc = _mm_set1_pd(c), lo = _mm_setzero_pd(), hi = _mm_setzero_pd();
        for (; j + 4 <= d; j += 4) {
            SKGD_STEP_SHRINK_PAIR(_mm_loadu_pd(x + j), 0, lo);
            SKGD_STEP_SHRINK_PAIR(_mm_loadu_pd(x + j + 2), 2, hi);
        }
        _mm_storeu_pd(h, lo);
        _mm_storeu_pd(h + 2, hi);
    }
#else
    SKGD_STEP_SHRINK_SCALAR
#endif
    SKGD_STEP_SHRINK_TAIL
}

static inline double skgd_step_shrink_f(double c, const float *x, const double *m,
                                        const double *eta, const double *inv_shrink,
                                        double *w, Py_ssize_t d)
{
    double h[4] = {0, 0, 0, 0};
    Py_ssize_t j = 0;
    SKGD_DISPATCH_AVX(return skgd_step_shrink_f_avx(c, x, m, eta, inv_shrink, w, d))
#ifdef SKGD_HAVE_SSE2
    {
        __m128d vc = _mm_set1_pd(c), lo = _mm_setzero_pd(), hi = _mm_setzero_pd();
        for (; j + 4 <= d; j += 4) {
            __m128 v = _mm_loadu_ps(x + j);
            SKGD_STEP_SHRINK_PAIR(_mm_cvtps_pd(v), 0, lo);
            SKGD_STEP_SHRINK_PAIR(_mm_cvtps_pd(_mm_movehl_ps(v, v)), 2, hi);
        }
        _mm_storeu_pd(h, lo);
        _mm_storeu_pd(h + 2, hi);
    }
#else
    SKGD_STEP_SHRINK_SCALAR
#endif
    SKGD_STEP_SHRINK_TAIL
}

#endif  /* SKGD_SIMD_H */
