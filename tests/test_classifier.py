"""GDClassifier against exact solutions, binary fits, formats, labels and the API."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from reference import reference_epoch
from sklearn.datasets import load_breast_cancer, load_iris, load_wine, make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from skgd import GDClassifier

MARGIN_LOSSES = ["hinge", "squared_hinge", "modified_huber", "perceptron"]


def blobs(n=300, K=3, d=5, seed=0):
    X, y = make_blobs(n_samples=n, centers=K, n_features=d, cluster_std=3.0,
                      random_state=seed)
    return X, y


def centred(b):
    """Intercepts of a multinomial model up to the constant shift they allow."""
    return b - b.mean()


# ---- exact solutions --------------------------------------------------------------
@pytest.mark.parametrize("C", [0.1, 10.0])
def test_multinomial_l2_batch_equals_logistic_regression(C):
    # Unscaled wine (feature scales from 0.1 to 1000): the default
    # learning_rate='auto' preconditions, no StandardScaler needed.
    X, y = load_wine(return_X_y=True)
    sw = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    # LogisticRegression(C) minimises C sum_i s_i L_i + ||W||^2 / 2; divided by
    # C sum(s) this is GDClassifier's mean loss + alpha ||W||^2 / 2 with
    # alpha = 1 / (C * sum(s)) (= 1 / (C * n) for unit weights).
    alpha = 1.0 / (C * sw.sum())
    lr = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    lr.fit(X, y, sample_weight=sw)
    clf = GDClassifier(alpha=alpha, solver="batch", tol=1e-10, max_iter=50000)
    clf.fit(X, y, sample_weight=sw)
    assert clf.coef_.shape == (3, X.shape[1]) and clf.intercept_.shape == (3,)
    # The penalty makes W identifiable (its columns sum to zero at the
    # optimum); the unpenalised intercepts are defined up to a common shift,
    # which LogisticRegression 1.9 removes by centring them.
    scale = np.abs(lr.coef_).max()
    np.testing.assert_allclose(clf.coef_, lr.coef_, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(centred(clf.intercept_), centred(lr.intercept_),
                               rtol=1e-4, atol=1e-4 * np.abs(lr.intercept_).max())
    np.testing.assert_allclose(clf.predict_proba(X), lr.predict_proba(X), rtol=1e-4,
                               atol=1e-7)
    np.testing.assert_allclose(clf.predict_log_proba(X), lr.predict_log_proba(X),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("C", [0.1, 10.0])
def test_binary_l2_batch_equals_logistic_regression(C):
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    sw = np.random.RandomState(1).uniform(0.5, 2.0, size=len(y))
    # alpha = 1 / (C * sum(s)), as in the multinomial test
    alpha = 1.0 / (C * sw.sum())
    lr = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    lr.fit(X, y, sample_weight=sw)
    clf = GDClassifier(alpha=alpha, solver="batch", tol=1e-10, max_iter=50000)
    clf.fit(X, y, sample_weight=sw)
    assert clf.coef_.shape == (1, X.shape[1]) and clf.intercept_.shape == (1,)
    scale = np.abs(lr.coef_).max()
    np.testing.assert_allclose(clf.coef_, lr.coef_, rtol=1e-4, atol=1e-4 * scale)
    np.testing.assert_allclose(clf.intercept_, lr.intercept_, rtol=1e-4)
    np.testing.assert_allclose(clf.predict_proba(X), lr.predict_proba(X), rtol=1e-4,
                               atol=1e-7)
    np.testing.assert_allclose(clf.decision_function(X), lr.decision_function(X),
                               rtol=1e-4, atol=1e-4)


# ---- one-vs-rest: all classes in one pass == one binary fit per class --------------------
@pytest.mark.parametrize("loss, learning_rate", [
    ("hinge", "auto"), ("perceptron", "auto"),  # subgradient steps 1 / (L sqrt(t))
    *[(loss, "constant") for loss in MARGIN_LOSSES],
])
def test_ovr_batch_equals_binary_fits(loss, learning_rate):
    X, y = blobs()
    params = dict(loss=loss, solver="batch", alpha=1e-3, learning_rate=learning_rate,
                  eta0=0.01, tol=None, max_iter=60)
    ovr = GDClassifier(**params).fit(X, y)
    assert ovr.coef_.shape == (3, X.shape[1])
    for k, label in enumerate(ovr.classes_):
        binary = GDClassifier(**params).fit(X, y == label)
        np.testing.assert_allclose(ovr.coef_[k], binary.coef_[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ovr.intercept_[k], binary.intercept_[0], rtol=1e-10,
                                   atol=1e-12)


@pytest.mark.parametrize("loss", ["squared_hinge", "modified_huber"])
def test_ovr_accelerated_batch_reaches_the_binary_optima(loss):
    # On the smooth losses the accelerated solver's restarts look at the
    # objective summed over the classes, so the iterates of the joint fit are
    # not those of the binary fits; the optimum is the same.
    X, y = blobs()
    params = dict(loss=loss, solver="batch", alpha=1e-2, tol=1e-10, max_iter=20000)
    ovr = GDClassifier(**params).fit(X, y)
    for k, label in enumerate(ovr.classes_):
        binary = GDClassifier(**params).fit(X, y == label)
        np.testing.assert_allclose(ovr.coef_[k], binary.coef_[0], rtol=1e-6)
        np.testing.assert_allclose(ovr.intercept_[k], binary.intercept_[0], rtol=1e-6)


@pytest.mark.parametrize("learning_rate", ["auto", "invscaling"])
@pytest.mark.parametrize("solver", ["sgd", "minibatch"])
def test_ovr_stochastic_equals_binary_fits_in_the_same_order(solver, learning_rate):
    X, y = blobs()
    params = dict(loss="hinge", solver=solver, alpha=1e-3, learning_rate=learning_rate,
                  eta0=0.01, shuffle=False, tol=None, max_iter=4, batch_size=16)
    ovr = GDClassifier(**params).fit(X, y)
    for k, label in enumerate(ovr.classes_):
        binary = GDClassifier(**params).fit(X, y == label)
        np.testing.assert_allclose(ovr.coef_[k], binary.coef_[0], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ovr.intercept_[k], binary.intercept_[0], rtol=1e-10,
                                   atol=1e-12)


# ---- the estimator's epoch is the numpy reference epoch ------------------------------
@pytest.mark.parametrize("loss, n_classes, engine_loss", [
    ("log_loss", 3, "multinomial"),
    ("log_loss", 2, "log_loss"),
    ("hinge", 3, "hinge"),
    ("modified_huber", 4, "modified_huber"),
])
def test_one_sgd_epoch_replays_reference(loss, n_classes, engine_loss):
    X, y = blobs(n=60, K=n_classes)
    sw = np.random.RandomState(2).uniform(0.5, 2.0, size=len(y))
    alpha, eta0 = 0.01, 0.005
    clf = GDClassifier(loss=loss, solver="sgd", alpha=alpha, learning_rate="constant",
                       eta0=eta0, shuffle=False, max_iter=1, tol=None)
    clf.fit(X, y, sample_weight=sw)
    # the targets the engine must receive for these labels
    if n_classes == 2:
        Y = np.where(y == 1, 1.0, -1.0)[:, None]
    else:
        one_hot = np.eye(n_classes)[y]
        Y = one_hot if loss == "log_loss" else 2 * one_hot - 1
    K = Y.shape[1]
    W, b, _, _ = reference_epoch(
        X, Y, sw, np.arange(len(y)), np.zeros((K, X.shape[1])), np.zeros(K),
        loss=engine_loss, epsilon=0.0, batch_size=1, fit_intercept=True,
        l1=0.0, l2=alpha, etas=[eta0] * len(y),
    )
    np.testing.assert_allclose(clf.coef_, W, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(clf.intercept_, b, rtol=1e-10, atol=1e-13)


# ---- formats and dtypes -------------------------------------------------------------
@pytest.mark.parametrize("solver", ["batch", "sgd", "minibatch"])
@pytest.mark.parametrize("loss", ["log_loss", "hinge"])
@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_dense_equals_csr(solver, loss, penalty):
    X, y = blobs(n=200)
    X[np.abs(X) < 2.0] = 0.0
    params = dict(loss=loss, solver=solver, penalty=penalty, alpha=0.01,
                  learning_rate="constant", eta0=0.01, max_iter=5, tol=None,
                  random_state=0, batch_size=7)
    dense = GDClassifier(**params).fit(X, y)
    sparse = GDClassifier(**params).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(dense.coef_, sparse.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dense.intercept_, sparse.intercept_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dense.decision_function(X),
                               sparse.decision_function(sp.csr_matrix(X)), rtol=1e-9,
                               atol=1e-12)


@pytest.mark.parametrize("solver", ["batch", "sgd", "minibatch"])
@pytest.mark.parametrize("loss", ["log_loss", "modified_huber"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_float32_kept_and_close_to_float64(solver, loss, n_classes):
    X, y = blobs(n=400, K=n_classes)
    X = StandardScaler().fit_transform(X)
    params = dict(loss=loss, solver=solver, random_state=0, max_iter=20, tol=None)
    c64 = GDClassifier(**params).fit(X, y)
    X32 = X.astype(np.float32)
    c32 = GDClassifier(**params).fit(X32, y)
    assert c32.coef_.dtype == np.float32 and c32.intercept_.dtype == np.float32
    assert c32.decision_function(X32).dtype == np.float32
    assert c32.predict_proba(X32).dtype == np.float32
    np.testing.assert_allclose(c32.coef_, c64.coef_, rtol=1e-3, atol=1e-4)
    assert c64.coef_.dtype == np.float64


# ---- labels and class weights ---------------------------------------------------------
def test_string_and_noncontiguous_labels_give_the_same_model():
    X, y = blobs()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    codes = np.array([-5, 3, 100])[y]
    params = dict(solver="batch", tol=None, max_iter=50)
    base = GDClassifier(**params).fit(X, y)
    for labels in (names, codes, names.astype(object)):
        clf = GDClassifier(**params).fit(X, labels)
        np.testing.assert_array_equal(clf.classes_, np.unique(labels))
        np.testing.assert_array_equal(clf.predict(X), np.unique(labels)[base.predict(X)])
        np.testing.assert_array_equal(clf.coef_, base.coef_)
    # binary: classes_[1] is the positive class of decision_function
    clf = GDClassifier(**params).fit(X[y < 2], names[y < 2])
    scores = clf.decision_function(X[y < 2])
    assert scores.shape == (np.sum(y < 2),)
    np.testing.assert_array_equal(clf.predict(X[y < 2]),
                                  np.where(scores > 0, "versicolor", "setosa"))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_class_weight_balanced_equals_manual_weights(n_classes):
    X, y = blobs(n=300, K=n_classes)
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y != 0)[::3]]  # imbalance
    X, y = X[keep], y[keep]
    sw = np.random.RandomState(0).uniform(0.5, 2.0, size=len(y))
    # to a certified relative gap of 1e-12: the batch solver's adaptive
    # step makes two paths that differ by rounding drift apart by ~1e-9
    # before they meet at the optimum
    params = dict(solver="batch", tol=1e-6, max_iter=5000)
    balanced = GDClassifier(class_weight="balanced", **params).fit(X, y, sample_weight=sw)
    assert balanced.n_iter_ < params["max_iter"]
    # 'balanced' counts each class by its total sample weight
    counts = np.array([sw[y == k].sum() for k in range(n_classes)])
    manual = {k: sw.sum() / (n_classes * counts[k]) for k in range(n_classes)}
    by_dict = GDClassifier(class_weight=manual, **params).fit(X, y, sample_weight=sw)
    sw_before = sw.copy()
    by_weights = GDClassifier(**params).fit(
        X, y, sample_weight=sw * np.array([manual[k] for k in y]))
    np.testing.assert_allclose(balanced.coef_, by_dict.coef_, rtol=1e-6)
    np.testing.assert_allclose(balanced.coef_, by_weights.coef_, rtol=1e-6)
    np.testing.assert_array_equal(sw, sw_before)
    unweighted = GDClassifier(**params).fit(X, y, sample_weight=sw)
    assert not np.allclose(unweighted.coef_, balanced.coef_, rtol=1e-3)


def test_class_weight_shifts_the_boundary():
    X, y = blobs(n=300, K=2)
    params = dict(solver="batch", tol=None, max_iter=100)
    heavy = GDClassifier(class_weight={0: 20.0}, **params).fit(X, y)
    plain = GDClassifier(**params).fit(X, y)
    # more weight on class 0 moves predictions towards class 0
    assert np.sum(heavy.predict(X) == 0) > np.sum(plain.predict(X) == 0)
    with pytest.raises(ValueError, match="not in class_weight"):
        GDClassifier(class_weight={7: 2.0}).fit(X, y)


def test_one_class_raises():
    X, y = blobs()
    with pytest.raises(ValueError, match="at least 2 classes.*one class"):
        GDClassifier().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="one class"):
        GDClassifier().partial_fit(X, np.zeros(len(y)), classes=[0])


# ---- partial_fit ------------------------------------------------------------------
def test_partial_fit_classes_handling():
    X, y = blobs()
    clf = GDClassifier(solver="sgd", random_state=0)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        clf.partial_fit(X, y)
    # a first chunk without class 2 still gives a 3-class model
    clf.partial_fit(X[y < 2], y[y < 2], classes=[2, 0, 1])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    assert clf.coef_.shape == (3, X.shape[1])
    clf.partial_fit(X, y)  # classes optional later ...
    clf.partial_fit(X, y, classes=[0, 1, 2])  # ... and accepted when the same
    assert clf.n_iter_ == 3
    with pytest.raises(ValueError, match="not the same as on the first call"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, np.where(y == 2, 5, y))
    with pytest.raises(ValueError, match="balanced.*not supported by partial_fit"):
        GDClassifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("loss", ["log_loss", "hinge"])
def test_partial_fit_epochs_equal_fit(loss):
    X, y = blobs()
    params = dict(loss=loss, solver="sgd", learning_rate="invscaling", shuffle=False)
    full = GDClassifier(max_iter=3, tol=None, **params).fit(X, y)
    inc = GDClassifier(**params)
    for _ in range(3):
        inc.partial_fit(X, y, classes=np.unique(y))
    assert inc.t_ == full.t_ == 3 * len(y)
    np.testing.assert_allclose(inc.coef_, full.coef_, rtol=1e-12)
    np.testing.assert_allclose(inc.intercept_, full.intercept_, rtol=1e-12)


# ---- probabilities ----------------------------------------------------------------
@pytest.mark.parametrize("loss", ["log_loss", "modified_huber"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_predict_proba(loss, n_classes):
    X, y = blobs(K=n_classes)
    clf = GDClassifier(loss=loss, solver="batch", max_iter=200).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(proba >= 0)
    np.testing.assert_array_equal(clf.classes_[np.argmax(proba, axis=1)], clf.predict(X))
    # (log_loss computes the logarithm from the scores: no cancellation in 1 - p)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10,
                               atol=1e-15)
    scores = clf.decision_function(X)
    if loss == "log_loss" and n_classes == 2:
        np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-scores)), rtol=1e-12)
    elif loss == "log_loss":
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        np.testing.assert_allclose(proba, e / e.sum(axis=1, keepdims=True), rtol=1e-12)
    elif n_classes == 2:  # SGDClassifier's formula
        np.testing.assert_allclose(proba[:, 1], (np.clip(scores, -1, 1) + 1) / 2)
    else:
        p = (np.clip(scores, -1, 1) + 1) / 2
        zero = p.sum(axis=1) == 0
        p[zero] = 1.0
        np.testing.assert_allclose(proba, p / p.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("loss", ["hinge", "squared_hinge", "perceptron"])
def test_no_predict_proba_for_margin_losses(loss):
    X, y = blobs()
    clf = GDClassifier(loss=loss, max_iter=5, tol=None).fit(X, y)
    assert not hasattr(clf, "predict_proba") and not hasattr(clf, "predict_log_proba")
    with pytest.raises(AttributeError, match="predict_proba") as error:
        clf.predict_proba(X)
    assert f"not available for loss='{loss}'" in str(error.value.__cause__)


# ---- early stopping, pickling -----------------------------------------------------------
@pytest.mark.parametrize("solver", ["batch", "minibatch"])
def test_early_stopping_scores_accuracy_on_a_stratified_split(solver):
    X, y = load_iris(return_X_y=True)
    clf = GDClassifier(solver=solver, early_stopping=True, validation_fraction=0.2,
                       random_state=3, max_iter=300).fit(X, y)
    # the same split as the estimator's: stratified, from the same seed
    _, val = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y,
                              random_state=check_random_state(3))
    assert np.bincount(y[val]).tolist() == [10, 10, 10]
    assert len(clf.validation_scores_) == clf.n_iter_ < 300
    assert clf.validation_scores_[-1] == clf.score(X[val], y[val])
    assert clf.best_validation_score_ == max(clf.validation_scores_)


def test_pickle_round_trip_predicts_and_continues_identically():
    X, y = blobs()
    labels = np.array(["a", "b", "c"])[y]
    clf = GDClassifier(solver="sgd", random_state=0, max_iter=3, tol=None).fit(X, labels)
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict(X), clf.predict(X))
    np.testing.assert_array_equal(copy.predict_proba(X), clf.predict_proba(X))
    clf.partial_fit(X, labels)
    copy.partial_fit(X, labels)
    np.testing.assert_array_equal(copy.coef_, clf.coef_)


def test_loss_curve_of_the_batch_solver():
    X, y = blobs(K=4)
    clf = GDClassifier(solver="batch", tol=None, max_iter=30).fit(X, y)
    assert len(clf.loss_curve_) == clf.n_iter_ == 30
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert np.all(np.diff(clf.loss_curve_) <= 1e-12)  # batch solver never goes up
