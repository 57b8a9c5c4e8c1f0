"""Regressors: GDRegressor (SGDRegressor's objective) and GDRidge, GDLasso,
GDElasticNet (the objectives of Ridge, Lasso and ElasticNet)."""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import DEFAULT_BATCH_SIZE, BaseGD
from ._dask import DaskScoreMixin, blockwise
from ._objective import REGRESSION_LOSSES, penalty_strengths


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


_SHARED_DOC_PARAMS = """
    solver : {'auto', 'batch', 'sgd', 'minibatch'}, default='auto'
        ``'batch'`` takes one (accelerated) proximal-gradient step per pass
        over the data, ``'sgd'`` one step per sample, ``'minibatch'`` one step
        per ``batch_size`` samples. ``'auto'`` runs ``'batch'`` up to 100,000
        samples and ``'minibatch'`` beyond (and in ``partial_fit``); the
        solver that ran is ``solver_``.

    batch_size : int, default=64
        Rows per update of the ``'minibatch'`` solver.

    learning_rate : {'auto', 'constant', 'optimal', 'invscaling', 'adaptive'}, default='auto'
        ``'auto'`` derives the step from the data: the problem is solved in
        standardised coordinates (dense input) with step ``1 / L`` from the
        smoothness constant ``L`` -- the same objective, on any feature scale.
        The explicit schedules run the textbook update on the raw features:
        ``'constant'``: ``eta0``; ``'optimal'``: ``1 / (alpha (t0 + t))``;
        ``'invscaling'``: ``eta0 / (t + 1) ** power_t``; ``'adaptive'``:
        ``eta0``, divided by 5 whenever the stopping rule would stop.

    eta0 : float, default=0.01
        Initial step of the explicit schedules.

    power_t : float, default=0.25
        Exponent of ``'invscaling'``.

    momentum : float, default=0.0
        Heavy-ball momentum in [0, 1) (the ``'batch'`` solver with
        ``learning_rate='auto'`` is already accelerated and ignores it).

    nesterov : bool, default=False
        Use Nesterov's look-ahead gradient with momentum.

    average : bool or int, default=False
        Averaged SGD: ``coef_`` is the running mean of the iterates (from the
        first update if True, after ``average`` samples if an int).

    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.

    max_iter : int, default=1000
        Maximum number of epochs (passes over the data), for every solver.

    tol : float or None, default=1e-3
        Relative tolerance of the stopping rule. The ``'batch'`` solver on a
        smooth loss stops when the norm of its proximal-gradient step has
        fallen below ``tol`` times its first value (an exact optimality
        measure); the stochastic solvers (and ``'batch'`` on a non-smooth
        loss) stop when the objective decreased by less than ``tol`` per
        epoch, relative to its value, over the last ``n_iter_no_change``
        epochs. With early stopping, training stops after
        ``n_iter_no_change`` epochs that do not raise the best validation
        score by ``tol``. None disables the rule (all ``max_iter`` epochs run).

    n_iter_no_change : int, default=5
        Patience (window, in epochs) of the objective and validation rules.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop on its score.

    validation_fraction : float, default=0.1
        Share of the data held out with early stopping.

    shuffle : bool, default=True
        Visit the samples in a new random order every epoch.

    random_state : int, RandomState instance or None, default=None
        Seed of the shuffling and of the validation split.

    verbose : int, default=0
        Print one line per epoch (epoch, objective, step size, time).

    warm_start : bool, default=False
        Start ``fit`` from the previous solution (with a fresh step schedule).
"""

_SHARED_DOC_ATTRS = """
    n_iter_ : int
        Number of epochs run.

    t_ : int
        Number of updates (steps) made.

    loss_curve_ : list of float
        The objective after each epoch (for the stochastic solvers, the mean
        of the losses met during the epoch plus the penalty).

    validation_scores_ : list of float or None
        Validation score after each epoch with early stopping.

    best_validation_score_ : float or None
        Best of ``validation_scores_``.

    solver_ : str
        The solver that ran.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during ``fit``, when they are strings.
"""


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

    penalty : {'l2', 'l1', 'elasticnet'} or None, default='l2'
        The penalty ``R``.

    alpha : float, default=1e-4
        Strength of the penalty.

    l1_ratio : float, default=0.15
        The elastic-net mixing ``rho`` (used with ``penalty='elasticnet'``).

    epsilon : float, default=0.1
        Threshold of the huber and epsilon-insensitive losses.
""" + _SHARED_DOC_PARAMS + """
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_outputs, n_features)
        Coefficients, in the dtype of X.

    intercept_ : ndarray of shape (1,) or (n_outputs,)
        Intercepts.
""" + _SHARED_DOC_ATTRS + """
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
        self.loss = loss
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.epsilon = epsilon
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.momentum = momentum
        self.nesterov = nesterov
        self.average = average
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start


# ---- scikit-learn's penalised least squares -----------------------------------

_LEAST_SQUARES_ATTRS = """
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients, in the dtype of X.

    intercept_ : float or ndarray of shape (n_targets,)
        Intercept: a scalar for 1-D ``y`` (0 without ``fit_intercept``), as
        in scikit-learn's linear models.
""" + _SHARED_DOC_ATTRS


class _PenalisedLeastSquares(_RegressorMixinGD):
    """The squared error with the penalty of a scikit-learn linear model.

    Subclasses map their ``alpha`` (and ``l1_ratio``) to the ``(l1, l2)``
    strengths of the mean-loss objective of ``skgd._objective``.
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
""" + _SHARED_DOC_PARAMS + _LEAST_SQUARES_ATTRS + """
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
        self.alpha = alpha
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.momentum = momentum
        self.nesterov = nesterov
        self.average = average
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

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
""" + _SHARED_DOC_PARAMS + _LEAST_SQUARES_ATTRS + """
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
        self.alpha = alpha
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.momentum = momentum
        self.nesterov = nesterov
        self.average = average
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

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
""" + _SHARED_DOC_PARAMS + _LEAST_SQUARES_ATTRS + """
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
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.eta0 = eta0
        self.power_t = power_t
        self.momentum = momentum
        self.nesterov = nesterov
        self.average = average
        self.fit_intercept = fit_intercept
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def _penalty(self, sample_weight_sum):
        # ElasticNet's objective is the mean-loss form itself.
        return penalty_strengths(self.alpha, self.l1_ratio)
