"""GDRegressor (SGDRegressor's objective) and what every regressor shares:
targets, prediction, scoring and the parameter documentation.  GDRidge,
GDLasso and GDElasticNet are in ``skgd._least_squares``."""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import DEFAULT_BATCH_SIZE, BaseGD
from ._dask import DaskScoreMixin, blockwise
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


_SHARED_DOC_PARAMS = """
    solver : {'auto', 'batch', 'sgd', 'minibatch', 'saga'}, default='auto'
        ``'batch'`` takes one (accelerated) proximal-gradient step per pass
        over the data, ``'sgd'`` one step per sample, ``'minibatch'`` one step
        per ``batch_size`` samples, and ``'saga'`` one variance-reduced step
        per sample (SAGA: one stored gradient scalar per sample and output;
        smooth losses only), which converges to the exact optimum with a
        constant step. ``'auto'`` runs ``'batch'`` in ``fit`` and
        ``'minibatch'`` in ``partial_fit``; the solver that ran is
        ``solver_``.

    batch_size : int, default=64
        Rows per update of the ``'minibatch'`` solver.

    learning_rate : {'auto', 'constant', 'optimal', 'invscaling', 'adaptive'}, default='auto'
        ``'auto'`` derives the step from the data: the problem is solved in
        standardised coordinates (dense input) with step ``1 / L`` from the
        smoothness constant ``L`` -- the same objective, on any feature scale.
        In ``partial_fit`` the standardisation follows the running moments
        of about the last 1000 rows and ``L`` is re-derived on every chunk,
        so chunks may change scale.
        The explicit schedules run the textbook update on the raw features:
        ``'constant'``: ``eta0``; ``'optimal'``: ``1 / (alpha (t0 + t))``;
        ``'invscaling'``: ``eta0 / (t + 1) ** power_t``; ``'adaptive'``:
        ``eta0``, divided by 5 whenever the stopping rule would stop.
        SGDClassifier's passive-aggressive ``'pa1'`` and ``'pa2'`` are
        accepted by the parameter check but raise an error naming the
        alternative (they are not gradient steps on this objective).

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
        Averaged SGD: ``coef_`` is the running mean of the iterates, from the
        first update if True, and for an int from the update that brings
        the number of samples seen to ``average`` (scikit-learn's ASGD:
        ``average=10`` averages the iterates after updates 10, 11, ... of
        ``solver='sgd'``; ``average=1`` is ``average=True``).

    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.

    max_iter : int, default=1000
        Maximum number of epochs (passes over the data), for every solver.

    tol : float or None, default=1e-3
        Relative tolerance of the stopping rule. The ``'batch'`` solver on the
        squared error or the binary or multinomial log-loss with a penalty
        stops when a duality gap certifies a relative objective gap
        ``(J - J*) / J*`` of at most ``tol * 1e-6`` (1e-9 at the default;
        scikit-learn's Lasso and LogisticRegression reach 1e-10 to 1e-9 at
        theirs); on the other smooth losses when the norm of its
        proximal-gradient step has fallen below ``tol`` times its first
        value. ``'saga'`` stops when its duality gap certifies a relative
        objective gap of ``tol ** 2`` (1e-6 at the default). The other
        stochastic solvers (and ``'batch'`` on a non-smooth loss) stop when
        the objective decreased by less than ``tol`` per epoch, relative to
        its value, over the last ``n_iter_no_change`` epochs. With early
        stopping, training stops after ``n_iter_no_change`` epochs that do
        not raise the best validation score by ``tol``. None disables the
        rule (all ``max_iter`` epochs run).

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

    l1_ratio : float or None, default=0.15
        The elastic-net mixing ``rho`` (used with ``penalty='elasticnet'``;
        may be None for the other penalties, as in SGDRegressor).

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
