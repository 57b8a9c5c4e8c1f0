# The learning-rate schedules: the one formula of the step of update t.
#
# Every epoch kernel calls ``schedule_step`` per update, and the batch
# solver calls it through ``skgd._fast._utils.schedule_step`` once per
# iteration, so the constant, 'optimal' and 'invscaling' steps are written
# here only.  The codes are those of ``skgd._schedules.SCHEDULE_CODES``
# (the Python spec); tests/test_schedules.py checks each code's step
# against an independent formula.

from libc.math cimport pow

cdef enum:
    CONSTANT = 0
    OPTIMAL = 1
    INVSCALING = 2


cdef inline double schedule_step(int schedule, double eta0, double power_t,
                                 double optimal_alpha, double optimal_t0,
                                 long long t) noexcept nogil:
    """Learning rate of update number ``t`` (0-based, counted over the fit).

    constant: ``eta0``; optimal (scikit-learn's heuristic, Bottou):
    ``1 / (optimal_alpha * (optimal_t0 + t))``; invscaling:
    ``eta0 / (t + 1) ** power_t``.
    """
    if schedule == OPTIMAL:
        return 1.0 / (optimal_alpha * (optimal_t0 + t))
    elif schedule == INVSCALING:
        return eta0 / pow(t + 1.0, power_t)
    return eta0
