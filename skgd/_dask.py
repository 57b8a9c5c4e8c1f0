"""Fit and predict on dask collections: the batch solver with the data on a cluster.

``fit(X, y)`` with a dask array (or a dask DataFrame / Series) runs the same
batch solver as in memory, on data that stay where dask computed them:

1. the row blocks of X, y and the sample weights are persisted once
   (:class:`skgd._dask_blocks.BlockStore`);
2. labels, class weights and the targets are encoded block by block (the
   classes are found with one reduction);
3. the statistics the solver takes from X -- the weighted column moments
   and covariance behind the preconditioner, and the Lipschitz constant --
   are sums over the rows, computed block by block;
4. every iteration of the solver is one fused pass: the compiled gradient
   kernel runs on each block where it lives, and the partial sums
   ``(G, Gb, loss)`` are added on the client in block order.

The objective and the solver are those of the in-memory fit; only the
order of the floating-point additions differs (by block), so the model is
the in-memory model up to rounding, and bit-identical on any number of
workers for the same chunks.  ``predict`` and friends map the in-memory
method over the blocks lazily.
"""

import functools
import sys
import warnings

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.base import is_classifier
from sklearn.utils import compute_class_weight
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_is_fitted,
)

from ._dask_blocks import (
    BlockStore,
    block_curvature_sums,
    block_first_moments,
    block_gradient,
    block_gram_product,
    block_margin_sums,
    block_mixture_entropy,
    block_second_moments,
    block_target_sums,
    class_weight_sums,
    encode_classes,
    encode_values,
    labels_of,
    largest_weight,
    map_targets,
    ordered_sum,
)
from ._gap import DualityGap
from ._gram import GramOracle
from ._losses import MARGIN_CAP
from ._solver_common import Problem
from ._solvers import SOLVERS, warn_if_not_converged
from ._step_size import (
    WHITENING_MAX_FEATURES,
    OutputCentring,
    Preconditioner,
    WhiteningPreconditioner,
    _usable_constant,
    batch_lipschitz,
    loss_curvature,
)

# Up to this many features the weighted covariance (a d x d partial per
# block) gives the Lipschitz constant with no pass over the data; beyond,
# Lanczos iterations on Gram products (one pass each) estimate it.
GRAM_MAX_FEATURES = 2048


def is_dask_collection(obj):
    """Whether ``obj`` is a dask collection (False without importing dask)."""
    if "dask" not in sys.modules:
        return False
    from dask.base import is_dask_collection as check

    return check(obj)


# ---- input ----
def _as_array(obj, name):
    """A dask array from a dask array, DataFrame or Series."""
    import dask.array as da

    if isinstance(obj, da.Array):
        return obj
    if hasattr(obj, "to_dask_array"):
        return obj.to_dask_array(lengths=True)
    raise TypeError(
        f"{name} is a {type(obj).__name__}; skgd takes a dask array, DataFrame or "
        f"Series. Convert it (e.g. dask.array.from_delayed) first."
    )


def _frame_meta(X):
    """What scikit-learn reads feature names from: a dask DataFrame's pandas meta."""
    return X._meta if hasattr(X, "columns") and hasattr(X, "_meta") else X


def _check_X(X):
    """Rows chunked any way, columns in one chunk, a numeric dtype."""
    import scipy.sparse as sp

    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-dimensional dask array for X, got {X.ndim} dimensions."
        )
    if sp.issparse(getattr(X, "_meta", None)):
        raise TypeError(
            "X is a dask array of sparse blocks, which the dask path of skgd does not "
            "take. Pass dense blocks, a scipy CSR matrix in memory, or use "
            "dask_ml.wrappers.Incremental."
        )
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X has dtype {X.dtype}; a dask X must be numeric.")
    if any(np.isnan(c) for c in X.chunks[0]):
        X = X.compute_chunk_sizes()
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"Found array with shape {X.shape}: a fit needs at least one sample and "
            f"one feature."
        )
    return X.rechunk({1: -1}) if X.numblocks[1] > 1 else X


def _rows_like(obj, X, name):
    """``obj`` (dask or in-memory) as a dask array with the row chunks of X."""
    import dask.array as da

    arr = (
        _as_array(obj, name)
        if is_dask_collection(obj)
        else da.from_array(np.asarray(obj))
    )
    if arr.ndim == 0 or arr.shape[0] != X.shape[0]:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: X has "
            f"{X.shape[0]}, {name} has {arr.shape[0] if arr.ndim else 'a scalar'}."
        )
    chunks = (X.chunks[0],) + tuple((n,) for n in arr.shape[1:])
    return arr.rechunk(chunks)


# ---- fit ----
def fit(
    est,
    X,
    y,
    sample_weight=None,
    coef_init=None,
    intercept_init=None,
    incremental=False,
):
    """``est.fit(X, y)`` on dask collections (BaseGD._fit restores it on failure)."""
    if incremental:
        raise ValueError(
            "partial_fit does not take a dask collection: fit trains on the whole "
            "dask array with the batch solver, and dask_ml.wrappers.Incremental "
            "hands partial_fit one block at a time."
        )
    if est.solver not in ("auto", "batch"):
        raise ValueError(
            f"solver={est.solver!r} cannot train on a dask collection; use "
            f"solver='batch' (or 'auto'), which runs on the blocks where they live, "
            f"or dask_ml.wrappers.Incremental for the stochastic solvers."
        )
    if est.early_stopping:
        raise ValueError(
            "early_stopping=True is not available with a dask collection: hold out a "
            "validation set with dask_ml.model_selection.train_test_split and stop "
            "on tol."
        )
    return _fit(est, X, y, sample_weight, coef_init, intercept_init)


def _fit(est, X, y, sample_weight, coef_init, intercept_init):
    _check_feature_names(est, _frame_meta(X), reset=True)
    X = _check_X(_as_array(X, "X"))
    _check_n_features(est, X, reset=True)
    y = _rows_like(y, X, "y")
    if sample_weight is not None and not np.isscalar(sample_weight):
        sample_weight = _rows_like(sample_weight, X, "sample_weight")
    if sample_weight is not None:
        # small next to X: computed once for the passes over the targets
        sample_weight = sample_weight.persist()
    if is_classifier(est):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]  # a column of labels, as validate_data ravels it
        encode, encode_args = _classes_and_weights(est, y, sample_weight)
    else:
        est._single_output = y.ndim == 1
        top = max(map_targets(largest_weight, y, sample_weight))
        encode, encode_args = encode_values, (_weight_exponent(est, top),)
    exponent = encode_args[-1]
    store = BlockStore(X, y, sample_weight, encode, encode_args)

    total, sums, target_sums, finite = store.reduce(block_first_moments)
    if finite < len(store.blocks):
        raise ValueError("Input X contains NaN or infinity.")
    mean = sums / total
    # the sum of the weights before their power-of-two normalisation (exact)
    sw_sum = float(np.ldexp(total, -exponent))
    l1, l2 = est._penalty(sw_sum)
    problem = DaskProblem(
        X=X,
        Y=None,
        sample_weight=None,
        loss=est._loss_name(),
        epsilon=est._loss_epsilon(),
        l1=l1,
        l2=l2,
        fit_intercept=est.fit_intercept,
        store=store,
        outputs=target_sums.shape[0],
        weight_total=float(total),
        targets=target_sums / total,
        mean=mean,
    )
    state = est._initial_state(
        problem.n_outputs, X.shape[1], coef_init, intercept_init, False
    )
    if state.rng is None:
        state.rng = est._shuffle_stream()
    options = est._solver_options(False, est._mean_loss_alpha(sw_sum), None, state.rng)
    result = SOLVERS["batch"](problem, state, options)
    warn_if_not_converged(result, "batch", problem, est.tol, est.max_iter)
    est._store_fit(state, result, "batch", X.dtype, False)
    return est


def _weight_exponent(est, top):
    """The power of two that brings the largest weight ``top`` into [0.5, 1).

    The check (and its error when every weight is zero) is the in-memory
    fit's.
    """
    est._normalise_weights(np.array([top]))
    return -int(np.frexp(top)[1])


def _classes_and_weights(est, y, sample_weight):
    """``classes_`` (one reduction) and the class weights, from y's blocks.

    Returns the block encoder and its arguments (the last one is the
    exponent of the weights' normalisation).
    """
    classes = np.unique(np.concatenate(map_targets(labels_of, y, sample_weight)))
    if classes.shape[0] < 2:
        raise ValueError(
            f"{type(est).__name__} needs samples of at least 2 classes, but the data "
            f"contain only one class: {classes[0]!r}."
        )
    parts = map_targets(class_weight_sums, y, sample_weight, classes)
    per_class = None
    top = max(float(np.max(part[1])) for part in parts)
    if est.class_weight is not None:
        # the weighted class counts stand in for y: 'balanced' is then
        # computed from the whole data set, as in memory
        counts = ordered_sum(parts)[0]
        per_class = compute_class_weight(
            est.class_weight, classes=classes, y=classes, sample_weight=counts
        )
        top = max(float(np.max(part[1] * per_class)) for part in parts)
    est.classes_ = classes
    return encode_classes, (classes, per_class, est.loss, _weight_exponent(est, top))


class DaskProblem(Problem):
    """A :class:`~skgd._solver_common.Problem` whose rows live in a BlockStore.

    ``X`` is the dask array (for its shape); ``Y`` and ``sample_weight`` are
    not on the client.  The solver reaches the data through the methods of
    ``Problem`` only, each overridden here by block-wise sums: the gradient
    pass, the target mean, the preconditioners, the Lipschitz constant, the
    Gram-matrix oracle and the duality-gap certificate.  The last three are
    the in-memory objects built on a few rows that have the data's weighted
    moments (:func:`_moment_matched_rows`): all that they read from the data.
    """

    def __init__(self, *, store, outputs, weight_total, targets, mean, **fields):
        super().__init__(**fields)
        self.store = store
        self.outputs = outputs
        self.weight_total = weight_total
        self.targets = targets  # weighted mean of the encoded targets
        self.mean = mean  # weighted column means of X
        self._cov = None

    @property
    def n_outputs(self):
        return self.outputs

    def target_mean(self):
        return self.targets

    def gradient_pass(self, W, b, W_eval=None, b_eval=None):
        """Mean gradient at (W, b) and objective at (W_eval, b_eval), one pass."""
        W_eval = W if W_eval is None else W_eval
        b_eval = b if b_eval is None else b_eval
        G, Gb, loss_sum = ordered_sum(
            self.store.map(
                block_gradient, W, b, W_eval, b_eval, self.loss_code, self.epsilon
            )
        )
        total = self.weight_total
        objective = float(loss_sum) / total + self.penalty.value(W_eval)
        return G / total, Gb / total, objective

    def _covariance(self):
        """Weighted covariance of X about its mean (its diagonal for wide X)."""
        if self._cov is None:
            full = self.n_features <= GRAM_MAX_FEATURES
            (second,) = self.store.reduce(block_second_moments, self.mean, full)
            self._cov = second / self.weight_total
        return self._cov

    def batch_preconditioner(self, whiten):
        d, cov = self.n_features, self._covariance()
        if (
            whiten
            and cov.ndim == 2
            and d <= min(WHITENING_MAX_FEATURES, self.n_samples)
        ):
            # without an intercept: the uncentred second moment, about 0
            center = self.mean if self.fit_intercept else np.zeros(d)
            second = cov if self.fit_intercept else cov + np.outer(self.mean, self.mean)
            whitening = WhiteningPreconditioner.from_covariance(second, center)
            if whitening is not None:
                return whitening
        return self.diagonal_preconditioner()

    def diagonal_preconditioner(self):
        cov = self._covariance()
        var = np.diag(cov).copy() if cov.ndim == 2 else cov
        return Preconditioner.from_moments(self.mean, var, self.fit_intercept)

    def batch_lipschitz(self, precond, n_iter=30, rtol=1e-4):
        cov = self._covariance()
        if cov.ndim == 1:
            top = _lanczos_eigenvalue(self, precond, rtol)
            return _usable_constant(loss_curvature(self.loss) * top)
        if not np.all(np.isfinite(cov)):
            _usable_constant(np.inf)  # raises: the squared features overflow
        # the power iteration of the in-memory fit, on rows with X's Gram matrix
        rows = _moment_matched_rows(self.mean, cov)
        return batch_lipschitz(
            rows, np.ones(rows.shape[0]), precond, self.fit_intercept, self.loss,
            n_iter=n_iter, rtol=rtol,
        )

    def gram_oracle(self):
        """The least-squares oracle from X's and y's joint moments (one pass)."""
        d, total = self.n_features, self.weight_total
        S, s, Q = self.store.reduce(block_target_sums, self.targets, False)
        # sum_i w_i (y_i - ybar)(x_i - mu)^T: the targets' sum s is ~0
        cross = (S - np.outer(s, self.mean)) / total
        joint = np.block([[self._covariance(), cross.T], [cross, Q / total]])
        rows = _moment_matched_rows(np.concatenate([self.mean, self.targets]), joint)
        return GramOracle(self._surrogate(rows[:, :d], rows[:, d:], np.ones(len(rows))))

    def duality_gap(self, feature_mean=None):
        """The certificate from the class sums of X (one pass), as in memory."""
        if self.loss == "log_loss":
            # the binary targets: the positive class's sums, the rest by difference
            S, s, _ = self.store.reduce(block_target_sums, None, True)
            sums = np.vstack([S, self.mean * self.weight_total - S])
            weights = np.array([s[0], self.weight_total - s[0]])
            Y = np.array([[1.0], [-1.0]])
        elif self.loss == "multinomial":
            zero = np.zeros(self.n_outputs)
            sums, weights, _ = self.store.reduce(block_target_sums, zero, False)
            Y = np.eye(self.n_outputs)
        else:  # no class sums needed: the means only
            sums, weights = self.mean[None, :], np.ones(1)
            Y = self.targets[None, :]
        rows = np.divide(
            sums, weights[:, None], out=np.zeros_like(sums), where=weights[:, None] > 0
        )
        surrogate = self._surrogate(rows, Y, weights)
        gap = DualityGap.for_problem(surrogate, feature_mean)
        if gap is not None and self.loss in ("log_loss", "multinomial"):
            # the exact intercept correction, summed where the rows live
            gap.rows_mixture = self._mixture_entropy
        if gap is not None and self.loss in MARGIN_CAP:
            gap.rows_margin = self._margin_sums  # (one more pass per check)
        return gap

    def _margin_sums(self, W, b):
        """The margin losses' class sums and positive-class gradient at (W,
        b) (``DualityGap.rows_margin``), block by block: one pass over X."""
        parts = ordered_sum(self.store.map(block_margin_sums, W, b, self.loss_code))
        G_plus, *sums = (part / self.weight_total for part in parts)
        return tuple(sums), G_plus

    def curvature_centres(self, W, b, derivative=None):
        """:meth:`Problem.curvature_centres`, summed where the blocks live."""
        sums, mass = ordered_sum(self.store.map(block_curvature_sums, W, b, self.loss_code))
        return OutputCentring.centres(sums, mass)

    def _mixture_entropy(self, W, b, t, pi=None, raise_positive=None):
        """``sum_i w_i f*(u'_i)`` of the certificate's mixture, block by block."""
        # a pass over X: run as the gradient's, where the blocks live
        (total,) = ordered_sum(self.store.map(
            block_mixture_entropy, W, b, self.loss_code, t, pi, raise_positive
        ))
        return float(total) / self.weight_total

    def _surrogate(self, X, Y, sample_weight):
        """An in-memory problem on the given rows, with this problem's objective."""
        return Problem(
            X=np.ascontiguousarray(X),
            Y=np.ascontiguousarray(Y, dtype=np.float64),
            sample_weight=sample_weight,
            loss=self.loss,
            epsilon=self.epsilon,
            l1=self.l1,
            l2=self.l2,
            fit_intercept=self.fit_intercept,
        )


def _moment_matched_rows(mean, cov):
    """2d equally weighted rows with mean ``mean`` and covariance ``cov``.

    With ``cov = sum_j lam_j v_j v_j^T``, the rows ``mean +- sqrt(d lam_j) v_j``
    have that mean and covariance, so the Gram matrix of the rows ``[x, 1]``
    -- all that the smoothness constant depends on -- is the data's.
    """
    eigenvalues, vectors = np.linalg.eigh(cov)
    spread = (vectors * np.sqrt(mean.shape[0] * np.clip(eigenvalues, 0.0, None))).T
    return np.ascontiguousarray(np.vstack([mean + spread, mean - spread]))


def _lanczos_eigenvalue(problem, precond, rtol=1e-4):
    """The same eigenvalue from Gram products (one pass each), for wide X."""
    d, fit_intercept = problem.n_features, problem.fit_intercept
    k = d + int(fit_intercept)

    def product(v):
        W, b = precond.to_original(v[None, :d], v[d:] if fit_intercept else np.zeros(1))
        G, Gb = problem.store.reduce(block_gram_product, W, b)
        total = problem.weight_total
        h_w, h_b = precond.gradient_to_standardised(G / total, Gb / total)
        return np.concatenate([h_w[0], h_b if fit_intercept else []])

    operator = LinearOperator((k, k), matvec=product, dtype=np.float64)
    # a fixed start vector: the estimate does not depend on a random draw
    return float(
        eigsh(
            operator,
            k=1,
            which="LA",
            v0=np.ones(k),
            tol=rtol,
            return_eigenvectors=False,
        )[0]
    )


# ---- prediction ----
def blockwise(method):
    """Decorate a prediction method: on a dask collection, map it over the blocks.

    The result is a lazy dask array with the row chunks of X; each block is
    the in-memory method applied to the block's rows.
    """

    @functools.wraps(method)
    def wrapper(self, X):
        if not is_dask_collection(X):
            return method(self, X)
        return _map_blocks(self, method, X)

    return wrapper


def _map_blocks(est, method, X):
    check_is_fitted(est)
    columns = None
    if hasattr(X, "columns"):
        _check_feature_names(est, _frame_meta(X), reset=False)
        columns = getattr(est, "feature_names_in_", None)
        X = X.to_dask_array()
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2-dimensional dask array for X, got {X.ndim} dimensions."
        )
    _check_n_features(est, X, reset=False)
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feature names: checked above
        probe = method(est, np.zeros((1, X.shape[1]), dtype=X.dtype))
    if probe.ndim == 1:
        return X.map_blocks(
            _apply,
            est,
            method.__name__,
            columns,
            drop_axis=1,
            dtype=probe.dtype,
            meta=probe[:0],
        )
    return X.map_blocks(
        _apply,
        est,
        method.__name__,
        columns,
        chunks=(X.chunks[0], (probe.shape[1],)),
        dtype=probe.dtype,
        meta=probe[:0],
    )


def _apply(block, est, name, columns):
    if columns is not None:
        import pandas as pd

        block = pd.DataFrame(block, columns=columns, copy=False)
    return getattr(est, name)(block)


class DaskScoreMixin:
    """``score`` computed block by block when X or y is a dask collection."""

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifiers) or R^2 (regressors) of the predictions.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Test samples.
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_outputs)
            True labels or values.
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            scikit-learn's ``accuracy_score`` or ``r2_score`` (averaged
            uniformly over the outputs); on dask collections computed as
            block-wise sums, without gathering the data.
        """
        if not is_dask_collection(X):
            return super().score(X, y, sample_weight=sample_weight)
        import dask

        pred = self.predict(X)
        y = _rows_like(y, pred, "y")
        if sample_weight is None:
            w, weight = 1.0, pred.shape[0]
        else:
            w = _rows_like(sample_weight, pred, "sample_weight")
            weight = w.sum()
        if is_classifier(self):
            return float(dask.compute(((pred == y) * w).sum() / weight)[0])
        Y = y.reshape(y.shape[0], -1).astype(np.float64)
        P = pred.reshape(Y.shape)
        w = w if sample_weight is None else w[:, None]
        y_mean = (Y * w).sum(axis=0) / weight
        num, den = dask.compute(
            ((Y - P) ** 2 * w).sum(axis=0), ((Y - y_mean) ** 2 * w).sum(axis=0)
        )
        # r2_score's conventions for a constant y: 1 if predicted exactly, else 0
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(den != 0, 1.0 - num / den, np.where(num == 0, 1.0, 0.0))
        return float(np.mean(scores))
