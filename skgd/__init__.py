"""skgd: scikit-learn compatible linear models trained by gradient descent."""

from ._plotting import LossCurveDisplay
from ._regression import GDRegressor

__version__ = "0.1.0"

__all__ = [
    "GDRegressor",
    "LossCurveDisplay",
    "__version__",
]
