"""python -m skgd: batch vs SGD vs mini-batch gradient descent, measured.

Fits every skgd estimator with each solver on datasets that ship with
scikit-learn and prints, per fit: the fit time, the epochs, the objective
reached and its relative gap to the exact optimum, the test score, the score
of the exact solver and of scikit-learn's SGD estimator on the same
objective, the peak memory of the fit and the spread of the final objective
over a few random seeds.  ``--plot FILE.png`` also draws the loss curves.
"""

import argparse
import statistics
import sys
import time
import tracemalloc
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import skgd

SOLVERS = ("batch", "sgd", "minibatch")


@dataclass
class Task:
    """A dataset, split and standardised, with the name of its score."""

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    score_name: str


@dataclass
class Spec:
    """An skgd estimator and the scikit-learn models that minimise the same
    objective exactly (``exact``) and by SGD (``sgd``)."""

    label: str
    params: dict  # of the skgd estimator, beside solver and random_state
    exact: object  # unfitted scikit-learn estimator
    sgd: object  # unfitted SGDRegressor/SGDClassifier
    objective: object  # callable: (fitted model, X, y) -> mean-loss objective
    conversion: str = ""  # how exact's and sgd's parameters follow from skgd's

    def make(self, solver, seed):
        return getattr(skgd, self.label)(
            solver=solver, random_state=seed, **self.params
        )


def load_tasks(seed=0):
    """Regression, binary and multiclass data shipped with scikit-learn.

    The features are standardised on the training rows so that the solvers,
    not the feature scales, are compared (skgd itself needs no scaling: see
    the user guide), and so that scikit-learn's SGD gets a fair chance.
    """
    tasks = []
    for name, loader, score_name, stratify in (
        ("regression: diabetes", load_diabetes, "R^2", False),
        ("binary: breast cancer", load_breast_cancer, "accuracy", True),
        ("multiclass: digits (10 classes)", load_digits, "accuracy", True),
    ):
        X, y = loader(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.25, random_state=seed, stratify=y if stratify else None
        )
        scaler = StandardScaler().fit(X_train)
        tasks.append(
            Task(
                name,
                scaler.transform(X_train),
                scaler.transform(X_test),
                y_train,
                y_test,
                score_name,
            )
        )
    return tasks


# ---- the objectives, in the mean-loss form every estimator reports ------------
# J = (1/n) sum_i L(y_i, p_i) + l1 ||w||_1 + l2/2 ||w||^2; the relative gap
# (J - J*) / J* does not depend on the scaling of J, so the form is immaterial.


def _squared_objective(l1, l2):
    def objective(model, X, y):
        residual = y - model.predict(X)
        w = np.ravel(model.coef_)
        return 0.5 * np.mean(residual**2) + l1 * np.abs(w).sum() + 0.5 * l2 * w @ w

    return objective


def _logistic_objective(alpha):
    def objective(model, X, y):
        # mean -log p(true class): the binary logistic loss for two classes,
        # the softmax cross-entropy for more
        proba = model.predict_proba(X)
        w = np.ravel(model.coef_)
        return log_loss(y, proba, labels=model.classes_) + 0.5 * alpha * w @ w

    return objective


def regression_specs(n):
    """The regressors at their defaults, with their exact and SGD twins
    (``n``: number of training rows)."""
    specs = [
        # GDRegressor: (1/n) sum (y - p)^2 / 2 + alpha/2 ||w||^2 (alpha=1e-4).
        # Times 2n it is Ridge's sum (y - p)^2 + (alpha n) ||w||^2; SGDRegressor
        # minimises the mean-loss form with the same alpha.
        Spec(
            "GDRegressor",
            {},
            Ridge(alpha=1e-4 * n, solver="cholesky"),
            SGDRegressor(alpha=1e-4, random_state=0),
            _squared_objective(0.0, 1e-4),
            "Ridge alpha = 1e-4 * n",
        ),
        # GDRidge(alpha=1) is Ridge(alpha=1): sum (y - p)^2 + ||w||^2; divided
        # by 2n, the mean-loss form with l2 = 1 / n, SGDRegressor's alpha.
        Spec(
            "GDRidge",
            {},
            Ridge(alpha=1.0, solver="cholesky"),
            SGDRegressor(alpha=1.0 / n, random_state=0),
            _squared_objective(0.0, 1.0 / n),
            "SGD alpha = 1 / n",
        ),
        # GDLasso(alpha=1) is Lasso(alpha=1): (1/2n) sum (y - p)^2 + ||w||_1,
        # already the mean-loss form: SGDRegressor(penalty='l1', alpha=1).
        Spec(
            "GDLasso",
            {},
            Lasso(alpha=1.0, tol=1e-12, max_iter=100_000),
            SGDRegressor(penalty="l1", alpha=1.0, random_state=0),
            _squared_objective(1.0, 0.0),
        ),
        # GDElasticNet(alpha=1, l1_ratio=0.5) is ElasticNet's objective, the
        # mean-loss form with l1 = alpha l1_ratio, l2 = alpha (1 - l1_ratio).
        Spec(
            "GDElasticNet",
            {},
            ElasticNet(alpha=1.0, l1_ratio=0.5, tol=1e-12, max_iter=100_000),
            SGDRegressor(penalty="elasticnet", alpha=1.0, l1_ratio=0.5, random_state=0),
            _squared_objective(0.5, 0.5),
        ),
    ]
    return [spec for spec in specs if getattr(skgd, spec.label, None) is not None]


def classification_specs(n, multiclass=False):
    """GDClassifier at its defaults, with its exact and SGD twins."""
    # GDClassifier: (1/n) sum log-loss + alpha/2 ||W||^2 (alpha=1e-4).
    # LogisticRegression minimises C sum log-loss + 1/2 ||W||^2; divided by
    # C n this is the same objective for C = 1 / (alpha n).  Both are
    # multinomial for more than two classes; SGDClassifier has the same
    # objective for two classes and is one-vs-rest for more (another model).
    specs = [
        Spec(
            "GDClassifier",
            {},
            LogisticRegression(C=1.0 / (1e-4 * n), tol=1e-10, max_iter=10_000),
            SGDClassifier(loss="log_loss", alpha=1e-4, random_state=0),
            _logistic_objective(1e-4),
            "C = 1 / (1e-4 * n)"
            + ("; SGD* is one-vs-rest, another model" if multiclass else ""),
        ),
    ]
    return [spec for spec in specs if getattr(skgd, spec.label, None) is not None]


def describe(estimator):
    """``Name(param=value, ...)`` with the parameters that set the objective."""
    defaults = type(estimator)().get_params()
    params = estimator.get_params()
    always = ["alpha", "C"]
    if params.get("penalty", "elasticnet") == "elasticnet":
        always.append("l1_ratio")
    shown = []
    for key, value in params.items():
        if key in ("random_state", "tol", "max_iter", "solver"):
            continue
        if value == defaults[key] and key not in always:
            continue
        shown.append(
            f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value!r}"
        )
    return f"{type(estimator).__name__}({', '.join(shown)})"


# ---- measuring ------------------------------------------------------------------


def _fit(model, X, y):
    """Fit; return (seconds, converged)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        elapsed = time.perf_counter() - start
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return elapsed, converged


def _peak_memory(model, X, y):
    """Peak bytes allocated (numpy and Python) during one fit."""
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(task, spec, n_seeds=3):
    """Rows of the table for one estimator: one per solver.

    Returns
    -------
    rows : list of dict
        Keys: estimator, solver, time (median over the seeds, seconds),
        epochs, converged, objective, gap, score, exact, sgd, memory (bytes),
        spread (relative range of the objective over the seeds), model (the
        fit with seed 0).
    """
    X, y, Xt, yt = task.X_train, task.y_train, task.X_test, task.y_test
    exact = clone(spec.exact).fit(X, y)
    sgd_ref = clone(spec.sgd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sgd_ref.fit(X, y)
    rows = []
    for solver in SOLVERS:
        models, times, converged = [], [], True
        for seed in range(n_seeds):
            model = spec.make(solver, seed)
            elapsed, ok = _fit(model, X, y)
            models.append(model)
            times.append(elapsed)
            converged &= ok
        # Peak memory from one more fit under tracemalloc, which slows the
        # allocations down and so is kept out of the timed fits.
        memory = _peak_memory(spec.make(solver, 0), X, y)
        values = np.array([spec.objective(m, X, y) for m in models])
        best = spec.objective(exact, X, y)
        rows.append(
            {
                "estimator": spec.label,
                "solver": solver,
                "time": statistics.median(times),
                "epochs": models[0].n_iter_,
                "converged": converged,
                "objective": values[0],
                "gap": (values[0] - best) / abs(best),
                "score": models[0].score(Xt, yt),
                "exact": exact.score(Xt, yt),
                "sgd": sgd_ref.score(Xt, yt),
                "memory": memory,
                "spread": (values.max() - values.min()) / abs(values.mean()),
                "model": models[0],
                "optimum": best,
            }
        )
    return rows


# ---- printing -------------------------------------------------------------------

HEADER = (
    f"{'estimator':<13}{'solver':<10}{'fit time':>9}{'epochs':>8}"
    f"{'objective':>12}{'gap':>9}{'score':>8}{'exact':>8}{'SGD*':>8}"
    f"{'peak mem':>10}{'spread':>9}"
)


def _format_time(seconds):
    return f"{seconds * 1e3:6.1f} ms" if seconds < 1 else f"{seconds:6.2f} s "


def _format_bytes(n):
    return f"{n / 1024:6.0f} KiB" if n < 1024**2 else f"{n / 1024**2:6.1f} MiB"


def format_row(row, first):
    epochs = f"{row['epochs']}" + ("" if row["converged"] else "!")
    return (
        f"{row['estimator'] if first else '':<13}{row['solver']:<10}"
        f"{_format_time(row['time']):>9}{epochs:>8}{row['objective']:>12.5g}"
        f"{row['gap']:>9.1e}{row['score']:>8.4f}{row['exact']:>8.4f}{row['sgd']:>8.4f}"
        f"{_format_bytes(row['memory']):>10}{row['spread']:>9.1e}"
    )


LEGEND = """\
fit time  median over the seeds
epochs    passes over the data (! = max_iter reached before the stopping rule)
objective (1/n) sum loss + penalty at the final coefficients (training rows)
gap       (objective - exact optimum) / exact optimum
score     test score; exact = the same objective solved exactly; SGD* = scikit-learn's
          SGD estimator with the same alpha (both listed under each block)
peak mem  peak numpy/Python allocation during the fit (tracemalloc)
spread    (max - min) / mean of the objective over the seeds (0: deterministic)
All fits single-threaded; features standardised on the training rows."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m skgd",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="""\
Batch vs SGD vs mini-batch gradient descent, measured.

Fits every skgd estimator (GDRegressor, GDRidge, GDLasso, GDElasticNet,
GDClassifier) at its defaults with solver='batch', 'sgd' and 'minibatch' on
datasets that ship with scikit-learn (diabetes: regression, breast cancer:
binary, digits: 10 classes) and prints one row per fit. Beside each score:
the same objective solved exactly (Ridge, Lasso, ElasticNet or
LogisticRegression, alpha/C converted) and scikit-learn's SGD estimator.""",
        epilog="columns:\n" + LEGEND,
    )
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="also write the loss curves of the three solvers to "
        'FILE.png (needs matplotlib: pip install "skgd[plot]")',
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=3,
        metavar="N",
        help="random seeds per solver, for the spread (default: 3)",
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    # Every fit runs on one thread (skgd's kernels are serial; BLAS would
    # otherwise give the exact solvers a second core, and oversubscribe a
    # busy machine), so that the times compare the algorithms.
    with threadpool_limits(limits=1):
        return _run(args)


def _run(args):
    if args.seeds < 1:
        build_parser().error("--seeds must be at least 1")
    if args.plot:
        try:
            from ._plotting import _import_pyplot

            _import_pyplot("python -m skgd --plot")
        except ImportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(
        f"skgd {skgd.__version__}: batch vs SGD vs mini-batch gradient descent, "
        f"measured ({args.seeds} seed{'s' if args.seeds > 1 else ''} per solver)\n"
    )
    print(LEGEND)
    curves = []
    for index, task in enumerate(load_tasks()):
        n, d = task.X_train.shape
        print(
            f"\n== {task.name}: {n} training / {len(task.y_test)} test rows, "
            f"{d} features; score = {task.score_name}"
        )
        if index == 0:
            specs = regression_specs(n)
        else:
            specs = classification_specs(n, multiclass=index == 2)
        if not specs:
            print("   (GDClassifier is not available in this version of skgd)")
            continue
        print(HEADER)
        notes = []
        for spec in specs:
            rows = measure(task, spec, n_seeds=args.seeds)
            for i, row in enumerate(rows):
                print(format_row(row, i == 0))
            notes.append(
                f"   {spec.label}: exact = {describe(spec.exact)}, "
                f"SGD* = {describe(spec.sgd)}"
                + (f"  [{spec.conversion}]" if spec.conversion else "")
            )
            if spec is specs[0]:
                curves.append((task.name, rows))
        print("\n".join(notes))
    if args.plot:
        plot_curves(curves, args.plot)
        print(f"\nloss curves written to {args.plot}")
    return 0


def plot_curves(curves, path):
    """One panel per task: the loss curves of the three solvers."""
    from ._plotting import LossCurveDisplay, _import_pyplot

    plt = _import_pyplot("python -m skgd --plot")
    fig, axes = plt.subplots(
        1,
        len(curves),
        figsize=(5 * len(curves), 4.2),
        squeeze=False,
        layout="constrained",
    )
    for ax, (name, rows) in zip(axes[0], curves):
        for row in rows:
            LossCurveDisplay.from_estimator(row["model"], ax=ax, name=row["solver"])
        ax.axhline(
            rows[0]["optimum"],
            color="0.3",
            linestyle=":",
            linewidth=1,
            label="exact optimum",
        )
        ax.legend()
        ax.set_title(f"{rows[0]['estimator']}, {name}")
    fig.suptitle(
        "Training objective per epoch, default settings (sgd/minibatch: "
        "running mean over the epoch)"
    )
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
