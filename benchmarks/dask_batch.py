"""The batch solver on a dask cluster: the timing rows of "Training on a cluster".

On a LocalCluster of two single-threaded worker processes, for L2-penalised
logistic regression on data generated on the workers (never on the client):

* skgd ``GDClassifier`` on the dask array (the blocks stay on the workers);
* dask-ml ``LogisticRegression(solver='lbfgs')`` on the same persisted
  arrays, with the same objective: ``C = 1 / (alpha * n)``, no intercept
  (dask-glm penalises its intercept column) and ``normalize=False`` (by
  default dask-glm solves a problem in standardised coordinates whose
  penalty is not the user's);
* skgd on the same data gathered into this process (the in-memory fit, the
  same two cores).

Each objective is evaluated on the cluster; the reference F* is the skgd fit
continued to ``tol=1e-10``.  The full run is the issue's row: 2,000,000 x 50
float64 (800 MB) on workers limited to 600 MB each.  Run::

    python benchmarks/dask_batch.py --quick     # 200,000 x 50, no memory limit
    python benchmarks/dask_batch.py             # 2,000,000 x 50, 600 MB workers
"""

import argparse
import threading
import time

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster, wait
from threadpoolctl import threadpool_limits

from skgd import GDClassifier


def make_data(n, d, chunk_rows, seed=0):
    """Logistic data generated block by block on the workers."""
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((n, d), chunks=(chunk_rows, d))
    w = np.linspace(-1.0, 1.0, d) * 4.0 / np.sqrt(d)
    noise = da.random.default_rng(seed + 1).logistic(size=n, chunks=chunk_rows)
    y = (X @ w + noise > 0).astype(np.int64)
    return X, y


def objective(X, y, coef, alpha):
    """Mean log-loss plus ``alpha / 2 ||w||^2``, evaluated block by block."""
    margin = (2.0 * y - 1.0) * (X @ np.ravel(coef))
    return float(da.logaddexp(0.0, -margin).mean().compute()) + 0.5 * alpha * float(
        np.sum(np.square(coef))
    )


def _worker_memory(dask_worker):
    """Process memory and the bytes dask spilled to disk, of one worker."""
    spilled = getattr(dask_worker.data, "spilled_total", None)
    return np.array(
        [dask_worker.monitor.get_process_memory(), getattr(spilled, "disk", 0)],
        dtype=float,
    )


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


class PassCounter:
    """Passes over the blocks of X that a fit makes.

    skgd: each ``BlockStore.map`` / ``reduce`` runs one function on every
    block (a gradient, a moment or a Gram product: one read of X).  dask-ml's
    lbfgs: each function evaluation of scipy's L-BFGS-B computes ``X @ beta``
    and ``X.T @ r`` in one graph, two tasks per block (two reads of X).
    """

    def __init__(self):
        self.count = 0

    def __enter__(self):
        import dask_glm.algorithms as glm

        from skgd import _dask_blocks

        self._patched = []
        for owner, name in ((_dask_blocks.BlockStore, "map"),
                            (_dask_blocks.BlockStore, "reduce")):
            self._patch(owner, name, per_call=1)
        self._patch(glm, "fmin_l_bfgs_b", per_call=None)
        return self

    def _patch(self, owner, name, per_call):
        original = getattr(owner, name)

        def counted(*args, **kwargs):
            out = original(*args, **kwargs)
            # L-BFGS-B reports its function evaluations, two reads of X each
            self.count += 2 * out[2]["funcalls"] if per_call is None else per_call
            return out

        setattr(owner, name, counted)
        self._patched.append((owner, name, original))

    def __exit__(self, *exc):
        for owner, name, original in self._patched:
            setattr(owner, name, original)


def fit_skgd(X, y, alpha, tol):
    return GDClassifier(
        alpha=alpha, fit_intercept=False, solver="batch", tol=tol, max_iter=1000
    ).fit(X, y)


def reference_objective(X, y, est, alpha):
    """F*: the skgd fit continued to tol=1e-10 (warm start)."""
    ref = GDClassifier(
        alpha=alpha,
        fit_intercept=False,
        solver="batch",
        tol=1e-10,
        max_iter=5000,
        warm_start=True,
    )
    ref.coef_ = est.coef_
    return objective(X, y, ref.fit(X, y).coef_, alpha)


def timing_rows(client, n, d, chunk_rows, alpha, tol, in_memory):
    """skgd vs dask-ml vs skgd in memory, on the same persisted arrays."""
    X, y = make_data(n, d, chunk_rows)
    X, y = client.persist([X, y])
    wait([X, y])
    with PassCounter() as skgd_passes:
        est, t_skgd = timed(lambda: fit_skgd(X, y, alpha, tol))
    f_star = reference_objective(X, y, est, alpha)

    def gap(coef):
        return (objective(X, y, coef, alpha) - f_star) / f_star

    rows = [("skgd GDClassifier, dask array", t_skgd, est.n_iter_, gap(est.coef_),
             skgd_passes.count)]
    from dask_ml.linear_model import LogisticRegression

    with PassCounter() as lbfgs_passes:
        lr, t_lr = timed(
            lambda: LogisticRegression(
                solver="lbfgs",
                C=1.0 / (alpha * n),
                fit_intercept=False,
                solver_kwargs={"normalize": False},
            ).fit(X, y)
        )
    rows.append(("dask-ml LogisticRegression(lbfgs)", t_lr, None, gap(lr.coef_),
                 lbfgs_passes.count))
    # the floor of one read of X on the cluster: a block-wise sum, nothing
    # else (median of 5)
    floor = float(np.median([timed(lambda: X.sum().compute())[1] for _ in range(5)]))
    ratios = [
        f"skgd on dask / dask-ml lbfgs: {t_skgd / t_lr:.3f} "
        f"(reads of X: {skgd_passes.count} / {lbfgs_passes.count} "
        f"= {skgd_passes.count / lbfgs_passes.count:.2f})",
        f"one read of X on the cluster (X.sum()): {floor:.3f} s; skgd's "
        f"{skgd_passes.count} reads at that speed / dask-ml lbfgs: "
        f"{skgd_passes.count * floor / t_lr:.3f} (the best ratio these reads allow)",
    ]
    if in_memory:
        X_np, y_np = dask.compute(X, y)
        local, t_local = timed(lambda: fit_skgd(X_np, y_np, alpha, tol))
        rows.append(
            ("skgd GDClassifier, in memory", t_local, local.n_iter_, gap(local.coef_),
             None)
        )
        ratios.append(f"skgd on dask / skgd in memory: {t_skgd / t_local:.2f}")
        # one OpenMP thread: on a busy machine a 2-thread team waits for its
        # slower thread at every pass
        with threadpool_limits(1, user_api="openmp"):
            single, t_single = timed(lambda: fit_skgd(X_np, y_np, alpha, tol))
        rows.append(
            (
                "skgd GDClassifier, in memory, 1 thread",
                t_single,
                single.n_iter_,
                gap(single.coef_),
                None,
            )
        )
        ratios.append(
            f"skgd on dask / skgd in memory (1 thread): {t_skgd / t_single:.2f}"
        )
    return rows, ratios


def memory_row(client, n, d, chunk_rows, alpha, tol):
    """skgd on workers whose memory limit is below the array's size.

    X is not persisted beforehand: the fit computes each block once, on a
    worker, and keeps it there (persisting X as well would make dask count
    every block twice against the limit).
    """
    X, y = make_data(n, d, chunk_rows)
    peaks, done = {}, threading.Event()

    def sample():  # the largest process memory and spilled bytes of each worker
        while not done.wait(1.0):
            for worker, now in client.run(_worker_memory).items():
                peaks[worker] = np.maximum(peaks.get(worker, 0), now)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        est, seconds = timed(lambda: fit_skgd(X, y, alpha, tol))
    finally:
        done.set()
        sampler.join()
    f_star = reference_objective(X, y, est, alpha)
    gap = (objective(X, y, est.coef_, alpha) - f_star) / f_star
    return (
        "skgd GDClassifier, dask array, memory-limited workers",
        seconds,
        est.n_iter_,
        gap,
        None,
    ), peaks


def print_table(rows):
    print("| fit | time (s) | iterations | reads of X | gap (F - F*) / F* |")
    print("|---|---|---|---|---|")
    for name, seconds, n_iter, g, passes in rows:
        cells = [name, f"{seconds:.2f}", n_iter or "-", passes or "-", f"{g:.1e}"]
        print("| " + " | ".join(map(str, cells)) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="200,000 rows, timing rows only"
    )
    parser.add_argument("--n-samples", type=int, default=None)
    parser.add_argument("--n-features", type=int, default=50)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument(
        "--memory-limit", default="600MB", help="per worker, for the memory-limited row"
    )
    parser.add_argument("--alpha", type=float, default=1e-5)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-in-memory", action="store_true")
    parser.add_argument("--skip-memory-limit", action="store_true")
    args = parser.parse_args()
    n = args.n_samples or (200_000 if args.quick else 2_000_000)
    d, alpha = args.n_features, args.alpha
    print(
        f"X: {n} x {d} float64 = {n * d * 8 / 1e6:.0f} MB in blocks of "
        f"{args.chunk_rows} rows; LocalCluster of 2 workers x 1 thread"
    )
    cluster = dict(n_workers=2, threads_per_worker=1, dashboard_address=None)
    if not args.skip_timing:
        with LocalCluster(memory_limit=None, **cluster) as lc, Client(lc) as client:
            rows, ratios = timing_rows(
                client, n, d, args.chunk_rows, alpha, args.tol, not args.skip_in_memory
            )
        print("\nTiming (workers without a memory limit):\n")
        print_table(rows)
        print()
        print("\n".join(ratios))
    if not (args.quick or args.skip_memory_limit):
        with (
            LocalCluster(memory_limit=args.memory_limit, **cluster) as lc,
            Client(lc) as client,
        ):
            row, memory = memory_row(client, n, d, args.chunk_rows, alpha, args.tol)
        print(f"\nWorkers limited to {args.memory_limit} each:\n")
        print_table([row])
        for worker, (rss, spilled) in memory.items():
            print(
                f"worker {worker} during the fit: largest process {rss / 1e6:.0f} MB, "
                f"largest spilled to disk {spilled / 1e6:.0f} MB"
            )


if __name__ == "__main__":
    main()
