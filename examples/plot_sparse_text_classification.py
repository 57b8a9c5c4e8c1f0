"""
============================================
Sparse, text-like data: topic classification
============================================

Text classification is where stochastic gradient descent shines: many
features (one per word), few non-zeros per row, and a model that is good
long before the optimiser has converged. skgd's kernels work on the CSR
matrix directly; an update touches only the non-zeros of its rows (the L2
penalty is applied as a lazy scale of the coefficients, so it too costs
nothing per zero).

The corpus is generated here (no download): documents of four "topics",
each a bag of words drawn from a Zipf-distributed background vocabulary plus
a topic-specific one, turned into TF-IDF features by scikit-learn's
``TfidfVectorizer``.
"""

# %%
# A synthetic corpus
# ------------------
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import train_test_split

from skgd import GDClassifier, LossCurveDisplay

rng = np.random.RandomState(0)
n_docs, vocabulary, topics = 4000, 5000, ["sport", "science", "politics", "arts"]
zipf = 1.0 / np.arange(1, vocabulary + 1)
background = zipf / zipf.sum()
# each topic favours its own (shuffled) ranking of the vocabulary
topic_words = [rng.permutation(vocabulary) for _ in topics]


def document(topic):
    n_words = rng.poisson(60) + 5
    from_topic = rng.rand(n_words) < 0.15
    words = rng.choice(vocabulary, size=n_words, p=background)
    ranks = rng.choice(vocabulary, size=from_topic.sum(), p=background)
    words[from_topic] = topic_words[topic][ranks]
    return " ".join(f"w{w}" for w in words)


labels = rng.randint(len(topics), size=n_docs)
corpus = [document(t) for t in labels]
y = np.array(topics)[labels]
X = TfidfVectorizer().fit_transform(corpus)
print(
    f"{X.shape[0]} documents, {X.shape[1]} features, "
    f"{X.nnz / X.shape[0]:.0f} non-zeros per row ({X.nnz / np.prod(X.shape):.2%} dense)"
)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

# %%
# skgd's three solvers, scikit-learn's SGD and the exact optimum
# --------------------------------------------------------------
# All minimise the mean log-loss plus ``alpha/2 ||W||^2`` (multinomial for
# GDClassifier and LogisticRegression, whose ``C = 1 / (alpha n)``; one-vs-rest
# for SGDClassifier).
alpha = 1e-4
n = X_train.shape[0]
models = {
    "GDClassifier(solver='sgd')": GDClassifier(
        solver="sgd", alpha=alpha, random_state=0
    ),
    "GDClassifier(solver='minibatch')": GDClassifier(
        solver="minibatch", alpha=alpha, random_state=0
    ),
    "GDClassifier(solver='batch')": GDClassifier(solver="batch", alpha=alpha),
    "SGDClassifier(loss='log_loss')": SGDClassifier(
        loss="log_loss", alpha=alpha, random_state=0
    ),
    "LogisticRegression (exact)": LogisticRegression(C=1 / (alpha * n), max_iter=1000),
}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    epochs = np.ravel(model.n_iter_).max()
    print(
        f"{name:>33}: test accuracy {model.score(X_test, y_test):.3f}, "
        f"{epochs:4d} epochs/iterations, {elapsed:.2f} s"
    )

# %%
# All reach the same test accuracy. Whether the optimiser has converged
# matters little here: the mini-batch solver runs its ``max_iter`` epochs
# without meeting the default ``tol`` (hence the warning above its line) and
# predicts as well as the exact solution.
#
# Loss curves on sparse input
# ---------------------------
# Sparse input is neither centred nor rescaled (centring would make it
# dense): the automatic step comes from the smoothness of the data alone.
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
for name, model in models.items():
    if name.startswith("GDClassifier"):
        LossCurveDisplay.from_estimator(model, ax=ax, name=name)
ax.set_title("TF-IDF topics: objective per epoch")
plt.show()

# %%
# The words that point to each topic
# ----------------------------------
# The largest coefficients of the multinomial model are the topic's own
# frequent words (their ranks in ``topic_words``).
model = models["GDClassifier(solver='sgd')"]
vectorizer_vocab = TfidfVectorizer().fit(corpus).get_feature_names_out()
fig, axes = plt.subplots(
    1, len(topics), figsize=(12, 3), sharex=True, layout="constrained"
)
for ax, k, topic in zip(axes, range(len(topics)), model.classes_):
    top = np.argsort(model.coef_[k])[-8:]
    ax.barh(vectorizer_vocab[top], model.coef_[k, top], color=f"C{k}")
    ax.set_title(topic)
fig.suptitle("Largest coefficients per topic")
plt.show()
