"""skgd: scikit-learn compatible linear models trained by gradient descent."""

from ._classification import GDClassifier
from ._least_squares import GDElasticNet, GDLasso, GDRidge
from ._plotting import LossCurveDisplay
from ._regression import GDRegressor

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
