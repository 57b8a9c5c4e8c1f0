"""skgd inside scikit-learn's machinery: Pipeline, GridSearchCV, pandas, routing."""

import numpy as np
import pytest
from sklearn import config_context
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, GDRegressor, GDRidge

GRID = {
    "gd__solver": ["batch", "sgd", "minibatch"],
    "gd__alpha": [1e-4, 1e-1],
    "gd__learning_rate": ["auto", "invscaling"],
}


def pipeline(estimator):
    return Pipeline([("scale", StandardScaler()), ("gd", estimator)])


# learning_rate='invscaling' need not meet the stopping rule in 1000 epochs
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator, loader",
    [
        (GDRegressor(eta0=0.01, random_state=0), load_diabetes),
        (GDClassifier(eta0=0.01, random_state=0), load_breast_cancer),
    ],
    ids=["regressor", "classifier"],
)
def test_grid_search_in_two_processes(estimator, loader):
    X, y = loader(return_X_y=True)
    cv = KFold(3, shuffle=True, random_state=0)
    parallel = GridSearchCV(pipeline(estimator), GRID, cv=cv, n_jobs=2).fit(X, y)
    serial = GridSearchCV(pipeline(estimator), GRID, cv=cv, n_jobs=1).fit(X, y)

    # 12 candidates x 3 folds, fitted in two worker processes from pickled
    # clones: the same scores to the last bit as in this process
    scores = parallel.cv_results_["split0_test_score"]
    assert scores.shape == (12,) and np.all(np.isfinite(scores))
    for key in ("mean_test_score", "split1_test_score", "split2_test_score"):
        np.testing.assert_array_equal(
            parallel.cv_results_[key], serial.cv_results_[key]
        )
    # the grid matters: different parameters give different models
    assert np.unique(np.round(scores, 12)).size > 1

    # the refitted winner is the pipeline fitted directly with those parameters
    direct = pipeline(estimator).set_params(**parallel.best_params_).fit(X, y)
    np.testing.assert_array_equal(parallel.best_estimator_[-1].coef_, direct[-1].coef_)
    np.testing.assert_array_equal(parallel.predict(X), direct.predict(X))


def test_dataframe_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    assert isinstance(X, pd.DataFrame)
    reg = GDRegressor(solver="batch").fit(X, y)
    np.testing.assert_array_equal(
        reg.feature_names_in_, np.asarray(X.columns, dtype=object)
    )

    # the same model as on the bare array, which records no names
    bare = GDRegressor(solver="batch").fit(X.to_numpy(), y.to_numpy())
    assert not hasattr(bare, "feature_names_in_")
    np.testing.assert_array_equal(reg.coef_, bare.coef_)

    # names are checked at predict time
    with pytest.raises(ValueError, match="feature names should match"):
        reg.predict(X[X.columns[::-1]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        reg.predict(X.to_numpy())

    # and survive a pandas-output Pipeline
    pipe = make_pipeline(StandardScaler(), GDClassifier(random_state=0))
    pipe.set_output(transform="pandas")
    Xc, yc = load_breast_cancer(return_X_y=True, as_frame=True)
    pipe.fit(Xc, yc)
    np.testing.assert_array_equal(
        pipe[-1].feature_names_in_, np.asarray(Xc.columns, dtype=object)
    )


def _weighted_data():
    X, y = load_diabetes(return_X_y=True)
    sw = np.random.RandomState(0).randint(0, 4, size=len(y)).astype(float)
    return X, y, sw


@pytest.mark.parametrize("solver", ["batch", "sgd"])
def test_sample_weight_routed_through_pipeline(solver):
    X, y, sw = _weighted_data()
    gd = GDRidge(alpha=1.0, solver=solver, tol=1e-10, max_iter=2000, random_state=0)
    with config_context(enable_metadata_routing=True):
        routed = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            gd.set_fit_request(sample_weight=True),
        ).fit(X, y, sample_weight=sw)

    # weighting the estimator directly, after the same (unweighted) scaling
    Xs = StandardScaler().fit_transform(X)
    direct = GDRidge(alpha=1.0, solver=solver, tol=1e-10, max_iter=2000, random_state=0)
    direct.fit(Xs, y, sample_weight=sw)
    np.testing.assert_array_equal(routed[-1].coef_, direct.coef_)
    assert routed[-1].intercept_ == direct.intercept_

    # and the weights did change the model
    unweighted = GDRidge(
        alpha=1.0, solver=solver, tol=1e-10, max_iter=2000, random_state=0
    ).fit(Xs, y)
    assert np.max(np.abs(unweighted.coef_ - direct.coef_)) > 1e-2 * np.max(
        np.abs(direct.coef_)
    )


def test_routed_integer_weights_equal_repeated_rows():
    # With the scaler weighted too, integer weights through the Pipeline are
    # the same model as the repeated rows (the batch solver is exact).
    X, y, sw = _weighted_data()
    with config_context(enable_metadata_routing=True):
        routed = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=True),
            GDRidge(solver="batch", tol=1e-12, max_iter=5000).set_fit_request(
                sample_weight=True
            ),
        ).fit(X, y, sample_weight=sw)
    rows = np.repeat(np.arange(len(y)), sw.astype(int))
    repeated = make_pipeline(
        StandardScaler(), GDRidge(solver="batch", tol=1e-12, max_iter=5000)
    ).fit(X[rows], y[rows])
    np.testing.assert_allclose(routed[-1].coef_, repeated[-1].coef_, rtol=1e-7)
    np.testing.assert_allclose(routed.predict(X), repeated.predict(X), rtol=1e-7)


def test_pipeline_refuses_unrouted_sample_weight():
    X, y, sw = _weighted_data()
    with pytest.raises(ValueError):
        make_pipeline(StandardScaler(), GDRidge()).fit(X, y, sample_weight=sw)
    # the Pipeline's own step-prefixed form works without routing
    pipe = make_pipeline(StandardScaler(), GDRidge(solver="batch", tol=1e-10))
    pipe.fit(X, y, gdridge__sample_weight=sw)
    Xs = StandardScaler().fit_transform(X)
    direct = GDRidge(solver="batch", tol=1e-10).fit(Xs, y, sample_weight=sw)
    np.testing.assert_array_equal(pipe[-1].coef_, direct.coef_)
