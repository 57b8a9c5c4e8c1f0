"""scikit-learn's own estimator checks for every estimator and solver."""

from skgd_estimators import ESTIMATORS, OTHER_EXPORTS
from sklearn.utils.estimator_checks import parametrize_with_checks

import skgd
from skgd import GDClassifier, GDRegressor

SOLVERS = ("auto", "batch", "sgd", "minibatch")

# Drawing samples one at a time in a shuffled order cannot make a weight of 2
# identical to a repeated row (sklearn xfails these two for its SGD too).
STOCHASTIC_WEIGHT_XFAILS = {
    name: "stochastic updates: sample_weight is equivalent to repetition only in expectation"
    for name in (
        "check_sample_weight_equivalence_on_dense_data",
        "check_sample_weight_equivalence_on_sparse_data",
    )
}


# The check fits 15 weighted rows against their repetition, 27 rows: a
# mini-batch of at least 27 rows is the full batch on both, deterministic.
CHECK_REPEATED_ROWS = 27


def expected_failures(estimator):
    stochastic = estimator.solver == "sgd" or (
        estimator.solver == "minibatch" and estimator.batch_size < CHECK_REPEATED_ROWS
    )
    return STOCHASTIC_WEIGHT_XFAILS if stochastic else {}


INSTANCES = [
    Estimator(solver=s, random_state=0)
    for Estimator in ESTIMATORS
    for s in SOLVERS
] + [
    # the margin losses (one-vs-rest on the multiclass checks); log_loss is above
    GDClassifier(loss=loss, solver=s, random_state=0)
    for loss in ("hinge", "squared_hinge", "modified_huber", "perceptron")
    for s in ("batch", "sgd", "minibatch")
] + [
    # the non-smooth losses' dual coordinate ascent, by name and through 'auto'
    GDClassifier(loss="hinge", solver=s, random_state=0) for s in ("auto", "dual_cd")
] + [
    GDRegressor(loss="epsilon_insensitive", solver=s, random_state=0)
    for s in ("auto", "dual_cd")
] + [
    # a mini-batch smaller than the check's data is stochastic there: strict xfail
    GDClassifier(loss="modified_huber", solver="minibatch", batch_size=8,
                 random_state=0),
]


@parametrize_with_checks(INSTANCES, expected_failed_checks=expected_failures,
                         xfail_strict=True)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_all_exports_are_the_tested_estimators():
    # every generic suite runs on tests/skgd_estimators.py's explicit list:
    # an estimator added to (or dropped from) skgd.__all__ must be added to
    # (or dropped from) it
    assert sorted(skgd.__all__) == sorted(
        [Est.__name__ for Est in ESTIMATORS] + OTHER_EXPORTS
    )
