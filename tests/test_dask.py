"""Scaling out on dask: dask-ml's Incremental and GridSearchCV on a LocalCluster.

Skipped when dask, distributed or dask-ml are not installed
(``pip install "skgd[dask]"``).
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
wrappers = pytest.importorskip("dask_ml.wrappers")

import joblib  # noqa: E402
from reference import objective  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402
from sklearn.utils.class_weight import compute_sample_weight  # noqa: E402

from skgd import GDClassifier, GDRegressor  # noqa: E402

CHUNK = 500


@pytest.fixture(scope="module")
def client():
    # Two worker processes: every task's estimator is pickled to a worker
    # and back, as on a real cluster.
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as c:
        yield c


def _blocks(X, y):
    return [(X[i : i + CHUNK], y[i : i + CHUNK]) for i in range(0, len(y), CHUNK)]


def test_incremental_classifier_on_chunked_array(client):
    X, y = make_classification(
        n_samples=3000, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    dX = da.from_array(X, chunks=(CHUNK, -1))  # rows only: see the Scaling out page
    dy = da.from_array(y, chunks=CHUNK)
    assert dX.numblocks == (6, 1)

    est = GDClassifier(solver="minibatch", random_state=0)
    inc = wrappers.Incremental(est, scoring="accuracy", shuffle_blocks=False)
    # `classes` goes to every partial_fit call, not just the first
    inc.fit(dX, dy, classes=[0, 1, 2])

    # one pass = one partial_fit per block, in order: exactly the loop a user
    # would write by hand, although the model travelled between processes
    manual = clone(est)
    for Xb, yb in _blocks(X, y):
        manual.partial_fit(Xb, yb, classes=[0, 1, 2])
    assert inc.estimator_.n_iter_ == 6
    np.testing.assert_array_equal(inc.estimator_.coef_, manual.coef_)
    np.testing.assert_array_equal(inc.coef_, manual.coef_)  # copied onto the wrapper

    # a second pass continues from the fitted state
    inc.partial_fit(dX, dy, classes=[0, 1, 2])
    for Xb, yb in _blocks(X, y):
        manual.partial_fit(Xb, yb, classes=[0, 1, 2])
    assert inc.estimator_.n_iter_ == 12
    np.testing.assert_array_equal(inc.estimator_.coef_, manual.coef_)

    # prediction is blockwise and lazy; the score uses the scoring given
    pred = inc.predict(dX)
    assert isinstance(pred, da.Array)
    np.testing.assert_array_equal(pred.compute(), manual.predict(X))
    assert inc.score(dX, dy) == pytest.approx(manual.score(X, y))


def test_incremental_regressor_shuffled_blocks(client):
    X, y = make_regression(n_samples=2500, n_features=8, noise=1.0, random_state=0)
    dX, dy = da.from_array(X, chunks=(CHUNK, -1)), da.from_array(y, chunks=CHUNK)
    inc = wrappers.Incremental(
        GDRegressor(solver="sgd", random_state=0), scoring="r2", random_state=0
    )
    A = np.c_[X, np.ones(len(y))]
    coef = np.linalg.lstsq(A, y, rcond=None)[0][:-1]
    errors = []
    for _ in range(3):
        inc.partial_fit(dX, dy)
        errors.append(
            np.max(np.abs(inc.estimator_.coef_ - coef)) / np.max(np.abs(coef))
        )
    assert inc.estimator_.n_iter_ == 15
    # passes over the shuffled blocks approach least squares: 4.5e-3, 3.3e-3,
    # 2.7e-3 relative error measured (the step decays as 1 / sqrt(epoch))
    assert errors[2] < errors[0] and errors[2] < 5e-3


def test_grid_search_on_local_cluster(client):
    X, y = make_classification(n_samples=400, n_features=10, random_state=0)
    grid = {"solver": ["batch", "sgd", "minibatch"], "alpha": [1e-4, 1e-2]}
    cv = KFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(GDClassifier(random_state=0), grid, cv=cv)
    with distributed.get_task_stream(client) as tasks:
        with joblib.parallel_backend("dask"):
            search.fit(X, y)
    local = GridSearchCV(GDClassifier(random_state=0), grid, cv=cv, n_jobs=1).fit(X, y)
    # the 18 fits ran as tasks on the cluster's two worker processes...
    assert len(tasks.data) >= 18 // 2  # joblib may batch several fits per task
    assert {t["worker"] for t in tasks.data} <= set(client.scheduler_info()["workers"])
    # ...and gave the scores of the in-process search, to the last bit
    for key in ("split0_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(search.cv_results_[key], local.cv_results_[key])
    assert search.best_params_ == local.best_params_


# ---- the batch solver on dask collections ----

import dask  # noqa: E402

from skgd import GDElasticNet, GDLasso, GDRidge  # noqa: E402
from skgd import _dask as skgd_dask  # noqa: E402
from skgd import _newton as skgd_newton  # noqa: E402
from skgd._gap import DualityGap  # noqa: E402

dd = pytest.importorskip("dask.dataframe")
pd = pytest.importorskip("pandas")


@pytest.fixture
def threads():
    # dask's threaded scheduler even while the module's client is alive
    with dask.config.set(scheduler="threads"):
        yield


def _relative(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


def _dask_data(X, y, sample_weight=None, chunk=350):
    dX = da.from_array(X, chunks=(chunk, -1))
    dy = da.from_array(y, chunks=(chunk,) + y.shape[1:])
    dw = None if sample_weight is None else da.from_array(sample_weight, chunks=chunk)
    return dX, dy, dw


REGRESSION_CASES = [
    (GDRegressor, {}),
    (GDRegressor, {"loss": "huber", "penalty": "elasticnet"}),
    # non-smooth: in memory 'auto' runs 'dual_cd' there; a cluster runs 'batch'
    (GDRegressor, {"loss": "epsilon_insensitive", "max_iter": 150, "solver": "batch"}),
    (GDRegressor, {"loss": "squared_epsilon_insensitive", "fit_intercept": False}),
    (
        GDRegressor,
        {"learning_rate": "constant", "eta0": 1e-5, "momentum": 0.5, "max_iter": 200},
    ),
    (GDRidge, {"alpha": 10.0}),
    (GDLasso, {"alpha": 0.5}),
    (GDElasticNet, {"alpha": 0.5, "l1_ratio": 0.3}),
]
CLASSIFICATION_CASES = [
    (2, {}),  # binary log-loss
    (3, {}),  # multinomial
    # one-vs-rest, non-smooth (in memory 'auto' runs 'dual_cd'; a cluster 'batch')
    (3, {"loss": "hinge", "max_iter": 150, "solver": "batch"}),
    (
        3,
        {
            "loss": "modified_huber",
            "penalty": "l1",
            "alpha": 1e-2,
            "class_weight": "balanced",
        },
    ),
    (
        2,
        {
            "loss": "squared_hinge",
            "class_weight": {0: 2.0, 1: 0.5},
            "fit_intercept": False,
        },
    ),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("est_cls, params", REGRESSION_CASES)
def test_dask_regressor_is_the_in_memory_model(threads, est_cls, params):
    X, y = make_regression(n_samples=1000, n_features=12, noise=5.0, random_state=0)
    X[:, 3] = 100.0 + 10.0 * X[:, 3]  # an off-centre, wide feature
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    est = est_cls(**{"tol": 1e-10, "max_iter": 3000, **params})
    memory = clone(est).fit(X, y, sample_weight=w)
    on_dask = clone(est).fit(*_dask_data(X, y, w))
    assert on_dask.n_iter_ == memory.n_iter_ and on_dask.solver_ == "batch"
    # the same solver steps, summed in another order: 1e-16 to 1e-12 measured
    assert _relative(on_dask.coef_, memory.coef_) <= 1e-8
    assert _relative(on_dask.intercept_, memory.intercept_) <= 1e-8
    assert type(on_dask.intercept_) is type(memory.intercept_)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_classes, params", CLASSIFICATION_CASES)
def test_dask_classifier_is_the_in_memory_model(threads, monkeypatch, n_classes, params):
    X, y = make_classification(
        n_samples=1000,
        n_features=10,
        n_informative=6,
        n_classes=n_classes,
        random_state=0,
    )
    labels = np.array(["ant", "bee", "cat"])[y]  # labels are not the targets
    if (
        n_classes == 2
        or "class_weight" in params
        and isinstance(params["class_weight"], dict)
    ):
        labels = y
    settings = {"alpha": 1e-3, "tol": 1e-10, "max_iter": 3000}
    est = GDClassifier(**{**settings, **params})
    memory = clone(est).fit(X, labels)
    on_dask = clone(est).fit(*_dask_data(X, labels)[:2])
    np.testing.assert_array_equal(on_dask.classes_, memory.classes_)
    if params.get("penalty") == "l1":
        # In memory the L1 fit finishes with proximal Newton steps (51
        # iterations), on dask with FISTA (about 1,400), both stopped by the
        # certificate (the margin loss's class sums taken on the blocks
        # there): one optimum, to the objective's rounding.
        assert memory.n_iter_ < 100 and on_dask.n_iter_ < 3000
        Y = np.where(y[:, None] == np.arange(n_classes)[None, :], 1.0, -1.0)
        weights = compute_sample_weight("balanced", y)
        values = [objective(X, Y, e.coef_, e.intercept_, weights, "modified_huber", 1e-2, 0.0)
                  for e in (on_dask, memory)]
        assert abs(values[0] - values[1]) <= 1e-12 * values[1]
        # without the Newton finish, the in-memory fit takes dask's path:
        # the same iterations, and the same dual values at each (in memory
        # from the pass's rows, on dask from the blocks' class sums)
        monkeypatch.setattr(skgd_newton, "NEWTON_AFTER", 10**9)
        duals, dual = {}, DualityGap.dual

        def recorded(key):
            def spy(self, *args, **kwargs):
                value = dual(self, *args, **kwargs)
                duals.setdefault(key, []).append(value)
                return value
            return spy

        monkeypatch.setattr(DualityGap, "dual", recorded("memory"))
        memory = clone(est).fit(X, labels)
        monkeypatch.setattr(DualityGap, "dual", recorded("dask"))
        on_dask = clone(est).fit(*_dask_data(X, labels)[:2])
        assert len(duals["dask"]) == len(duals["memory"]) > 100
        np.testing.assert_allclose(duals["dask"], duals["memory"], rtol=1e-10)
    # the same iterations: with an intercept the logistic certificate sums
    # its exact correction on the blocks as in memory (a looser bound there
    # took 42 iterations instead of 24)
    assert on_dask.n_iter_ == memory.n_iter_
    assert _relative(on_dask.coef_, memory.coef_) <= 1e-8
    assert _relative(on_dask.intercept_, memory.intercept_) <= 1e-8


def test_dask_float32_and_wide_path(threads, monkeypatch):
    X, y = make_classification(n_samples=600, n_features=15, random_state=1)
    X32 = X.astype(np.float32)
    est = GDClassifier(penalty="elasticnet", tol=1e-10, max_iter=3000)
    memory = clone(est).fit(X32, y)
    on_dask = clone(est).fit(*_dask_data(X32, y)[:2])
    assert on_dask.coef_.dtype == np.float32
    assert _relative(on_dask.coef_, memory.coef_) <= 1e-6  # float32 coefficients
    # beyond GRAM_MAX_FEATURES the Lipschitz constant comes from Lanczos
    # iterations on Gram products: another estimate, the same optimum
    monkeypatch.setattr(skgd_dask, "GRAM_MAX_FEATURES", 5)
    wide = clone(est).fit(*_dask_data(X, y)[:2])
    in_memory = clone(est).fit(X, y)
    # In memory the elastic net finishes with proximal Newton steps (56
    # iterations), on dask with FISTA (864): two paths to one certified
    # optimum (relative gap 1e-13 at tol=1e-10).  The objectives agree to
    # their rounding; the coefficients to what that gap pins down with
    # curvature l2 = 8.5e-5 (|dw| <= sqrt(2 gap F / l2), ~1e-5 of |w|).
    Y = np.where(y == 1, 1.0, -1.0)[:, None]
    l1, l2 = 1e-4 * 0.15, 1e-4 * 0.85
    values = [objective(X, Y, e.coef_, e.intercept_, np.ones(len(y)), "log_loss", l1, l2)
              for e in (wide, in_memory)]
    assert abs(values[0] - values[1]) <= 1e-12 * values[1]
    assert _relative(wide.coef_, in_memory.coef_) <= 1e-5


def test_dask_warm_start_continues_as_in_memory(threads):
    X, y = make_regression(n_samples=600, n_features=5, noise=1.0, random_state=2)
    dX, dy, _ = _dask_data(X, y, chunk=200)
    est = GDRidge(alpha=1.0, tol=1e-10, warm_start=True)
    memory, on_dask = clone(est).fit(X, y), clone(est).fit(dX, dy)
    memory.set_params(alpha=2.0).fit(X, y)
    on_dask.set_params(alpha=2.0).fit(dX, dy)
    assert on_dask.n_iter_ == memory.n_iter_
    assert _relative(on_dask.coef_, memory.coef_) <= 1e-8
    assert _relative(on_dask.intercept_, memory.intercept_) <= 1e-8


def test_dask_dataframe_and_series(threads):
    X, y = make_regression(n_samples=500, n_features=4, random_state=0)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    ddf = dd.from_pandas(frame, npartitions=3)
    dy = dd.from_pandas(pd.Series(y), npartitions=3)
    est = GDRidge(tol=1e-10).fit(ddf, dy)
    memory = GDRidge(tol=1e-10).fit(frame, y)
    assert list(est.feature_names_in_) == ["a", "b", "c", "d"]
    assert _relative(est.coef_, memory.coef_) <= 1e-8
    pred = est.predict(ddf)
    assert isinstance(pred, da.Array)
    np.testing.assert_allclose(pred.compute(), memory.predict(frame), rtol=1e-10)
    with pytest.raises(ValueError, match="feature names"):
        est.predict(ddf.rename(columns={"a": "z"}))


def test_dask_fit_errors_leave_the_model_untouched(threads):
    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    dX, dy, _ = _dask_data(X, y, chunk=100)
    est = GDClassifier().fit(dX, dy)
    coef = est.coef_.copy()
    bad = X.copy()
    bad[250, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(da.from_array(bad, chunks=(100, -1)), dy)
    with pytest.raises(ValueError, match="at least 2 classes"):
        est.fit(dX, da.zeros(300, chunks=100))
    np.testing.assert_array_equal(est.coef_, coef)
    assert est.n_features_in_ == 5
    with pytest.raises(ValueError, match="partial_fit does not take a dask"):
        est.partial_fit(dX, dy, classes=[0, 1])
    with pytest.raises(ValueError, match="solver='sgd' cannot train on a dask"):
        GDClassifier(solver="sgd").fit(dX, dy)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        GDClassifier().fit(dX, dy[:200])


def test_lazy_blockwise_prediction_and_score():
    X, y = make_classification(
        n_samples=900, n_features=6, n_classes=3, n_informative=4, random_state=0
    )
    w = np.random.default_rng(1).uniform(0.0, 3.0, size=len(y))
    est = GDClassifier(alpha=1e-3).fit(X, y)
    calls = []

    def load(block):
        calls.append(block.shape)
        return block

    with dask.config.set(scheduler="sync"):
        dX = da.from_array(X, chunks=(300, -1)).map_blocks(load, meta=X[:0])
        outputs = {
            name: getattr(est, name)(dX)
            for name in (
                "predict",
                "decision_function",
                "predict_proba",
                "predict_log_proba",
            )
        }
        assert calls == []  # nothing computed yet
        for name, out in outputs.items():
            assert isinstance(out, da.Array) and out.chunks[0] == (300, 300, 300)
            np.testing.assert_allclose(out.compute(), getattr(est, name)(X), rtol=1e-12)
        assert len(calls) == 4 * 3  # block by block
        dy, dw = da.from_array(y, chunks=300), da.from_array(w, chunks=300)
        assert est.score(dX, dy, sample_weight=dw) == pytest.approx(
            est.score(X, y, sample_weight=w), rel=1e-14
        )
        reg = GDRegressor().fit(X, X @ np.arange(6.0) + 1.0 + y)
        target = np.c_[X @ np.arange(6.0) + y, X[:, 0]]
        multi = GDRidge().fit(X, target)
        for model, t in ((reg, X @ np.arange(6.0) + y), (multi, target)):
            dt = da.from_array(t, chunks=(300,) + t.shape[1:])
            assert model.score(dX, dt, sample_weight=dw) == pytest.approx(
                model.score(X, t, sample_weight=w), rel=1e-12
            )


def _cluster_fit(X, y):
    est = GDClassifier(alpha=1e-3, tol=1e-8).fit(*_dask_data(X, y, chunk=400)[:2])
    return est.coef_, est.intercept_, est.n_iter_


def test_cluster_fit_is_bit_identical_on_1_2_4_workers(client):
    X, y = make_classification(
        n_samples=2000, n_features=10, n_informative=6, n_classes=3, random_state=0
    )
    with distributed.get_task_stream(client) as tasks:
        two = _cluster_fit(X, y)  # the module's cluster: two worker processes
    assert {t["worker"] for t in tasks.data} == set(client.scheduler_info()["workers"])
    results = [two]
    for n_workers in (1, 4):  # in-process workers start fast
        with distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=False,
            dashboard_address=None,
        ) as cluster:
            with distributed.Client(cluster, set_as_default=True):
                results.append(_cluster_fit(X, y))
    with dask.config.set(scheduler="threads"):
        results.append(_cluster_fit(X, y))
    for coef, intercept, n_iter in results[1:]:
        np.testing.assert_array_equal(coef, two[0])
        np.testing.assert_array_equal(intercept, two[1])
        assert n_iter == two[2]
    memory = GDClassifier(alpha=1e-3, tol=1e-8).fit(X, y)
    # the same iterations as in memory; only the order of the sums differs
    assert two[2] == memory.n_iter_
    assert _relative(two[0], memory.coef_) <= 1e-8


def _largest_array(obj):
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, (list, tuple)):
        return max((_largest_array(o) for o in obj), default=0)
    return 0


def test_cluster_fit_never_gathers_X(client, monkeypatch):
    # X and y are generated on the workers; record every result that comes
    # back to the client: partial sums only, never rows of X
    n, d, chunk = 40_000, 20, 5_000
    X = da.random.default_rng(0).standard_normal((n, d), chunks=(chunk, d))
    y = (X @ da.from_array(np.linspace(-1.0, 1.0, d)) > 0).astype(np.int64)
    received = []
    gather, result = distributed.Client.gather, distributed.Future.result

    def recording_gather(self, futures, *args, **kwargs):
        out = gather(self, futures, *args, **kwargs)
        received.append(_largest_array(out))
        return out

    def recording_result(self, *args, **kwargs):
        out = result(self, *args, **kwargs)
        received.append(_largest_array(out))
        return out

    # every pass task is sent to a worker that holds all of its blocks
    submit, placed = distributed.Client.submit, {}

    def recording_submit(self, fn, *args, workers=None, **kwargs):
        future = submit(self, fn, *args, workers=workers, **kwargs)
        if getattr(fn, "__name__", "") == "_run_group":
            assert workers, "a pass task sent without a worker hint"
            holders = self.who_has(list(args[1]))
            assert all(workers[0] in holders[block.key] for block in args[1])
            placed[future.key] = workers[0]
        return future

    monkeypatch.setattr(distributed.Client, "gather", recording_gather)
    monkeypatch.setattr(distributed.Future, "result", recording_result)
    monkeypatch.setattr(distributed.Client, "submit", recording_submit)
    with distributed.get_task_stream(client) as tasks:
        est = GDClassifier(max_iter=15, tol=None).fit(X, y)
    assert est.n_iter_ == 15 and len(received) > est.n_iter_
    assert max(received) <= d * d * 8  # a covariance partial, not a block (800 kB)
    passes = [t for t in tasks.data if t["key"] in placed]
    assert len(passes) >= 2 * est.n_iter_  # one task per worker and pass...
    # ...run on the worker it was sent to.  The scheduler may still move a
    # task under load (the worker hint is loose, so that a lost worker does
    # not hang the fit): allow a few, not a pass without locality.
    moved = [t for t in passes if t["worker"] != placed[t["key"]]]
    assert len(moved) <= len(passes) // 10, moved
