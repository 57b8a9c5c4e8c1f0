"""ONNX export (skgd.onnx): onnxruntime predicts what the estimator predicts.

Every estimator, loss and output layout (binary, multiclass, multi-output)
is converted to a float32 and a float64 graph, from models fitted in
float64 and in float32, and run by onnxruntime on rows the model was not
fitted on -- some far out, where the probabilities saturate. The error of a
score is measured relative to the scale of the output,

    max |onnx - skgd| / max |skgd|,

and must stay below 1e-5 (float32 graph) and 1e-12 (float64 graph). Labels
must be equal; only on a row whose two best scores are closer than 100
times the tolerance may the graph pick either of them (and the test checks
that such rows are rare, so that the comparison is not vacuous).
"""

import doctest
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDElasticNet, GDLasso, GDRegressor, GDRidge

skl2onnx = pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")
skgd_onnx = pytest.importorskip("skgd.onnx")

RTOL = {np.float32: 1e-5, np.float64: 1e-12}
LARGEST = {np.float32: 0.0, np.float64: 0.0}  # printed at the end (pytest -s)
FIT = dict(tol=None, max_iter=30, random_state=0)  # fast, deterministic, no warning
LABELS = {
    "int": np.array([-3, 0, 7, 12]),
    "str": np.array(["setosa", "versicolor", "virginica", "other"]),
}


@pytest.fixture(scope="module", autouse=True)
def registered():
    skgd_onnx.register()
    yield
    print("\nlargest relative difference onnxruntime vs skgd: " + ", ".join(
        f"{np.dtype(dt).name} graph {err:.3g}" for dt, err in LARGEST.items()
    ))


def _data(n_classes=None, n_outputs=None, seed=0):
    """Training and test rows; the test rows include some far out."""
    rng = np.random.RandomState(seed)
    d = 6
    centres = rng.normal(scale=2.0, size=(max(n_classes or 2, 2), d))
    index = rng.randint(len(centres), size=400)
    X = centres[index] + rng.normal(size=(400, d)) * [1.0, 3.0, 0.5, 1.0, 2.0, 1.0]
    X_test = np.vstack([X[300:], 25.0 * rng.normal(size=(20, d))])
    if n_classes is not None:
        return X[:300], index[:300], X_test
    w = rng.normal(size=(d, n_outputs or 1))
    y = X[:300] @ w + 0.1 * rng.normal(size=(300, w.shape[1])) + 2.0
    return X[:300], y[:, 0] if n_outputs is None else y, X_test


def _run(onx, X, dtype):
    session = ort.InferenceSession(onx.SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: X.astype(dtype)})


def _convert(model, dtype, **options):
    return skl2onnx.to_onnx(model, np.zeros((1, model.n_features_in_), dtype=dtype),
                            options={id(model): options} if options else None)


def _check_close(got, expected, dtype):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    assert got.dtype == dtype
    error = np.max(np.abs(got - expected)) / np.max(np.abs(expected))
    LARGEST[dtype] = max(LARGEST[dtype], error)
    assert error <= RTOL[dtype], f"relative difference {error:.3g}"


def _as_onnx_labels(labels):
    labels = np.asarray(labels)
    if labels.dtype.kind in "biuf":
        return labels.astype(np.int64)
    return labels.astype(str)


def _check_labels(got, clf, X, dtype):
    """Equal labels, except between two classes whose scores tie within tolerance."""
    scores = clf.decision_function(X.astype(dtype))
    if scores.ndim == 1:
        scores = np.c_[np.zeros_like(scores), scores]
    best = scores.max(axis=1, keepdims=True)
    near = 100 * RTOL[dtype] * np.abs(scores).max()
    allowed = scores >= best - near
    expected = _as_onnx_labels(clf.predict(X.astype(dtype)))
    classes = _as_onnx_labels(clf.classes_)
    got = np.asarray(got)
    assert got.shape == expected.shape
    exact = allowed.sum(axis=1) == 1
    assert np.mean(exact) > 0.9
    np.testing.assert_array_equal(got[exact], expected[exact])
    position = np.searchsorted(classes, got[~exact])  # classes_ is sorted
    assert np.array_equal(classes[position], got[~exact])
    assert np.all(allowed[~exact][np.arange(position.size), position])


# ---- regressors ------------------------------------------------------------------
REGRESSORS = [
    *(GDRegressor(loss=loss, **FIT) for loss in (
        "squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"
    )),
    GDRegressor(penalty="elasticnet", fit_intercept=False, **FIT),
    GDRidge(alpha=1.0, **FIT),
    GDLasso(alpha=0.05, **FIT),
    GDElasticNet(alpha=0.05, l1_ratio=0.3, **FIT),
]


@pytest.mark.parametrize("graph_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fit_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_outputs", [None, 3], ids=["single", "multi-output"])
@pytest.mark.parametrize("reg", REGRESSORS, ids=repr)
def test_regressor_predict(reg, n_outputs, fit_dtype, graph_dtype):
    X, y, X_test = _data(n_outputs=n_outputs)
    reg.fit(X.astype(fit_dtype), y)
    (pred,) = _run(_convert(reg, graph_dtype), X_test, graph_dtype)
    expected = reg.predict(X_test.astype(graph_dtype))
    assert pred.shape == (len(X_test), n_outputs or 1)
    _check_close(pred, expected.reshape(pred.shape), graph_dtype)


# ---- classifiers -----------------------------------------------------------------
LOSSES = ["log_loss", "modified_huber", "hinge", "squared_hinge", "perceptron"]


def _fit_classifier(loss, n_classes, label_kind, fit_dtype=np.float64, seed=0):
    X, index, X_test = _data(n_classes=n_classes, seed=seed)
    if label_kind == "bool":
        y = index == 1
    elif label_kind == "float":
        y = index * 2.0 - 1.0
    elif label_kind == "object":
        y = LABELS["str"][index].astype(object)
    else:
        y = LABELS[label_kind][index]
    clf = GDClassifier(loss=loss, alpha=1e-3, **FIT).fit(X.astype(fit_dtype), y)
    return clf, X_test


@pytest.mark.parametrize("graph_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fit_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("label_kind", ["int", "str"])
@pytest.mark.parametrize("n_classes", [2, 4], ids=["binary", "multiclass"])
@pytest.mark.parametrize("loss", LOSSES)
def test_classifier_labels_and_scores(
    loss, n_classes, label_kind, fit_dtype, graph_dtype
):
    clf, X_test = _fit_classifier(loss, n_classes, label_kind, fit_dtype)
    X_graph = X_test.astype(graph_dtype)

    # raw_scores: the second output is the decision function
    labels, scores = _run(_convert(clf, graph_dtype, zipmap=False, raw_scores=True),
                          X_test, graph_dtype)
    _check_labels(labels, clf, X_test, graph_dtype)
    expected = clf.decision_function(X_graph)
    if n_classes == 2:
        expected = np.c_[-expected, expected]
    _check_close(scores, expected, graph_dtype)

    # default: the probabilities where the loss has them, else the scores
    labels, second = _run(_convert(clf, graph_dtype, zipmap=False), X_test, graph_dtype)
    _check_labels(labels, clf, X_test, graph_dtype)
    if hasattr(clf, "predict_proba"):
        expected = clf.predict_proba(X_graph)
    _check_close(second, expected, graph_dtype)


@pytest.mark.parametrize("label_kind, n_classes", [
    ("bool", 2), ("float", 2), ("float", 3), ("object", 2), ("object", 3)
])
def test_classifier_label_types(label_kind, n_classes):
    clf, X_test = _fit_classifier("log_loss", n_classes, label_kind)
    for dtype in (np.float32, np.float64):
        labels, proba = _run(_convert(clf, dtype, zipmap=False), X_test, dtype)
        assert labels.dtype == (object if label_kind == "object" else np.int64)
        _check_labels(labels, clf, X_test, dtype)
        _check_close(proba, clf.predict_proba(X_test.astype(dtype)), dtype)


@pytest.mark.parametrize("graph_dtype", [np.float32, np.float64])
def test_modified_huber_uniform_rows(graph_dtype):
    # a row whose every class gets a zero estimate is uniform in predict_proba
    clf, X_test = _fit_classifier("modified_huber", 4, "int")
    clf.intercept_ = clf.intercept_ - np.abs(clf.decision_function(X_test)).max() - 2.0
    expected = clf.predict_proba(X_test.astype(graph_dtype))
    assert np.all(expected == 0.25)
    _, proba = _run(_convert(clf, graph_dtype, zipmap=False), X_test, graph_dtype)
    _check_close(proba, expected, graph_dtype)


def test_logistic_tails():
    # far from the boundary the probability of the other class underflows in
    # float32 and is tiny in float64: the graph is not onnxruntime's Sigmoid
    clf, X_test = _fit_classifier("log_loss", 2, "int")
    X_far = np.vstack([X_test, 300.0 * X_test[:50]])
    s = clf.decision_function(X_far)
    assert np.abs(s).max() > 100
    _, proba = _run(_convert(clf, np.float64, zipmap=False), X_far, np.float64)
    expected = clf.predict_proba(X_far)
    _check_close(proba, expected, np.float64)
    small = expected[:, 1] > 1e-30
    np.testing.assert_allclose(proba[small, 1], expected[small, 1], rtol=1e-12)


# ---- options ---------------------------------------------------------------------
@pytest.mark.parametrize("label_kind", ["int", "str"])
def test_zipmap(label_kind):
    clf, X_test = _fit_classifier("modified_huber", 3, label_kind)
    expected = clf.predict_proba(X_test.astype(np.float32))
    keys = list(_as_onnx_labels(clf.classes_).tolist())
    labels, dicts = _run(_convert(clf, np.float32), X_test, np.float32)
    assert [list(row) for row in dicts] == [keys] * len(X_test)
    _check_labels(labels, clf, X_test, np.float32)
    _check_close(np.array([list(row.values()) for row in dicts], dtype=np.float32),
                 expected, np.float32)
    columns = _run(_convert(clf, np.float64, zipmap="columns"), X_test, np.float64)
    _check_labels(columns[0], clf, X_test, np.float64)
    _check_close(np.column_stack(columns[1:]), clf.predict_proba(X_test), np.float64)


def test_zipmap_double_is_refused():
    clf, _ = _fit_classifier("log_loss", 3, "int")
    with pytest.raises(NotImplementedError, match="zipmap=True.*DoubleTensorType|"
                       "DoubleTensorType.*zipmap=True"):
        _convert(clf, np.float64)


def test_nocl_and_output_class_labels():
    clf, X_test = _fit_classifier("hinge", 3, "str")
    labels, _ = _run(_convert(clf, np.float32, zipmap=False, nocl=True), X_test,
                     np.float32)
    np.testing.assert_array_equal(
        clf.classes_[labels], clf.predict(X_test.astype(np.float32)))
    out = _run(_convert(clf, np.float32, zipmap=False, output_class_labels=True),
               X_test, np.float32)
    np.testing.assert_array_equal(out[2], clf.classes_)
    clf, _ = _fit_classifier("hinge", 2, "bool")
    with pytest.raises(NotImplementedError, match="output_class_labels"):
        _convert(clf, np.float32, zipmap=False, output_class_labels=True)


# ---- sparse fit, pipelines -------------------------------------------------------
@pytest.mark.parametrize("make_model", [
    lambda: GDClassifier(loss="modified_huber", **FIT),
    lambda: GDLasso(alpha=0.01, **FIT),
], ids=["GDClassifier", "GDLasso"])
def test_sparse_fit_gives_the_same_graph(make_model):
    X, index, X_test = _data(n_classes=3)
    y = index if isinstance(make_model(), GDClassifier) else X @ np.arange(6.0)
    dense, sparse = make_model().fit(X, y), make_model().fit(sp.csr_matrix(X), y)
    graphs = [_convert(m, np.float32, **({"zipmap": False} if hasattr(m, "classes_")
                                         else {})) for m in (dense, sparse)]
    assert [n.op_type for n in graphs[0].graph.node] == [
        n.op_type for n in graphs[1].graph.node
    ]
    out = _run(graphs[1], X_test, np.float32)[-1]
    predict = sparse.predict_proba if hasattr(sparse, "classes_") else sparse.predict
    expected = predict(sp.csr_matrix(X_test.astype(np.float32)))
    _check_close(out, expected.reshape(out.shape), np.float32)


def test_pipeline():
    X, index, X_test = _data(n_classes=3)
    pipe = make_pipeline(StandardScaler(), GDClassifier(**FIT)).fit(
        X, LABELS["str"][index])
    onx = skl2onnx.to_onnx(pipe, X[:1], options={id(pipe[-1]): {"zipmap": False}})
    labels, proba = _run(onx, X_test, np.float64)
    np.testing.assert_array_equal(labels, pipe.predict(X_test))
    # StandardScaler's converter computes (x - mean) * (1 / scale), not / scale
    np.testing.assert_allclose(proba, pipe.predict_proba(X_test), rtol=0, atol=1e-12)


# ---- what does not convert -------------------------------------------------------
def test_errors_name_what_is_not_supported():
    for unfitted in (GDClassifier(), GDRidge()):
        with pytest.raises(NotFittedError, match=type(unfitted).__name__):
            skl2onnx.to_onnx(unfitted, np.zeros((1, 3), dtype=np.float32))

    clf, _ = _fit_classifier("hinge", 3, "int")
    X1 = np.zeros((1, clf.n_features_in_))
    with pytest.raises(NotImplementedError, match="Int64TensorType"):
        skl2onnx.to_onnx(clf, X1.astype(np.int64))
    with pytest.raises(ValueError, match="has 4 features, but GDClassifier was "
                       "fitted with 6"):
        skl2onnx.to_onnx(clf, X1[:, :4].astype(np.float32))
    with pytest.raises(NotImplementedError, match="target_opset=12"):
        skl2onnx.to_onnx(clf, X1.astype(np.float32), target_opset=12)

    clf.classes_ = np.array([0.5, 1.5, 2.5])
    with pytest.raises(NotImplementedError, match="class labels"):
        _convert(clf, np.float32, zipmap=False)
    clf, _ = _fit_classifier("hinge", 3, "int")
    clf.loss = "a_new_loss"
    with pytest.raises(NotImplementedError, match="loss='a_new_loss'"):
        _convert(clf, np.float32, zipmap=False)
    X, y, _ = _data()
    reg = GDRegressor(**FIT).fit(X, y)
    reg.loss = "poisson"
    with pytest.raises(NotImplementedError, match="GDRegressor\\(loss='poisson'\\)"):
        _convert(reg, np.float32)


def test_dataframe_input_is_refused():
    # skl2onnx makes one input per column of a DataFrame
    pd = pytest.importorskip("pandas")
    X, y, _ = _data()
    reg = GDRegressor(**FIT).fit(X, y)
    X1 = pd.DataFrame(X[:1].astype(np.float32)).add_prefix("c")
    with pytest.raises(NotImplementedError, match="with 6 inputs.*X.to_numpy"):
        skl2onnx.to_onnx(reg, X1)


def test_register_without_skl2onnx(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    with pytest.raises(ImportError, match=r'pip install "skgd\[onnx\]"'):
        skgd_onnx.register()


def test_every_estimator_is_registered():
    # a new estimator of skgd.__all__ fails here until it has a converter
    import skgd

    estimators = {getattr(skgd, n) for n in skgd.__all__ if n.startswith("GD")}
    assert set(skgd_onnx.register()) == estimators


def test_register_twice():
    assert skgd_onnx.register() == skgd_onnx.register()
    X, y, _ = _data()
    reg = GDRidge(**FIT).fit(X, y)
    assert [o.name for o in _convert(reg, np.float32).graph.output] == ["variable"]


# ---- the documentation runs --------------------------------------------------------
def test_docs_page_example_runs(tmp_path, monkeypatch, capsys):
    # the code blocks of docs/deploying.rst, run as a user would paste them
    page = Path(__file__).resolve().parents[1] / "docs" / "deploying.rst"
    code = r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)"
    blocks = re.findall(code, page.read_text())
    assert blocks
    monkeypatch.chdir(tmp_path)  # it writes model.onnx
    for block in blocks:
        exec(compile(textwrap.dedent(block), str(page), "exec"), {})
    assert capsys.readouterr().out.split() == ["True", "True"]


def test_register_docstring_example():
    result = doctest.testmod(skgd_onnx, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
