"""BaseGD: parameters, validation, solver dispatch and fitted state.

Every estimator of skgd is a thin front-end over this class: it chooses the
loss, encodes the targets as an ``(n_samples, n_outputs)`` array and maps its
own ``alpha`` to the mean-loss objective (``skgd._solvers.Problem``).  Everything
else -- validation, sample weights, the solver, warm starts, ``partial_fit``,
early stopping and the fitted attributes -- lives here once.
"""

import copy
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from . import _dask
from ._dask import is_dask_collection
from ._dual_cd import DUAL_LOSSES
from ._dual_cd import applies as dual_cd_applies
from ._fast._utils import all_finite
from ._losses import LOSSES
from ._penalties import ElasticNet
from ._schedules import LEARNING_RATES
from ._solvers import (
    SOLVERS,
    Problem,
    SolverOptions,
    SolverState,
    warn_if_not_converged,
)

# solver='auto' runs the batch solver in fit and 'minibatch' in partial_fit.
# The two certified solvers, measured at their defaults on dense L2-logistic
# problems (make_classification 200,000 x 100 with columns x1e-2..x1e2 and
# as generated, 10-class 100,000 x 50, 20,000 x 50): 'batch' (gap <= 1e-9)
# took 1.2, 1.0, 4.2 and 0.17 s, 'saga' (gap <= 1e-6) 1.1, 26, 17 and 1.6 s
# (its linear rate, n mu / L_max per epoch, is slow at alpha = 1e-4); on
# sparse tf-idf rows 'batch' was 3-5x faster (benchmarks/stochastic_gap.py).
# 'saga' stays available by name.
# The hinge and epsilon-insensitive losses are not smooth: the batch solver's
# subgradient steps stall far from the optimum (relative objective gap 0.15
# on scikit-learn's 5-point SGD test data), so 'auto' runs the dual
# coordinate ascent 'dual_cd' on them whenever the penalty has an L2 part
# and the step is 'auto' (an explicit schedule or averaging asks for the
# gradient steps).  Pure L1 and the perceptron (whose optimum is degenerate,
# w = 0) keep 'batch'.
DEFAULT_BATCH_SIZE = 64


def _validate_finite(estimator, X):
    """Raise scikit-learn's error if X (validated: a float array or CSR)
    holds a NaN or an infinity.

    ``validate_data`` is called with ``ensure_all_finite=False`` and the
    check runs here instead, on the OpenMP threads (``all_finite``): on a
    200,000 x 100 array 4.9 ms instead of scikit-learn's 9.1 ms, which is
    some 6% of a default logistic fit.  The message is scikit-learn's
    (a strided view, which ``all_finite`` cannot read in place, goes to
    scikit-learn's check directly).
    """
    values = X.data if sp.issparse(X) else X
    if values.flags.c_contiguous or values.flags.f_contiguous:
        if all_finite(values.ravel(order="K")):  # a view: memory order
            return
    assert_all_finite(X, estimator_name=type(estimator).__name__, input_name="X")


def _check_index_arrays(X):
    """Reject a CSR/CSC matrix whose index arrays point outside its shape.

    scipy checks them only on request (``check_format(full_check=True)``),
    and a conversion or a compiled loop trusting them would read or write
    out of bounds -- a crash of the user's process instead of an error.
    O(nnz), vectorised.
    """
    if not (sp.issparse(X) and X.format in ("csr", "csc")):
        return
    major, minor = X.shape if X.format == "csr" else X.shape[::-1]
    indptr, indices = np.asarray(X.indptr), np.asarray(X.indices)
    ok = indptr.ndim == 1 and indptr.shape[0] == major + 1 and indptr[0] == 0
    nnz = int(indptr[-1]) if ok else 0
    ok = ok and nnz <= min(indices.shape[0], X.data.shape[0])
    ok = ok and not np.any(indptr[1:] < indptr[:-1])
    if ok and nnz:
        used = indices[:nnz]
        ok = used.min() >= 0 and used.max() < minor
    if not ok:
        raise ValueError(
            f"X is a malformed {X.format.upper()} matrix: its indptr and indices do "
            f"not describe a {X.shape[0]} x {X.shape[1]} matrix. Rebuild it; "
            f"X.check_format(full_check=True) names the problem."
        )


def _store_params(estimator, arguments):
    """The whole body of every estimator's ``__init__``: store its arguments.

    scikit-learn's convention: ``__init__`` names every parameter in its
    signature (``get_params`` reads them from there) and only stores each,
    unchanged, under its own name -- no validation, no defaults computed.
    ``arguments`` is the ``__init__``'s ``locals()`` taken first thing, so
    it holds exactly the signature's arguments (and ``self``).
    """
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class BaseGD(BaseEstimator):
    """Shared machinery of the gradient-descent linear models (not public)."""

    _parameter_constraints: dict = {
        "penalty": [StrOptions({"l2", "l1", "elasticnet"}), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "solver": [StrOptions({"auto", "batch", "sgd", "minibatch", "saga", "dual_cd"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions(set(LEARNING_RATES))],
        "eta0": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, None, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterov": ["boolean"],
        "average": [Interval(Integral, 0, None, closed="left"), "boolean"],
        "fit_intercept": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    # ---- hooks for the front-ends ---------------------------------------------
    def _loss_name(self):
        """The name (in ``skgd._losses.LOSSES``) of the loss this estimator minimises."""
        return self.loss

    def _loss_epsilon(self):
        """The ``epsilon`` of the loss: the parameter where the loss uses it, else 0."""
        return float(self.epsilon) if LOSSES[self._loss_name()].uses_epsilon else 0.0

    def _penalty(self, sample_weight_sum):
        """``(l1, l2)`` strengths of the mean-loss objective."""
        if self.penalty is None:
            return 0.0, 0.0
        ratio = {"l2": 0.0, "l1": 1.0, "elasticnet": self.l1_ratio}[self.penalty]
        return ElasticNet.from_alpha(self.alpha, ratio).strengths

    def _mean_loss_alpha(self, sample_weight_sum):
        """The alpha of the mean-loss form (used by the 'optimal' schedule).

        ``alpha`` itself, with or without a penalty: SGDClassifier and
        SGDRegressor set the 'optimal' step from alpha with penalty=None too.
        """
        return self.alpha

    def _more_validate_params(self):
        if self.learning_rate in ("pa1", "pa2"):
            # accepted by the parameter check, as by SGDClassifier/SGDRegressor,
            # to name the alternative here
            raise ValueError(
                f"learning_rate={self.learning_rate!r} is scikit-learn's passive-"
                f"aggressive update, which is not a gradient step on the penalised "
                f"objective skgd minimises and is not implemented. Use "
                f"sklearn.linear_model.SGDClassifier or SGDRegressor with "
                f"learning_rate={self.learning_rate!r}, or a gradient schedule here: "
                f"'auto', 'constant', 'optimal', 'invscaling' or 'adaptive'."
            )
        if getattr(self, "penalty", None) == "elasticnet" and self.l1_ratio is None:
            raise ValueError(
                "l1_ratio must be set when penalty is 'elasticnet' (None is accepted, "
                "as by SGDClassifier, for the other penalties, which do not use it)."
            )
        if self.learning_rate == "optimal" and self._mean_loss_alpha(1.0) == 0:
            raise ValueError(
                "learning_rate='optimal' needs alpha > 0: its step "
                "is 1 / (alpha * (t0 + t)). Use another learning_rate or set alpha > 0."
            )

    # ---- fitting ----------------------------------------------------------------
    def _resolve_solver(self, n_samples, incremental):
        if incremental and self.solver in ("auto", "dual_cd"):
            return "minibatch"  # streaming: the batch and dual solvers need all the rows
        if self.solver != "auto":
            return self.solver
        if (self.learning_rate == "auto" and not self.average
                and self._loss_name() in DUAL_LOSSES
                and dual_cd_applies(self._loss_name(), self._penalty(1.0)[1])):
            return "dual_cd"
        return "batch"

    def _validate_fit_data(self, X, y, reset):
        _check_index_arrays(X)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            order="C",
            accept_large_sparse=True,
            multi_output=self._multi_output,
            y_numeric=self._y_numeric,
            reset=reset,
            ensure_all_finite=False,
        )
        _validate_finite(self, X)
        if sp.issparse(X) and not X.has_canonical_format:
            # Duplicate entries of a row would enter the squared row norms
            # (the step sizes) as a^2 + b^2 instead of (a + b)^2, and unsorted
            # indices change the summation order: sum them on a copy (never
            # in the user's matrix) so that every CSR gives the same model.
            X = X.copy()
            X.sum_duplicates()
        return X, y

    def _check_weights(self, sample_weight, X):
        return _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )

    @staticmethod
    def _normalise_weights(sample_weight):
        """The solver's weights: scaled by a power of two, the largest in [0.5, 1).

        The solver's objective divides by the sum of the weights, so their
        scale means nothing to it (the penalty's conversion, which may
        depend on the sum, is computed before) -- except to floating point,
        where weights of 1e100 (1e-100) times squared residuals or features
        of 1e150 overflow (underflow).  A power of two scales exactly:
        ordinary weights give the bit-identical model.
        """
        top = float(np.max(sample_weight))
        if not top > 0:
            # sample_weight itself was checked: the class weights zeroed it
            raise ValueError(
                "Every training sample has a zero weight once the class weights are "
                "applied (sample_weight * class_weight). Give a positive class_weight "
                "to at least one class present in y, or positive sample weights to "
                "more samples."
            )
        return np.ldexp(sample_weight, -np.frexp(top)[1])

    def _initial_state(self, n_outputs, n_features, coef_init, intercept_init, incremental):
        fitted = hasattr(self, "_solver_state")
        if fitted and self.coef_.size != n_outputs * n_features:
            fitted = False  # a warm start on data of another shape starts afresh
        if incremental and fitted:
            return copy.deepcopy(self._solver_state)
        W = np.zeros((n_outputs, n_features))
        b = np.zeros(n_outputs)
        if coef_init is not None:
            W = self._check_init(coef_init, (n_outputs, n_features), "coef_init")
        elif self.warm_start and fitted:
            W = np.array(self.coef_, dtype=np.float64).reshape(n_outputs, n_features)
        if intercept_init is not None:
            b = self._check_init(intercept_init, (n_outputs,), "intercept_init")
        elif self.warm_start and fitted and coef_init is None:
            b = np.array(np.atleast_1d(self.intercept_), dtype=np.float64)
        if not self.fit_intercept:
            b[:] = 0.0
        return SolverState(W=W, b=b)

    @staticmethod
    def _check_init(value, shape, name):
        arr = np.asarray(value, dtype=np.float64)
        if arr.size != int(np.prod(shape)):
            raise ValueError(
                f"{name} has {arr.size} values, but {int(np.prod(shape))} are needed "
                f"for the shape {shape}."
            )
        arr = arr.reshape(shape).copy()
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinity.")
        return arr

    def _shuffle_stream(self):
        """The RandomState that draws the shuffling seeds of one fit.

        It is kept in the solver state, so that successive ``partial_fit``
        calls continue one random stream (4 calls shuffle as 4 epochs of
        ``fit`` do) instead of replaying the first call's seed.  An int seed
        starts the stream ``fit`` starts; None or a RandomState gives one
        draw for the seed of a private stream, which the state then owns (a
        failed call leaves it where it was).
        """
        if isinstance(self.random_state, Integral):
            return np.random.RandomState(self.random_state)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        return np.random.RandomState(seed)

    def _solver_options(self, incremental, l_alpha, validation, rng):
        return SolverOptions(
            learning_rate=self.learning_rate,
            eta0=self.eta0,
            power_t=self.power_t,
            alpha=l_alpha,
            momentum=self.momentum,
            nesterov=self.nesterov,
            average=self.average,
            batch_size=self.batch_size,
            max_iter=1 if incremental else self.max_iter,
            tol=None if incremental else self.tol,
            n_iter_no_change=self.n_iter_no_change,
            shuffle=self.shuffle,
            random_state=rng,
            verbose=self.verbose,
            validation=validation,
            incremental=incremental,
        )

    def _fit(self, X, y, sample_weight=None, coef_init=None, intercept_init=None,
             incremental=False, classes=None):
        """Fit (or, with ``incremental``, run one more epoch) on X, y.

        All or nothing: if anything raises -- validation, the solver, the
        divergence guards -- the estimator is left exactly as it was before
        the call (the previous model, or no fitted attribute after a first
        fit).  ``validate_data(reset=True)`` writes ``n_features_in_`` and
        ``feature_names_in_`` and the classifier needs ``classes_`` during
        the fit (its early-stopping score), so the fitted attributes are
        restored from a snapshot of the instance dictionary rather than
        assigned at the end: this also covers any attribute a subclass sets.
        The snapshot copies references only; fitting never modifies a stored
        array in place (the solver runs on a deep copy of the state).
        """
        snapshot = dict(self.__dict__)
        try:
            return self._fit_unguarded(X, y, sample_weight, coef_init, intercept_init,
                                       incremental, classes)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            raise

    def _fit_unguarded(self, X, y, sample_weight, coef_init, intercept_init,
                       incremental, classes):
        if is_dask_collection(X):
            return _dask.fit(self, X, y, sample_weight, coef_init, intercept_init,
                             incremental)
        first_call = not (incremental and hasattr(self, "_solver_state"))
        if incremental and first_call and self.early_stopping:
            # as SGDRegressor/SGDClassifier.partial_fit: silently ignoring it
            # would let the user believe the chunks are early-stopped
            raise ValueError(
                "early_stopping=True needs a validation set held out by fit; "
                "partial_fit has none. Set early_stopping=False to use partial_fit."
            )
        X, y = self._validate_fit_data(X, y, reset=first_call)
        sample_weight = self._check_weights(sample_weight, X)
        Y, sample_weight = self._encode_targets(y, sample_weight, first_call, classes)
        n_samples, n_features = X.shape
        solver = self._resolve_solver(n_samples, incremental)
        if incremental and not first_call and solver != self.solver_ \
                and self.solver_ != "dual_cd":
            solver = self.solver_

        validation = None
        if self.early_stopping and not incremental:
            X, Y, sample_weight, validation = self._split_validation(X, y, Y, sample_weight)

        sw_sum = float(sample_weight.sum())
        l1, l2 = self._penalty(sw_sum)
        problem = Problem(
            X=X, Y=Y, sample_weight=self._normalise_weights(sample_weight),
            loss=self._loss_name(),
            epsilon=self._loss_epsilon(), l1=l1, l2=l2,
            fit_intercept=self.fit_intercept,
        )
        state = self._initial_state(Y.shape[1], n_features, coef_init, intercept_init, incremental)
        if state.rng is None:
            state.rng = self._shuffle_stream()
        options = self._solver_options(
            incremental, self._mean_loss_alpha(sw_sum), validation, state.rng
        )
        result = SOLVERS[solver](problem, state, options)

        if not incremental:
            warn_if_not_converged(result, solver, problem, self.tol, self.max_iter)
        self._store_fit(state, result, solver, X.dtype, incremental and not first_call)
        return self

    def _store_fit(self, state, result, solver, dtype, continued):
        W, b = state.coefficients()
        with np.errstate(over="ignore"):
            W_out, b_out = np.asarray(W, dtype=dtype), np.asarray(b, dtype=dtype)
        if not (np.all(np.isfinite(W_out)) and np.all(np.isfinite(b_out))):
            # The solver's float64 model is finite (divergence guard) but lies
            # beyond float32's range (e.g. y of 1e150 with float32 X).
            largest = max(np.abs(W).max(initial=0.0), np.abs(b).max(initial=0.0))
            raise ValueError(
                f"The fitted coefficients (largest magnitude {largest:.3g}) exceed the "
                f"range of {np.dtype(dtype).name}, the dtype of X. Pass X as float64, "
                f"or scale X and y."
            )
        self._solver_state = state
        self._set_coefficients(W_out, b_out)
        self.solver_ = solver
        self.t_ = int(state.t)
        if continued:
            self.n_iter_ += result.n_iter
            self.loss_curve_ = self.loss_curve_ + result.loss_curve
        else:
            self.n_iter_ = result.n_iter
            self.loss_curve_ = list(result.loss_curve)
        if result.validation_scores:
            self.validation_scores_ = list(result.validation_scores)
            self.best_validation_score_ = max(result.validation_scores)
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _split_validation(self, X, y, Y, sample_weight):
        """Hold out ``validation_fraction`` of the rows for early stopping."""
        n = X.shape[0]
        stratify = y if self._is_classifier_split() else None
        idx = np.arange(n)
        try:
            train, val = train_test_split(
                idx, test_size=self.validation_fraction, stratify=stratify,
                random_state=check_random_state(self.random_state),
            )
        except ValueError as exc:
            raise ValueError(
                f"early_stopping=True could not hold out validation_fraction="
                f"{self.validation_fraction} of {n} samples: {exc}"
            ) from exc
        if len(train) == 0 or len(val) == 0:
            raise ValueError(
                f"early_stopping=True needs at least one training and one validation "
                f"sample; validation_fraction={self.validation_fraction} of {n} "
                f"samples leaves none. Increase the data or change validation_fraction."
            )
        X_val, y_val, sw_val = X[val], y[val], sample_weight[val]

        def validation(W, b):
            return self._validation_score(X_val, y_val, sw_val, W, b)

        return X[train], Y[train], sample_weight[train], validation

    def _is_classifier_split(self):
        return False

    # ---- prediction ---------------------------------------------------------------
    def _raw_predict(self, X):
        """``X @ coef_.T + intercept_`` of shape (n_samples, n_outputs)."""
        check_is_fitted(self)
        _check_index_arrays(X)
        X = validate_data(
            self, X, accept_sparse="csr", reset=False, dtype=[np.float64, np.float32],
            ensure_all_finite=False,
        )
        _validate_finite(self, X)
        return self._linear_predict(X, self.coef_, self.intercept_)

    @staticmethod
    def _linear_predict(X, coef, intercept):
        W = np.asarray(coef).reshape(-1, X.shape[1])
        return np.asarray(safe_sparse_dot(X, W.T)) + np.atleast_1d(intercept)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
