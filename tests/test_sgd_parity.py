"""Migrating from SGDClassifier / SGDRegressor: parameters and the ASGD average.

A user replaces ``SGDClassifier(...)`` by ``GDClassifier(..., solver='sgd')``
with the same arguments: every value scikit-learn's parameter constraints
accept must be accepted with the same meaning, or refused with an error
naming the alternative (a documented, deliberate difference).
"""

import itertools
import warnings
from numbers import Integral, Real

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.utils._param_validation import Interval, StrOptions

from skgd import GDClassifier, GDRegressor

PAIRS = [(SGDClassifier, GDClassifier), (SGDRegressor, GDRegressor)]
# Values skgd refuses on purpose, with the text its error must contain.
REFUSED = {
    ("learning_rate", "pa1"): "sklearn.linear_model.SGDClassifier or SGDRegressor",
    ("learning_rate", "pa2"): "sklearn.linear_model.SGDClassifier or SGDRegressor",
}


def small_problem(Sk, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(60, 4))
    score = X @ [1.0, -2.0, 0.5, 0.0] + 0.3
    if is_classifier(Sk()):
        return X, (score + 0.5 * rng.normal(size=60) > 0).astype(int)
    return X, score + 0.1 * rng.normal(size=60)


def interval_values(interval):
    """Values inside an Interval constraint: its closed ends and inner points."""
    left, right = interval.left, interval.right
    integral = interval.type is Integral
    values = []
    if left is not None:
        closed = interval.closed in ("left", "both")
        values.append(left if closed else left + (1 if integral else 1e-3))
    if right is not None:
        closed = interval.closed in ("right", "both")
        values.append(right if closed else right - (1 if integral else 1e-3))
    if left is None and right is None:
        values += [-1.0, 0.0, 0.5, 2.0]
    elif right is None:
        values.append((left or 0) + (10 if integral else 2.5))
    else:
        values.append((left + right) / 2)
    return values


def accepted_values(Sk, name):
    """Every kind of value SGD*'s constraint on ``name`` accepts, one or more each."""
    values = []
    for constraint in Sk._parameter_constraints[name]:
        if isinstance(constraint, StrOptions):
            values += sorted(constraint.options)
        elif isinstance(constraint, Interval):
            values += interval_values(constraint)
        elif constraint is None:
            values.append(None)
        elif constraint == "boolean":
            values += [False, True]
        elif constraint == "random_state":
            values += [None, 0, np.random.RandomState(0)]
        elif constraint == "verbose":
            values += [0, 1]
        elif constraint is dict:
            values.append({0: 1.0, 1: 2.0})
        elif constraint is Integral:
            values += [1, -1]
        elif constraint is Real:
            values += [0.5]
        else:
            raise AssertionError(f"no sample values for the constraint {constraint!r}")
    return values


def parameter_cases():
    for Sk, Gd in PAIRS:
        for name in Sk._parameter_constraints:
            for value in accepted_values(Sk, name):
                yield pytest.param(Sk, Gd, name, value,
                                   id=f"{Gd.__name__}-{name}={value!r}")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Sk, Gd, name, value", list(parameter_cases()))
def test_every_value_sgd_accepts_is_accepted(Sk, Gd, name, value, capsys):
    X, y = small_problem(Sk)
    params = {"max_iter": 5, "tol": None, name: value}
    if name in ("max_iter", "tol"):
        params = {"max_iter": 5, name: value}
    if name == "early_stopping" and value:
        params["tol"] = 1e-3
    gd = Gd(solver="sgd", random_state=0).set_params(**params)
    refused = REFUSED.get((name, value)) if isinstance(value, str) else None
    if refused is not None:
        # the value SGD accepts is refused, with the alternative named
        with pytest.raises(ValueError, match=refused):
            gd.fit(X, y)
        return
    try:
        gd.fit(X, y)
    except ValueError as exc:
        # skgd raises where SGD returns a diverged model (its loss derivative
        # is clipped at 1e12, which keeps the coefficients finite but huge):
        # 'optimal' with the squared error and alpha=1e-4 on unit features
        assert "The fit diverged" in str(exc)
        sk = Sk(random_state=0, **params).fit(X, y)
        assert not np.abs(sk.coef_).max() < 1e6
        return
    assert np.all(np.isfinite(gd.coef_))
    assert gd.get_params()[name] is value or gd.get_params()[name] == value
    if name == "average" and value is not False:
        assert gd._solver_state.n_averaged > 0
    capsys.readouterr()


def test_every_sgd_parameter_exists_with_the_same_default_or_a_documented_one():
    # defaults skgd changes on purpose (the docstrings say why)
    better = {
        "GDClassifier": {"loss": "log_loss", "learning_rate": "auto"},
        "GDRegressor": {"learning_rate": "auto"},
    }
    for Sk, Gd in PAIRS:
        ours, theirs = Gd().get_params(), Sk().get_params()
        assert set(theirs) <= set(ours), set(theirs) - set(ours)
        for name, value in theirs.items():
            expected = better[Gd.__name__].get(name, value)
            assert ours[name] == expected, (Gd.__name__, name, ours[name], value)


def test_l1_ratio_none_needs_another_penalty():
    X, y = small_problem(SGDRegressor)
    GDRegressor(solver="sgd", l1_ratio=None, max_iter=3, tol=None).fit(X, y)
    with pytest.raises(ValueError, match="l1_ratio must be set when penalty is"):
        GDRegressor(solver="sgd", l1_ratio=None, penalty="elasticnet").fit(X, y)


# ---- the ASGD average ---------------------------------------------------------------
AVERAGES = [True, 1, 2, 10, 59, 60, 61, 150, 400]


def fit_pair(Sk, Gd, X, y, **params):
    params = {"shuffle": False, "tol": None, "max_iter": 3, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return Sk(**params).fit(X, y), Gd(solver="sgd", **params).fit(X, y)


@pytest.mark.parametrize("average", AVERAGES)
@pytest.mark.parametrize(
    "loss",
    ["squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive"],
)
@pytest.mark.parametrize("learning_rate", ["constant", "invscaling", "optimal"])
def test_averaged_regressor_equals_sgd_regressor(average, loss, learning_rate):
    # Same rows in the same order (shuffle=False), same schedule, no penalty:
    # the iterates are the same numbers, so is the average SGD defines --
    # that of the iterates after updates average, average + 1, ... (60 rows
    # x 3 epochs: averages starting in each epoch, and one never starting).
    X, y = small_problem(SGDRegressor)
    # 'optimal' starts at a step of 1 / alpha ** 0.5 (scikit-learn's heuristic):
    # alpha=1 keeps both fits on this data from diverging
    alpha = 1.0 if learning_rate == "optimal" else 0.01
    sk, gd = fit_pair(SGDRegressor, GDRegressor, X, y, loss=loss, penalty=None,
                      learning_rate=learning_rate, eta0=0.01, alpha=alpha,
                      average=average, epsilon=0.05)
    np.testing.assert_allclose(gd.coef_, sk.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gd.intercept_, sk.intercept_, rtol=1e-10, atol=1e-12)


CLASSIFIER_LOSSES = [
    "hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron",
    "squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive",
]


@pytest.mark.parametrize("average", [False, True, 10, 100])
@pytest.mark.parametrize("loss", CLASSIFIER_LOSSES)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_averaged_classifier_equals_sgd_classifier(average, loss, n_classes):
    # Binary and one-vs-rest: every loss SGDClassifier accepts, the same
    # iterates and average.  (With log_loss and 3 classes skgd fits the
    # multinomial model, SGDClassifier one-vs-rest: compared on 2 classes.)
    if loss == "log_loss" and n_classes == 3:
        pytest.skip("multinomial, not one-vs-rest")
    rng = np.random.RandomState(1)
    X = rng.normal(size=(90, 4))
    y = np.argmax(X[:, :n_classes] + 0.5 * rng.normal(size=(90, n_classes)), axis=1)
    sk, gd = fit_pair(SGDClassifier, GDClassifier, X, y, loss=loss, penalty=None,
                      learning_rate="invscaling", eta0=0.05, power_t=0.5,
                      average=average)
    np.testing.assert_allclose(gd.coef_, sk.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gd.intercept_, sk.intercept_, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(gd.predict(X), sk.predict(X))


@pytest.mark.parametrize("penalty", ["l2", "elasticnet"])
def test_l2_penalty_differs_from_sgd_regressor_by_second_order_terms(penalty):
    # Deliberate difference: skgd applies L2 as a proximal step, w / (1 +
    # eta * l2) after the gradient step (never a sign flip, and no zeroed
    # model for eta * alpha >= 1), scikit-learn multiplies w by
    # max(0, 1 - eta * l2) before it.  Per update they differ by
    # O(eta^2 * alpha): measured, relative to the coefficients, 3.1e-5,
    # 3.2e-6 and 3.2e-7 for alpha = 1e-2, 1e-3 and 1e-4 at eta = 0.01.
    X, y = small_problem(SGDRegressor)
    gaps = []
    for alpha in [1e-3, 1e-4]:
        sk, gd = fit_pair(SGDRegressor, GDRegressor, X, y, penalty=penalty, alpha=alpha,
                          learning_rate="constant", eta0=0.01)
        gaps.append(np.abs(gd.coef_ - sk.coef_).max() / np.abs(sk.coef_).max())
    assert gaps[0] < 1e-5
    assert gaps[1] < gaps[0] / 5


def test_l1_penalty_iterates_equal_sgd_regressor():
    # the cumulative L1 penalty is Tsuruoka et al.'s, as in scikit-learn
    X, y = small_problem(SGDRegressor)
    sk, gd = fit_pair(SGDRegressor, GDRegressor, X, y, penalty="l1", alpha=0.01,
                      learning_rate="constant", eta0=0.01)
    np.testing.assert_allclose(gd.coef_, sk.coef_, rtol=1e-10, atol=1e-12)


def test_l1_average_is_the_mean_of_the_iterates():
    # The average of the iterates after updates 40..60 of one epoch, each
    # iterate from a fit on the first k rows (the same numbers: see above).
    # skgd's average is their exact mean.  scikit-learn's lazily updated
    # average does not see the L1 truncations (they change w directly):
    # with alpha=0.01 it is 3.7e-3 away from the mean of its own iterates,
    # skgd's 1e-16 -- skgd keeps the definition, not that deviation.
    X, y = small_problem(SGDRegressor)
    params = dict(penalty="l1", alpha=0.01, learning_rate="constant", eta0=0.01,
                  max_iter=1)
    iterates = [fit_pair(SGDRegressor, GDRegressor, X[:k], y[:k], **params)[0].coef_
                for k in range(40, 61)]
    _, gd = fit_pair(SGDRegressor, GDRegressor, X, y, average=40, **params)
    np.testing.assert_allclose(gd.coef_, np.mean(iterates, axis=0),
                               rtol=1e-10, atol=1e-12)


def test_average_onset_continues_across_partial_fit():
    # partial_fit keeps the sample count: averaging starts in the call that
    # reaches `average` samples, as in SGDRegressor.partial_fit
    X, y = small_problem(SGDRegressor)
    params = dict(penalty=None, learning_rate="constant", eta0=0.01, average=100,
                  shuffle=False)
    sk, gd = SGDRegressor(**params), GDRegressor(solver="sgd", **params)
    for _ in range(3):
        sk.partial_fit(X, y)
        gd.partial_fit(X, y)
    np.testing.assert_allclose(gd.coef_, sk.coef_, rtol=1e-10, atol=1e-12)


def test_optimal_schedule_without_penalty_uses_alpha_as_sgd_does():
    X, y = small_problem(SGDClassifier)
    sk, gd = fit_pair(SGDClassifier, GDClassifier, X, y, loss="hinge", penalty=None,
                      learning_rate="optimal", alpha=0.01)
    np.testing.assert_allclose(gd.coef_, sk.coef_, rtol=1e-10, atol=1e-12)


def test_classifier_sample_and_class_weights_act_per_row_as_in_sgd():
    # SGDClassifier's step on row i is eta * class_weight[y_i] * s_i; skgd's
    # objective is the weighted *mean* loss, so its step is divided by the
    # mean of the combined weights over the training set (documented: alpha
    # of skgd = alpha of SGD * n / sum of the weights).  Weights whose mean
    # is 1 give the same iterates.
    X, y = small_problem(SGDClassifier)
    sw = np.where(np.arange(len(y)) % 2 == 0, 0.5, 1.5)
    cw = {0: 1.0, 1: 1.0}
    params = dict(loss="hinge", penalty=None, learning_rate="constant", eta0=0.05,
                  class_weight=cw, shuffle=False, tol=None, max_iter=3)
    sk = SGDClassifier(**params).fit(X, y, sample_weight=sw)
    gd = GDClassifier(solver="sgd", **params).fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(gd.coef_, sk.coef_, rtol=1e-10)
    # a class weight scales that class's rows in both
    cw = {0: 1.0, 1: 3.0}
    sk = SGDClassifier(**{**params, "class_weight": cw}).fit(X, y, sample_weight=sw)
    combined = sw * np.where(y == 1, 3.0, 1.0)
    gd = GDClassifier(solver="sgd", **{**params, "class_weight": cw,
                                       "eta0": 0.05 * combined.mean()})
    gd.fit(X, y, sample_weight=sw)
    np.testing.assert_allclose(gd.coef_, sk.coef_, rtol=1e-10)


def test_parameter_cases_cover_every_constraint():
    # the loop above must see every parameter of both SGD estimators
    names = {(Sk.__name__, name)
             for Sk, _ in PAIRS for name in Sk._parameter_constraints}
    seen = {(p.values[0].__name__, p.values[2]) for p in parameter_cases()}
    assert names == seen
    assert len(list(itertools.islice(parameter_cases(), 1000))) > 80
