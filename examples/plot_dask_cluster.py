"""
=====================================
Training on a dask cluster
=====================================

``fit`` on a dask array runs skgd's batch solver where the data live: every
iteration is one compiled pass over each block of rows, on the worker that
holds the block, and the client only adds up the partial gradients (in block
order, so the model does not depend on the number of workers). Here a
``LocalCluster`` of two workers generates the data itself; the fitted model
is compared with the in-memory fit of the same rows, and the predictions
stay lazy dask arrays until asked for.

The workers here are threads of this process (``processes=False``) so that
the example runs anywhere; on a real cluster they are processes or machines
and the code is the same (see :ref:`cluster`).
"""

# %%
# A cluster and data generated on it
# ----------------------------------
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from distributed import Client, LocalCluster

from skgd import GDClassifier

cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
)
client = Client(cluster)

n_samples, n_features, n_classes = 40_000, 20, 3
rng = da.random.default_rng(0)
X = rng.standard_normal((n_samples, n_features), chunks=(10_000, -1))
true_coef = np.random.default_rng(1).normal(size=(n_features, n_classes))
scores = X @ true_coef + rng.gumbel(size=(n_samples, n_classes), chunks=(10_000, -1))
y = scores.argmax(axis=1)  # labels drawn from a multinomial logit model
print(f"X: {X.shape}, {X.numblocks[0]} blocks of rows, nothing computed yet")

# %%
# Fit on the cluster
# ------------------
# ``solver='auto'`` means the batch solver on a dask array. With three
# classes and ``log_loss`` the model is multinomial.
clf = GDClassifier(alpha=1e-3, tol=1e-6).fit(X, y)
print(f"solver: {clf.solver_}, iterations: {clf.n_iter_}, classes: {clf.classes_}")

# %%
# The in-memory model, to rounding
# --------------------------------
# The same rows gathered into this process give the same model: the solver,
# its statistics and its iterations are those of the in-memory fit, only the
# sums are added block by block.
X_np, y_np = X.compute(), y.compute()
in_memory = GDClassifier(alpha=1e-3, tol=1e-6, solver="batch").fit(X_np, y_np)
difference = np.max(np.abs(clf.coef_ - in_memory.coef_)) / np.max(
    np.abs(in_memory.coef_)
)
print(
    f"iterations: {clf.n_iter_} on dask, {in_memory.n_iter_} in memory; "
    f"largest relative difference of the coefficients: {difference:.1e}"
)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(
    np.array(clf.loss_curve_) - min(in_memory.loss_curve_) + 1e-16,
    "o-",
    label="dask array, 2 workers",
)
ax.semilogy(
    np.array(in_memory.loss_curve_) - min(in_memory.loss_curve_) + 1e-16,
    "x--",
    label="numpy array, in memory",
)
ax.set_xlabel("iteration (one pass over the data)")
ax.set_ylabel("objective - final objective")
ax.set_title("The same iterations on the cluster and in memory")
ax.legend()
fig.tight_layout()

# %%
# Lazy, block-wise prediction
# ---------------------------
# ``predict_proba`` returns a dask array with the row blocks of X; nothing
# runs until ``compute``. ``score`` sums the correct predictions block by
# block.
proba = clf.predict_proba(X)
print(proba)
print("first rows:\n", np.round(proba[:3].compute(), 3))
print(f"accuracy: {clf.score(X, y):.4f}")

client.close()
cluster.close()
