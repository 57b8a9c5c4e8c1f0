"""GDRidge, GDLasso and GDElasticNet: the objectives (and the alpha) of
scikit-learn's Ridge, Lasso and ElasticNet, minimised by gradient descent."""

from numbers import Real

from sklearn.utils._param_validation import Interval

from ._base import DEFAULT_BATCH_SIZE, BaseGD, _store_params
from ._docs import LEAST_SQUARES_ATTRS, solver_params
from ._penalties import ElasticNet
from ._regression import _RegressorMixinGD


class _PenalisedLeastSquares(_RegressorMixinGD):
    """The squared error with the penalty of a scikit-learn linear model.

    Subclasses map their ``alpha`` (and ``l1_ratio``) to the ``(l1, l2)``
    strengths of the mean-loss objective (``skgd._penalties.ElasticNet``).
    """

    _parameter_constraints: dict = {
        key: value
        for key, value in BaseGD._parameter_constraints.items()
        if key not in ("penalty", "l1_ratio")
    }

    def _loss_name(self):
        return "squared_error"

    def _mean_loss_alpha(self, sample_weight_sum):
        # The whole penalty strength of the mean-loss form (the alpha of
        # GDRegressor), which sets the 'optimal' schedule's step.
        return float(sum(self._penalty(sample_weight_sum)))

    def _single_intercept(self, b):
        # scikit-learn's Ridge/Lasso/ElasticNet: a scalar for 1-D y.
        return b[0]


class GDRidge(_PenalisedLeastSquares):
    __doc__ = """Ridge regression by gradient descent (Ridge's objective and alpha).

    Minimises exactly the objective of :class:`sklearn.linear_model.Ridge`
    with the same ``alpha``:

    .. math::

        \\min_{w, b} \\sum_i s_i (y_i - w^T x_i - b)^2 + \\alpha \\|w\\|_2^2

    with ``s_i`` the sample weights (1 by default) and the intercept ``b``
    not penalised; with several targets, the sum of one such objective per
    target.  Divided by ``2 S``, ``S = sum_i s_i`` (``n_samples`` for unit
    weights), it is the mean-loss form of :class:`GDRegressor`,

    .. math::

        \\frac{1}{S} \\sum_i s_i \\frac{(y_i - w^T x_i - b)^2}{2}
        + \\frac{\\alpha}{S} \\frac{\\|w\\|_2^2}{2},

    so ``GDRidge(alpha)`` is ``GDRegressor(penalty='l2', alpha=alpha / S)``,
    and its ``loss_curve_`` reports this mean-loss form.

    Parameters
    ----------
    alpha : float, default=1.0
        Strength of the penalty, as in :class:`sklearn.linear_model.Ridge`.
""" + solver_params() + LEAST_SQUARES_ATTRS + """
    See Also
    --------
    GDLasso : Lasso's objective by gradient descent.
    GDRegressor : The mean-loss form, with other losses.
    sklearn.linear_model.Ridge : The same model by direct solvers.

    Notes
    -----
    ``partial_fit`` scales the penalty by the weight sum ``S`` of the chunk
    it is given: each call takes one step on the Ridge objective of that
    chunk.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import Ridge
    >>> from skgd import GDRidge
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 3)) * [1.0, 100.0, 0.01]
    >>> y = X @ [1.0, 0.02, 50.0] + 3.0 + rng.normal(size=200)
    >>> reg = GDRidge(alpha=10.0, solver="batch", tol=1e-12).fit(X, y)
    >>> ridge = Ridge(alpha=10.0).fit(X, y)
    >>> bool(np.allclose(reg.coef_, ridge.coef_, rtol=1e-6))
    True
    """

    def __init__(
        self,
        alpha=1.0,
        *,
        solver="auto",
        batch_size=DEFAULT_BATCH_SIZE,
        learning_rate="auto",
        eta0=0.01,
        power_t=0.25,
        momentum=0.0,
        nesterov=False,
        average=False,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        _store_params(self, locals())

    def _penalty(self, sample_weight_sum):
        # Ridge's summed loss divided by 2 S: l2 = alpha / S, no L1.
        return 0.0, self.alpha / sample_weight_sum


class GDLasso(_PenalisedLeastSquares):
    __doc__ = """Lasso by proximal gradient descent (Lasso's objective and alpha).

    Minimises exactly the objective of :class:`sklearn.linear_model.Lasso`
    with the same ``alpha``:

    .. math::

        \\min_{w, b} \\frac{1}{2 S} \\sum_i s_i (y_i - w^T x_i - b)^2
        + \\alpha \\|w\\|_1, \\qquad S = \\sum_i s_i,

    with ``s_i`` the sample weights (scikit-learn rescales them to sum to
    ``n_samples``, which is the same objective) and the intercept not
    penalised; with several targets, the sum of one such objective per
    target.  This is already the mean-loss form of :class:`GDRegressor`:
    ``GDLasso(alpha)`` is ``GDRegressor(penalty='l1', alpha=alpha)``.

    The L1 penalty is applied by its proximal operator (soft thresholding;
    a cumulative, lazily applied threshold for ``solver='sgd'``), so
    coefficients are exactly zero, not merely small.

    Parameters
    ----------
    alpha : float, default=1.0
        Strength of the penalty, as in :class:`sklearn.linear_model.Lasso`.
""" + solver_params() + LEAST_SQUARES_ATTRS + """
    See Also
    --------
    GDElasticNet : Adds an L2 part to the penalty.
    GDRidge : Ridge's objective by gradient descent.
    sklearn.linear_model.Lasso : The same model by coordinate descent.

    Examples
    --------
    >>> import numpy as np
    >>> from skgd import GDLasso
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = X @ [2.0, 0.0, -1.0, 0.0] + 0.1 * rng.normal(size=200)
    >>> reg = GDLasso(alpha=0.1, solver="batch", tol=1e-10).fit(X, y)
    >>> np.flatnonzero(reg.coef_)  # the two inactive features are exactly zero
    array([0, 2])
    """

    def __init__(
        self,
        alpha=1.0,
        *,
        solver="auto",
        batch_size=DEFAULT_BATCH_SIZE,
        learning_rate="auto",
        eta0=0.01,
        power_t=0.25,
        momentum=0.0,
        nesterov=False,
        average=False,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        _store_params(self, locals())

    def _penalty(self, sample_weight_sum):
        # Lasso's objective is the mean-loss form itself: l1 = alpha.
        return self.alpha, 0.0


class GDElasticNet(_PenalisedLeastSquares):
    __doc__ = """Elastic net by proximal gradient descent (ElasticNet's objective).

    Minimises exactly the objective of
    :class:`sklearn.linear_model.ElasticNet` with the same ``alpha`` and
    ``l1_ratio``:

    .. math::

        \\min_{w, b} \\frac{1}{2 S} \\sum_i s_i (y_i - w^T x_i - b)^2
        + \\alpha \\rho \\|w\\|_1 + \\frac{\\alpha (1 - \\rho)}{2} \\|w\\|_2^2,
        \\qquad S = \\sum_i s_i,

    with ``rho = l1_ratio``, ``s_i`` the sample weights and the intercept not
    penalised; with several targets, the sum of one such objective per
    target.  This is already the mean-loss form of :class:`GDRegressor`:
    ``GDElasticNet(alpha, l1_ratio)`` is
    ``GDRegressor(penalty='elasticnet', alpha=alpha, l1_ratio=l1_ratio)``
    (L1 strength ``alpha * l1_ratio``, L2 strength ``alpha * (1 - l1_ratio)``).

    The L1 part is applied by its proximal operator, so coefficients are
    exactly zero, not merely small.

    Parameters
    ----------
    alpha : float, default=1.0
        Strength of the penalty, as in
        :class:`sklearn.linear_model.ElasticNet`.

    l1_ratio : float, default=0.5
        The mixing ``rho`` in [0, 1]: 1 is the Lasso, 0 a ridge penalty
        (``GDRidge(alpha * S)``).
""" + solver_params() + LEAST_SQUARES_ATTRS + """
    See Also
    --------
    GDLasso : The pure L1 penalty.
    GDRidge : Ridge's objective by gradient descent.
    sklearn.linear_model.ElasticNet : The same model by coordinate descent.

    Examples
    --------
    >>> import numpy as np
    >>> from skgd import GDElasticNet
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = X @ [2.0, 0.0, -1.0, 0.0] + 0.1 * rng.normal(size=200)
    >>> reg = GDElasticNet(alpha=0.1, l1_ratio=0.7, solver="batch", tol=1e-10).fit(X, y)
    >>> np.flatnonzero(reg.coef_)  # the two inactive features are exactly zero
    array([0, 2])
    """

    _parameter_constraints: dict = {
        **_PenalisedLeastSquares._parameter_constraints,
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(
        self,
        alpha=1.0,
        *,
        l1_ratio=0.5,
        solver="auto",
        batch_size=DEFAULT_BATCH_SIZE,
        learning_rate="auto",
        eta0=0.01,
        power_t=0.25,
        momentum=0.0,
        nesterov=False,
        average=False,
        fit_intercept=True,
        max_iter=1000,
        tol=1e-3,
        n_iter_no_change=5,
        early_stopping=False,
        validation_fraction=0.1,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        _store_params(self, locals())

    def _penalty(self, sample_weight_sum):
        # ElasticNet's objective is the mean-loss form itself.
        return ElasticNet.from_alpha(self.alpha, self.l1_ratio).strengths
