"""Every bad input gets a specific error whose message says what to change.

One test per row of the table of the reliability issue, each run on every
estimator of ``skgd.__all__`` it applies to (a row that needs a parameter or
a method the estimator does not have is not generated for it).  Each test
asserts the type of the error *and* its message.
"""

import inspect
import re
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import check_param_validation

import skgd

ESTIMATORS = [
    getattr(skgd, name)
    for name in skgd.__all__
    if inspect.isclass(getattr(skgd, name)) and hasattr(getattr(skgd, name), "fit")
]

N, D = 30, 4


def make_data(Est, seed=0):
    """A small well-posed problem for ``Est``: three classes or a linear target."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(N, D))
    if is_classifier(Est()):
        y = np.array(["ant", "bee", "cat"])[rng.permutation(N) % 3]
    else:
        y = X @ rng.normal(size=D) + 1.0
    return X, y


def fast(Est, **params):
    """An estimator that fits in a few milliseconds (validation is the point)."""
    est = Est(max_iter=5, tol=None, random_state=0)
    return est.set_params(**params)


def with_value(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


@dataclass
class Row:
    """One bad input: what to run, the error expected and its message.

    ``run(Est, X, y)`` performs the bad call; ``needs`` lists the
    constructor parameters, ``methods`` the methods (or fit arguments) and
    ``kind`` the estimator type ('classifier' / 'regressor') the row needs.
    """

    name: str
    run: object
    error: type
    match: str
    needs: tuple = ()
    methods: tuple = ()
    kind: str = None
    literal: bool = True  # ``match`` is plain text (escaped), not a regex
    cause: str = None  # text of the chained exception (available_if's reason)

    def applies(self, Est):
        params = Est().get_params()
        fit_args = inspect.signature(Est.fit).parameters
        if any(p not in params for p in self.needs):
            return False
        if any(not (hasattr(Est, m) or m in fit_args) for m in self.methods):
            return False
        if self.kind == "classifier" and not is_classifier(Est()):
            return False
        if self.kind == "regressor" and is_classifier(Est()):
            return False
        return True

    def pattern(self, Est):
        text = self.match.replace("{name}", Est.__name__)
        return re.escape(text) if self.literal else text


def fit_bad_X(make):
    return lambda Est, X, y: fast(Est).fit(make(X), y)


def fit_bad_y(make):
    return lambda Est, X, y: fast(Est).fit(X, make(y))


def fit_bad_weight(sample_weight):
    return lambda Est, X, y: fast(Est).fit(X, y, sample_weight=sample_weight)


def fitted(Est, X, y, **params):
    return fast(Est, **params).fit(X, y)


def partial_fit(est, X, y, **kwargs):
    if is_classifier(est) and not hasattr(est, "classes_"):
        kwargs.setdefault("classes", np.unique(y))
    return est.partial_fit(X, y, **kwargs)


def malformed(X, fmt, index=None, indptr=False):
    """A CSR/CSC matrix whose index arrays are wrong; scipy builds it unchecked.

    A compiled loop (or scipy's own conversion) trusting them would read and
    write out of bounds: the process would crash instead of raising.
    """
    A = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    indices, pointers = A.indices.copy(), A.indptr.copy()
    if index is not None:
        indices[5] = index
    if indptr:
        pointers[1], pointers[2] = pointers[2], pointers[1]
    cls = sp.csr_matrix if fmt == "csr" else sp.csc_matrix
    return cls((A.data, indices, pointers), shape=A.shape)


def frame(X, columns):
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(X, columns=columns)


ROWS = [
    # ---- values of X, y and sample_weight --------------------------------------
    Row(
        "nan_in_X",
        fit_bad_X(lambda X: with_value(X, (3, 1), np.nan)),
        ValueError,
        "Input X contains NaN.",
    ),
    Row(
        "inf_in_X",
        fit_bad_X(lambda X: with_value(X, (3, 1), np.inf)),
        ValueError,
        "Input X contains infinity or a value too large for dtype('float64').",
    ),
    Row(
        "nan_in_sparse_X",
        fit_bad_X(lambda X: sp.csr_matrix(with_value(X, (3, 1), np.nan))),
        ValueError,
        "Input X contains NaN.",
    ),
    Row(
        "inf_in_float32_X",
        fit_bad_X(lambda X: with_value(X, (0, 0), np.inf).astype(np.float32)),
        ValueError,
        "Input X contains infinity or a value too large for dtype('float32').",
    ),
    Row(
        "nan_in_y",
        fit_bad_y(lambda y: with_value(y, 2, np.nan)),
        ValueError,
        "Input y contains NaN.",
        kind="regressor",
    ),
    Row(
        "inf_in_y",
        fit_bad_y(lambda y: with_value(y, 2, -np.inf)),
        ValueError,
        "Input y contains infinity",
        kind="regressor",
    ),
    Row(
        "nan_label",
        fit_bad_y(lambda y: np.r_[np.arange(N - 1) % 2, np.nan]),
        ValueError,
        "Input y contains NaN.",
        kind="classifier",
    ),
    Row(
        "nan_in_sample_weight",
        fit_bad_weight(with_value(np.ones(N), 4, np.nan)),
        ValueError,
        "Input sample_weight contains NaN.",
    ),
    Row(
        "inf_in_sample_weight",
        fit_bad_weight(with_value(np.ones(N), 4, np.inf)),
        ValueError,
        "Input sample_weight contains infinity",
    ),
    Row(
        "negative_sample_weight",
        fit_bad_weight(with_value(np.ones(N), 4, -1.0)),
        ValueError,
        "Negative values in data passed to `sample_weight`",
    ),
    Row(
        "all_zero_sample_weight",
        fit_bad_weight(np.zeros(N)),
        ValueError,
        "Sample weights must contain at least one non-zero number.",
    ),
    Row(
        "complex_X",
        fit_bad_X(lambda X: X + 1j),
        ValueError,
        "Complex data not supported",
    ),
    Row(
        "string_X",
        fit_bad_X(lambda X: np.full(X.shape, "red")),
        ValueError,
        r"could not convert string to float: (np\.str_\()?'red'",
        literal=False,
    ),
    Row(
        "string_target_for_regressor",
        fit_bad_y(lambda y: np.array(["a", "b"] * (N // 2))),
        ValueError,
        r"could not convert string to float: (np\.str_\()?'a'",
        kind="regressor",
        literal=False,
    ),
    Row(
        "continuous_target_for_classifier",
        fit_bad_y(lambda y: np.linspace(0, 1, N)),
        ValueError,
        "Unknown label type: continuous.",
        kind="classifier",
    ),
    Row(
        "object_X_with_None",
        fit_bad_X(lambda X: np.where(np.eye(N, D) > 0, None, X)),
        ValueError,
        "Input X contains NaN.",
    ),
    # ---- shapes -------------------------------------------------------------------
    Row(
        "empty_X",
        lambda Est, X, y: fast(Est).fit(X[:0], y[:0]),
        ValueError,
        f"Found array with 0 sample(s) (shape=(0, {D})) while a minimum of 1 "
        "is required by {name}.",
    ),
    Row(
        "zero_features",
        fit_bad_X(lambda X: X[:, :0]),
        ValueError,
        f"Found array with 0 feature(s) (shape=({N}, 0)) while a minimum of 1 "
        "is required by {name}.",
    ),
    Row(
        "X_1d",
        fit_bad_X(lambda X: X[:, 0]),
        ValueError,
        r"Expected 2D array, got 1D array instead:(.|\n)*Reshape your data",
        literal=False,
    ),
    Row(
        "X_3d",
        fit_bad_X(lambda X: X[:, :, None]),
        ValueError,
        "Found array with dim 3, while dim <= 2 is required by {name}.",
    ),
    Row(
        "mismatched_lengths",
        lambda Est, X, y: fast(Est).fit(X, y[:-1]),
        ValueError,
        f"Found input variables with inconsistent numbers of samples: [{N}, {N - 1}]",
    ),
    Row(
        "y_missing",
        lambda Est, X, y: fast(Est).fit(X, None),
        ValueError,
        "This {name} estimator requires y to be passed, but the target y is None.",
    ),
    Row(
        "sample_weight_wrong_length",
        fit_bad_weight(np.ones(N - 1)),
        ValueError,
        f"sample_weight.shape == ({N - 1},), expected ({N},)!",
    ),
    Row(
        "sample_weight_2d",
        fit_bad_weight(np.ones((N, 1))),
        ValueError,
        "Sample weights must be 1D array or scalar, got 2D array.",
    ),
    Row(
        "class_weight_zeroes_every_sample",
        lambda Est, X, y: fast(
            Est, class_weight={"ant": 0.0, "bee": 0.0, "cat": 0.0}
        ).fit(X, y),
        ValueError,
        "Every training sample has a zero weight once the class weights are "
        "applied (sample_weight * class_weight). Give a positive class_weight "
        "to at least one class present in y",
        needs=("class_weight",),
    ),
    Row(
        "y_2d_for_classifier",
        fit_bad_y(lambda y: np.c_[y, y]),
        ValueError,
        "y should be a 1d array, got an array of shape",
        kind="classifier",
    ),
    Row(
        "one_class",
        fit_bad_y(lambda y: np.full(N, "ant")),
        ValueError,
        r"{name} needs samples of at least 2 classes, but the data contain only "
        r"one class: .*'ant'",
        kind="classifier",
        literal=False,
    ),
    Row(
        "mixed_type_feature_names",
        fit_bad_X(lambda X: frame(X, ["a", "b", 3, 4])),
        TypeError,
        "Feature names are only supported if all input features have string "
        "names, but your input has ['int', 'str'] as feature name / column name "
        "types.",
    ),
    # ---- malformed sparse matrices (scipy builds them unchecked) ---------------
    Row(
        "csr_column_index_out_of_range",
        fit_bad_X(lambda X: malformed(X, "csr", index=X.shape[1] + 3)),
        ValueError,
        f"X is a malformed CSR matrix: its indptr and indices do not describe a "
        f"{N} x {D} matrix. Rebuild it; X.check_format(full_check=True) names the "
        f"problem.",
    ),
    Row(
        "csr_negative_column_index",
        fit_bad_X(lambda X: malformed(X, "csr", index=-1)),
        ValueError,
        "X is a malformed CSR matrix",
    ),
    Row(
        "csr_decreasing_indptr",
        fit_bad_X(lambda X: malformed(X, "csr", indptr=True)),
        ValueError,
        "X is a malformed CSR matrix",
    ),
    Row(
        "csc_row_index_out_of_range",
        fit_bad_X(lambda X: malformed(X, "csc", index=X.shape[0] + 3)),
        ValueError,
        "X is a malformed CSC matrix",
    ),
    Row(
        "predict_malformed_csr",
        lambda Est, X, y: fitted(Est, X, y).predict(malformed(X, "csr", index=D + 3)),
        ValueError,
        "X is a malformed CSR matrix",
    ),
    # ---- initial values -------------------------------------------------------------
    Row(
        "coef_init_wrong_size",
        lambda Est, X, y: fast(Est).fit(X, y, coef_init=np.ones(D + 1)),
        ValueError,
        f"coef_init has {D + 1} values, but ",
        methods=("coef_init",),
    ),
    Row(
        "coef_init_nan",
        lambda Est, X, y: fast(Est).fit(
            X, y, coef_init=np.full((3 if is_classifier(Est()) else 1, D), np.nan)
        ),
        ValueError,
        "coef_init contains NaN or infinity.",
        methods=("coef_init",),
    ),
    Row(
        "intercept_init_wrong_size",
        lambda Est, X, y: fast(Est).fit(X, y, intercept_init=np.ones(7)),
        ValueError,
        "intercept_init has 7 values, but ",
        methods=("intercept_init",),
    ),
    # ---- prediction -----------------------------------------------------------------
    Row(
        "predict_not_fitted",
        lambda Est, X, y: fast(Est).predict(X),
        NotFittedError,
        "This {name} instance is not fitted yet. Call 'fit' with "
        "appropriate arguments before using this estimator.",
    ),
    Row(
        "predict_wrong_n_features",
        lambda Est, X, y: fitted(Est, X, y).predict(X[:, 1:]),
        ValueError,
        f"X has {D - 1} features, but {{name}} is expecting {D} features as input.",
    ),
    Row(
        "predict_reordered_feature_names",
        lambda Est, X, y: fitted(Est, frame(X, list("abcd")), y).predict(
            frame(X, list("abcd"))[list("dcba")]
        ),
        ValueError,
        "The feature names should match those that were passed during fit.\n"
        "Feature names must be in the same order as they were in fit.",
    ),
    Row(
        "predict_unseen_feature_names",
        lambda Est, X, y: fitted(Est, frame(X, list("abcd")), y).predict(
            frame(X, list("abcz"))
        ),
        ValueError,
        "Feature names unseen at fit time:\n- z\nFeature names seen at fit time, "
        "yet now missing:\n- d",
    ),
    Row(
        "predict_nan",
        lambda Est, X, y: fitted(Est, X, y).predict(with_value(X, (0, 0), np.nan)),
        ValueError,
        "Input X contains NaN.",
    ),
    Row(
        "predict_proba_non_probabilistic",
        lambda Est, X, y: fitted(Est, X, y, loss="hinge").predict_proba(X),
        AttributeError,
        "This '{name}' has no attribute 'predict_proba'",
        kind="classifier",
        cause="probability estimates are not available for loss='hinge'; use "
        "loss='log_loss' or 'modified_huber'",
    ),
    # ---- partial_fit -----------------------------------------------------------------
    Row(
        "partial_fit_changed_n_features_after_fit",
        lambda Est, X, y: partial_fit(fitted(Est, X, y), X[:, 1:], y),
        ValueError,
        f"X has {D - 1} features, but {{name}} is expecting {D} features as input.",
        methods=("partial_fit",),
    ),
    Row(
        "partial_fit_changed_n_features",
        lambda Est, X, y: partial_fit(partial_fit(fast(Est), X, y), np.c_[X, X], y),
        ValueError,
        f"X has {2 * D} features, but {{name}} is expecting {D} features as input.",
        methods=("partial_fit",),
    ),
    Row(
        "partial_fit_nan_in_X",
        lambda Est, X, y: partial_fit(fast(Est), with_value(X, (1, 1), np.nan), y),
        ValueError,
        "Input X contains NaN.",
        methods=("partial_fit",),
    ),
    Row(
        "partial_fit_changed_n_outputs",
        lambda Est, X, y: partial_fit(partial_fit(fast(Est), X, y), X, np.c_[y, y]),
        ValueError,
        "y has a different number of outputs than in the previous call to partial_fit.",
        methods=("partial_fit",),
        kind="regressor",
    ),
    Row(
        "partial_fit_without_classes",
        lambda Est, X, y: fast(Est).partial_fit(X, y),
        ValueError,
        "classes must be passed on the first call to partial_fit.",
        methods=("partial_fit",),
        kind="classifier",
    ),
    Row(
        "partial_fit_new_class",
        lambda Est, X, y: partial_fit(
            fast(Est), X, y, classes=["ant", "bee", "cat"]
        ).partial_fit(X, np.where(y == "ant", "dog", y)),
        ValueError,
        "y contains labels that are not in classes_",
        methods=("partial_fit",),
        kind="classifier",
    ),
    Row(
        "partial_fit_changed_classes",
        lambda Est, X, y: partial_fit(
            fast(Est), X, y, classes=["ant", "bee", "cat"]
        ).partial_fit(X, y, classes=["ant", "bee", "cat", "dog"]),
        ValueError,
        "is not the same as on the first call to partial_fit",
        methods=("partial_fit",),
        kind="classifier",
    ),
    Row(
        "partial_fit_early_stopping",
        lambda Est, X, y: partial_fit(fast(Est, early_stopping=True), X, y),
        ValueError,
        "early_stopping=True needs a validation set held out by fit; "
        "partial_fit has none. Set early_stopping=False to use partial_fit.",
        methods=("partial_fit",),
        needs=("early_stopping",),
    ),
    # ---- parameters ------------------------------------------------------------------
    Row(
        "alpha_negative",
        lambda Est, X, y: fast(Est, alpha=-1.0).fit(X, y),
        InvalidParameterError,
        "The 'alpha' parameter of {name} must be a float in the "
        "range [0.0, inf). Got -1.0 instead.",
        needs=("alpha",),
    ),
    Row(
        "unknown_solver",
        lambda Est, X, y: fast(Est, solver="newton").fit(X, y),
        InvalidParameterError,
        "The 'solver' parameter of {name} must be a str among",
        needs=("solver",),
    ),
    Row(
        "unknown_loss",
        lambda Est, X, y: fast(Est, loss="absolute").fit(X, y),
        InvalidParameterError,
        "The 'loss' parameter of {name} must be a str among",
        needs=("loss",),
    ),
    Row(
        "momentum_one",
        lambda Est, X, y: fast(Est, momentum=1.0).fit(X, y),
        InvalidParameterError,
        "The 'momentum' parameter of {name} must be a float in the "
        "range [0.0, 1.0). Got 1.0 instead.",
        needs=("momentum",),
    ),
    Row(
        "batch_size_zero",
        lambda Est, X, y: fast(Est, batch_size=0).fit(X, y),
        InvalidParameterError,
        "The 'batch_size' parameter of {name} must be an int in the "
        "range [1, inf). Got 0 instead.",
        needs=("batch_size",),
    ),
    Row(
        "max_iter_float",
        lambda Est, X, y: fast(Est, max_iter=2.5).fit(X, y),
        InvalidParameterError,
        "The 'max_iter' parameter of {name} must be an int in the "
        "range [1, inf). Got 2.5 instead.",
        needs=("max_iter",),
    ),
    Row(
        "l1_ratio_above_one",
        lambda Est, X, y: fast(Est, l1_ratio=1.5).fit(X, y),
        InvalidParameterError,
        # "or None" follows for the SGD-style estimators (as in SGDClassifier)
        "The 'l1_ratio' parameter of {name} must be a float in the "
        "range [0.0, 1.0]",
        needs=("l1_ratio",),
    ),
    Row(
        "every_parameter_constraint",
        lambda Est, X, y: check_param_validation(Est.__name__, fast(Est)),
        None,
        "",
    ),
    Row(
        "optimal_schedule_without_alpha",
        lambda Est, X, y: fast(Est, learning_rate="optimal", alpha=0.0).fit(X, y),
        ValueError,
        "learning_rate='optimal' needs alpha > 0",
        needs=("learning_rate", "alpha"),
    ),
    Row(
        "early_stopping_without_enough_samples",
        lambda Est, X, y: fast(Est, early_stopping=True).fit(X[:1], y[:1]),
        ValueError,
        "early_stopping=True could not hold out validation_fraction=0.1 of 1 samples",
        needs=("early_stopping",),
        kind="regressor",
    ),
    Row(
        "unknown_parameter",
        lambda Est, X, y: fast(Est).set_params(learning_rat="auto"),
        ValueError,
        "Invalid parameter 'learning_rat' for estimator",
    ),
    # ---- numerical failure -----------------------------------------------------------
    Row(
        "diverging_explicit_step",
        lambda Est, X, y: fast(
            Est, learning_rate="constant", eta0=10.0, max_iter=200, solver="batch"
        ).fit(X * 100.0, y),
        ValueError,
        "The fit diverged at epoch",
        needs=("eta0", "solver"),
        kind="regressor",
    ),
]

CASES = [
    pytest.param(Est, row, id=f"{Est.__name__}-{row.name}")
    for row in ROWS
    for Est in ESTIMATORS
    if row.applies(Est)
]


@pytest.mark.parametrize("Est, row", CASES)
def test_bad_input(Est, row):
    X, y = make_data(Est)
    if row.error is None:
        # a row that asserts by itself (sklearn's check of every constraint)
        row.run(Est, X, y)
        return
    with pytest.raises(row.error, match=row.pattern(Est)) as info:
        row.run(Est, X, y)
    if row.cause is not None:
        assert row.cause in str(info.value.__cause__)


def test_table_covers_every_estimator():
    # a new estimator in skgd.__all__ is picked up by every generic row
    generic = [
        row for row in ROWS if not row.needs and not row.methods and not row.kind
    ]
    for Est in ESTIMATORS:
        assert all(row.applies(Est) for row in generic)
    assert {row.name for row in ROWS} >= {
        "nan_in_X",
        "inf_in_X",
        "nan_in_sample_weight",
        "empty_X",
        "zero_features",
        "mismatched_lengths",
        "sample_weight_2d",
        "negative_sample_weight",
        "all_zero_sample_weight",
        "predict_wrong_n_features",
        "predict_unseen_feature_names",
        "partial_fit_changed_n_features",
        "every_parameter_constraint",
    }


@pytest.mark.parametrize(
    "Est",
    [E for E in ESTIMATORS if {"penalty", "l1_ratio"} <= set(E().get_params())],
    ids=lambda E: E.__name__,
)
def test_l1_ratio_with_another_penalty_is_ignored_silently(Est, recwarn):
    # scikit-learn's SGD ignores l1_ratio unless penalty='elasticnet' (and a
    # grid over penalty x l1_ratio must not warn on every other penalty), so
    # skgd does the same: same model, no warning.
    X, y = make_data(Est)
    base = fast(Est, penalty="l2").fit(X, y)
    other = clone(base).set_params(l1_ratio=0.9).fit(X, y)
    np.testing.assert_array_equal(other.coef_, base.coef_)
    assert not [w for w in recwarn if not issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize("Est", ESTIMATORS, ids=lambda E: E.__name__)
def test_failed_fit_leaves_no_model(Est):
    # a fit that raised must not leave coefficients behind for predict to use
    X, y = make_data(Est)
    est = fast(Est)
    with pytest.raises(ValueError):
        est.fit(with_value(X, (0, 0), np.nan), y)
    with pytest.raises(NotFittedError):
        est.predict(X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_all_finite_finds_one_bad_value_anywhere(dtype, bad, n_threads):
    """The parallel check of the validation (``skgd._fast._utils.all_finite``)
    reads the exponent bits: one NaN or infinity anywhere in 100,003 values
    (the first, at block edges, the last) is found; the largest finite
    values, subnormals and signed zeros are not flagged."""
    from skgd._fast._utils import all_finite

    n = 100_003  # 13 blocks of 8,192 values and a short one
    values = np.random.RandomState(0).normal(size=n).astype(dtype)
    assert all_finite(values, n_threads)
    for where in (0, 8191, 8192, 50_000, n - 1):
        spoiled = values.copy()
        spoiled[where] = bad
        assert not all_finite(spoiled, n_threads), where
    info = np.finfo(dtype)
    edge = np.array([info.max, -info.max, info.tiny, info.smallest_subnormal, 0.0, -0.0],
                    dtype=dtype)
    assert all_finite(np.tile(edge, 20_000), n_threads)
    assert all_finite(np.empty(0, dtype=dtype), n_threads)


def test_strided_and_fortran_X_are_checked_too():
    """Fortran-ordered X is checked in place, a strided view by scikit-learn."""
    X = np.asfortranarray(np.random.RandomState(0).normal(size=(40, 3)))
    y = np.arange(40) % 2
    X[7, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        skgd.GDClassifier().fit(X, y)
    fitted = skgd.GDClassifier().fit(np.nan_to_num(X), y)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict(X)
    wide = np.zeros((40, 6))
    wide[:, ::2] = X
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict(wide[:, ::2])
