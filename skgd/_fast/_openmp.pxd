# The number of OpenMP threads a parallel loop may use: omp_get_max_threads()
# in a build with OpenMP, 1 without (setup.py adds the flag only where a
# probe program compiles, so the kernels must build either way).

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int skgd_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int skgd_max_threads(void) { return 1; }
    #endif
    """
    int skgd_max_threads() noexcept nogil
