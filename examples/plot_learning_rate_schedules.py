"""
====================================
Learning-rate schedules compared
====================================

Stochastic gradient descent moves the coefficients by ``eta_t`` times the
gradient of one sample's loss. How ``eta_t`` is chosen decides whether the fit
converges, how fast, and how close to the optimum it settles. This example
runs ``GDRegressor(solver='sgd')`` on the diabetes data with every schedule:

* ``'constant'``: ``eta_t = eta0``;
* ``'invscaling'``: ``eta_t = eta0 / (t + 1) ** power_t``;
* ``'optimal'``: ``eta_t = 1 / (alpha (t0 + t))`` (scikit-learn's rule,
  designed for classification losses);
* ``'adaptive'``: ``eta0``, divided by 5 each time the stopping rule sees no
  progress;
* ``'auto'`` (the default): the step ``1 / (L sqrt(epoch))`` from the
  smoothness constant ``L`` of the data, taken in standardised coordinates.

Then it multiplies the features by scales from ``1e-3`` to ``1e4`` -- the
same problem, badly scaled -- and runs them again.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from skgd import GDRegressor, LossCurveDisplay

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)
alpha = 1e-3

SCHEDULES = {
    "auto": {},
    "constant": {"eta0": 0.01},
    "invscaling": {"eta0": 0.05, "power_t": 0.25},
    "optimal": {},
    # 'adaptive' divides the step when the stopping rule fires: it needs tol
    "adaptive": {"eta0": 0.05, "tol": 1e-3, "n_iter_no_change": 2},
}


def fit_all(X, y):
    """Fit every schedule for 40 epochs; a diverging fit raises ValueError."""
    fits = {}
    for name, params in SCHEDULES.items():
        params = {"tol": None, **params}
        reg = GDRegressor(
            solver="sgd",
            learning_rate=name,
            alpha=alpha,
            max_iter=40,
            random_state=0,
            **params,
        )
        try:
            fits[name] = reg.fit(X, y)
        except ValueError as exc:
            print(f"{name:>10}: {exc}")
    return fits


def objective(model, X, y):
    """GDRegressor's objective: (1/n) sum (y - p)^2 / 2 + alpha/2 ||w||^2."""
    return (
        0.5 * np.mean((y - model.predict(X)) ** 2)
        + alpha / 2 * model.coef_ @ model.coef_
    )


def optimum(X, y):
    # Ridge minimises sum (y - p)^2 + alpha' ||w||^2: divided by 2n, this is
    # GDRegressor's objective for alpha' = alpha * n.
    return objective(Ridge(alpha=alpha * len(y)).fit(X, y), X, y)


# %%
# Standardised features
# ---------------------
fits = fit_all(X, y)
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for name, reg in fits.items():
    LossCurveDisplay.from_estimator(reg, ax=ax, name=name)
ax.axhline(optimum(X, y), color="0.3", linestyle=":", label="optimum (Ridge)")
ax.legend()
ax.set_title("SGD on standardised features")
plt.show()

# %%
# ``'optimal'`` starts with a step of ``1 / (alpha t0)`` (about 5.6 here), far
# too large for the squared error: it diverges in the first epoch, and skgd
# stops it with the error printed above the figure. A constant step stalls
# at a level proportional to the step (the gradient noise of single samples
# does not vanish at the optimum), which is why convergent schedules decay.
#
# Badly scaled features
# ---------------------
# The explicit schedules run the textbook update on the features as given:
# a feature a thousand times larger gets a gradient a thousand times larger,
# and a step that suits one feature is unstable for another. skgd stops a
# diverging fit with an error that names the epoch and the remedy (shown
# above the figure). ``'auto'`` takes its steps in standardised coordinates
# -- the same objective, only written in other variables -- and converges.
# (The problem itself has changed: the L2 penalty of a coefficient depends on
# its feature's scale, so the optimum is another one.)
scales = np.logspace(-3, 4, X.shape[1])
X_bad = X * scales
fits_bad = fit_all(X_bad, y)
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for name, reg in fits_bad.items():
    LossCurveDisplay.from_estimator(reg, ax=ax, name=name)
ax.axhline(optimum(X_bad, y), color="0.3", linestyle=":", label="optimum (Ridge)")
ax.legend()
ax.set_title("SGD on features scaled by 1e-3 ... 1e4")
plt.show()

# %%
# How close each surviving fit came to the optimum of its problem: the
# objective at the final coefficients, relative to the optimum (the L2
# penalty is not invariant to the feature scales, so the two problems have
# different optima). The loss curves of the stochastic solvers are running
# means over each epoch, so they sit a little above these values.
for title, data, results in (
    ("standardised", X, fits),
    ("badly scaled", X_bad, fits_bad),
):
    best = optimum(data, y)
    for name, reg in results.items():
        value = objective(reg, data, y)
        print(
            f"{title:>13} {name:>10}: {reg.n_iter_:2d} epochs, objective "
            f"{value:8.2f}, relative gap {(value - best) / best:.1e}"
        )
