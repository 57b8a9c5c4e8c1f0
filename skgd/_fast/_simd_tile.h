/* Dense loops on a tile of up to four rows, for the full-batch gradient.
 *
 * A pass of the batch gradient takes, for every row x_i, K dot products
 * x_i . w_k and K updates g_k += a_ik x_i.  Done a row at a time, each dot
 * product is one chain of dependent additions (latency bound: the AVX loop
 * keeps only two registers of partial sums) and each update loads and stores
 * the whole of g_k.  On a tile of four rows:
 *
 *   - the four dot products with one w_k run side by side (eight
 *     independent registers of partial sums, w_k loaded once);
 *   - the four updates of g_k are applied with one load and one store of
 *     g_k per group of features.
 *
 * Neither changes a bit of the result.  Each dot product keeps the partial
 * sums, tail and combination order of skgd_dot_* (``_simd.h``), and each
 * g_k[j] still receives a_0 x_0[j], a_1 x_1[j], ... one rounded product
 * after the other in row order, as the row-at-a-time axpys did.  Without
 * AVX (or for rows shorter than SKGD_AVX_MIN_FEATURES) the functions below
 * simply call the row functions of ``_simd.h``.
 */
#ifndef SKGD_SIMD_TILE_H
#define SKGD_SIMD_TILE_H

#include "_simd.h"

#define SKGD_TILE_ROWS 4

#ifdef SKGD_HAVE_AVX_DISPATCH

/* one register pair (lanes s0..s3, s4..s7) per row, as in SKGD_AVX_DOT */
#define SKGD_AVX_DOT_TILE(T, LOAD4)                                          \
    double s[SKGD_TILE_ROWS][8];                                             \
    const T *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];                  \
    Py_ssize_t j = 0;                                                        \
    int r;                                                                   \
    __m256d l0 = _mm256_setzero_pd(), h0 = _mm256_setzero_pd();              \
    __m256d l1 = _mm256_setzero_pd(), h1 = _mm256_setzero_pd();              \
    __m256d l2 = _mm256_setzero_pd(), h2 = _mm256_setzero_pd();              \
    __m256d l3 = _mm256_setzero_pd(), h3 = _mm256_setzero_pd();              \
    for (; j + 8 <= d; j += 8) {                                             \
        __m256d wl = _mm256_loadu_pd(w + j), wh = _mm256_loadu_pd(w + j + 4); \
        l0 = _mm256_add_pd(l0, _mm256_mul_pd(LOAD4(x0 + j), wl));            \
        h0 = _mm256_add_pd(h0, _mm256_mul_pd(LOAD4(x0 + j + 4), wh));        \
        l1 = _mm256_add_pd(l1, _mm256_mul_pd(LOAD4(x1 + j), wl));            \
        h1 = _mm256_add_pd(h1, _mm256_mul_pd(LOAD4(x1 + j + 4), wh));        \
        l2 = _mm256_add_pd(l2, _mm256_mul_pd(LOAD4(x2 + j), wl));            \
        h2 = _mm256_add_pd(h2, _mm256_mul_pd(LOAD4(x2 + j + 4), wh));        \
        l3 = _mm256_add_pd(l3, _mm256_mul_pd(LOAD4(x3 + j), wl));            \
        h3 = _mm256_add_pd(h3, _mm256_mul_pd(LOAD4(x3 + j + 4), wh));        \
    }                                                                        \
    _mm256_storeu_pd(s[0], l0); _mm256_storeu_pd(s[0] + 4, h0);              \
    _mm256_storeu_pd(s[1], l1); _mm256_storeu_pd(s[1] + 4, h1);              \
    _mm256_storeu_pd(s[2], l2); _mm256_storeu_pd(s[2] + 4, h2);              \
    _mm256_storeu_pd(s[3], l3); _mm256_storeu_pd(s[3] + 4, h3);              \
    for (r = 0; r < SKGD_TILE_ROWS; r++) {                                   \
        Py_ssize_t t;                                                        \
        for (t = j; t < d; t++) s[r][0] += (double)x[r][t] * w[t];           \
        out[r] = skgd_combine8(s[r]);                                        \
    }

SKGD_TARGET_AVX static void
skgd_dot_tile_d_avx(const double *const *x, const double *w, Py_ssize_t d, double *out)
{
    SKGD_AVX_DOT_TILE(double, SKGD_AVX_LOAD4_D)
}

SKGD_TARGET_AVX static void
skgd_dot_tile_f_avx(const float *const *x, const double *w, Py_ssize_t d, double *out)
{
    SKGD_AVX_DOT_TILE(float, SKGD_AVX_LOAD4_F)
}

/* g += a_0 x_0 + ... + a_{m-1} x_{m-1}, added one row after the other */
#define SKGD_AVX_AXPY_TILE(LOAD4)                                            \
    Py_ssize_t j = 0;                                                        \
    int r;                                                                   \
    __m256d va[SKGD_TILE_ROWS];                                              \
    for (r = 0; r < m; r++) va[r] = _mm256_set1_pd(a[r]);                    \
    for (; j + 4 <= d; j += 4) {                                             \
        __m256d acc = _mm256_loadu_pd(g + j);                                \
        for (r = 0; r < m; r++)                                              \
            acc = _mm256_add_pd(acc, _mm256_mul_pd(va[r], LOAD4(x[r] + j))); \
        _mm256_storeu_pd(g + j, acc);                                        \
    }                                                                        \
    for (; j < d; j++)                                                       \
        for (r = 0; r < m; r++) g[j] += a[r] * (double)x[r][j];

SKGD_TARGET_AVX static void
skgd_axpy_tile_d_avx(const double *a, const double *const *x, int m, double *g,
                     Py_ssize_t d)
{
    SKGD_AVX_AXPY_TILE(SKGD_AVX_LOAD4_D)
}

SKGD_TARGET_AVX static void
skgd_axpy_tile_f_avx(const double *a, const float *const *x, int m, double *g,
                     Py_ssize_t d)
{
    SKGD_AVX_AXPY_TILE(SKGD_AVX_LOAD4_F)
}

#endif  /* SKGD_HAVE_AVX_DISPATCH */

/* out[r] = x[r] . w for the SKGD_TILE_ROWS rows x[0..3], each with the bits
   of skgd_dot_* */
static inline void skgd_dot_tile_d(const double *const *x, const double *w,
                                   Py_ssize_t d, double *out)
{
    int r;
    SKGD_DISPATCH_AVX(skgd_dot_tile_d_avx(x, w, d, out); return)
    for (r = 0; r < SKGD_TILE_ROWS; r++) out[r] = skgd_dot_d(x[r], w, d);
}

static inline void skgd_dot_tile_f(const float *const *x, const double *w,
                                   Py_ssize_t d, double *out)
{
    int r;
    SKGD_DISPATCH_AVX(skgd_dot_tile_f_avx(x, w, d, out); return)
    for (r = 0; r < SKGD_TILE_ROWS; r++) out[r] = skgd_dot_f(x[r], w, d);
}

/* g += a[r] x[r] for r = 0 .. m - 1 (m <= SKGD_TILE_ROWS), with the bits of
   m calls of skgd_axpy_* in that order */
static inline void skgd_axpy_tile_d(const double *a, const double *const *x, int m,
                                    double *g, Py_ssize_t d)
{
    int r;
    SKGD_DISPATCH_AVX(skgd_axpy_tile_d_avx(a, x, m, g, d); return)
    for (r = 0; r < m; r++) skgd_axpy_d(a[r], x[r], g, d);
}

static inline void skgd_axpy_tile_f(const double *a, const float *const *x, int m,
                                    double *g, Py_ssize_t d)
{
    int r;
    SKGD_DISPATCH_AVX(skgd_axpy_tile_f_avx(a, x, m, g, d); return)
    for (r = 0; r < m; r++) skgd_axpy_f(a[r], x[r], g, d);
}

#endif  /* SKGD_SIMD_TILE_H */
