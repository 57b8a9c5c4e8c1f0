# Inner products and updates on one row of X, dense or CSR.
#
# Rows are read through raw pointers so that the compiler sees plain
# contiguous loops it can vectorise.  Accumulation is always in double, also
# for float32 data: the coefficients live in double and only X is float32.

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int
    long long


cdef inline double dot_dense(const floating* x, const double* w,
                             Py_ssize_t d) noexcept nogil:
    cdef Py_ssize_t j
    cdef double s = 0.0
    for j in range(d):
        s += x[j] * w[j]
    return s


cdef inline double dot_csr(const floating* values, const index_t* cols,
                           Py_ssize_t nnz, const double* w) noexcept nogil:
    cdef Py_ssize_t m
    cdef double s = 0.0
    for m in range(nnz):
        s += values[m] * w[cols[m]]
    return s


cdef inline void axpy_dense(double a, const floating* x, double* w,
                            Py_ssize_t d) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(d):
        w[j] += a * x[j]


cdef inline void axpy_csr(double a, const floating* values, const index_t* cols,
                          Py_ssize_t nnz, double* w) noexcept nogil:
    cdef Py_ssize_t m
    for m in range(nnz):
        w[cols[m]] += a * values[m]
