"""Build the compiled kernels; everything else lives in pyproject.toml.

``SKGD_CYTHON_DEBUG=1`` turns bounds, wrap-around and initialisation checks on
(a slower build used by CI to catch out-of-range indexing in the kernels).
"""
import os

from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("SKGD_CYTHON_DEBUG", "0") not in ("", "0")

extensions = [
    Extension("skgd._fast._gradient", ["skgd/_fast/_gradient.pyx"]),
    Extension("skgd._fast._stochastic", ["skgd/_fast/_stochastic.pyx"]),
    Extension("skgd._fast._utils", ["skgd/_fast/_utils.pyx"]),
]
for ext in extensions:
    ext.extra_compile_args = ["-O3"] if not DEBUG else ["-O0", "-g"]

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
        force=DEBUG,
    )
)
