"""Build the compiled kernels; everything else lives in pyproject.toml.

``SKGD_CYTHON_DEBUG=1`` turns bounds, wrap-around and initialisation checks on
(a slower build used by CI to catch out-of-range indexing in the kernels).

``SKGD_SANITIZE=1`` builds the kernels with AddressSanitizer and
UndefinedBehaviorSanitizer (gcc or clang): the raw C pointer loops (and the
vector loops of ``_simd.h``), which Cython's bounds checks never see, then
abort on an out-of-bounds access or undefined behaviour.  The Python
executable is not instrumented, so the sanitizer runtime must be preloaded::

    SKGD_SANITIZE=1 python setup.py build_ext --inplace
    LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \
        python -m pytest tests/test_kernels.py

(``detect_leaks=0``: CPython keeps objects alive until exit by design.
Signed integer overflow is not reported: CPython's compiler flags include
``-fwrapv``, which defines it.)

OpenMP is optional: the batch gradient (``skgd._fast._gradient``) runs its
row blocks in parallel when the compiler can build and link an OpenMP
program, and serially otherwise -- with the same result either way (see the
module's design note).  ``SKGD_OPENMP=0`` turns it off.
"""
import os
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("SKGD_CYTHON_DEBUG", "0") not in ("", "0")
SANITIZE = os.environ.get("SKGD_SANITIZE", "0") not in ("", "0")
# -fno-sanitize-recover: undefined behaviour aborts (by default UBSan only
# prints a message and goes on, which a test run would not notice).
SANITIZE_COMPILE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined",
                    "-fno-omit-frame-pointer", "-g"]
SANITIZE_LINK = ["-fsanitize=address,undefined"]
WANT_OPENMP = os.environ.get("SKGD_OPENMP", "1") not in ("", "0")
OPENMP_EXTENSIONS = {"skgd._fast._gradient", "skgd._fast._duality", "skgd._fast._utils"}
OPENMP_FLAG = {"msvc": "/openmp"}  # gcc and clang: -fopenmp

OPENMP_PROBE = """
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 && omp_get_max_threads() > 0 ? 0 : 1;
}
"""


class BuildExtOptionalOpenMP(build_ext):
    """Add the OpenMP flag only if a tiny OpenMP program compiles and links."""

    def build_extensions(self):
        flag = OPENMP_FLAG.get(self.compiler.compiler_type, "-fopenmp")
        if WANT_OPENMP and self._openmp_works(flag):
            for ext in self.extensions:
                if ext.name in OPENMP_EXTENSIONS:
                    ext.extra_compile_args = ext.extra_compile_args + [flag]
                    if self.compiler.compiler_type != "msvc":
                        ext.extra_link_args = ext.extra_link_args + [flag]
        else:
            print("skgd: OpenMP disabled, the batch gradient runs on one thread")
        super().build_extensions()

    def _openmp_works(self, flag):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(OPENMP_PROBE)
            try:
                objects = self.compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
                link_flags = [] if self.compiler.compiler_type == "msvc" else [flag]
                self.compiler.link_executable(objects, "probe", output_dir=tmp,
                                              extra_postargs=link_flags)
            except Exception:  # any compiler or linker failure: build without it
                return False
        return True


extensions = [
    Extension("skgd._fast._gradient", ["skgd/_fast/_gradient.pyx"]),
    Extension("skgd._fast._stochastic", ["skgd/_fast/_stochastic.pyx"]),
    Extension("skgd._fast._stochastic_csr", ["skgd/_fast/_stochastic_csr.pyx"]),
    Extension("skgd._fast._utils", ["skgd/_fast/_utils.pyx"]),
    Extension("skgd._fast._saga", ["skgd/_fast/_saga.pyx"]),
    Extension("skgd._fast._duality", ["skgd/_fast/_duality.pyx"]),
    Extension("skgd._fast._dual_cd", ["skgd/_fast/_dual_cd.pyx"]),
    Extension("skgd._fast._coordinate_model", ["skgd/_fast/_coordinate_model.pyx"]),
]
for ext in extensions:
    ext.extra_compile_args = ["-O3"] if not DEBUG else ["-O0", "-g"]
    if SANITIZE:
        ext.extra_compile_args = ext.extra_compile_args + SANITIZE_COMPILE
        ext.extra_link_args = ext.extra_link_args + SANITIZE_LINK
    ext.include_dirs = ["skgd/_fast"]  # _simd.h
    ext.depends = ["skgd/_fast/_simd.h", "skgd/_fast/_simd_tile.h"]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives={
            "language_level": "3",
            "boundscheck": DEBUG,
            "wraparound": DEBUG,
            "initializedcheck": DEBUG,
            "nonecheck": False,
            "cdivision": not DEBUG,
        },
        force=DEBUG or SANITIZE,
    ),
    cmdclass={"build_ext": BuildExtOptionalOpenMP},
)
