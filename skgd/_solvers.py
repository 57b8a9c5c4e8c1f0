"""The five solvers: plain functions with one signature.

``solve_batch(problem, state, options)``, ``solve_sgd(...)``,
``solve_minibatch(...)``, ``solve_saga(...)`` and ``solve_dual_cd(...)``
run epochs until the
stopping rule or ``max_iter`` and update ``state`` in place (so that
``partial_fit`` and ``warm_start`` continue from it).  They return a
:class:`SolverResult`.

Stopping rule: ``tol`` is a relative tolerance on the best measure of
progress each solver has.  The batch solver on a smooth loss stops on a
certificate: the relative duality gap (``skgd._gap``), an upper bound of the
relative objective gap, at most ``tol * 1e-6`` (:class:`GapRule`; 1e-9 at the
default ``tol=1e-3``, at least the precision of scikit-learn's exact solvers
at their defaults); where no gap is available, when the proximal-gradient
norm has fallen below ``tol`` times its first value (:class:`OptimalityRule`).
The variance-reduced ``saga`` (its gap: ``skgd._duality``) and the dual
coordinate ascent ``dual_cd`` (hinge and epsilon-insensitive losses with an
L2 part in the penalty, :mod:`skgd._dual_cd`; with the L1 penalty alone the
batch solver's smoothing homotopy, :mod:`skgd._smoothed_l1`) stop on the same rule: a
relative duality gap of at most ``tol * 1e-6``
(``skgd._solver_common.certified_gap_target``), which bounds the relative
objective gap.  The plain stochastic
solvers (and the batch solver's subgradient steps on a non-smooth loss) stop when the objective
decreased by less than ``tol`` per epoch, relative to its value, over the
last ``n_iter_no_change`` epochs (:class:`StoppingRule`); a batch ``fit`` of
the hinge or epsilon-insensitive loss that stops so warns that its model is
not certified (:func:`warn_if_not_converged`).  With early
stopping, every solver stops when ``n_iter_no_change`` epochs in a row do not
raise the best validation score by ``tol`` (scikit-learn's rule).  With
``learning_rate='adaptive'`` they divide the step by 5 instead, until it is
below 1e-6.  ``tol=None`` disables the rule.

Divergence guard: a non-finite objective or coefficient stops the fit with a
``ValueError`` that names the epoch and the remedy.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning

from ._batch import solve_batch
from ._dual_cd import DUAL_LOSSES, solve_dual_cd
from ._dual_cd import applies as dual_cd_applies
from ._saga import solve_saga
from ._sgd import solve_minibatch, solve_sgd
from ._smoothed_l1 import MAX_FEATURES as SMOOTHED_L1_MAX_FEATURES
from ._solver_common import (  # noqa: F401  (the solvers' shared types)
    OptimalityRule,
    Problem,
    SolverOptions,
    SolverResult,
    SolverState,
    StoppingRule,
    ValidationRule,
)

SOLVERS = {
    "batch": solve_batch,
    "sgd": solve_sgd,
    "minibatch": solve_minibatch,
    "saga": solve_saga,
    "dual_cd": solve_dual_cd,
}


def warn_if_not_converged(result, solver, problem, tol, max_iter):
    """The ConvergenceWarning of a ``fit`` (not ``partial_fit``) that did not
    reach its stopping rule within ``max_iter``, or that stopped where the
    rule certifies nothing: the batch solver's subgradient steps on the
    hinge and epsilon-insensitive losses (the perceptron's optimum, zero, is
    not what it is fitted for)."""
    if tol is None:
        return
    if not result.converged:
        warnings.warn(
            f"Maximum number of iterations ({max_iter}) reached before the "
            f"stopping rule was met; increase max_iter or tol.",
            ConvergenceWarning,
        )
    elif result.subgradient and problem.loss in DUAL_LOSSES:
        remedy = (
            "solver='auto' (dual coordinate ascent) reaches the optimum and "
            "certifies it."
            if dual_cd_applies(problem.loss, problem.l2) else
            "With an L2 part in the penalty (penalty='l2', or 'elasticnet' with "
            "l1_ratio < 1), solver='auto' reaches the optimum and certifies it; "
            "with the L1 penalty alone, so does the batch solver under "
            "learning_rate='auto' on X in memory with at most "
            f"{SMOOTHED_L1_MAX_FEATURES} features."
        )
        warnings.warn(
            f"solver='batch' takes subgradient steps on the non-smooth "
            f"{problem.loss!r} loss and stopped when its objective stopped "
            f"decreasing, which does not certify the optimum: such fits were "
            f"measured from 3e-2 to 15 times above the optimal objective. {remedy}",
            ConvergenceWarning,
        )
