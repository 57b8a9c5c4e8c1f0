"""GDRegressor (SGDRegressor's objective) and what every regressor shares:
targets, prediction, scoring and the parameter documentation.  GDRidge,
GDLasso and GDElasticNet are in ``skgd._least_squares``."""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import DEFAULT_BATCH_SIZE, BaseGD, _store_params
from ._dask import DaskScoreMixin, blockwise
from ._docs import EPSILON_PARAM, FITTED_ATTRS, penalty_params, solver_params
from ._losses import REGRESSION_LOSSES


class _RegressorMixinGD(DaskScoreMixin, RegressorMixin, BaseGD):
    """Target handling, prediction and scoring shared by the regressors."""

    _multi_output = True
    _y_numeric = True

    def _encode_targets(self, y, sample_weight, first_call, classes=None):
        y = np.asarray(y)
        single = y.ndim == 1
        if first_call:
            self._single_output = single
        elif single != self._single_output:
            raise ValueError(
                "y has a different number of outputs than in the previous call "
                "to partial_fit."
            )
        Y = np.ascontiguousarray(y.reshape(y.shape[0], -1), dtype=np.float64)
        if not first_call and Y.shape[1] != self._solver_state.W.shape[0]:
            raise ValueError(
                f"y has {Y.shape[1]} outputs, but the model was fitted with "
                f"{self._solver_state.W.shape[0]}."
            )
        return Y, sample_weight

    def _set_coefficients(self, W, b):
        if self._single_output:
            self.coef_ = W[0].copy()
            self.intercept_ = self._single_intercept(b)
        else:
            self.coef_, self.intercept_ = W, b

    def _single_intercept(self, b):
        """SGDRegressor's convention: an array of shape (1,)."""
        return b.copy()

    def _validation_score(self, X, y, sample_weight, W, b):
        pred = self._linear_predict(X, W, b)
        return r2_score(y, pred[:, 0] if y.ndim == 1 else pred, sample_weight=sample_weight)

    @blockwise
    def predict(self, X):
        """Predict with the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values, in the dtype of ``coef_``.
        """
        pred = self._raw_predict(X)
        return pred[:, 0] if self._single_output else pred

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit the model by gradient descent.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. float32 input is kept in float32.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples; an integer weight is equivalent to
            repeating the row.
        coef_init : array-like of shape (n_features,) or (n_outputs, n_features), default=None
            Initial coefficients (warm start).
        intercept_init : array-like of shape (n_outputs,), default=None
            Initial intercepts.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._more_validate_params()
        return self._fit(X, y, sample_weight, coef_init, intercept_init)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Run one epoch over the given rows, keeping the optimiser's state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Its target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        self : object
            The updated estimator.
        """
        self._more_validate_params()
        return self._fit(X, y, sample_weight, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags




class GDRegressor(_RegressorMixinGD):
    __doc__ = """Linear regression by gradient descent (SGDRegressor's objective).

    Minimises the mean loss plus a penalty:

    .. math::

        \\min_{w, b} \\frac{1}{\\sum_i s_i} \\sum_i s_i L(y_i, w^T x_i + b)
        + \\alpha \\left(\\rho \\|w\\|_1 + \\frac{1 - \\rho}{2} \\|w\\|_2^2\\right)

    with ``s_i`` the sample weights and ``rho = l1_ratio`` (0 for ``'l2'``,
    1 for ``'l1'``). This is the objective of
    :class:`sklearn.linear_model.SGDRegressor` with the same ``alpha``; with
    ``penalty='l2'`` and the squared error it equals
    ``Ridge(alpha=alpha * n_samples)`` (unit weights), with ``penalty='l1'``
    ``Lasso(alpha=alpha)``.

    Parameters
    ----------
    loss : {'squared_error', 'huber', 'epsilon_insensitive', \
            'squared_epsilon_insensitive'}, default='squared_error'
        ``L(y, p)``: ``(y - p)^2 / 2``; Huber with threshold ``epsilon``;
        ``max(0, |y - p| - epsilon)`` and its square.
""" + penalty_params("SGDRegressor") + EPSILON_PARAM + solver_params() + """
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_outputs, n_features)
        Coefficients, in the dtype of X.

    intercept_ : ndarray of shape (1,) or (n_outputs,)
        Intercepts.
""" + FITTED_ATTRS + """
    See Also
    --------
    GDRidge : Ridge's objective by gradient descent.
    sklearn.linear_model.SGDRegressor : scikit-learn's SGD regressor.

    Examples
    --------
    >>> import numpy as np
    >>> from skgd import GDRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(100, 3)) * [1.0, 100.0, 0.01]
    >>> y = X @ [1.0, 0.02, 50.0] + 3.0
    >>> reg = GDRegressor(penalty=None, tol=1e-10).fit(X, y)
    >>> [round(float(c), 3) for c in reg.coef_]
    [1.0, 0.02, 50.0]
    """

    _parameter_constraints: dict = {
        **BaseGD._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "epsilon": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        loss="squared_error",
        *,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        epsilon=0.1,
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
