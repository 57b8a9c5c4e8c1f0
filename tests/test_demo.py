"""The demo (python -m skgd) and the per-epoch verbose output."""

import re
import subprocess
import sys

import numpy as np
import pytest
from skgd_estimators import ESTIMATORS as ESTIMATOR_CLASSES
from sklearn.datasets import load_diabetes

import skgd
from skgd.__main__ import (
    SOLVERS,
    classification_specs,
    describe,
    load_tasks,
    main,
    measure,
    regression_specs,
)

ESTIMATORS = [Est.__name__ for Est in ESTIMATOR_CLASSES]


@pytest.fixture(scope="module")
def tasks():
    return load_tasks()


def all_specs(tasks):
    for index, task in enumerate(tasks):
        n = task.X_train.shape[0]
        for spec in (regression_specs if index == 0 else classification_specs)(n):
            yield task, spec


def test_every_estimator_is_in_the_demo(tasks):
    assert sorted({spec.label for _, spec in all_specs(tasks)}) == sorted(ESTIMATORS)


def test_demo_objectives_are_the_estimators_objectives(tasks):
    # The demo evaluates each estimator's objective itself (to compare it with
    # the exact solution's); at the batch solver's final iterate it must be
    # the objective the estimator reports in loss_curve_.  This checks the
    # alpha/C conversions written in the demo.
    for task, spec in all_specs(tasks):
        model = spec.make("batch", 0).fit(task.X_train, task.y_train)
        value = spec.objective(model, task.X_train, task.y_train)
        np.testing.assert_allclose(
            value,
            model.loss_curve_[-1],
            rtol=1e-9,
            err_msg=f"{spec.label} on {task.name}",
        )


def test_exact_references_reach_the_optimum(tasks):
    # The exact solvers' objective is below every skgd fit's (up to their own
    # tolerance): the 'gap' column is a suboptimality.
    task = tasks[0]
    for spec in regression_specs(task.X_train.shape[0]):
        rows = measure(task, spec, n_seeds=2)
        assert [r["solver"] for r in rows] == list(SOLVERS)
        for row in rows:
            assert row["gap"] > -1e-9, (spec.label, row["solver"], row["gap"])
            assert row["epochs"] == len(row["model"].loss_curve_)
            assert row["memory"] > 0 and row["time"] > 0
            assert row["exact"] == rows[0]["exact"] and row["sgd"] == rows[0]["sgd"]
        # the batch solver ignores the seed: its objective does not move
        assert rows[0]["spread"] == 0.0


def test_describe_shows_the_converted_parameters():
    ridge, sgd = regression_specs(200)[0].exact, regression_specs(200)[0].sgd
    # GDRegressor(alpha=1e-4) on 200 rows is Ridge(alpha=1e-4 * 200)
    assert describe(ridge) == "Ridge(alpha=0.02)"
    assert describe(sgd) == "SGDRegressor(alpha=0.0001)"


def test_demo_runs_and_prints_the_table(tmp_path):
    png = tmp_path / "curves.png"
    proc = subprocess.run(
        [sys.executable, "-m", "skgd", "--seeds", "1", "--plot", str(png)],
        # run outside the source tree, so that the installed (compiled)
        # package is imported rather than the checkout's uncompiled one
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    out = proc.stdout
    for header in (
        "fit time",
        "epochs",
        "objective",
        "gap",
        "score",
        "exact",
        "SGD*",
        "peak mem",
        "spread",
    ):
        assert header in out
    for task in ("diabetes", "breast cancer", "digits"):
        assert task in out
    # one row per estimator and solver: "<estimator> <solver> <time> ..."
    number = r"-?[\d.]+(?:e[+-]\d+)?"
    row = re.compile(
        rf"^(\w*)\s+(batch|sgd|minibatch)\s+{number} m?s\s+\d+!?\s+{number}"
        rf"\s+{number}\s+{number}\s+{number}\s+{number}\s+{number} [KM]iB"
        rf"\s+{number}$",
        re.M,
    )
    rows = row.findall(out)
    n_classifier_tasks = 2 if "GDClassifier" in ESTIMATORS else 0
    n_regressors = len([e for e in ESTIMATORS if e != "GDClassifier"])
    assert len(rows) == 3 * (n_regressors + n_classifier_tasks)
    assert {name for name, _ in rows if name} == set(ESTIMATORS)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_explains_the_columns():
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0


def test_plot_without_matplotlib_fails_before_fitting(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    assert main(["--plot", "never.png"]) == 2
    captured = capsys.readouterr()
    assert 'pip install "skgd[plot]"' in captured.err
    assert "GDRegressor" not in captured.out  # nothing was fitted


# ---- verbose=1: one line per epoch -------------------------------------------------

VERBOSE_LINE = re.compile(
    r"^-- Epoch (\d+): objective (\S+), step size (\S+), elapsed (\S+) s$"
)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("learning_rate", ["auto", "invscaling"])
def test_verbose_prints_one_line_per_epoch(capsys, solver, learning_rate):
    X, y = load_diabetes(return_X_y=True)
    reg = skgd.GDRegressor(
        solver=solver,
        learning_rate=learning_rate,
        eta0=0.1,
        max_iter=30,
        tol=None,
        verbose=1,
        random_state=0,
    )
    reg.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == reg.n_iter_ == 30
    parsed = [VERBOSE_LINE.match(line) for line in lines]
    assert all(parsed), lines[:3]
    epochs = [int(m.group(1)) for m in parsed]
    objectives = [float(m.group(2)) for m in parsed]
    steps = [float(m.group(3)) for m in parsed]
    elapsed = [float(m.group(4)) for m in parsed]
    assert epochs == list(range(1, 31))
    # printed with 6 significant digits: the recorded loss curve
    np.testing.assert_allclose(objectives, reg.loss_curve_, rtol=1e-5)
    assert all(s > 0 and np.isfinite(s) for s in steps)
    assert elapsed == sorted(elapsed)
    if learning_rate == "auto" and solver != "batch":
        # the stochastic 'auto' schedule: 1 / (L sqrt(epoch))
        np.testing.assert_allclose(
            np.array(steps) * np.sqrt(epochs), steps[0], rtol=1e-3
        )


def test_verbose_zero_prints_nothing(capsys):
    X, y = load_diabetes(return_X_y=True)
    skgd.GDRegressor(max_iter=5, tol=None).fit(X, y)
    assert capsys.readouterr().out == ""
