# What every SGD / mini-batch epoch loop shares (dense and CSR): the
# configuration, the scratch buffers, the counters, the step of an update,
# the running average, and the eager step of an update that moves every
# coefficient (``apply_step``).  The penalty is ``_penalty.pxd``'s, the
# schedule ``_schedule.pxd``'s.  See ``_stochastic.pyx`` for the design.

from cpython.mem cimport PyMem_RawCalloc, PyMem_RawFree, PyMem_RawMalloc

from skgd._fast._penalty cimport (Penalty, penalise, penalty_end_features,
                                  penalty_feature_steps, penalty_new,
                                  penalty_start_features)
from skgd._fast._schedule cimport CONSTANT, schedule_step


# The fields are built in one place, skgd._schedules.epoch_config.
ctypedef struct EpochConfig:
    int loss
    double epsilon
    Py_ssize_t batch_size
    bint fit_intercept
    double l1              # alpha * l1_ratio: strength of sum |w|
    double l2              # alpha * (1 - l1_ratio): strength of 1/2 ||w||^2
    int schedule           # a code of _schedule.pxd
    double eta0
    double power_t
    double optimal_alpha   # optimal: eta_t = 1 / (optimal_alpha * (optimal_t0 + t))
    double optimal_t0
    double momentum
    bint nesterov
    long long average_start  # averaging starts after this many updates; < 0: off
    long long average_every  # the average takes every this-many-th iterate (>= 1)
    double average_power   # the m-th iterate averaged has weight ~ m ** power
    double weight_scale    # 1 / mean sample weight of the training set
    bint preconditioned    # use step_scale (dense: and center; CSR: no centring)
    double center_sq       # sum_j step_scale_j * center_j ** 2


ctypedef struct Workspace:
    double* grad           # (batch_size, K) scaled loss derivatives
    double* acc            # (K, d) accumulated gradient of an update
    double* acc_b          # (K,)
    double* pred           # (K,)
    double* scaled_center  # (d,) step_scale * center (preconditioned only)
    double* eta_j          # (d,) per-feature steps of the penalty
    double* inv_shrink_j   # (d,) their L2 shrinks
    double* l1_budget      # (d,) cumulative L1: thresholds accrued, u_j
    double* l1_applied     # (K, d) cumulative L1: shrinkage applied, q (l1 > 0)
    unsigned char* level_j # (d,) log2 of the step multipliers (lazy CSR)


ctypedef struct Counters:
    long long t            # updates made so far in the fit
    long long n_averaged   # iterates in the running average
    double loss_sum        # sum_i s_i L_i over the epoch
    double weight_sum      # sum_i s_i over the epoch


cdef inline double step_size(EpochConfig* cfg, long long t) noexcept nogil:
    """Learning rate of update number ``t`` (0-based, counted over the fit).

    The constant step is read alone: the fields of ``cfg`` are reloaded
    after every store to W (extensions build with -fno-strict-aliasing), and
    reading all five for ``schedule_step`` on every row cost the plain SGD
    loop ~9 % (kernel time, dense 200,000 x 100)."""
    if cfg.schedule == CONSTANT:
        return cfg.eta0
    return schedule_step(cfg.schedule, cfg.eta0, cfg.power_t, cfg.optimal_alpha,
                         cfg.optimal_t0, t)


cdef inline Penalty epoch_penalty(EpochConfig* cfg, Workspace* ws) noexcept nogil:
    """The penalty state of an epoch, on the workspace's buffers."""
    return penalty_new(cfg.l1, cfg.l2, ws.l1_applied, ws.l1_budget, ws.eta_j,
                       ws.inv_shrink_j)


cdef inline bint all_equal(const double* sample_weight, Py_ssize_t n) noexcept nogil:
    """Whether every sample weight is the same (then none is read per row).

    One sequential pass over n doubles per epoch: noise next to an epoch
    that reads every row of X in shuffled order."""
    cdef Py_ssize_t i
    for i in range(1, n):
        if sample_weight[i] != sample_weight[0]:
            return False
    return True


cdef inline void update_average(EpochConfig* cfg, const double* W, const double* b,
                                double* W_avg, double* b_avg, Py_ssize_t K,
                                Py_ssize_t d, long long n_averaged) noexcept nogil:
    """Running weighted mean of the iterates (Polyak-Ruppert averaging).

    With ``p = cfg.average_power`` the m-th iterate averaged enters with
    weight proportional to ``(m + p - 1)! / (m - 1)!`` ~ ``m ** p``: the rate
    ``(p + 1) / (m + p)`` of Shamir and Zhang's polynomial-decay averaging
    (2013).  ``p = 0`` is the plain mean (rate ``1 / m``), scikit-learn's
    ASGD; ``p > 0`` lets the early iterates fade out of the mean."""
    cdef Py_ssize_t k, j
    cdef double rate = (cfg.average_power + 1.0) / (n_averaged + cfg.average_power)
    for j in range(K * d):
        W_avg[j] += rate * (W[j] - W_avg[j])
    for k in range(K):
        b_avg[k] += rate * (b[k] - b_avg[k])


cdef inline bint averaged_now(EpochConfig* cfg, long long t) noexcept nogil:
    """Whether the iterate after update ``t`` (1-based) joins the average:
    every ``average_every``-th iterate once averaging has started."""
    return (cfg.average_start >= 0 and t > cfg.average_start
            and (cfg.average_every == 1
                 or (t - cfg.average_start) % cfg.average_every == 0))


cdef inline void after_update(EpochConfig* cfg, Counters* cnt, const double* W,
                              const double* b, double* W_avg, double* b_avg,
                              Py_ssize_t K, Py_ssize_t d) noexcept nogil:
    cnt.t += 1
    if averaged_now(cfg, cnt.t):
        cnt.n_averaged += 1
        update_average(cfg, W, b, W_avg, b_avg, K, d, cnt.n_averaged)


cdef inline int alloc_workspace(Workspace* ws, Py_ssize_t B, Py_ssize_t K,
                                Py_ssize_t d, bint with_l1) noexcept nogil:
    # PyMem_Raw*: safe without the GIL, and seen by tracemalloc.  Zeroed
    # where it matters: the accumulators start empty, and the cumulative L1
    # penalty starts afresh every epoch.
    ws.l1_budget = <double*> PyMem_RawCalloc(d, sizeof(double))
    ws.l1_applied = <double*> PyMem_RawCalloc(K * d, sizeof(double)) if with_l1 else NULL
    ws.grad = <double*> PyMem_RawMalloc(B * K * sizeof(double))
    ws.pred = <double*> PyMem_RawMalloc(K * sizeof(double))
    ws.scaled_center = <double*> PyMem_RawCalloc(d, sizeof(double))
    ws.eta_j = <double*> PyMem_RawCalloc(d, sizeof(double))
    ws.inv_shrink_j = <double*> PyMem_RawCalloc(d, sizeof(double))
    ws.acc = <double*> PyMem_RawCalloc(K * d, sizeof(double))
    ws.acc_b = <double*> PyMem_RawCalloc(K, sizeof(double))
    ws.level_j = <unsigned char*> PyMem_RawCalloc(d, sizeof(unsigned char))
    if (ws.grad == NULL or ws.pred == NULL or ws.scaled_center == NULL
            or ws.acc == NULL or ws.acc_b == NULL or ws.l1_budget == NULL
            or ws.eta_j == NULL or ws.inv_shrink_j == NULL or ws.level_j == NULL):
        return -1
    if with_l1 and ws.l1_applied == NULL:
        return -1
    return 0


cdef inline void free_workspace(Workspace* ws) noexcept nogil:
    PyMem_RawFree(ws.grad)
    PyMem_RawFree(ws.pred)
    PyMem_RawFree(ws.scaled_center)
    PyMem_RawFree(ws.eta_j)
    PyMem_RawFree(ws.inv_shrink_j)
    PyMem_RawFree(ws.acc)
    PyMem_RawFree(ws.acc_b)
    PyMem_RawFree(ws.l1_budget)
    PyMem_RawFree(ws.l1_applied)
    PyMem_RawFree(ws.level_j)


cdef inline void apply_step(EpochConfig* cfg, Workspace* ws, Penalty* pen,
                            double eta, double* W, double* b, double* velocity,
                            double* velocity_b, const double* step_scale,
                            const double* center, Py_ssize_t K,
                            Py_ssize_t d) noexcept nogil:
    """The gradient step of one update, momentum and penalty: one pass over W.

    ``ws.acc`` holds the update's gradient sum_i c_i (x_i - center) (in the
    user's coordinates, without the step multipliers) and ``ws.acc_b`` its
    intercept part; both are consumed (zeroed).  The step on feature j is
    multiplied by ``step_scale[j]`` when preconditioned.  With centring, a
    change of w_j by the penalty moves the intercept by -center_j * change,
    which keeps the intercept of the standardised problem fixed (it is not
    penalised).
    """
    cdef Py_ssize_t k, j
    cdef double mom = cfg.momentum, stepped, new, shift
    cdef bint with_momentum = mom > 0.0
    cdef bint is_penalised = cfg.l1 > 0.0 or cfg.l2 > 0.0
    cdef bint cumulative = pen.cumulative
    cdef bint centred = cfg.preconditioned and cfg.fit_intercept
    cdef double* w
    cdef double* v
    cdef double* acc
    cdef double* q = NULL
    cdef double* eta_j = pen.eta_j
    cdef double* u_j = pen.u_j
    cdef double* inv_shrink_j = pen.inv_shrink_j
    # this update's per-feature steps; their thresholds join the budgets
    penalty_feature_steps(pen, eta, step_scale if cfg.preconditioned else NULL, d)
    penalty_start_features(pen, d)
    for k in range(K):
        w = W + k * d
        v = velocity + k * d if with_momentum else NULL
        acc = ws.acc + k * d
        if cumulative:
            q = pen.q + k * d
        shift = 0.0
        for j in range(d):
            if with_momentum:
                v[j] = mom * v[j] - (eta_j[j] * acc[j])
                stepped = w[j] + v[j]
            else:
                stepped = w[j] - eta_j[j] * acc[j]
            acc[j] = 0.0
            if is_penalised:
                new = penalise(stepped, u_j[j], q, j, inv_shrink_j[j], cumulative)
                if centred:
                    shift += (new - stepped) * center[j]
                w[j] = new
            else:
                w[j] = stepped
        if cfg.fit_intercept:
            if with_momentum:
                velocity_b[k] = mom * velocity_b[k] - eta * ws.acc_b[k]
                b[k] += velocity_b[k]
            else:
                b[k] -= eta * ws.acc_b[k]
        ws.acc_b[k] = 0.0
        b[k] -= shift
    penalty_end_features(pen, d)
