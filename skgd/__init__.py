"""skgd: scikit-learn compatible linear models trained by gradient descent."""

from ._check_build import check_build

check_build()  # an unbuilt source tree: one clear ImportError, not a missing module

from ._classification import GDClassifier  # noqa: E402
from ._least_squares import GDElasticNet, GDLasso, GDRidge  # noqa: E402
from ._plotting import LossCurveDisplay  # noqa: E402
from ._regression import GDRegressor  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "GDClassifier",
    "GDElasticNet",
    "GDLasso",
    "GDRegressor",
    "GDRidge",
    "LossCurveDisplay",
    "__version__",
]
