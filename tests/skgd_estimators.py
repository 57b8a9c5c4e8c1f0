"""The estimators the generic suites run on, listed explicitly.

A list built from ``skgd.__all__`` would shrink silently if an export were
dropped; ``tests/test_common.py`` checks that ``skgd.__all__`` holds exactly
these and the exports that are not estimators.
"""

from skgd import GDClassifier, GDElasticNet, GDLasso, GDRegressor, GDRidge

ESTIMATORS = [GDRegressor, GDRidge, GDLasso, GDElasticNet, GDClassifier]
OTHER_EXPORTS = ["LossCurveDisplay", "__version__"]
