"""
=======================================
Export a model to ONNX for onnxruntime
=======================================

A pipeline ending in an skgd estimator is exported to ONNX with skl2onnx
once :func:`skgd.onnx.register` has told skl2onnx how to convert skgd's
estimators. onnxruntime then predicts without Python or scikit-learn -- the
same labels, and the same probabilities up to the rounding of the graph's
float type. The figure shows how far apart they are in a float32 and a
float64 graph, and what one call costs in onnxruntime and in
``predict_proba`` for batches of one to a thousand rows. (Needs
``pip install "skgd[onnx]"``.)
"""

# %%
# Fit a pipeline: scaling, then the multinomial logistic regression of
# :class:`~skgd.GDClassifier` on the 64 pixels of the digits.
import time

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime as ort
import skl2onnx
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skgd.onnx
from skgd import GDClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
model = make_pipeline(StandardScaler(), GDClassifier(alpha=1e-3, random_state=0))
model.fit(X_train, y_train)
print(f"test accuracy {model.score(X_test, y_test):.3f}")

# %%
# Register the converters, then convert: the type of the sample input sets
# the float type of the graph. ``zipmap=False`` returns the probabilities
# as one array (ONNX's ZipMap, the default, takes float32 only).
skgd.onnx.register()
sessions = {}
for dtype in (np.float32, np.float64):
    onx = skl2onnx.to_onnx(
        model, X_train[:1].astype(dtype), options={GDClassifier: {"zipmap": False}}
    )
    sessions[dtype] = ort.InferenceSession(onx.SerializeToString())
    print(f"{np.dtype(dtype).name} graph: {len(onx.SerializeToString())} bytes, "
          f"operators {[node.op_type for node in onx.graph.node]}")

# %%
# Predict with onnxruntime and compare with the pipeline's own predictions.
differences = {}
for dtype, session in sessions.items():
    labels, proba = session.run(None, {"X": X_test.astype(dtype)})
    differences[dtype] = np.abs(proba - model.predict_proba(X_test)).ravel()
    print(f"{np.dtype(dtype).name} graph: labels equal "
          f"{np.array_equal(labels, model.predict(X_test))}, largest probability "
          f"difference {differences[dtype].max():.2g}")

# %%
# One call of each, timed for batches of 1 to 1000 rows (the median of
# repeated calls; on a busy machine the numbers move, the gap less so).
def median_time(predict, X_batch, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        predict(X_batch)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


sizes = [1, 10, 100, 1000]
X_many = np.resize(X_test, (1000, X_test.shape[1]))
session = sessions[np.float32]
timings = {"skgd predict_proba": [], "onnxruntime, float32 graph": []}
for size in sizes:
    batch = X_many[:size]
    batch32 = batch.astype(np.float32)
    timings["skgd predict_proba"].append(median_time(model.predict_proba, batch, 50))
    timings["onnxruntime, float32 graph"].append(
        median_time(lambda b: session.run(None, {"X": b}), batch32, 50)
    )
for name, values in timings.items():
    print(name, ", ".join(f"{size} rows {t * 1e6:.0f} us" for size, t in
                          zip(sizes, values)))

# %%
# Left: the differences are rounding -- about the float32 epsilon (1.2e-7)
# in the float32 graph, the float64 epsilon (2.2e-16) in the float64 graph.
# Right: onnxruntime skips the checks of scikit-learn's input validation,
# which dominate the time of a small batch.
fig, (ax_diff, ax_time) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
bins = np.logspace(-19, -5, 57)
for dtype, diff in differences.items():
    ax_diff.hist(np.maximum(diff, 1e-19), bins=bins, alpha=0.6,
                 label=f"{np.dtype(dtype).name} graph")
ax_diff.set_xscale("log")
ax_diff.set_xlabel("|probability onnxruntime - probability skgd|")
ax_diff.set_ylabel("count (zeros at 1e-19)")
ax_diff.set_title("Differences of the test probabilities")
ax_diff.legend()
for name, values in timings.items():
    ax_time.loglog(sizes, np.array(values) * 1e6, "o-", label=name)
ax_time.set_xlabel("rows per call")
ax_time.set_ylabel("time of one call (us)")
ax_time.set_title("One call, median of 50")
ax_time.legend()
plt.show()
