"""The configuration of one epoch of the SGD / mini-batch kernels.

``epoch_config`` is the one place that builds it: the solvers and the tests
call it, and the kernels receive its dict as their ``EpochConfig`` struct
(``skgd/_fast/_epoch.pxd``, whose fields are the keyword arguments below).
"""


def epoch_config(
    loss,
    *,
    epsilon=0.0,
    batch_size=1,
    fit_intercept=True,
    l1=0.0,
    l2=0.0,
    schedule=0,
    eta0=0.01,
    power_t=0.25,
    optimal_alpha=0.0,
    optimal_t0=1.0,
    momentum=0.0,
    nesterov=False,
    average_start=-1,
    average_every=1,
    average_power=0.0,
    weight_scale=1.0,
    preconditioned=False,
    center_sq=0.0,
):
    """The kernel's ``EpochConfig`` as a dict.

    Parameters
    ----------
    loss : int
        The kernel's loss code.
    epsilon : float
        The loss's margin parameter (huber, epsilon-insensitive).
    batch_size : int
        Rows per update.
    fit_intercept : bool
    l1, l2 : float
        Strengths of ``sum |w|`` and ``1/2 ||w||^2``.
    schedule, eta0, power_t, optimal_alpha, optimal_t0
        The learning-rate schedule (see :func:`skgd._schedules.schedule_fields`).
    momentum : float
    nesterov : bool
    average_start : int
        Averaging starts after this many updates; negative: no averaging.
    average_every : int
        The average takes every this-many-th iterate after the start (1:
        every iterate, scikit-learn's ASGD).  With CSR rows and a period
        above 1 the penalty stays lazy between the iterates it takes.
    average_power : float
        The m-th iterate averaged has weight ~ ``m ** average_power`` (0:
        the plain mean, scikit-learn's ASGD).
    weight_scale : float
        ``1 / mean sample weight`` of the training set.
    preconditioned : bool
        Dense rows only: step on the preconditioner's standardised features.
    center_sq : float
        ``sum_j step_scale_j * center_j ** 2`` of the preconditioner.
    """
    return {
        "loss": int(loss),
        "epsilon": float(epsilon),
        "batch_size": int(batch_size),
        "fit_intercept": bool(fit_intercept),
        "l1": float(l1),
        "l2": float(l2),
        "schedule": int(schedule),
        "eta0": float(eta0),
        "power_t": float(power_t),
        "optimal_alpha": float(optimal_alpha),
        "optimal_t0": float(optimal_t0),
        "momentum": float(momentum),
        "nesterov": bool(nesterov),
        "average_start": int(average_start),
        "average_every": max(1, int(average_every)),
        "average_power": float(average_power),
        "weight_scale": float(weight_scale),
        "preconditioned": bool(preconditioned),
        "center_sq": float(center_sq),
    }
