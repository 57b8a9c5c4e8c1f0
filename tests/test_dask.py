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
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

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
