"""The losses of skgd: one spec per loss, the one place the package asks.

A loss is computed in one place only, the compiled point functions of
``skgd/_fast/_loss.pxd`` (the kernels switch on its integer code).  Everything
else the package needs to know about a loss is a field of its :class:`Loss`
spec below: the code, the curvature bound that sets the automatic step, how
the targets are encoded, the intercept of the best constant model, and how
scores become probabilities.  ``tests/test_extending.py`` checks that the
codes here and the ``cdef enum`` of ``_loss.pxd`` name the same losses.

Adding a loss touches this module (a spec in ``LOSSES``) and ``_loss.pxd``
(an enum value and a branch of ``point_loss_grad``); see "Extending skgd" in
the user guide.
"""

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
from scipy.special import expit, log_expit, log_softmax, softmax

# The target encodings of the K-output engine: real values (regression),
# -1/+1 per output (binary and one-vs-rest classification), or a probability
# vector over the K outputs (one-hot for hard labels).
TARGET_KINDS = ("real", "sign", "probability")


# ---- intercept-only optima ---------------------------------------------------
# Each maps the weighted mean of the encoded targets (shape (K,)) and a floor
# on the class frequencies to the intercept minimising the data term at W = 0.


def _mean_intercept(mean, floor):
    """Squared error: the weighted mean of y."""
    return mean


def _log_odds_intercept(mean, floor):
    """Binary log-loss: the log-odds of the positive class (targets -1/+1)."""
    positive = np.clip((mean + 1.0) / 2.0, floor, 1.0 - floor)
    return np.log(positive / (1.0 - positive))


def _log_frequency_intercept(mean, floor):
    """Multinomial loss: the log class frequencies, centred (softmax is shift-free)."""
    log_freq = np.log(np.clip(mean, floor, 1.0 - floor))
    return log_freq - log_freq.mean()


# ---- probability links -------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """How a classifier's raw scores (n_samples, K) become class probabilities.

    ``K = 1`` for two classes (the score of the second class), else one
    column per class.  ``name`` is the name the ONNX export knows it by.
    """

    name: str
    proba: Callable
    log_proba: Callable


def _logistic_proba(scores):
    if scores.shape[1] == 1:
        positive = expit(scores[:, 0])
        return np.stack([1.0 - positive, positive], axis=1)
    return softmax(scores, axis=1)


def _logistic_log_proba(scores):
    # from the scores, not as log(proba): no -inf from an underflowed probability
    if scores.shape[1] == 1:
        positive = scores[:, 0]
        return np.stack([log_expit(-positive), log_expit(positive)], axis=1)
    return log_softmax(scores, axis=1)


def _clipped_proba(scores):
    """scikit-learn's SGDClassifier estimate ``(clip(p, -1, 1) + 1) / 2``.

    Normalised over the classes; uniform where every class gets zero.
    """
    prob = (np.clip(scores, -1.0, 1.0) + 1.0) / 2.0
    if scores.shape[1] == 1:
        return np.hstack([1.0 - prob, prob])
    total = prob.sum(axis=1)
    empty = total == 0
    prob[empty] = 1.0
    total[empty] = prob.shape[1]
    return prob / total[:, None]


def _clipped_log_proba(scores):
    with np.errstate(divide="ignore"):
        return np.log(_clipped_proba(scores))


LOGISTIC = Link("logistic", _logistic_proba, _logistic_log_proba)
CLIPPED = Link("modified_huber", _clipped_proba, _clipped_log_proba)


# ---- the spec ------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """What the package knows about one loss ``L(y, p)``.

    Parameters
    ----------
    name : str
        The name of the ``loss`` parameter.
    code : int
        The value of the loss in the ``cdef enum`` of ``skgd/_fast/_loss.pxd``.
    curvature : float or None
        Upper bound of ``d^2 L / dp^2`` (per output), the Lipschitz constant
        of the derivative that sets ``learning_rate='auto'``; None for a loss
        whose derivative jumps (no such bound exists).
    target : {'real', 'sign', 'probability'}
        The encoding of the targets (see ``TARGET_KINDS``).
    uses_epsilon : bool
        Whether the estimator's ``epsilon`` enters the loss.
    intercept_start : callable or None
        ``(target_mean, floor) -> b``: the intercept minimising the data term
        at ``W = 0``, where it has a closed form; a fresh fit starts there.
    link : Link or None
        How scores become probabilities (``predict_proba``), if they do.
    multiclass : str or None
        The loss a classifier minimises instead beyond two classes (None:
        one-vs-rest, this loss per class).
    """

    name: str
    code: int
    curvature: Optional[float]
    target: str
    uses_epsilon: bool = False
    intercept_start: Optional[Callable] = None
    link: Optional[Link] = None
    multiclass: Optional[str] = None

    @property
    def smooth(self):
        """Whether the derivative is Lipschitz (a curvature bound exists)."""
        return self.curvature is not None


# The registry, in the order of the codes.  Curvatures: the softmax Hessian
# diag(q) - q q^T is bounded by I / 2; the logistic one by 1 / 4.
LOSSES = {
    spec.name: spec
    for spec in (
        Loss("squared_error", 0, 1.0, "real", intercept_start=_mean_intercept),
        Loss("huber", 1, 1.0, "real", uses_epsilon=True),
        Loss("epsilon_insensitive", 2, None, "real", uses_epsilon=True),
        Loss("squared_epsilon_insensitive", 3, 2.0, "real", uses_epsilon=True),
        Loss("log_loss", 4, 0.25, "sign", intercept_start=_log_odds_intercept,
             link=LOGISTIC, multiclass="multinomial"),
        Loss("hinge", 5, None, "sign"),
        Loss("squared_hinge", 6, 2.0, "sign"),
        Loss("modified_huber", 7, 2.0, "sign", link=CLIPPED),
        Loss("perceptron", 8, None, "sign"),
        # log_loss beyond two classes: chosen by the classifier, not by name
        Loss("multinomial", 9, 0.5, "probability",
             intercept_start=_log_frequency_intercept, link=LOGISTIC),
    )
}


def softmax_curvature(derivative, Y):
    """Each row's softmax curvature ``p_k (1 - p_k)`` per output, from the
    multinomial loss's derivatives ``dL/dz_k = p_k - y_k`` (one-hot ``Y``)."""
    p = derivative + Y
    return p * (1.0 - p)


# The piecewise-quadratic margin losses: with the margin m = y p, squared_hinge
# is (1 - m)_+^2 and modified_huber the same for m >= -1, then -4 m.  Their
# derivative is dL/dp = -y a with a = 2 (1 - m)_+ (at most MARGIN_CAP, where
# modified_huber turns linear), so a = |dL/dp|; their conjugate is
# L*(-y a) = a^2 / 4 - a on 0 <= a <= MARGIN_CAP (the duality gap of
# skgd._gap) and their second derivative 2 where 0 < a < MARGIN_CAP, 0
# elsewhere (the generalised Hessian of skgd._newton).
MARGIN_CAP = {"squared_hinge": np.inf, "modified_huber": 4.0}


def margin_curvature(name, derivative):
    """The second derivative of a margin loss at each row and output, from
    its derivatives ``dL/dp`` (shape (n, K)): 2 on the quadratic piece."""
    a = np.abs(derivative)
    return np.where((a > 0) & (a < MARGIN_CAP[name]), 2.0, 0.0)


# The names each estimator accepts for its ``loss`` parameter.
REGRESSION_LOSSES = tuple(
    name for name, spec in LOSSES.items() if spec.target == "real"
)
CLASSIFICATION_LOSSES = tuple(
    name for name, spec in LOSSES.items() if spec.target == "sign"
)


def classifier_loss(name, n_classes):
    """The loss a classifier with ``loss=name`` minimises on ``n_classes``."""
    spec = LOSSES[name]
    if n_classes > 2 and spec.multiclass is not None:
        return LOSSES[spec.multiclass]
    return spec
