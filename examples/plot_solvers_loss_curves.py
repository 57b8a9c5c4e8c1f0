"""
=====================================================
Batch, stochastic and mini-batch: three loss curves
=====================================================

The same objective -- multinomial logistic regression on the digits data,
``GDClassifier``'s default -- minimised by the three solvers. The loss curve
(``loss_curve_``, the objective after each epoch) shows what each solver buys
with a pass over the data:

* ``'batch'`` takes one exact, accelerated step per pass and keeps
  descending towards the optimum;
* ``'sgd'`` takes one step per sample: the biggest drop in the first epochs,
  then a plateau set by the noise of single-sample gradients and the
  decaying step;
* ``'minibatch'`` (64 rows per step) sits in between.

The dotted line is the optimum, computed by scikit-learn's
``LogisticRegression`` with the equivalent ``C = 1 / (alpha n)``.
"""

# %%
# Fit the three solvers
# ---------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, LossCurveDisplay

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)
alpha = 1e-4

models = {}
for solver in ("batch", "sgd", "minibatch"):
    start = time.perf_counter()
    models[solver] = GDClassifier(solver=solver, alpha=alpha, random_state=0).fit(X, y)
    print(
        f"{solver:>9}: {models[solver].n_iter_:4d} epochs, "
        f"{time.perf_counter() - start:.2f} s, "
        f"final objective {models[solver].loss_curve_[-1]:.4f}"
    )

# %%
# With the default ``tol=1e-4`` the stochastic solvers may warn that they
# reached ``max_iter=1000`` epochs: their objective is still falling by more
# than ``tol`` (relative) per epoch -- slowly, because their step decays as
# ``1 / sqrt(epoch)`` to tame the noise of sampled gradients. The batch
# solver, with exact gradients, meets its optimality test long before.
#
# The exact optimum of the same objective
# ---------------------------------------
# GDClassifier minimises ``(1/n) sum log-loss + alpha/2 ||W||^2``;
# LogisticRegression minimises ``C sum log-loss + 1/2 ||W||^2``: divided by
# ``C n`` the two agree for ``C = 1 / (alpha n)``.
exact = LogisticRegression(C=1 / (alpha * len(y)), tol=1e-10, max_iter=5000).fit(X, y)
optimum = log_loss(y, exact.predict_proba(X)) + alpha / 2 * np.sum(exact.coef_**2)
print(f"optimum: {optimum:.4f}")

# %%
# Plot the loss curves
# --------------------
# ``LossCurveDisplay.from_estimator`` draws one curve; passing the same
# ``ax`` puts the three on one figure. For the stochastic solvers the
# objective of an epoch is the running mean of the losses met during the
# epoch (free to compute, as in scikit-learn), plus the penalty.
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for solver, model in models.items():
    LossCurveDisplay.from_estimator(model, ax=ax, name=solver)
ax.axhline(optimum, color="0.3", linestyle=":", label="optimum (LogisticRegression)")
ax.legend()
ax.set_title("GDClassifier on digits: objective per epoch")
plt.show()

# %%
# The same curves against the distance to the optimum make the rates
# visible: the batch solver's gap keeps falling by orders of magnitude until
# its stopping rule fires, while the stochastic solvers' gap flattens out
# (their curves are running estimates over each epoch, a little above the
# objective of the final coefficients).
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for solver, model in models.items():
    gap = np.asarray(model.loss_curve_) - optimum
    ax.semilogy(np.arange(1, gap.size + 1), gap, label=solver)
ax.set_xlabel("Epoch")
ax.set_ylabel("Objective - optimum")
ax.legend()
plt.show()
