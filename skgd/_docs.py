"""The docstring fragments the estimators share.

Each estimator's ``__doc__`` is its own text (objective, first parameters,
examples) joined with these fragments, so that a parameter every estimator
takes is documented once.  numpydoc and ``tests/test_doctests.py`` read the
assembled docstrings.
"""

from string import Template


def penalty_params(peer):
    """``penalty``, ``alpha`` and ``l1_ratio`` of GDRegressor and GDClassifier.

    ``peer`` names the scikit-learn estimator whose parameters they mirror.
    """
    return f"""
    penalty : {{'l2', 'l1', 'elasticnet'}} or None, default='l2'
        The penalty ``R``.

    alpha : float, default=1e-4
        Strength of the penalty.

    l1_ratio : float or None, default=0.15
        The elastic-net mixing ``rho`` (used with ``penalty='elasticnet'``;
        may be None for the other penalties, as in {peer}).
"""


EPSILON_PARAM = """
    epsilon : float, default=0.1
        Threshold of the ``huber`` and epsilon-insensitive losses.
"""

_SOLVER_PARAMS = Template("""
    solver : {'auto', 'batch', 'sgd', 'minibatch', 'saga', 'dual_cd'}, default='auto'
        ``'batch'`` takes one (accelerated) proximal-gradient step per pass
        over the data (a slow log-loss fit of a small problem continues
        with Newton steps after 50), ``'sgd'`` one step per sample, ``'minibatch'`` one step
        per ``batch_size`` samples, and ``'saga'`` one variance-reduced step
        per sample (SAGA: one stored gradient scalar per sample and output;
        smooth losses only), which converges to the exact optimum with a
        constant step. ``'dual_cd'`` is dual coordinate ascent (liblinear's
        method) for the ``'hinge'`` and ``'epsilon_insensitive'`` losses with
        an L2 part in the penalty, preceded by Newton steps on the smoothed
        loss when there are more rows than features (at most 512, L2 only),
        with an exact active-set step on the support vectors: it reaches
        their exact optimum, certified by the duality gap, where gradient
        steps stall. ``'auto'`` runs
        ``'dual_cd'`` in ``fit`` for those losses (with
        ``learning_rate='auto'``, no averaging and a penalty with an L2
        part), ``'batch'`` otherwise, and ``'minibatch'`` in ``partial_fit``
        (also for ``'dual_cd'``, which needs every row); the solver that ran
        is ``solver_``.

    batch_size : int, default=64
        Rows per update of the ``'minibatch'`` solver.

    learning_rate : {'auto', 'constant', 'optimal', 'invscaling', 'adaptive'}, default='auto'
        ``'auto'`` derives the step from the data: the problem is solved in
        standardised coordinates (dense input) with step ``1 / L`` from the
        smoothness constant ``L`` -- the same objective, on any feature scale.
        In ``partial_fit`` the standardisation follows the running moments
        of about the last 1000 rows and ``L`` is re-derived on every chunk,
        so chunks may change scale.  For ``'sgd'`` and ``'minibatch'`` the
        step decays as ``1 / sqrt(epoch)`` and, unless ``average`` is set,
        the model is the average of all iterates of the fit weighted by
        their update number squared (the early, far iterates fade out), and
        the stopping rule reads its exact objective (see ``tol``); this
        stops at relative objective gaps of 2e-5 to 2e-3 where the last
        iterate stopped at 1e-2 to 5e-2 (see the user guide).  Not with an L1 part in the
        penalty, whose exact zeros an average would lose.
        The explicit schedules run the textbook update on the raw features:
        ``'constant'``: ``eta0``; ``'optimal'``: ``1 / (alpha (t0 + t))``;
        ``'invscaling'``: ``eta0 / (t + 1) ** power_t``; ``'adaptive'``:
        ``eta0``, divided by 5 whenever the stopping rule would stop.
        SGDClassifier's passive-aggressive ``'pa1'`` and ``'pa2'`` are
        accepted by the parameter check but raise an error naming the
        alternative (they are not gradient steps on this objective).

    eta0 : float, default=0.01
        Initial step of the explicit schedules.

    power_t : float, default=${power_t}
        Exponent of ``'invscaling'``.

    momentum : float, default=0.0
        Heavy-ball momentum in [0, 1) (the ``'batch'`` solver with
        ``learning_rate='auto'`` is already accelerated and ignores it).

    nesterov : bool, default=False
        Use Nesterov's look-ahead gradient with momentum.

    average : bool or int, default=False
        Averaged SGD: ``coef_`` is the running mean of the iterates, from the
        first update if True, and for an int from the update that brings
        the number of samples seen to ``average`` (scikit-learn's ASGD:
        ``average=10`` averages the iterates after updates 10, 11, ... of
        ``solver='sgd'``; ``average=1`` is ``average=True``).  With False
        (the default) and ``learning_rate='auto'``, ``'sgd'`` and
        ``'minibatch'`` return the weighted average of their iterates
        described under ``learning_rate``; set ``average`` to get
        scikit-learn's uniform mean instead.

    fit_intercept : bool, default=True
        Whether to fit an (unpenalised) intercept.

    max_iter : int, default=1000
        Maximum number of epochs (passes over the data), for every solver.

    tol : float or None, default=1e-3
        Relative tolerance of the stopping rule. The ``'batch'`` solver on the
        squared error, the binary or multinomial log-loss, ``'squared_hinge'``
        or ``'modified_huber'`` with a penalty stops when a duality gap
        certifies a relative objective gap ``(J - J*) / J*`` of at most
        ``tol * 1e-6`` (1e-9 at the default; scikit-learn's Lasso and
        LogisticRegression reach 1e-10 to 1e-9 at theirs), or, with an L1
        part, when its proximal Newton step vanishes (the optimality
        conditions hold to rounding, where a weak L1 penalty puts the
        certificate's floor above the target); on the other smooth losses
        (``'huber'``, ``'squared_epsilon_insensitive'``) when the norm of its
        proximal-gradient step has fallen below ``tol`` times its first
        value. ``'saga'`` and ``'dual_cd'`` stop on the batch solver's rule: a
        duality gap certifying ``tol * 1e-6``. ``'sgd'`` and
        ``'minibatch'`` with ``learning_rate='auto'`` (and no ``average``)
        stop when the decrease of their averaged model's exact objective
        over the last ``n = n_iter_no_change`` epochs, times ``k / n``
        after ``k`` epochs (the gap left by a ``1 / k`` convergence), is
        below ``n * tol`` times the objective. The other stochastic fits
        (and ``'batch'`` on a non-smooth loss) stop when the objective
        decreased by less than ``tol`` per epoch, relative to its value,
        over the last ``n_iter_no_change`` epochs. With early
        stopping, training stops after ``n_iter_no_change`` epochs that do
        not raise the best validation score by ``tol``. None disables the
        rule (all ``max_iter`` epochs run).

    n_iter_no_change : int, default=5
        Patience (window, in epochs) of the objective and validation rules.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data and stop on its score.

    validation_fraction : float, default=0.1
        Share of the data held out with early stopping.

    shuffle : bool, default=True
        Visit the samples in a new random order every epoch.

    random_state : int, RandomState instance or None, default=None
        Seed of the shuffling and of the validation split.

    verbose : int, default=0
        Print one line per epoch (epoch, objective, step size, time).

    warm_start : bool, default=False
        Start ``fit`` from the previous solution (with a fresh step schedule).
""")


def solver_params(power_t="0.25"):
    """The parameters of the solver, shared by every estimator.

    ``power_t`` is the default of ``power_t`` (0.5 for the classifier, as
    in SGDClassifier).
    """
    return _SOLVER_PARAMS.substitute(power_t=power_t)


# The fitted attributes every estimator has, after its own coef_/intercept_.
FITTED_ATTRS = """
    n_iter_ : int
        Number of epochs run.

    t_ : int
        Number of updates (steps) made.

    loss_curve_ : list of float
        The objective after each epoch (for the stochastic solvers, the mean
        of the losses met during the epoch plus the penalty).

    validation_scores_ : list of float or None
        Validation score after each epoch with early stopping.

    best_validation_score_ : float or None
        Best of ``validation_scores_``.

    solver_ : str
        The solver that ran.

    n_features_in_ : int
        Number of features seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen during ``fit``, when they are strings.
"""

# The least-squares estimators' coef_ and intercept_ (scikit-learn's shapes).
LEAST_SQUARES_ATTRS = """
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients, in the dtype of X.

    intercept_ : float or ndarray of shape (n_targets,)
        Intercept: a scalar for 1-D ``y`` (0 without ``fit_intercept``), as
        in scikit-learn's linear models.
""" + FITTED_ATTRS
