"""Time to the exact model: skgd against the exact solvers a user would pick instead.

Run from the repository root::

    python benchmarks/time_to_solution.py            # the full sizes (>30 min on the busy 2 cores)
    python benchmarks/time_to_solution.py --quick    # small sizes, skgd and scikit-learn only
    python benchmarks/time_to_solution.py --problems lasso,ridge

The peers come from ``pip install .[bench]`` (skglm, celer, glum,
scikit-learn-intelex, snapml); a peer that is not installed is skipped and
named in the output.

Method (benchopt's; ``docs/benchmarks.rst``)
--------------------------------------------
* Synthetic problems with fixed seeds, written once to a temporary
  directory.  Each library runs in **its own subprocess** (importing several
  peers into one process skewed timings) over every problem: each of its
  solvers along a ladder of tolerances, loosest first (the first fit warms
  the library up), until a fit comes within ``STOP_GAP`` of the reference,
  takes longer than ``--fit-budget`` or the problem's ``--problem-budget``
  is spent.
* This process scores **every** solution with one numpy objective per
  problem in the skgd estimator's own terms (``objective``); each peer's
  parameters are converted to it in its factory below.  ``F*`` is the
  smallest of the reference solver's objective at ``tol=1e-12`` (named in
  ``PROBLEMS``) and of every solution; the gap is ``(F - F*) / F*``.  A fit
  that stopped on ``max_iter`` is scored by its gap all the same.
* ``time to 1e-3`` (``1e-6``): the wall time of a whole ``fit`` -- the
  fastest along the ladder whose gap is at most that.  skgd's fits at
  default settings (``DEFAULT_FITS``) are the median of ``--repeat``.
* ``ratio``: such a default fit's time over the fastest non-skgd fit with a
  gap at most its gap (or ``GAP_FLOOR``); lower is better.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.special import log_softmax

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # this checkout's skgd, also in the subprocesses

GAPS = (1e-3, 1e-6)
STOP_GAP = 1e-10  # a ladder goes no further once within this of the reference
# Gaps below this count as this in the ratio: the peers' ladders are not run
# to the rounding level, and a fit reaching less is compared at this gap
# (which favours the peer).
GAP_FLOOR = 1e-9
DEFAULT_FITS = ("skgd default", "skgd batch, default tol")  # timed as medians
TOLS = [10.0**-k for k in range(1, 13)]
FULL = dict(ridge=(200_000, 100), lasso=(50_000, 500), logistic=(200_000, 100),
            multinomial=(100_000, 50), sparse=(200_000, 50_000))
QUICK = dict(ridge=(20_000, 50), lasso=(5_000, 200), logistic=(20_000, 50),
             multinomial=(10_000, 20), sparse=(20_000, 5_000))
NNZ_PER_ROW = 43
N_CLASSES = 10


# ---- the problems ---------------------------------------------------------------
#
# Each problem is (kind, alpha, l1_ratio) in the skgd estimator's terms:
#   ridge:       GDRidge(alpha):       sum_i (y_i - x_i w - b)^2 + alpha ||w||^2
#   lasso/enet:  GDLasso/GDElasticNet: 1/(2n) sum_i (y_i - x_i w - b)^2
#                                      + alpha rho ||w||_1 + alpha (1 - rho)/2 ||w||^2
#   logistic:    GDClassifier(alpha):  1/n sum_i log-loss_i + alpha/2 ||W||_F^2
#                (binary logistic or multinomial cross-entropy)

def _ar1(rng, n, d, rho):
    X = np.empty((n, d))
    X[:, 0] = rng.standard_normal(n)
    noise = rng.standard_normal((n, d))
    for j in range(1, d):
        X[:, j] = rho * X[:, j - 1] + np.sqrt(1 - rho**2) * noise[:, j]
    return X


def make_ridge(n, d):
    rng = np.random.RandomState(0)
    # correlated features: a random mixing of independent ones, plus offsets
    X = rng.standard_normal((n, d)) @ (np.eye(d) + 0.5 * rng.standard_normal((d, d)) / np.sqrt(d))
    X += rng.uniform(-1, 1, d)
    y = X @ rng.standard_normal(d) + 3.0 + rng.standard_normal(n)
    return X, y, 1.0


def _lasso_data(n, d):
    rng = np.random.RandomState(1)
    X = _ar1(rng, n, d, 0.6)
    w = np.zeros(d)
    support = rng.choice(d, 25, replace=False)
    w[support] = rng.choice([-1, 1], 25) * rng.uniform(0.5, 2, 25)
    y = X @ w + rng.standard_normal(n)
    alpha_max = np.abs(X.T @ (y - y.mean())).max() / n
    return X, y, alpha_max


def make_lasso(n, d):
    X, y, alpha_max = _lasso_data(n, d)
    return X, y, 0.05 * alpha_max


def make_enet(n, d):
    X, y, alpha_max = _lasso_data(n, d)
    return X, y, 0.05 * alpha_max / 0.5  # alpha_max of the elastic net is alpha_max / rho


def _labels(rng, scores):
    return (scores + rng.logistic(size=scores.shape[0]) > 0).astype(np.float64)


def make_logistic(n, d):
    rng = np.random.RandomState(2)
    Z = rng.standard_normal((n, d))
    y = _labels(rng, Z @ rng.standard_normal(d) / np.sqrt(d) * 3)
    return Z * np.logspace(-2, 2, d), y, 1e-4


def make_logistic_std(n, d):
    X, y, alpha = make_logistic(n, d)
    X = (X - X.mean(0)) / X.std(0)
    return X, y, alpha


def make_multinomial(n, d):
    rng = np.random.RandomState(3)
    X = rng.standard_normal((n, d))
    scores = X @ rng.standard_normal((d, N_CLASSES)) / np.sqrt(d) * 2
    y = np.argmax(scores + rng.gumbel(size=scores.shape), axis=1).astype(np.float64)
    return X, y, 1e-4


def make_sparse_logistic(n, d):
    """tf-idf-like CSR: Zipf-distributed terms, log counts, idf, unit rows."""
    rng = np.random.RandomState(4)
    nnz = NNZ_PER_ROW
    ranks = np.arange(1, d + 1)
    p = 1.0 / ranks**1.1
    cols = rng.choice(d, size=(n, nnz), p=p / p.sum())
    cols.sort(axis=1)
    counts = rng.geometric(0.5, size=(n, nnz)).astype(np.float64)
    X = sp.csr_matrix((np.log1p(counts).ravel(), cols.ravel(),
                       np.arange(0, n * nnz + 1, nnz)), shape=(n, d))
    X.sum_duplicates()
    df = np.bincount(X.indices, minlength=d)
    X.data *= np.log((1 + n) / (1 + df[X.indices])) + 1
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.diags(1 / np.maximum(norms, 1e-12)) @ X
    w = rng.standard_normal(d) * (rng.uniform(size=d) < 0.1) * 10
    y = _labels(rng, X @ w)
    return X.tocsr(), y, 1.0 / (10 * n)


# name: (maker, size key, kind, l1_ratio, title, reference solver)
PROBLEMS = {
    "ridge": (make_ridge, "ridge", "ridge", 0.0,
              "Ridge, dense {n} x {d}, correlated, alpha=1", "closed form (lstsq of the centred normal equations)"),
    "lasso": (make_lasso, "lasso", "lasso", 1.0,
              "Lasso, dense {n} x {d}, AR(1) rho=0.6, alpha=0.05 alpha_max",
              "sklearn Lasso(precompute=True, tol=1e-12)"),
    "enet": (make_enet, "lasso", "lasso", 0.5,
             "ElasticNet, same data, l1_ratio=0.5, alpha=0.05 alpha_max",
             "sklearn ElasticNet(precompute=True, tol=1e-12)"),
    "logistic": (make_logistic, "logistic", "logistic", 0.0,
                 "L2-logistic, dense {n} x {d}, features x1e-2..x1e2, alpha=1e-4",
                 "sklearn LogisticRegression(newton-cholesky, tol=1e-12)"),
    "logistic_std": (make_logistic_std, "logistic", "logistic", 0.0,
                     "L2-logistic, same, standardised", "sklearn LogisticRegression(newton-cholesky, tol=1e-12)"),
    "multinomial": (make_multinomial, "multinomial", "multinomial", 0.0,
                    f"multinomial, {N_CLASSES} classes, dense {{n}} x {{d}}, alpha=1e-4",
                    "sklearn LogisticRegression(newton-cholesky, tol=1e-12)"),
    "sparse": (make_sparse_logistic, "sparse", "logistic", 0.0,
               "L2-logistic, sparse tf-idf {n} x {d}, 43 nnz/row, alpha=1/(10n)",
               "sklearn LogisticRegression(lbfgs, tol=1e-12)"),
}


def objective(kind, l1_ratio, alpha, X, y, coef, intercept):
    """The skgd estimator's objective (see the table above) at (coef, intercept)."""
    W = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    b = np.atleast_1d(np.asarray(intercept, dtype=np.float64))
    n = X.shape[0]
    P = np.asarray(X @ W.T) + b
    if kind == "ridge":
        return float(np.sum((y - P[:, 0]) ** 2) + alpha * np.sum(W**2))
    if kind == "lasso":
        return float(np.sum((y - P[:, 0]) ** 2) / (2 * n) + alpha * l1_ratio * np.abs(W).sum()
                     + alpha * (1 - l1_ratio) / 2 * np.sum(W**2))
    if kind == "logistic":
        z = (2 * y - 1) * P[:, 0]
        return float(np.mean(np.logaddexp(0, -z)) + alpha / 2 * np.sum(W**2))
    logp = log_softmax(P, axis=1)
    return float(-np.mean(logp[np.arange(n), y.astype(int)]) + alpha / 2 * np.sum(W**2))


def reference(name, kind, l1_ratio, alpha, X, y):
    """The reference optimum at tol=1e-12 (the solver named in PROBLEMS)."""
    from sklearn.linear_model import ElasticNet, LogisticRegression
    n, d = X.shape
    if kind == "ridge":
        mean = X.mean(0)
        Xc = X - mean
        A = Xc.T @ Xc + alpha * np.eye(d)
        w = np.linalg.lstsq(A, Xc.T @ (y - y.mean()), rcond=None)[0]
        return w, y.mean() - mean @ w
    if kind == "lasso":
        est = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, precompute=True, tol=1e-12,
                         max_iter=100_000).fit(X, y)
        return est.coef_, est.intercept_
    # C = 1 / (alpha n): LogisticRegression minimises C sum_i loss_i + ||w||^2 / 2
    solver = "lbfgs" if sp.issparse(X) else "newton-cholesky"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = LogisticRegression(C=1 / (alpha * n), solver=solver, tol=1e-12,
                                 max_iter=10_000).fit(X, y)
    return est.coef_, est.intercept_


# ---- the solvers, one library per subprocess -------------------------------------
#
# Each entry: label -> (factory(kind, l1_ratio, alpha, n, tol) or None if it
# does not apply, tolerances of its ladder).  ``None`` tolerance: the
# library's defaults (a single fit).

def _skgd_solvers():
    import skgd

    def est(kind, l1_ratio, alpha, **kw):
        if kind == "ridge":
            return skgd.GDRidge(alpha=alpha, **kw)
        if kind == "lasso":
            if l1_ratio == 1.0:
                return skgd.GDLasso(alpha=alpha, **kw)
            return skgd.GDElasticNet(alpha=alpha, l1_ratio=l1_ratio, **kw)
        return skgd.GDClassifier(loss="log_loss", penalty="l2", alpha=alpha, **kw)

    def make(**fixed):
        def factory(kind, l1_ratio, alpha, n, tol):
            kw = dict(fixed)
            if tol is not None:
                kw.update(tol=tol, max_iter=100_000 if fixed.get("solver") == "batch" else 200)
            return est(kind, l1_ratio, alpha, **kw)
        return factory

    solvers = {"skgd default": (make(), [None])}
    solvers["skgd batch, default tol"] = (make(solver="batch"), [None])
    solvers["skgd batch"] = (make(solver="batch"), TOLS)
    allowed = skgd.GDRegressor._parameter_constraints["solver"][0].options
    for name in ("saga", "minibatch"):
        if name in allowed:
            solvers[f"skgd {name}"] = (make(solver=name, random_state=0), TOLS[:8])
    return solvers


def _sklearn_solvers(prefix=""):
    from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge

    def tight(tol):
        return {} if tol is None else dict(tol=tol, max_iter=100_000)

    def ridge(solver):
        # same objective and alpha: ||y - Xw - b||^2 + alpha ||w||^2
        return lambda kind, l1_ratio, alpha, n, tol: (
            Ridge(alpha=alpha, solver=solver, **tight(tol)) if kind == "ridge" else None)

    def enet(precompute):
        # same objective and alpha: 1/(2n) ||r||^2 + alpha rho |w|_1 + alpha (1 - rho)/2 ||w||^2
        return lambda kind, l1_ratio, alpha, n, tol: (
            ElasticNet(alpha=alpha, l1_ratio=l1_ratio, precompute=precompute, **tight(tol))
            if kind == "lasso" else None)

    def logistic(solver):
        def factory(kind, l1_ratio, alpha, n, tol):
            if kind == "multinomial" and solver == "liblinear" or kind not in (
                    "logistic", "multinomial"):
                return None
            # liblinear penalises the intercept: a large scaling makes that negligible
            extra = dict(intercept_scaling=1e3) if solver == "liblinear" else {}
            # C = 1 / (alpha n): C sum_i loss_i + ||w||^2/2 = n C (mean loss + alpha/2 ||w||^2)
            return LogisticRegression(C=1 / (alpha * n), solver=solver, **extra, **tight(tol))
        return factory

    out = {}
    for s in ("cholesky", "sag"):
        out[f"{prefix}Ridge({s})"] = (ridge(s), [None] + TOLS[2:10:2])
    out[f"{prefix}Lasso/ENet(cd)"] = (enet(False), [None] + TOLS[2:12])
    out[f"{prefix}Lasso/ENet(cd, precompute)"] = (enet(True), [None] + TOLS[2:12])
    for s in ("lbfgs", "newton-cholesky", "liblinear", "saga"):
        out[f"{prefix}LogReg({s})"] = (logistic(s), [None] + TOLS[2:12])
    return out


def _sklearnex_solvers():
    from sklearnex import patch_sklearn
    patch_sklearn(verbose=False)
    out = _sklearn_solvers("intelex ")
    return {k: v for k, v in out.items() if "cholesky)" in k or "lbfgs" in k}


def _skglm_solvers():
    from skglm import ElasticNet, GeneralizedLinearEstimator
    from skglm.datafits import Logistic
    from skglm.penalties import L1_plus_L2
    from skglm.solvers import AndersonCD

    def enet(kind, l1_ratio, alpha, n, tol):
        if kind != "lasso":
            return None
        # skglm's ElasticNet: same objective and alpha as sklearn's
        return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, **({} if tol is None else dict(tol=tol, max_iter=1000)))

    def logistic(kind, l1_ratio, alpha, n, tol):
        if kind != "logistic":
            return None
        # Logistic(): mean log-loss; L1_plus_L2(alpha, 0): alpha/2 ||w||^2 -- skgd's alpha
        solver = AndersonCD(fit_intercept=True, **({} if tol is None else dict(tol=tol, max_iter=1000)))
        return GeneralizedLinearEstimator(Logistic(), L1_plus_L2(alpha, l1_ratio=0.0), solver)

    return {"skglm ENet": (enet, [None] + TOLS[2:12]),
            "skglm logistic (AndersonCD)": (logistic, [None] + TOLS[2:12])}


def _celer_solvers():
    from celer import ElasticNet

    def enet(kind, l1_ratio, alpha, n, tol):
        if kind != "lasso":
            return None
        # celer's ElasticNet: same objective and alpha as sklearn's
        return ElasticNet(alpha=alpha, l1_ratio=l1_ratio, **({} if tol is None else dict(tol=tol)))

    return {"celer ENet": (enet, [None] + TOLS[2:12])}


def _glum_solvers():
    from glum import GeneralizedLinearRegressor

    def glm(kind, l1_ratio, alpha, n, tol):
        if kind == "multinomial":
            return None
        # glum: (1/n) sum_i deviance_i / 2 + alpha (rho |w|_1 + (1 - rho)/2 ||w||^2);
        # Gaussian deviance / 2 = r^2 / 2: Lasso's alpha, and Ridge's alpha / n
        # (Ridge's objective is 2n times glum's); binomial: log-loss, skgd's alpha.
        family = "binomial" if kind == "logistic" else "normal"
        a = alpha / n if kind == "ridge" else alpha
        kw = {} if tol is None else dict(gradient_tol=tol, max_iter=1000)
        return GeneralizedLinearRegressor(family=family, alpha=a, l1_ratio=l1_ratio,
                                          fit_intercept=True, **kw)

    return {"glum": (glm, [None] + TOLS[2:12])}


def _snapml_solvers():
    from snapml import LinearRegression, LogisticRegression

    def snap(kind, l1_ratio, alpha, n, tol):
        if kind == "multinomial" or (kind == "lasso" and l1_ratio != 1.0):
            return None
        kw = {} if tol is None else dict(tol=tol, max_iter=10_000)
        # snapml penalises its intercept; a large intercept_scaling makes it negligible.
        common = dict(fit_intercept=True, intercept_scaling=1e3, n_jobs=2, **kw)
        if kind == "ridge":
            # regularizer = Ridge's alpha (as in shared/notes/peers_and_anchors.md)
            return LinearRegression(regularizer=alpha, penalty="l2", **common)
        if kind == "lasso":
            # regularizer = Lasso's alpha * n (summed squared error / 2 + regularizer |w|_1)
            return LinearRegression(regularizer=alpha * n, penalty="l1", **common)
        # regularizer = 1 / C = alpha * n
        return LogisticRegression(regularizer=alpha * n, penalty="l2", **common)

    return {"snapml": (snap, [None] + TOLS[2:8:2])}


LIBRARIES = {
    "skgd": ("skgd", _skgd_solvers),
    "scikit-learn": ("sklearn", _sklearn_solvers),
    "scikit-learn-intelex": ("sklearnex", _sklearnex_solvers),
    "skglm": ("skglm", _skglm_solvers),
    "celer": ("celer", _celer_solvers),
    "glum": ("glum", _glum_solvers),
    "snapml": ("snapml", _snapml_solvers),
}


def _coef_of(est, kind):
    coef, intercept = np.asarray(est.coef_, dtype=float), np.asarray(est.intercept_, dtype=float)
    # one output: a flat coef, a 1-vector intercept (objective() takes both shapes)
    return (coef.ravel(), intercept.reshape(1)) if kind != "multinomial" else (coef, intercept)


def worker(library, data_dirs, budget, problem_budget, repeat):
    """Fit every solver of ``library`` on each problem; print one JSON line per fit.

    A ladder stops at the first fit within ``STOP_GAP`` of the reference
    optimum or longer than ``budget`` seconds; no fit starts on a problem
    after ``problem_budget`` seconds spent on it.
    """
    _, solvers = LIBRARIES[library]
    solvers = solvers()
    warnings.simplefilter("ignore")
    for index, data_dir in enumerate(data_dirs):
        X, y, meta = load(data_dir)
        kind, l1_ratio, alpha = meta["kind"], meta["l1_ratio"], meta["alpha"]
        n = X.shape[0]
        started = time.perf_counter()
        for label, (factory, tols) in solvers.items():
            if factory(kind, l1_ratio, alpha, n, tols[0]) is None:
                continue
            for tol in tols:
                if time.perf_counter() - started > problem_budget:
                    break
                record = _timed_fit(factory(kind, l1_ratio, alpha, n, tol), X, y, kind,
                                    repeat if label in DEFAULT_FITS else 1)
                record.update(problem=index, label=label, tol=tol)
                print(json.dumps(record), flush=True)
                if "error" in record:
                    break
                value = objective(kind, l1_ratio, alpha, X, y, record["coef"], record["intercept"])
                if record["time"] > budget or value - meta["f_ref"] <= STOP_GAP * abs(meta["f_ref"]):
                    break


def _timed_fit(est, X, y, kind, rounds):
    """Median wall time of ``rounds`` fits, and the model (or the error raised)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        try:
            est.fit(X, y)
        except Exception as exc:  # a peer that rejects the problem
            return dict(error=repr(exc)[:200])
        times.append(time.perf_counter() - start)
    coef, intercept = _coef_of(est, kind)
    return dict(time=float(np.median(times)), coef=coef.tolist(), intercept=intercept.tolist())


# ---- data on disk -------------------------------------------------------------------

def save(data_dir, X, y, meta):
    if sp.issparse(X):
        sp.save_npz(os.path.join(data_dir, "X.npz"), X, compressed=False)
    else:
        np.save(os.path.join(data_dir, "X.npy"), X)
    np.save(os.path.join(data_dir, "y.npy"), y)
    with open(os.path.join(data_dir, "meta.json"), "w") as f:
        json.dump(meta, f)


def load(data_dir):
    path = os.path.join(data_dir, "X.npz")
    X = sp.load_npz(path).tocsr() if os.path.exists(path) else np.load(os.path.join(data_dir, "X.npy"))
    with open(os.path.join(data_dir, "meta.json")) as f:
        meta = json.load(f)
    return X, np.load(os.path.join(data_dir, "y.npy")), meta


def run_library(library, data_dirs, args):
    """Run one library's worker over every problem; its records by problem."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", library,
           "--data", ",".join(data_dirs), "--fit-budget", str(args.fit_budget),
           "--problem-budget", str(args.problem_budget), "--repeat", str(args.repeat)]
    timeout = len(data_dirs) * args.problem_budget * 2 + 60
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        print(f"    ({library}: stopped after {timeout} s)", file=sys.stderr)
    records = [[] for _ in data_dirs]
    for line in out.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        records[record["problem"]].append(record)
    return records


# ---- the report ------------------------------------------------------------------------

def summarise(title, ref_name, records, missing):
    by_label = {}
    for r in records:
        if "gap" in r:
            by_label.setdefault(r["label"], []).append(r)
    lines = [f"### {title}", "", f"Reference optimum: {ref_name}.", "",
             "| solver | time to 1e-3 | time to 1e-6 | best gap (its time) |", "|---|---|---|---|"]
    for label, rs in by_label.items():
        cells = []
        for g in GAPS:
            ok = [r["time"] for r in rs if r["gap"] <= g]
            cells.append(f"{min(ok):.2f} s" if ok else "—")
        best = min(rs, key=lambda r: r["gap"])
        lines.append(f"| {label} | {cells[0]} | {cells[1]} | {best['gap']:.1e} ({best['time']:.2f} s) |")
    errors = sorted({r["label"] for r in records if "error" in r})
    rows = []
    for label in DEFAULT_FITS:
        if label not in by_label:
            continue
        d = by_label[label][0]
        peers = [r for lab, rs in by_label.items() if not lab.startswith("skgd") for r in rs
                 if r["gap"] <= max(d["gap"], GAP_FLOOR)]
        fastest = min(peers, key=lambda r: r["time"]) if peers else None
        ratio = "%.2f" % (d["time"] / fastest["time"]) if fastest else "—"
        peer_txt = (f"{fastest['label']} {fastest['time']:.2f} s (gap {fastest['gap']:.0e})"
                    if fastest else "none reaches it")
        lines += ["", f"{label}: {d['time']:.2f} s, gap {d['gap']:.1e}; fastest peer at that gap: "
                  f"{peer_txt}; ratio {ratio}."]
        rows.append((title, label.replace("skgd ", ""), f"{d['time']:.2f} s, gap {d['gap']:.0e}",
                     peer_txt, ratio))
    if errors:
        lines.append(f"Fits that raised: {', '.join(errors)}.")
    if missing:
        lines.append(f"Not installed (skipped): {', '.join(missing)}.")
    print("\n".join(lines) + "\n", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--libraries", default=None,
                        help="comma-separated (default: all; with --quick: skgd,scikit-learn)")
    parser.add_argument("--fit-budget", type=float, default=None,
                        help="stop a ladder after a fit longer than this (s)")
    parser.add_argument("--problem-budget", type=float, default=None,
                        help="no new fit of a library on a problem after this (s)")
    parser.add_argument("--repeat", type=int, default=3, help="fits of skgd's defaults (median)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.data.split(","), args.fit_budget, args.problem_budget,
               args.repeat)
        return
    sizes = QUICK if args.quick else FULL
    args.fit_budget = args.fit_budget or (0.2 if args.quick else 5.0)
    args.problem_budget = args.problem_budget or (1.0 if args.quick else 30.0)
    # --quick leaves the peers out by default: skglm and celer compile their
    # numba kernels at every start, which alone takes tens of seconds
    libraries = (args.libraries or ("skgd,scikit-learn" if args.quick else ",".join(LIBRARIES))
                 ).split(",")
    import importlib.util
    missing = [lib for lib in libraries if importlib.util.find_spec(LIBRARIES[lib][0]) is None]
    names = args.problems.split(",")
    problems = []
    with tempfile.TemporaryDirectory() as root:
        for index, name in enumerate(names):
            maker, size_key, kind, l1_ratio, title, ref_name = PROBLEMS[name]
            n, d = sizes[size_key]
            X, y, alpha = maker(n, d)
            f_ref = objective(kind, l1_ratio, alpha, X, y,
                              *reference(name, kind, l1_ratio, alpha, X, y))
            data_dir = os.path.join(root, str(index))
            os.mkdir(data_dir)
            save(data_dir, X, y, dict(kind=kind, l1_ratio=l1_ratio, alpha=alpha, f_ref=f_ref))
            problems.append((data_dir, title.format(n=f"{n:,}", d=f"{d:,}"), ref_name, f_ref))
        records = [[] for _ in names]
        for lib in libraries:
            if lib not in missing:
                for index, recs in enumerate(run_library(lib, [p[0] for p in problems], args)):
                    records[index] += recs
        summary = []
        for index, (data_dir, title, ref_name, f_ref) in enumerate(problems):
            X, y, meta = load(data_dir)
            summary += summarise(title, ref_name, _score(records[index], X, y, meta, f_ref),
                                 missing)
    print("| problem | skgd | its fit | fastest peer at equal or better gap | ratio |")
    print("|---|---|---|---|---|")
    for row in summary:
        print("| " + " | ".join(row) + " |")


def _score(records, X, y, meta, f_ref):
    """Each record's objective and its gap to ``F*`` (the best value seen)."""
    values = [f_ref]
    for r in records:
        if "coef" in r:
            r["objective"] = objective(meta["kind"], meta["l1_ratio"], meta["alpha"], X, y,
                                       r["coef"], r["intercept"])
            if np.isfinite(r["objective"]):
                values.append(r["objective"])
    f_star = min(values)
    for r in records:
        if "objective" in r:
            r["gap"] = ((r["objective"] - f_star) / abs(f_star)
                        if np.isfinite(r["objective"]) else np.inf)
    return records


if __name__ == "__main__":
    main()
