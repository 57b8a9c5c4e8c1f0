"""
==============================================
Tuning a Pipeline with GridSearchCV
==============================================

skgd estimators are scikit-learn estimators: they go into a ``Pipeline``,
are cloned and pickled by ``GridSearchCV`` (here in two worker processes),
and their parameters are set with the usual ``step__parameter`` names. This
example tunes the solver, the penalty strength and the learning-rate
schedule of a ``GDClassifier`` on the breast-cancer data.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier

# The slowly decaying 'invscaling' schedule does not meet the stopping rule
# within max_iter=200 epochs; its models are still scored, and compared.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

pipe = Pipeline(
    [
        ("scale", StandardScaler()),
        ("clf", GDClassifier(eta0=0.01, max_iter=200, random_state=0)),
    ]
)
grid = {
    "clf__solver": ["batch", "sgd", "minibatch"],
    "clf__alpha": [1e-4, 1e-2, 1.0],
    "clf__learning_rate": ["auto", "invscaling"],
}
search = GridSearchCV(
    pipe, grid, cv=StratifiedKFold(3, shuffle=True, random_state=0), n_jobs=2
)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(
    f"cross-validated accuracy {search.best_score_:.3f}, "
    f"test accuracy {search.score(X_test, y_test):.3f}"
)

# %%
# The whole grid
# --------------
# One row per solver and schedule, one column per ``alpha``. Strong
# penalties underfit whatever the solver; with ``learning_rate='auto'`` the
# three solvers agree, as they minimise the same objective.
results = search.cv_results_
rows = [(s, lr) for s in grid["clf__solver"] for lr in grid["clf__learning_rate"]]
scores = np.empty((len(rows), len(grid["clf__alpha"])))
for i, (solver, lr) in enumerate(rows):
    for j, alpha in enumerate(grid["clf__alpha"]):
        mask = (
            (results["param_clf__solver"] == solver)
            & (results["param_clf__learning_rate"] == lr)
            & (results["param_clf__alpha"] == alpha)
        )
        scores[i, j] = results["mean_test_score"][mask][0]

fig, ax = plt.subplots(figsize=(6.5, 4.5), layout="constrained")
image = ax.imshow(scores, cmap="viridis", aspect="auto")
ax.set_xticks(range(len(grid["clf__alpha"])), [f"{a:g}" for a in grid["clf__alpha"]])
ax.set_yticks(range(len(rows)), [f"{s}, {lr}" for s, lr in rows])
ax.set_xlabel("alpha")
for i in range(scores.shape[0]):
    for j in range(scores.shape[1]):
        ax.text(j, i, f"{scores[i, j]:.3f}", ha="center", va="center", color="w")
fig.colorbar(image, label="mean CV accuracy")
ax.set_title("GridSearchCV over solver, learning_rate and alpha")
plt.show()

# %%
# The refitted best pipeline is an ordinary fitted Pipeline; its last step
# carries the loss curve of the final fit.
best = search.best_estimator_[-1]
print(
    f"{best.solver_} solver, {best.n_iter_} epochs, "
    f"final objective {best.loss_curve_[-1]:.4f}"
)
