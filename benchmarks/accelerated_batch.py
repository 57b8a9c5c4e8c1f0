"""Plain gradient descent vs the accelerated batch solver on an ill-conditioned problem.

Builds standardised, strongly correlated features whose Gram matrix has a
condition number of about ``--cond`` (1e4 by default), and measures, for
GDRidge (exact solution: the normal equations) and GDLasso (exact solution:
sklearn's Lasso at tol=1e-12), how many iterations and how much time each
solver needs to bring the relative coefficient error
``||w - w*||_inf / ||w*||_inf`` below ``--target`` (1e-6):

- plain GD: ``solver='batch', learning_rate='constant', eta0=1/L`` -- the
  textbook (proximal) gradient step with the best constant step, ``L`` the
  largest eigenvalue of the objective's Hessian (features already
  standardised, so raw and standardised coordinates coincide);
- accelerated: ``solver='batch', learning_rate='auto'`` -- FISTA in
  standardised coordinates with adaptive restart.  Without an L1 penalty
  and with few features, the batch solver also whitens dense features
  (``skgd._step_size.WHITENING_MAX_FEATURES``), which removes the
  ill-conditioning altogether; GDRidge is then measured both ways, the
  second row with whitening switched off (diagonal standardisation only) to
  show the acceleration itself.

Theory: plain GD needs O(kappa log(1/eps)) iterations, the accelerated
solver O(sqrt(kappa) log(1/eps)).  Iteration counts are found by fitting
with ``tol=None`` and a given ``max_iter`` (doubling, then bisection for the
accelerated solver; chunks of warm-started fits for plain GD, whose state is
the iterate alone); the time is that of one fit from scratch with exactly
that many iterations.

Run:  python benchmarks/accelerated_batch.py [--cond 1e4] [--n 500] [--d 20]
"""

import argparse
import contextlib
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso

import skgd._step_size
from skgd import GDLasso, GDRidge


@contextlib.contextmanager
def no_whitening():
    """Diagonal standardisation only (no-op where whitening does not exist)."""
    saved = getattr(skgd._step_size, "WHITENING_MAX_FEATURES", None)
    if saved is not None:
        skgd._step_size.WHITENING_MAX_FEATURES = 0
    try:
        yield
    finally:
        if saved is not None:
            skgd._step_size.WHITENING_MAX_FEATURES = saved


def ill_conditioned(n, d, cond, seed=0):
    """Standardised X whose correlation matrix has condition number ~cond."""
    rng = np.random.RandomState(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    spectrum = np.logspace(0, -np.log10(cond), d)
    X = rng.normal(size=(n, d)) @ (np.sqrt(spectrum)[:, None] * Q.T)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    w = rng.normal(size=d) * (rng.uniform(size=d) < 0.6)
    y = X @ w + 1.0 + 0.1 * rng.normal(size=n)
    return X, y


def rel_error(coef, exact):
    return np.max(np.abs(coef - exact)) / np.max(np.abs(exact))


def fit(make, X, y, max_iter, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make(solver="batch", tol=None, max_iter=max_iter, **params).fit(X, y)


def iterations_accelerated(make, X, y, exact, target, limit):
    """Smallest max_iter whose fit is within target (doubling, bisection)."""
    hi = 8
    while rel_error(fit(make, X, y, hi).coef_, exact) > target:
        hi *= 2
        if hi > limit:
            return None
    lo = hi // 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if rel_error(fit(make, X, y, mid).coef_, exact) <= target:
            hi = mid
        else:
            lo = mid
    return hi


def iterations_plain(make, X, y, exact, target, eta0, limit, chunk):
    """Iterations of constant-step GD, in warm-started chunks (its state is
    the iterate alone, so a warm start continues the very same sequence)."""
    est = make(solver="batch", learning_rate="constant", eta0=eta0, tol=None,
               max_iter=chunk, warm_start=True)
    done = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        while done < limit:
            est.fit(X, y)
            done += chunk
            if rel_error(est.coef_, exact) <= target:
                return done
    return None


def timed(make, X, y, max_iter, **params):
    start = time.perf_counter()
    est = fit(make, X, y, max_iter, **params)
    return time.perf_counter() - start, est


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cond", type=float, default=1e4)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--d", type=int, default=20)
    parser.add_argument("--target", type=float, default=1e-6)
    parser.add_argument("--limit", type=int, default=1_000_000)
    args = parser.parse_args()

    X, y = ill_conditioned(args.n, args.d, args.cond)
    n = X.shape[0]
    A = np.c_[X, np.ones(n)]
    hessian = A.T @ A / n  # Hessian of the mean squared-error term (intercept included)
    eig = np.linalg.eigvalsh(hessian)
    print(f"n={n}, d={X.shape[1]}, Hessian of the data term: lambda_max={eig[-1]:.3g}, "
          f"lambda_min={eig[0]:.3g}, condition number {eig[-1] / eig[0]:.3g}")

    # Ridge(alpha) = mean-loss form with l2 = alpha / n; alpha small enough to
    # leave the conditioning ~unchanged.
    alpha_ridge = 1e-3 * eig[0] * n
    Xc = X - X.mean(axis=0)
    w_ridge = np.linalg.solve(Xc.T @ Xc + alpha_ridge * np.eye(X.shape[1]), Xc.T @ (y - y.mean()))
    # Lasso's objective is the mean-loss form: L1 strength alpha; the smooth
    # part has the data term's Hessian.
    alpha_lasso = 1e-3
    w_lasso = Lasso(alpha=alpha_lasso, tol=1e-14, max_iter=10_000_000).fit(X, y).coef_
    cases = [
        ("GDRidge", lambda **p: GDRidge(alpha=alpha_ridge, **p), w_ridge,
         eig[-1] + alpha_ridge / n),
        ("GDLasso", lambda **p: GDLasso(alpha=alpha_lasso, **p), w_lasso, eig[-1]),
    ]
    print(f"target: relative coefficient error {args.target:g} vs the exact solution")
    print(f"{'model':8s} {'solver':28s} {'iterations':>10s} {'time [s]':>9s} {'error':>9s}")
    for name, make, exact, L in cases:
        k_acc = iterations_accelerated(make, X, y, exact, args.target, args.limit)
        t_acc, est = timed(make, X, y, k_acc)
        print(f"{name:8s} {'accelerated (auto)':28s} {k_acc:>10d} {t_acc:>9.3f} "
              f"{rel_error(est.coef_, exact):>9.2e}")
        if name == "GDRidge" and hasattr(skgd._step_size, "WHITENING_MAX_FEATURES"):
            with no_whitening():
                k_acc = iterations_accelerated(make, X, y, exact, args.target, args.limit)
                t_acc, est = timed(make, X, y, k_acc)
            print(f"{name:8s} {'accelerated, no whitening':28s} {k_acc:>10d} {t_acc:>9.3f} "
                  f"{rel_error(est.coef_, exact):>9.2e}")
        chunk = max(10, int(np.sqrt(eig[-1] / eig[0])))
        k_plain = iterations_plain(make, X, y, exact, args.target, 1.0 / L, args.limit, chunk)
        if k_plain is None:
            print(f"{name:8s} {'plain GD (constant, 1/L)':28s} {'>' + str(args.limit):>10s}")
            continue
        t_plain, est = timed(make, X, y, k_plain, learning_rate="constant", eta0=1.0 / L)
        print(f"{name:8s} {'plain GD (constant, 1/L)':28s} {k_plain:>10d} {t_plain:>9.3f} "
              f"{rel_error(est.coef_, exact):>9.2e}")
        print(f"{name:8s} ratio plain / accelerated (FISTA): {k_plain / k_acc:.1f}x iterations, "
              f"{t_plain / t_acc:.1f}x time (sqrt(kappa) = {np.sqrt(eig[-1] / eig[0]):.0f})")


if __name__ == "__main__":
    main()
