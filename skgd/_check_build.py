"""Fail with one clear sentence when the compiled kernels are missing.

The usual cause is importing skgd from a source tree that was never built,
for example ``python -m skgd`` run from the root of a clone after
``pip install .``: Python puts the current directory first on ``sys.path``,
so it imports the checkout (which has no compiled modules) rather than the
installed package.
"""

import os

KERNELS = ("_gradient", "_stochastic", "_stochastic_csr", "_utils")


def check_build():
    """Import the compiled kernels; raise an ImportError naming the fix if absent."""
    package = os.path.dirname(os.path.abspath(__file__))
    for name in KERNELS:
        module = f"skgd._fast.{name}"
        try:
            __import__(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:  # a missing dependency, not a missing build
                raise
            root = os.path.dirname(package)
            raise ImportError(
                f"skgd was imported from {package}, whose compiled kernels are not "
                f"built (no module {module}): build them in place with "
                f"`pip install -e .` run in {root}, or install with `pip install .` "
                f"and run Python from another directory."
            ) from None
