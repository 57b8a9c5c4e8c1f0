"""The learning-rate schedules: their names, their kernel codes, the step.

The step of update ``t`` under the ``'constant'``, ``'optimal'`` and
``'invscaling'`` schedules is one formula, ``skgd/_fast/_schedule.pxd``:
the epoch kernels inline it per update and the batch solver calls it through
:func:`skgd._fast._utils.schedule_step`.  This module maps the names of the
``learning_rate`` parameter to the kernel's codes and fills the kernel's
schedule fields for an epoch; ``'auto'`` and ``'adaptive'`` choose a
constant step per epoch here, in Python.

Adding a schedule: its formula and code in ``_schedule.pxd``, its name in
``SCHEDULE_CODES`` below (the estimators accept every name listed there).
"""

import math

from ._fast._utils import schedule_step

# learning_rate -> the kernel's schedule code (the enum of _schedule.pxd).
# 'auto' and 'adaptive' take a constant step within an epoch.
SCHEDULE_CODES = {"constant": 0, "optimal": 1, "invscaling": 2, "adaptive": 0, "auto": 0}
# The names ``learning_rate`` accepts: the schedules, and scikit-learn's
# passive-aggressive rules, which the estimators refuse with a message.
LEARNING_RATES = frozenset(SCHEDULE_CODES) | {"pa1", "pa2"}


def auto_step(lipschitz, count):
    """``learning_rate='auto'``: ``1 / (L sqrt(count + 1))``.

    The first step is ``1 / L``; the decay lets the iterates settle instead
    of hovering at a noise level proportional to the step.  The stochastic
    solvers count epochs, the batch solver iterations.
    """
    return 1.0 / (lipschitz * math.sqrt(count + 1))


def schedule_fields(options, state):
    """The step of this epoch and the kernel's schedule fields.

    Returns
    -------
    eta : float
        The base step of the epoch (the step itself for a constant
        schedule).
    fields : dict
        ``schedule``, ``eta0``, ``power_t``, ``optimal_alpha`` and
        ``optimal_t0`` of the kernel's ``EpochConfig``.
    """
    lr = options.learning_rate
    if lr == "auto":
        eta = auto_step(state.lipschitz, state.epochs)
    elif lr == "adaptive":
        if state.eta is None:
            state.eta = options.eta0
        eta = state.eta
    else:
        eta = options.eta0
    typical_w = math.sqrt(1.0 / math.sqrt(options.alpha)) if options.alpha > 0 else 1.0
    return eta, {
        "schedule": SCHEDULE_CODES[lr],
        "eta0": eta,
        "power_t": options.power_t,
        # scikit-learn's heuristic for the offset of the 'optimal' schedule
        "optimal_alpha": options.alpha,
        "optimal_t0": 1.0 / (typical_w * options.alpha) if options.alpha > 0 else 1.0,
    }


def batch_step(options, state):
    """Step size of the plain batch solver at iteration ``state.t``."""
    if options.learning_rate == "auto":
        return auto_step(state.lipschitz, state.t)
    _, fields = schedule_fields(options, state)
    return schedule_step(t=state.t, **fields)
