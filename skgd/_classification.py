"""GDClassifier: binary, multinomial and one-vs-rest linear classification.

Labels become the targets of the K-output engine (``skgd._losses``):

* two classes: one output, ``+1`` for ``classes_[1]`` and ``-1`` for
  ``classes_[0]`` (K = 1);
* more classes with ``log_loss``: the one-hot matrix of the labels and the
  softmax cross-entropy (loss ``'multinomial'``), K = n_classes;
* more classes with the margin losses: one ``+1/-1`` column per class
  (one-vs-rest), K = n_classes.

Every output is updated from one read of each row, where scikit-learn's
SGDClassifier makes one pass over X per class.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import _fit_context
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.utils import compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from ._base import DEFAULT_BATCH_SIZE, BaseGD, _store_params
from ._dask import DaskScoreMixin, blockwise
from ._docs import EPSILON_PARAM, FITTED_ATTRS, penalty_params, solver_params
from ._losses import CLASSIFICATION_LOSSES, LOSSES, REGRESSION_LOSSES, classifier_loss


def encode_labels(y_index, n_classes, loss):
    """Targets of the K-output model for integer labels ``y_index``.

    Parameters
    ----------
    y_index : ndarray of shape (n_samples,)
        Position of each label in ``classes_``.
    n_classes : int
    loss : str
        The classification loss of the estimator (its ``loss`` parameter).

    Returns
    -------
    Y : ndarray of shape (n_samples, K), float64, C-contiguous
        ``K = 1`` with -1/+1 for two classes; one-hot where the loss on
        ``n_classes`` has probability targets (the multinomial loss); -1/+1
        per class (one-vs-rest) otherwise.
    """
    # Not sklearn.preprocessing.label_binarize: with LabelEncoder for the
    # indices it took 5.4 ms against 0.44 ms here for 20,000 binary labels
    # (12.5 against 5.3 ms for 10 classes) and 2.6 ms against 0.02 ms for a
    # chunk of 1,000 -- a fixed cost on every partial_fit call, where a
    # 20,000-row epoch takes ~10 ms.
    if n_classes == 2:
        return np.where(y_index == 1, 1.0, -1.0).reshape(-1, 1)
    one_hot = np.zeros((y_index.shape[0], n_classes))
    one_hot[np.arange(y_index.shape[0]), y_index] = 1.0
    if classifier_loss(loss, n_classes).target == "probability":
        return one_hot
    return 2.0 * one_hot - 1.0


class _ClassifierMixinGD(DaskScoreMixin, LinearClassifierMixin, BaseGD):
    """Labels, class weights, prediction and probabilities of GDClassifier.

    ``LinearClassifierMixin`` (scikit-learn's private base of its linear
    classifiers) makes ``check_class_weight_balanced_linear_classifier`` run.
    """

    _multi_output = False
    _y_numeric = False

    # ---- hooks of BaseGD ------------------------------------------------------
    def _encode_targets(self, y, sample_weight, first_call, classes=None):
        check_classification_targets(y)
        if first_call:
            self.classes_ = np.unique(y if classes is None else classes)
            if self.classes_.shape[0] < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, but "
                    f"{'the data contain' if classes is None else 'classes has'} only "
                    f"one class: {self.classes_[0]!r}."
                )
        elif classes is not None and not np.array_equal(
            np.unique(classes), self.classes_
        ):
            raise ValueError(
                f"classes={np.unique(classes)!r} is not the same as on the first "
                f"call to partial_fit: {self.classes_!r}."
            )
        # LabelEncoder's transform, without its set difference for unknown
        # labels (see encode_labels for the measured cost)
        y_index = np.searchsorted(self.classes_, y)
        y_index = np.minimum(y_index, self.classes_.shape[0] - 1)
        unknown = self.classes_[y_index] != y
        if np.any(unknown):
            raise ValueError(
                f"y contains labels that are not in classes_ {self.classes_!r}: "
                f"{np.unique(np.asarray(y)[unknown])!r}."
            )
        if self.class_weight is not None:
            # compute_class_weight counts the classes by weight ('balanced'),
            # as LogisticRegression does: a weight of 2 stays a repeated row.
            per_class = compute_class_weight(
                self.class_weight,
                classes=self.classes_,
                y=y,
                sample_weight=sample_weight,
            )
            sample_weight = sample_weight * per_class[y_index]
        Y = encode_labels(y_index, self.classes_.shape[0], self.loss)
        return Y, sample_weight

    def _loss_name(self):
        return classifier_loss(self.loss, self.classes_.shape[0]).name

    def _set_coefficients(self, W, b):
        self.coef_ = W.copy()
        self.intercept_ = b.copy()

    def _is_classifier_split(self):
        return True

    def _validation_score(self, X, y, sample_weight, W, b):
        scores = self._linear_predict(X, W, b)
        return accuracy_score(y, self._labels(scores), sample_weight=sample_weight)

    # ---- fitting ----------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None):
        """Fit the model by gradient descent.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. float32 input is kept in float32.
        y : array-like of shape (n_samples,)
            Class labels (any labels scikit-learn accepts).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples, multiplied by the class weights; an
            integer weight is equivalent to repeating the row.
        coef_init : array-like of shape (n_classes or 1, n_features), default=None
            Initial coefficients (warm start); one row for two classes.
        intercept_init : array-like of shape (1,) or (n_classes,), default=None
            Initial intercepts.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._more_validate_params()
        return self._fit(X, y, sample_weight, coef_init, intercept_init)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Run one epoch over the given rows, keeping the optimiser's state.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training data.
        y : array-like of shape (n_samples,)
            Its class labels.
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem. Required on the first call, since a
            chunk may not contain them all; on later calls it may be passed
            again and must be the same.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        self : object
            The updated estimator.
        """
        if not hasattr(self, "_solver_state") and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            # on every call, as SGDClassifier: after a fit too, where it would
            # otherwise re-weight each chunk by its own class frequencies
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit: one "
                "chunk does not give the class frequencies. Compute them with "
                "sklearn.utils.compute_class_weight('balanced', classes=classes, "
                "y=y) on a large enough sample and pass them as a dict."
            )
        self._more_validate_params()
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    # ---- prediction ---------------------------------------------------------------
    def _labels(self, scores):
        """Labels of the raw scores of shape (n_samples, K)."""
        if scores.shape[1] == 1:
            return self.classes_[(scores[:, 0] > 0).astype(np.intp)]
        return self.classes_[np.argmax(scores, axis=1)]

    @blockwise
    def decision_function(self, X):
        """Signed scores of the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            ``X @ coef_.T + intercept_``; for two classes the score of
            ``classes_[1]`` (positive means that class is predicted).
        """
        scores = self._raw_predict(X)
        return scores[:, 0] if scores.shape[1] == 1 else scores

    @blockwise
    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            The class of the highest score (binary: ``classes_[1]`` where the
            decision function is positive).
        """
        return self._labels(self._raw_predict(X))

    def _check_proba(self):
        # an invalid name (fit reports it) has no probabilities either
        if self.loss not in CLASSIFICATION_LOSSES or LOSSES[self.loss].link is None:
            raise AttributeError(
                f"probability estimates are not available for loss={self.loss!r}; "
                f"use loss='log_loss' or 'modified_huber', or calibrate with "
                f"sklearn.calibration.CalibratedClassifierCV."
            )
        return True

    @available_if(_check_proba)
    @blockwise
    def predict_proba(self, X):
        """Probability estimates (``log_loss`` and ``modified_huber`` only).

        For ``log_loss`` these are the model's own probabilities: the sigmoid
        of the decision function for two classes, its softmax for more. For
        ``modified_huber`` they are scikit-learn's SGDClassifier estimates
        ``(clip(decision, -1, 1) + 1) / 2``, normalised over the classes
        (uniform where every class gets zero).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, in the order of ``classes_``.
        """
        return LOSSES[self.loss].link.proba(self._raw_predict(X))

    @available_if(_check_proba)
    @blockwise
    def predict_log_proba(self, X):
        """Logarithm of the probability estimates.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, in the order of ``classes_``.
        """
        return LOSSES[self.loss].link.log_proba(self._raw_predict(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class GDClassifier(_ClassifierMixinGD):
    __doc__ = """Linear classification by gradient descent.

    Minimises the mean loss plus a penalty:

    .. math::

        \\min_{W, b} \\frac{1}{\\sum_i s_i} \\sum_i s_i L(y_i, W x_i + b)
        + \\alpha \\left(\\rho \\|W\\|_1 + \\frac{1 - \\rho}{2} \\|W\\|_F^2\\right)

    with ``s_i`` the sample weight times the weight of the class of sample
    ``i``, and ``rho = l1_ratio`` (0 for ``'l2'``, 1 for ``'l1'``). ``W`` has
    one row for two classes (the score of ``classes_[1]``) and one row per
    class otherwise. With more than two classes, ``log_loss`` is the
    multinomial (softmax) cross-entropy; the other losses are one-vs-rest:
    the sum over the classes of the binary loss of "class k against the
    rest". All classes are updated in the same pass over the data.

    With ``loss='log_loss'`` and ``penalty='l2'`` this is the objective of
    :class:`sklearn.linear_model.LogisticRegression` (multinomial for more
    than two classes): ``LogisticRegression(C)`` corresponds to
    ``alpha = 1 / (C * sum_i s_i)`` (``1 / (C * n_samples)`` with unit
    weights). The margin losses are those of
    :class:`sklearn.linear_model.SGDClassifier`, with the same ``alpha``.

    Parameters
    ----------
    loss : {'log_loss', 'hinge', 'squared_hinge', 'modified_huber', \
            'perceptron', 'squared_error', 'huber', 'epsilon_insensitive', \
            'squared_epsilon_insensitive'}, default='log_loss'
        ``L(y, p)`` for ``y`` in {-1, +1}: ``log(1 + exp(-y p))``;
        ``max(0, 1 - y p)`` and its square; the modified Huber loss
        (``max(0, 1 - y p)^2`` for ``y p >= -1``, ``-4 y p`` below);
        ``max(0, -y p)``; and, as in SGDClassifier, the regression losses of
        :class:`GDRegressor` on the -1/+1 targets (``squared_error`` is a
        least-squares classifier). ``log_loss`` and ``modified_huber`` give
        ``predict_proba``. The default differs from SGDClassifier's
        (``'hinge'``): a probabilistic model, the objective of
        LogisticRegression.
""" + penalty_params("SGDClassifier") + """
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes, ``{label: weight}``, multiplying the sample
        weights. ``'balanced'`` uses ``n_samples / (n_classes * count(k))``
        with the counts weighted by ``sample_weight`` (as
        LogisticRegression does; SGDClassifier counts the rows, ignoring
        ``sample_weight``); it is not available in ``partial_fit``.
""" + EPSILON_PARAM + solver_params(power_t="0.5") + """
    n_jobs : int or None, default=None
        Accepted for compatibility with SGDClassifier, without effect: all
        classes are updated in the same pass over the data (SGDClassifier
        fits one binary problem per class, in parallel with ``n_jobs``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels.

    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients, in the dtype of X.

    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
""" + FITTED_ATTRS + """
    See Also
    --------
    GDRegressor : Linear regression by gradient descent.
    sklearn.linear_model.SGDClassifier : Scikit-learn's SGD classifier
        (one-vs-rest only, one pass over X per class).
    sklearn.linear_model.LogisticRegression : The exact solution of the
        ``log_loss`` objective.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from skgd import GDClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = GDClassifier(alpha=1e-2, tol=1e-6).fit(X, y)
    >>> clf.coef_.shape
    (3, 4)
    >>> np.round(clf.predict_proba(X[:1]), 3)
    array([[0.975, 0.025, 0.   ]])

    The same model as ``LogisticRegression(C)`` with ``C = 1 / (alpha * n)``:

    >>> lr = LogisticRegression(C=1 / (1e-2 * len(y)), tol=1e-8, max_iter=1000)
    >>> lr = lr.fit(X, y)
    >>> bool(np.allclose(clf.predict_proba(X), lr.predict_proba(X), atol=1e-3))
    True
    """

    _parameter_constraints: dict = {
        **BaseGD._parameter_constraints,
        "loss": [StrOptions(set(CLASSIFICATION_LOSSES + REGRESSION_LOSSES))],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "epsilon": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        loss="log_loss",
        *,
        penalty="l2",
        alpha=1e-4,
        l1_ratio=0.15,
        class_weight=None,
        epsilon=0.1,
        solver="auto",
        batch_size=DEFAULT_BATCH_SIZE,
        learning_rate="auto",
        eta0=0.01,
        power_t=0.5,
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
        n_jobs=None,
    ):
        _store_params(self, locals())
