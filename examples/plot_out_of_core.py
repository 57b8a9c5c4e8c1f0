"""
=====================================
Out-of-core training with partial_fit
=====================================

When the data do not fit in memory, read them in chunks and call
``partial_fit`` on each: one epoch over the chunk, keeping all of the
optimiser's state (step schedule, momentum, averages) between calls. Here the
"large" data set is a memory-mapped file on disk, read 10,000 rows at a
time -- the same pattern works for rows streamed from a database or from
files.

``classes`` must be given on the first call (a chunk may miss a class), and
may be given on every call, which is what wrappers such as dask-ml's
``Incremental`` do.
"""

# %%
# A data set on disk
# ------------------
import os
import shutil
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import SGDClassifier

from skgd import GDClassifier, LossCurveDisplay

n_samples, n_features, chunk = 120_000, 40, 10_000
X_all, y_all = make_classification(
    n_samples=n_samples + 10_000,
    n_features=n_features,
    n_informative=20,
    n_classes=3,
    class_sep=0.8,
    random_state=0,
)
X_test, y_test = X_all[n_samples:], y_all[n_samples:]

folder = tempfile.mkdtemp()
X_disk = np.memmap(
    os.path.join(folder, "X.dat"),
    dtype=np.float32,
    mode="w+",
    shape=(n_samples, n_features),
)
X_disk[:] = X_all[:n_samples]
X_disk.flush()
y_disk = y_all[:n_samples]
del X_all
print(f"{X_disk.nbytes / 1e6:.1f} MB on disk, read in chunks of {chunk} rows")


def chunks():
    """The rows of the file, one chunk at a time (read only when asked)."""
    for start in range(0, n_samples, chunk):
        yield np.asarray(X_disk[start : start + chunk]), y_disk[start : start + chunk]


# %%
# Two passes over the file
# ------------------------
# ``GDClassifier.partial_fit`` runs the mini-batch solver; float32 input stays
# float32. After each chunk, the test accuracy is recorded.
classes = np.unique(y_disk)
models = {
    "GDClassifier": GDClassifier(random_state=0),
    "SGDClassifier": SGDClassifier(loss="log_loss", random_state=0),
}
history = {name: [] for name in models}
for epoch in range(2):
    for X_chunk, y_chunk in chunks():
        for name, model in models.items():
            model.partial_fit(X_chunk, y_chunk, classes=classes)
            history[name].append(model.score(X_test, y_test))

gd = models["GDClassifier"]
print(
    f"GDClassifier: solver {gd.solver_!r}, {gd.n_iter_} partial_fit calls, "
    f"{gd.t_} updates, coef_ dtype {gd.coef_.dtype}"
)

# %%
# Compared with a fit on all rows in memory
# -----------------------------------------
# scikit-learn's ``SGDClassifier.partial_fit`` runs its default 'optimal'
# schedule, one-vs-rest, on the same chunks; skgd's 'auto' steps come from
# running statistics of the recent rows, updated by every chunk (shuffle data
# that arrive sorted all the same: a chunk of one class pulls the model
# towards it).
full = GDClassifier(solver="batch").fit(np.asarray(X_disk), y_disk)
seen = np.arange(1, len(history["GDClassifier"]) + 1) * chunk
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for name, scores in history.items():
    ax.plot(seen, scores, marker=".", label=f"{name}.partial_fit")
ax.axhline(
    full.score(X_test, y_test),
    color="0.3",
    linestyle=":",
    label="GDClassifier(solver='batch').fit on all rows",
)
ax.axvline(n_samples, color="0.7", linewidth=1)
ax.set_xlabel("rows seen")
ax.set_ylabel("test accuracy")
ax.set_title("Streaming the file twice, 10,000 rows per partial_fit")
ax.legend(loc="center right")
plt.show()

# %%
# The loss curve of a partial_fit run has one point per call: the mean loss
# met on that chunk plus the penalty.
disp = LossCurveDisplay.from_estimator(gd, marker=".")
disp.ax_.set_xlabel("partial_fit call (one epoch over a chunk)")
plt.show()


shutil.rmtree(folder)
