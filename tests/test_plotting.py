"""LossCurveDisplay: artists, axes reuse, early-stopping curves, missing matplotlib."""

import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor, LossCurveDisplay


@pytest.fixture(scope="module")
def data():
    return load_diabetes(return_X_y=True)


def test_from_estimator_draws_the_loss_curve(pyplot, data):
    X, y = data
    reg = GDRegressor(solver="sgd", random_state=0).fit(X, y)
    disp = LossCurveDisplay.from_estimator(reg)

    assert isinstance(disp.line_, pyplot.Line2D)
    assert disp.ax_ is disp.line_.axes
    assert disp.figure_ is disp.ax_.figure
    x, yy = disp.line_.get_data()
    np.testing.assert_array_equal(x, np.arange(1, reg.n_iter_ + 1))
    np.testing.assert_array_equal(yy, reg.loss_curve_)
    assert disp.ax_.get_yscale() == "log"
    assert disp.ax_.get_xlabel() == "Epoch"
    assert disp.line_.get_label() == "GDRegressor (sgd)"
    assert disp.validation_line_ is None and disp.validation_ax_ is None


def test_axes_are_reused_and_kwargs_reach_the_line(pyplot, data):
    X, y = data
    fig, ax = pyplot.subplots()
    displays = [
        LossCurveDisplay.from_estimator(
            GDRegressor(solver=s, random_state=0).fit(X, y), ax=ax, color=c
        )
        for s, c in (("batch", "C0"), ("minibatch", "C1"))
    ]
    assert all(d.ax_ is ax and d.figure_ is fig for d in displays)
    assert len(ax.get_lines()) == 2
    assert displays[1].line_.get_color() == "C1"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["GDRegressor (batch)", "GDRegressor (minibatch)"]


def test_early_stopping_adds_validation_scores(pyplot, data):
    X, y = data
    reg = GDRegressor(solver="sgd", early_stopping=True, random_state=0).fit(X, y)
    disp = LossCurveDisplay.from_estimator(reg, name="sgd")
    assert disp.validation_ax_ is not disp.ax_
    _, scores = disp.validation_line_.get_data()
    np.testing.assert_array_equal(scores, reg.validation_scores_)
    labels = [t.get_text() for t in disp.validation_ax_.get_legend().get_texts()]
    assert labels == ["sgd", "sgd (validation)"]


def test_pipeline_and_direct_construction(pyplot, data):
    X, y = data
    pipe = make_pipeline(StandardScaler(), GDRegressor(solver="batch")).fit(X, y)
    disp = LossCurveDisplay.from_estimator(pipe)
    np.testing.assert_array_equal(disp.line_.get_ydata(), pipe[-1].loss_curve_)

    # a curve with a zero objective cannot go on a log axis: linear instead
    disp = LossCurveDisplay(loss_curve=[1.0, 0.5, 0.0]).plot()
    assert disp.ax_.get_yscale() == "linear"
    assert disp.ax_.get_legend() is None  # nothing is labelled


def test_unfitted_estimator_is_refused(pyplot):
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(GDRegressor())


def test_missing_matplotlib_gives_the_install_command(monkeypatch, data):
    X, y = data
    reg = GDRegressor(solver="batch").fit(X, y)
    # a None entry in sys.modules makes `import matplotlib` raise ImportError
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r'pip install "skgd\[plot\]"'):
        LossCurveDisplay.from_estimator(reg)
    with pytest.raises(ImportError, match="requires matplotlib"):
        LossCurveDisplay(loss_curve=reg.loss_curve_).plot()


def test_importing_skgd_does_not_import_matplotlib(tmp_path):
    # matplotlib is optional: only drawing imports it
    code = "import sys, skgd; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        # outside the source tree: import the installed (compiled) package
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
        check=True,
    ).stdout
    assert out.strip() == "False"
