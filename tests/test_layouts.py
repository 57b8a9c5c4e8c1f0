"""Any layout of the same data gives the same model.

Dense layouts (read-only joblib memmaps, Fortran order, strided views, int
and bool arrays, pandas/polars frames) are converted to the C-contiguous
float64 array the solvers run on -- or used as they are when they already
are one -- so their models must be *bit-identical* to the model of that
array.  Likewise every sparse format and every CSR variant (unsorted
indices, duplicate entries, int64 indices) must give bit-identically the
model of the canonical CSR matrix; canonical CSR and dense run different
code paths (only dense input is standardised) and agree to the solver's
precision at the optimum.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from skgd_estimators import ESTIMATORS
from sklearn.base import clone, is_classifier

import skgd
import skgd._sgd
import skgd._solver_common

SOLVERS = ["batch", "sgd", "minibatch"]


def make_data(Est, n=48, d=5, density=None, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d)
    if density is not None:
        X[rng.uniform(size=(n, d)) > density] = 0.0
    w = rng.normal(size=d)
    if is_classifier(Est()):
        y = np.digitize(X @ w, np.quantile(X @ w, [1 / 3, 2 / 3]))
    else:
        y = X @ w + 1.0 + 0.1 * rng.normal(size=n)
    return X, y


def estimator(Est, solver, **params):
    """A short fit with a penalty that makes the lazy sparse updates work."""
    est = Est(solver=solver, random_state=0, max_iter=20, tol=None, batch_size=8)
    if "penalty" in est.get_params():
        est.set_params(penalty="elasticnet", alpha=0.01, l1_ratio=0.3)
    return est.set_params(**params)


def assert_same_model(a, b):
    """Bit-identical coefficients, intercepts and loss curves."""
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    np.testing.assert_array_equal(a.loss_curve_, b.loss_curve_)
    assert a.n_iter_ == b.n_iter_ and a.t_ == b.t_
    assert a.coef_.dtype == b.coef_.dtype


def cases(*solvers):
    return [
        pytest.param(Est, solver, id=f"{Est.__name__}-{solver}")
        for Est in ESTIMATORS
        for solver in solvers
    ]


# ---- dense layouts ------------------------------------------------------------------

DENSE_LAYOUTS = {
    "fortran": np.asfortranarray,
    "strided_rows_and_columns": lambda X: np.repeat(np.repeat(X, 2, axis=0), 3, axis=1)[
        ::2, ::3
    ],
    "negative_strides": lambda X: X[::-1][::-1],
    "read_only": lambda X: _read_only(X.copy()),
    "list_of_lists": lambda X: X.tolist(),
}


def _read_only(X):
    X.setflags(write=False)
    return X


@pytest.mark.parametrize("layout", DENSE_LAYOUTS)
@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_dense_layouts_give_the_same_model(Est, solver, layout):
    X, y = make_data(Est)
    Xl = DENSE_LAYOUTS[layout](X)
    if isinstance(Xl, np.ndarray):
        np.testing.assert_array_equal(
            Xl, X
        )  # the same values, only laid out differently
    ref = estimator(Est, solver).fit(X, y)
    assert_same_model(estimator(Est, solver).fit(Xl, y), ref)
    # the product X @ coef_ may round differently on another memory layout
    np.testing.assert_allclose(ref.predict(Xl), ref.predict(X), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_joblib_memmap_is_used_without_copy(Est, solver, tmp_path, monkeypatch):
    joblib = pytest.importorskip("joblib")
    X, y = make_data(Est)
    sw = np.random.RandomState(1).uniform(0.5, 2.0, size=len(y))
    joblib.dump((X, y, sw), tmp_path / "data.pkl")
    Xm, ym, swm = joblib.load(tmp_path / "data.pkl", mmap_mode="r")
    assert isinstance(Xm, np.memmap) and not Xm.flags.writeable

    # Record the X every kernel call of the solvers receives.
    seen = []

    def recording(kernel):
        def wrapper(X_arg, *args, **kwargs):
            seen.append(X_arg)
            return kernel(X_arg, *args, **kwargs)

        return wrapper

    for module, name in (
        (skgd._solver_common, "gradient_dense"), (skgd._sgd, "epoch_dense")
    ):
        monkeypatch.setattr(module, name, recording(getattr(module, name)))
    est = estimator(Est, solver).fit(Xm, ym, sample_weight=swm)
    assert seen and all(np.shares_memory(X_arg, Xm) for X_arg in seen)
    assert_same_model(est, estimator(Est, solver).fit(X, y, sample_weight=sw))
    np.testing.assert_allclose(est.predict(Xm), est.predict(X), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int8])
@pytest.mark.parametrize("Est, solver", cases("batch", "sgd"))
def test_integer_X_is_the_float64_model(Est, solver, dtype):
    X, y = make_data(Est)
    Xi = np.clip(np.round(X * 3), -100, 100).astype(dtype)
    if np.issubdtype(dtype, np.unsignedinteger):
        Xi = np.abs(np.clip(np.round(X * 3), -100, 100)).astype(dtype)
    ref = estimator(Est, solver).fit(Xi.astype(np.float64), y)
    est = estimator(Est, solver).fit(Xi, y)
    assert_same_model(est, ref)
    assert est.coef_.dtype == np.float64


@pytest.mark.parametrize("Est, solver", cases("batch", "sgd"))
def test_bool_X_is_the_float64_model(Est, solver):
    X, y = make_data(Est)
    Xb = X > 0.3
    assert_same_model(
        estimator(Est, solver).fit(Xb, y),
        estimator(Est, solver).fit(Xb.astype(np.float64), y),
    )
    assert_same_model(
        estimator(Est, solver).fit(sp.csr_matrix(Xb), y),
        estimator(Est, solver).fit(sp.csr_matrix(Xb.astype(np.float64)), y),
    )


# ---- data frames ---------------------------------------------------------------------


@pytest.mark.parametrize("Est, solver", cases("batch", "sgd"))
def test_pandas_gives_the_same_model_and_keeps_feature_names(Est, solver):
    pd = pytest.importorskip("pandas")
    X, y = make_data(Est)
    names = [f"f{j}" for j in range(X.shape[1])]
    df = pd.DataFrame(X, columns=names)
    ref = estimator(Est, solver).fit(X, y)
    est = estimator(Est, solver).fit(df, pd.Series(y, name="target"))
    assert_same_model(est, ref)
    np.testing.assert_array_equal(est.feature_names_in_, names)
    np.testing.assert_allclose(est.predict(df), ref.predict(X), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=lambda E: E.__name__)
def test_pandas_mixed_and_nullable_dtypes(Est):
    pd = pytest.importorskip("pandas")
    X, y = make_data(Est)
    Xi = np.round(X * 3)
    df = pd.DataFrame(
        {
            "int": pd.Series(Xi[:, 0].astype(np.int64)),
            "nullable_int": pd.array(Xi[:, 1].astype(np.int64), dtype="Int64"),
            "float32": Xi[:, 2].astype(np.float32),
            "nullable_float": pd.array(Xi[:, 3], dtype="Float64"),
            "bool": Xi[:, 4] > 0,
        }
    )
    ref_X = np.column_stack([Xi[:, 0], Xi[:, 1], Xi[:, 2], Xi[:, 3], Xi[:, 4] > 0])
    ref = estimator(Est, "batch").fit(ref_X.astype(np.float64), y)
    assert_same_model(estimator(Est, "batch").fit(df, y), ref)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=lambda E: E.__name__)
def test_pandas_sparse_frame(Est):
    pd = pytest.importorskip("pandas")
    X, y = make_data(Est, density=0.3)
    df = pd.DataFrame.sparse.from_spmatrix(sp.csr_matrix(X), columns=list("abcde"))
    ref = estimator(Est, "sgd").fit(sp.csr_matrix(X), y)
    est = estimator(Est, "sgd").fit(df, y)
    assert_same_model(est, ref)
    np.testing.assert_array_equal(est.feature_names_in_, list("abcde"))


@pytest.mark.parametrize("Est, solver", cases("batch", "sgd"))
def test_polars_gives_the_same_model_and_keeps_feature_names(Est, solver):
    pl = pytest.importorskip("polars")
    X, y = make_data(Est)
    names = [f"f{j}" for j in range(X.shape[1])]
    df = pl.DataFrame({name: X[:, j] for j, name in enumerate(names)})
    ref = estimator(Est, solver).fit(X, y)
    est = estimator(Est, solver).fit(df, y)
    assert_same_model(est, ref)
    np.testing.assert_array_equal(est.feature_names_in_, names)
    np.testing.assert_allclose(est.predict(df), ref.predict(X), rtol=1e-14, atol=1e-14)


# ---- sparse formats and CSR variants -------------------------------------------------


def reversed_indices(A):
    """The same CSR matrix with the indices of every row in reverse order."""
    indices, data = A.indices.copy(), A.data.copy()
    for i in range(A.shape[0]):
        row = slice(A.indptr[i], A.indptr[i + 1])
        indices[row], data[row] = indices[row][::-1], data[row][::-1]
    B = sp.csr_matrix((data, indices, A.indptr.copy()), shape=A.shape)
    assert not B.has_sorted_indices
    return B


def duplicated_entries(A):
    """Every stored value split into two duplicate entries x/2 + x/2 (exact)."""
    counts = np.diff(A.indptr)
    B = sp.csr_matrix(
        (
            np.repeat(A.data / 2, 2),
            np.repeat(A.indices, 2),
            np.r_[0, np.cumsum(2 * counts)],
        ),
        shape=A.shape,
    )
    assert B.nnz == 2 * A.nnz and not B.has_canonical_format
    return B


def int64_indices(A):
    B = A.copy()
    B.indices, B.indptr = B.indices.astype(np.int64), B.indptr.astype(np.int64)
    assert B.indices.dtype == np.int64
    return B


CSR_VARIANTS = {
    "unsorted_indices": reversed_indices,
    "duplicate_entries": duplicated_entries,
    "int64_indices": int64_indices,
    "unsorted_int64_duplicates": lambda A: int64_indices(
        reversed_indices(duplicated_entries(A))
    ),
    "csc": sp.csc_matrix,
    "coo": sp.coo_matrix,
    "coo_with_duplicates": lambda A: sp.coo_matrix(duplicated_entries(A)),
    "bsr": sp.bsr_matrix,
    "lil": sp.lil_matrix,
    "dok": sp.dok_matrix,
    "dia": sp.dia_matrix,
    "csr_array": sp.csr_array,
    "csc_array": sp.csc_array,
    "coo_array": sp.coo_array,
}


@pytest.mark.parametrize("variant", CSR_VARIANTS)
@pytest.mark.parametrize("Est, solver", cases(*SOLVERS))
def test_sparse_variants_give_the_canonical_csr_model(Est, solver, variant):
    X, y = make_data(Est, density=0.4)
    A = sp.csr_matrix(X)
    B = CSR_VARIANTS[variant](A)
    np.testing.assert_array_equal(B.toarray(), X)
    ref = estimator(Est, solver).fit(A, y)
    assert_same_model(estimator(Est, solver).fit(B, y), ref)
    # another summation order in the product: equal to rounding
    np.testing.assert_allclose(ref.predict(B), ref.predict(A), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("variant", ["unsorted_indices", "duplicate_entries"])
def test_users_sparse_matrix_is_not_modified(variant):
    X, y = make_data(skgd.GDRegressor, density=0.4)
    B = CSR_VARIANTS[variant](sp.csr_matrix(X))
    before = (B.data.copy(), B.indices.copy(), B.indptr.copy())
    skgd.GDRegressor(max_iter=3, tol=None).fit(B, y)
    for kept, now in zip(before, (B.data, B.indices, B.indptr)):
        np.testing.assert_array_equal(kept, now)


@pytest.mark.parametrize("Est, solver", cases("batch", "sgd"))
def test_explicitly_stored_zeros(Est, solver):
    # a stored zero changes nothing in a gradient; the lazy sparse penalty may
    # catch that feature up one update earlier (a split soft-threshold): equal
    # to rounding
    X, y = make_data(Est, density=0.4)
    A = sp.csr_matrix(X)
    rows, cols = np.nonzero(X == 0)
    with_zeros = sp.csr_matrix(
        (
            np.r_[A.tocoo().data, np.zeros(10)],
            (np.r_[A.tocoo().row, rows[:10]], np.r_[A.tocoo().col, cols[:10]]),
        ),
        shape=X.shape,
    )
    assert with_zeros.nnz == A.nnz + 10
    ref = estimator(Est, solver).fit(A, y)
    est = estimator(Est, solver).fit(with_zeros, y)
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(est.intercept_, ref.intercept_, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("Est", ESTIMATORS, ids=lambda E: E.__name__)
def test_sparse_equals_dense_at_the_optimum(Est):
    # different paths (dense input is standardised, sparse is not): the same
    # optimum, to the precision the batch solver reaches
    X, y = make_data(Est, density=0.4)
    est = Est(solver="batch", tol=1e-10, max_iter=20000)
    if "penalty" in est.get_params():
        est.set_params(penalty="l2", alpha=0.01)
    dense = clone(est).fit(X, y)
    sparse = clone(est).fit(sp.csr_matrix(X), y)
    scale = np.abs(dense.coef_).max()
    np.testing.assert_allclose(sparse.coef_, dense.coef_, rtol=1e-6, atol=1e-6 * scale)
    np.testing.assert_allclose(
        sparse.intercept_, dense.intercept_, rtol=1e-6, atol=1e-6 * scale
    )
