"""
================================================
Early stopping and the validation curve
================================================

With ``early_stopping=True`` an estimator holds out ``validation_fraction``
of the training rows (stratified for classifiers), scores the model on them
after every epoch, and stops when ``n_iter_no_change`` epochs in a row do not
improve the best score by ``tol`` -- scikit-learn's rule. The scores are kept
in ``validation_scores_``, and ``LossCurveDisplay`` draws them on a second
axis beside the training objective.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skgd import GDClassifier, LossCurveDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

clf = GDClassifier(
    solver="sgd",
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=10,
    random_state=0,
).fit(X_train, y_train)
print(
    f"stopped after {clf.n_iter_} epochs; best validation accuracy "
    f"{clf.best_validation_score_:.3f}, test accuracy {clf.score(X_test, y_test):.3f}"
)

# %%
# The objective keeps falling while the held-out accuracy has levelled off:
# further epochs fit the training rows better without predicting new ones
# better.
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
LossCurveDisplay.from_estimator(clf, ax=ax)
ax.set_title("Training objective (left) and validation accuracy (right)")
plt.show()
