# One epoch of stochastic (batch_size = 1) or mini-batch gradient descent.
#
# Design
# ------
# Python owns the epochs, the sample order and the stopping rule; a call here
# runs exactly one pass over ``order`` with the GIL released and returns.
# Each update takes the rows of one mini-batch, computes their K predictions
# and loss derivatives at the current coefficients, then takes one
# proximal-gradient step
#
#     W <- prox_{eta R}(W - eta * (1 / |B|) sum_{i in B} (s_i / s_mean) g_i x_i^T)
#
# where ``s_mean`` is the mean sample weight of the whole training set, so
# that the expected step is the full gradient of the mean-loss objective (and
# a sample weight of 2 means what repeating the row means).  L2 is applied
# by its proximal operator, division by ``1 + eta * l2`` (never a sign flip,
# whatever eta).  L1 is applied as the cumulative penalty of Tsuruoka, Tsujii
# and Ananiadou (2009), as in scikit-learn's SGD: with ``u`` the thresholds
# ``eta * l1`` accrued since the start of the epoch and ``q`` the signed
# shrinkage already applied to a coefficient, a positive coefficient loses
# at most ``u + q`` and a negative one at most ``u - q``, never crossing
# zero.  While a plain soft-threshold (a proximal step) lets every noisy
# single-row gradient push a coefficient off zero, the cumulative penalty
# keeps the thresholds a coefficient was spared while it sat at zero and
# pulls it back: coefficients whose *mean* gradient stays below l1 end the
# epoch exactly zero, as in the Lasso solution, instead of hovering around
# it.  Away from zero it is the soft-threshold.  ``u`` and ``q`` start at
# zero every epoch, and shrink with the coefficients under L2.
#
# Dense mini-batches accumulate the gradients of their rows while each row
# is in L1 cache (every row of a batch sees the same coefficients, so X is
# read once), then ``apply_step`` moves every coefficient once per update:
# gradient step, momentum and penalty in one pass.  A dense update may be
# preconditioned: per-feature step multipliers ``step_scale`` and a
# centring vector ``center`` make it a plain SGD step on standardised
# features, written back in the user's coordinates (see
# ``skgd._step_size.Preconditioner``).
#
# Plain dense SGD (batch_size 1, no momentum, no preconditioner) is the
# case that must run at memory speed, and has its own loop:
#   * with at most an L2 penalty and no averaging, the L2 prox is a lazy
#     scale shared by all K outputs (below), so an update is one dot product
#     and one axpy per output -- no pass over W to shrink it;
#   * with L1 or averaging, the axpy and the prox are fused into one pass.
# Shuffled rows are memory-latency bound (each row is a cold miss), so every
# loop prefetches the row, target and weight PREFETCH_DISTANCE samples ahead
# in the visiting order.
#
# CSR rows touch only their non-zeros.  Without momentum or averaging the
# penalty is applied lazily so that an update costs O(nnz):
#   * the true coefficients are ``scale * W``; L2 only shrinks ``scale``;
#   * L1 keeps the running total ``l1_total`` of thresholds (``u``, in units
#     of W) and, per coefficient, the shrinkage already applied (``q``); a
#     feature catches up just before it is read, which gives exactly what
#     the eager penalty gives (the cumulative penalty of several updates
#     without a gradient on the feature is the one of their total).
# ``scale`` is folded back into W whenever it drops below 1e-9 and at the end
# of the epoch, so the caller always sees true coefficients.
# With momentum or averaging every coefficient moves on every update and the
# CSR path runs eagerly as well (O(n_features) per update).

from cpython.mem cimport PyMem_RawCalloc, PyMem_RawFree, PyMem_RawMalloc
from libc.math cimport copysign, fabs, pow

from skgd._fast._loss cimport row_loss_grad
from skgd._fast._rows cimport (PREFETCH_DISTANCE, PREFETCH_EARLY_DISTANCE,
                               axpy_centered_dense, axpy_csr, axpy_dense,
                               dot_csr, dot_dense, floating, index_t, prefetch,
                               prefetch_span, prefetch_span_early,
                               step_shrink_dense)
from skgd._fast._rows cimport skgd_avx_selected

cdef enum:
    CONSTANT = 0
    OPTIMAL = 1
    INVSCALING = 2

# Fold the lazy L2 scale back into W below this value (as sklearn's
# WeightVector does), long before it could underflow.
cdef double MIN_SCALE = 1e-9


ctypedef struct EpochConfig:
    int loss
    double epsilon
    Py_ssize_t batch_size
    bint fit_intercept
    double l1              # alpha * l1_ratio: strength of sum |w|
    double l2              # alpha * (1 - l1_ratio): strength of 1/2 ||w||^2
    int schedule           # CONSTANT, OPTIMAL or INVSCALING
    double eta0
    double power_t
    double optimal_alpha   # optimal: eta_t = 1 / (optimal_alpha * (optimal_t0 + t))
    double optimal_t0
    double momentum
    bint nesterov
    long long average_start  # averaging starts after this many updates; < 0: off
    double weight_scale    # 1 / mean sample weight of the training set
    bint preconditioned    # dense only: use step_scale and center
    double center_sq       # sum_j step_scale_j * center_j ** 2


ctypedef struct Workspace:
    double* grad           # (batch_size, K) scaled loss derivatives
    double* acc            # (K, d) accumulated gradient of an update
    double* acc_b          # (K,)
    double* pred           # (K,)
    double* scaled_center  # (d,) step_scale * center (preconditioned only)
    double* l1_budget      # (d,) cumulative L1: thresholds accrued, u (eager, l1 > 0)
    double* l1_applied     # (K, d) cumulative L1: shrinkage applied, q (l1 > 0)


ctypedef struct Counters:
    long long t            # updates made so far in the fit
    long long n_averaged   # iterates in the running average
    double loss_sum        # sum_i s_i L_i over the epoch
    double weight_sum      # sum_i s_i over the epoch


cdef inline double step_size(EpochConfig* cfg, long long t) noexcept nogil:
    """Learning rate of update number ``t`` (0-based, counted over the fit)."""
    if cfg.schedule == OPTIMAL:
        return 1.0 / (cfg.optimal_alpha * (cfg.optimal_t0 + t))
    elif cfg.schedule == INVSCALING:
        return cfg.eta0 / pow(t + 1.0, cfg.power_t)
    return cfg.eta0


cdef inline double prox(double w, double threshold, double shrink) noexcept nogil:
    """prox of eta * (l1 |w| + l2 / 2 w^2) with threshold = eta * l1 and
    shrink = 1 + eta * l2: soft-threshold, then shrink."""
    cdef double a = fabs(w) - threshold
    if a <= 0.0:
        return 0.0
    return copysign(a, w) / shrink


cdef inline double cumulative_l1(double w, double budget,
                                 double* applied) noexcept nogil:
    """Tsuruoka et al.'s cumulative L1 penalty on one coefficient.

    ``budget`` is ``u``, the thresholds accrued this epoch, ``applied`` points
    to ``q``, the signed shrinkage applied so far (updated).  A positive
    coefficient loses at most ``u + q``, a negative one at most ``u - q``
    (both are >= 0), and none crosses zero.
    """
    cdef double new
    if w > 0.0:
        new = w - (budget + applied[0])
        if new < 0.0:
            new = 0.0
    elif w < 0.0:
        new = w + (budget - applied[0])
        if new > 0.0:
            new = 0.0
    else:
        return w
    applied[0] += new - w
    return new


cdef inline void prefetch_dense_row(const floating* X, Py_ssize_t d,
                                    const double* Y, Py_ssize_t K,
                                    const double* sample_weight,
                                    bint uniform_weight,
                                    const Py_ssize_t* order, Py_ssize_t pos,
                                    Py_ssize_t n) noexcept nogil:
    """Ask for the data of the row visited at position ``pos`` (if any).

    With equal sample weights the weight is never read: one cache line
    less per row."""
    cdef Py_ssize_t i
    cdef Py_ssize_t early = pos - PREFETCH_DISTANCE + PREFETCH_EARLY_DISTANCE
    if early < n:
        prefetch_span_early(X + order[early] * d, d * sizeof(X[0]))
    if pos < n:
        i = order[pos]
        prefetch_span(X + i * d, d * sizeof(X[0]))
        prefetch_span(Y + i * K, K * sizeof(double))
        if not uniform_weight:
            prefetch(sample_weight + i)


cdef bint all_equal(const double* sample_weight, Py_ssize_t n) noexcept nogil:
    """Whether every sample weight is the same (then none is read per row).

    One sequential pass over n doubles per epoch: noise next to an epoch
    that reads every row of X in shuffled order."""
    cdef Py_ssize_t i
    for i in range(1, n):
        if sample_weight[i] != sample_weight[0]:
            return False
    return True


cdef void update_average(const double* W, const double* b, double* W_avg,
                         double* b_avg, Py_ssize_t K, Py_ssize_t d,
                         long long n_averaged) noexcept nogil:
    """Running mean of the iterates (Polyak-Ruppert averaging)."""
    cdef Py_ssize_t k, j
    cdef double rate = 1.0 / n_averaged
    for j in range(K * d):
        W_avg[j] += rate * (W[j] - W_avg[j])
    for k in range(K):
        b_avg[k] += rate * (b[k] - b_avg[k])


cdef inline void after_update(EpochConfig* cfg, Counters* cnt, const double* W,
                              const double* b, double* W_avg, double* b_avg,
                              Py_ssize_t K, Py_ssize_t d) noexcept nogil:
    cnt.t += 1
    if cfg.average_start >= 0 and cnt.t > cfg.average_start:
        cnt.n_averaged += 1
        update_average(W, b, W_avg, b_avg, K, d, cnt.n_averaged)


cdef int alloc_workspace(Workspace* ws, Py_ssize_t B, Py_ssize_t K, Py_ssize_t d,
                         bint with_l1) noexcept nogil:
    # PyMem_Raw*: safe without the GIL, and seen by tracemalloc.  Zeroed
    # where it matters: the accumulators start empty, and the cumulative L1
    # penalty starts afresh every epoch.
    ws.l1_budget = <double*> PyMem_RawCalloc(d, sizeof(double)) if with_l1 else NULL
    ws.l1_applied = <double*> PyMem_RawCalloc(K * d, sizeof(double)) if with_l1 else NULL
    ws.grad = <double*> PyMem_RawMalloc(B * K * sizeof(double))
    ws.pred = <double*> PyMem_RawMalloc(K * sizeof(double))
    ws.scaled_center = <double*> PyMem_RawCalloc(d, sizeof(double))
    # (K, d) gradient sums, or two (d,) tables of the preconditioned sgd loop
    ws.acc = <double*> PyMem_RawCalloc(max(K, 2) * d, sizeof(double))
    ws.acc_b = <double*> PyMem_RawCalloc(K, sizeof(double))
    if (ws.grad == NULL or ws.pred == NULL or ws.scaled_center == NULL
            or ws.acc == NULL or ws.acc_b == NULL):
        return -1
    if with_l1 and (ws.l1_budget == NULL or ws.l1_applied == NULL):
        return -1
    return 0


cdef void free_workspace(Workspace* ws) noexcept nogil:
    PyMem_RawFree(ws.grad)
    PyMem_RawFree(ws.pred)
    PyMem_RawFree(ws.scaled_center)
    PyMem_RawFree(ws.acc)
    PyMem_RawFree(ws.acc_b)
    PyMem_RawFree(ws.l1_budget)
    PyMem_RawFree(ws.l1_applied)


# ---- dense: plain SGD ------------------------------------------------------

cdef void sgd_dense_lazy(const floating* X, Py_ssize_t d, const double* Y,
                         Py_ssize_t K, const double* sample_weight,
                         bint uniform_weight, const Py_ssize_t* order,
                         Py_ssize_t n, double* W, double* b, EpochConfig* cfg,
                         Workspace* ws, Counters* cnt) noexcept nogil:
    """Plain SGD with at most an L2 penalty and no averaging.

    The coefficients are ``wscale * W``: the L2 prox (division by
    ``1 + eta * l2``) only shrinks the scalar ``wscale``, and a gradient
    step adds ``-eta * c / wscale * x`` to W.  Without a penalty ``wscale``
    stays exactly 1 and this is the textbook update.

    The chain dot product -> loss derivative -> axpy of one row is the
    critical path of the epoch (the next row's dot product needs the
    updated W), so nothing else sits on it: ``1 / wscale`` is formed while
    the row's data arrive, and every setting is a local the compiler keeps
    in a register (read through ``cfg`` or ``cnt``, it would be reloaded
    after each store to W: extensions build with -fno-strict-aliasing).
    """
    cdef Py_ssize_t r, i, k
    cdef int loss = cfg.loss
    cdef double epsilon = cfg.epsilon, l2 = cfg.l2
    cdef double weight_scale = cfg.weight_scale
    cdef bint fit_intercept = cfg.fit_intercept
    cdef double* pred = ws.pred
    cdef double* grad = ws.grad
    cdef double s = sample_weight[0], eta, c, scale
    cdef double wscale = 1.0, inv_wscale = 1.0
    cdef long long t = cnt.t
    cdef double loss_sum = 0.0, weight_sum = 0.0
    cdef const floating* x
    scale = s * weight_scale
    for r in range(n):
        prefetch_dense_row(X, d, Y, K, sample_weight, uniform_weight, order,
                           r + PREFETCH_DISTANCE, n)
        i = order[r]
        x = X + i * d
        if not uniform_weight:
            s = sample_weight[i]
            scale = s * weight_scale
        eta = step_size(cfg, t)
        for k in range(K):
            pred[k] = b[k] + wscale * dot_dense(x, W + k * d, d)
        loss_sum += s * row_loss_grad(loss, Y + i * K, pred, grad, K, epsilon)
        weight_sum += s
        for k in range(K):
            c = grad[k] * scale
            if c == 0.0:
                continue
            axpy_dense(-eta * c * inv_wscale, x, W + k * d, d)
            if fit_intercept:
                b[k] -= eta * c
        if l2 > 0.0:
            wscale /= 1.0 + eta * l2
            if wscale < MIN_SCALE:
                for k in range(K * d):
                    W[k] *= wscale
                wscale = 1.0
            inv_wscale = 1.0 / wscale
        t += 1
    cnt.t = t
    cnt.loss_sum += loss_sum
    cnt.weight_sum += weight_sum
    if wscale != 1.0:
        for k in range(K * d):
            W[k] *= wscale


cdef void sgd_dense_eager(const floating* X, Py_ssize_t d, const double* Y,
                          Py_ssize_t K, const double* sample_weight,
                          bint uniform_weight, const Py_ssize_t* order, Py_ssize_t n,
                          double* W, double* b, double* W_avg, double* b_avg,
                          EpochConfig* cfg, Workspace* ws,
                          Counters* cnt) noexcept nogil:
    """Plain SGD with an L1 part or averaging: axpy and penalty in one pass."""
    cdef Py_ssize_t r, i, k, j
    cdef double s, eta, c, a, scale, threshold, shrink
    cdef bint penalised = cfg.l1 > 0.0 or cfg.l2 > 0.0
    cdef bint cumulative = cfg.l1 > 0.0
    cdef double u = 0.0  # cumulative L1 budget (the same for every feature)
    cdef const floating* x
    cdef double* w
    cdef double* q
    for r in range(n):
        prefetch_dense_row(X, d, Y, K, sample_weight, uniform_weight, order,
                           r + PREFETCH_DISTANCE, n)
        i = order[r]
        x = X + i * d
        s = sample_weight[0] if uniform_weight else sample_weight[i]
        for k in range(K):
            ws.pred[k] = b[k] + dot_dense(x, W + k * d, d)
        cnt.loss_sum += s * row_loss_grad(cfg.loss, Y + i * K, ws.pred, ws.grad,
                                          K, cfg.epsilon)
        cnt.weight_sum += s
        scale = s * cfg.weight_scale
        eta = step_size(cfg, cnt.t)
        threshold = eta * cfg.l1
        shrink = 1.0 + eta * cfg.l2
        u += threshold
        for k in range(K):
            c = ws.grad[k] * scale
            w = W + k * d
            if c != 0.0 and cfg.fit_intercept:
                b[k] -= eta * c
            a = -eta * c
            if not penalised:
                if c != 0.0:
                    axpy_dense(a, x, w, d)
            elif cumulative and cfg.l2 == 0.0:
                # the Lasso: no division by a shrink of exactly 1
                q = ws.l1_applied + k * d
                for j in range(d):
                    w[j] = cumulative_l1(w[j] + a * x[j], u, q + j)
            elif cumulative:
                q = ws.l1_applied + k * d
                for j in range(d):
                    w[j] = cumulative_l1(w[j] + a * x[j], u, q + j) / shrink
                    q[j] /= shrink
            else:
                for j in range(d):
                    w[j] = prox(w[j] + a * x[j], 0.0, shrink)
        u /= shrink
        after_update(cfg, cnt, W, b, W_avg, b_avg, K, d)


# ---- dense: preconditioned plain SGD (the default of solver='sgd') ----------

cdef void sgd_dense_preconditioned(const floating* X, Py_ssize_t d,
                                   const double* Y, Py_ssize_t K,
                                   const double* sample_weight,
                                   bint uniform_weight, const Py_ssize_t* order,
                                   Py_ssize_t n, double* W, double* b,
                                   double* W_avg, double* b_avg,
                                   const double* step_scale, const double* center,
                                   EpochConfig* cfg, Workspace* ws,
                                   Counters* cnt) noexcept nogil:
    """Preconditioned SGD, one row per update, at a step fixed for the epoch.

    The update of ``epoch_dense_general`` with a batch of one row (see
    ``apply_step``), in one pass over each output's coefficients:

        w_j <- (w_j - eta_j c (x_j - center_j)) / (1 + eta_j l2),
        eta_j = eta * step_scale_j,

    with the per-feature steps and reciprocal shrinks formed once per epoch
    (a division per feature and row would cost more than the row's memory
    traffic).  An L1 part is the cumulative penalty of ``apply_step`` with
    per-feature budgets ``u_j``.  The intercept takes the step of the
    centred problem and the shift ``sum_j (new_j - stepped_j) center_j``
    that keeps it fixed under the penalty; that sum keeps four partial sums
    (``step_shrink_dense``), so that it does not serialise the loop on one
    chain of additions.
    """
    cdef Py_ssize_t r, i, k, j
    cdef int loss = cfg.loss
    cdef double epsilon = cfg.epsilon, eta = cfg.eta0, l2 = cfg.l2
    cdef double weight_scale = cfg.weight_scale, center_sq = cfg.center_sq
    cdef bint fit_intercept = cfg.fit_intercept
    cdef bint centred = fit_intercept
    cdef double l1 = cfg.l1
    cdef bint penalised = l1 > 0.0 or l2 > 0.0
    cdef bint cumulative = l1 > 0.0
    cdef double* u = ws.l1_budget
    cdef double* q
    cdef double* pred = ws.pred
    cdef double* grad = ws.grad
    # per-epoch tables: eta_j, 1 / (1 + eta_j l2) and step_scale_j center_j
    cdef double* eta_j = ws.acc
    cdef double* inv_shrink = ws.acc + d
    cdef double* scaled_center = ws.scaled_center
    cdef double s = sample_weight[0], scale = s * weight_scale
    cdef double c, stepped, new, down, up, center_dot = 0.0
    cdef double shift
    cdef long long t = cnt.t
    cdef double loss_sum = 0.0, weight_sum = 0.0
    cdef const floating* x
    cdef double* w
    for j in range(d):
        eta_j[j] = eta * step_scale[j]
        inv_shrink[j] = 1.0 / (1.0 + eta_j[j] * l2)
        scaled_center[j] = step_scale[j] * center[j]
    for r in range(n):
        prefetch_dense_row(X, d, Y, K, sample_weight, uniform_weight, order,
                           r + PREFETCH_DISTANCE, n)
        i = order[r]
        x = X + i * d
        if not uniform_weight:
            s = sample_weight[i]
            scale = s * weight_scale
        for k in range(K):
            pred[k] = b[k] + dot_dense(x, W + k * d, d)
        loss_sum += s * row_loss_grad(loss, Y + i * K, pred, grad, K, epsilon)
        weight_sum += s
        if centred:
            # the intercept of the standardised problem moves by c times
            # 1 - sum_j step_scale_j center_j (x_j - center_j)
            center_dot = dot_dense(x, scaled_center, d) - center_sq
        if cumulative:
            for j in range(d):
                u[j] += eta_j[j] * l1
        for k in range(K):
            c = grad[k] * scale
            w = W + k * d
            shift = 0.0
            if cumulative:
                q = ws.l1_applied + k * d
                for j in range(d):
                    # cumulative_l1 written with selects instead of branches:
                    # the sign of a coefficient near zero is a coin flip the
                    # branch predictor would miss on every other feature
                    stepped = w[j] - eta_j[j] * (c * (x[j] - center[j]))
                    down = stepped - (u[j] + q[j])
                    up = stepped + (u[j] - q[j])
                    new = (down if down > 0.0 else 0.0) if stepped > 0.0 else (
                        (up if up < 0.0 else 0.0) if stepped < 0.0 else stepped)
                    q[j] = (q[j] + (new - stepped)) * inv_shrink[j]
                    new = new * inv_shrink[j]
                    shift += (new - stepped) * center[j]
                    w[j] = new
                if not centred:
                    shift = 0.0
            elif penalised:
                shift = step_shrink_dense(c, x, center, eta_j, inv_shrink, w, d)
                if not centred:
                    shift = 0.0
            elif c != 0.0:
                for j in range(d):
                    w[j] = w[j] - eta_j[j] * (c * (x[j] - center[j]))
            if fit_intercept:
                b[k] -= eta * (c * (1.0 - center_dot))
            b[k] -= shift
        if cumulative:
            # the budget shrinks with the coefficients under L2
            for j in range(d):
                u[j] *= inv_shrink[j]
        t += 1
        if cfg.average_start >= 0 and t > cfg.average_start:
            cnt.n_averaged += 1
            update_average(W, b, W_avg, b_avg, K, d, cnt.n_averaged)
    cnt.t = t
    cnt.loss_sum += loss_sum
    cnt.weight_sum += weight_sum


# ---- dense: mini-batches, momentum, preconditioning ----------------------------

cdef void apply_step(EpochConfig* cfg, Workspace* ws, double eta,
                     double* W, double* b, double* velocity,
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
    cdef double mom = cfg.momentum, stepped, new, shift, eta_j, shrink
    cdef bint with_momentum = mom > 0.0
    cdef bint penalised = cfg.l1 > 0.0 or cfg.l2 > 0.0
    cdef bint cumulative = cfg.l1 > 0.0
    cdef bint scaled = cfg.preconditioned
    cdef bint centred = cfg.preconditioned and cfg.fit_intercept
    cdef double* w
    cdef double* v
    cdef double* acc
    cdef double* u = ws.l1_budget
    cdef double* q = NULL
    if cumulative:
        # this update's thresholds join the budget (per feature: the
        # preconditioned step differs by feature)
        for j in range(d):
            u[j] += eta * step_scale[j] * cfg.l1 if scaled else eta * cfg.l1
    for k in range(K):
        w = W + k * d
        v = velocity + k * d if with_momentum else NULL
        acc = ws.acc + k * d
        if cumulative:
            q = ws.l1_applied + k * d
        shift = 0.0
        for j in range(d):
            eta_j = eta * step_scale[j] if scaled else eta
            if with_momentum:
                v[j] = mom * v[j] - (eta_j * acc[j])
                stepped = w[j] + v[j]
            else:
                stepped = w[j] - eta_j * acc[j]
            acc[j] = 0.0
            if penalised:
                shrink = 1.0 + eta_j * cfg.l2
                if cumulative:
                    new = cumulative_l1(stepped, u[j], q + j) / shrink
                    q[j] /= shrink
                else:
                    new = stepped / shrink
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
    if cumulative:
        # the budget shrinks with the coefficients under L2
        for j in range(d):
            u[j] /= 1.0 + (eta * step_scale[j] if scaled else eta) * cfg.l2


cdef void epoch_dense_general(const floating* X, Py_ssize_t d, const double* Y,
                              Py_ssize_t K, const double* sample_weight,
                              bint uniform_weight, const Py_ssize_t* order,
                              Py_ssize_t n,
                              double* W, double* b, double* velocity,
                              double* velocity_b, double* W_avg, double* b_avg,
                              const double* step_scale, const double* center,
                              EpochConfig* cfg, Workspace* ws,
                              Counters* cnt) noexcept nogil:
    """Mini-batches, momentum and preconditioning.

    All rows of a batch see the same coefficients, so each row's gradient
    is accumulated into ``ws.acc`` while the row is in L1 cache (one read
    of the row, not one for the gradient and one for the step), and
    ``apply_step`` then moves W once per batch.
    """
    cdef Py_ssize_t B = max(1, min(cfg.batch_size, n))
    cdef Py_ssize_t batch, start, nb, r, i, k, j
    cdef bint lookahead = cfg.momentum > 0.0 and cfg.nesterov
    cdef bint centred = cfg.preconditioned and cfg.fit_intercept
    cdef double s, c, scale, center_dot = 0.0
    cdef const floating* x
    cdef double* acc
    if centred:
        for j in range(d):
            ws.scaled_center[j] = step_scale[j] * center[j]
    for batch in range((n + B - 1) // B):
        start = batch * B
        nb = min(B, n - start)
        for r in range(nb):
            prefetch_dense_row(X, d, Y, K, sample_weight, uniform_weight,
                               order, start + r + PREFETCH_DISTANCE, n)
            i = order[start + r]
            x = X + i * d
            s = sample_weight[0] if uniform_weight else sample_weight[i]
            # loss derivatives at the current point (Nesterov: look-ahead)
            for k in range(K):
                ws.pred[k] = b[k] + dot_dense(x, W + k * d, d)
                if lookahead:
                    ws.pred[k] += cfg.momentum * (
                        velocity_b[k] + dot_dense(x, velocity + k * d, d))
            cnt.loss_sum += s * row_loss_grad(cfg.loss, Y + i * K, ws.pred,
                                              ws.grad, K, cfg.epsilon)
            cnt.weight_sum += s
            scale = s * cfg.weight_scale / nb
            if centred:
                # the intercept of the standardised problem moves by c times
                # 1 - sum_j step_scale_j center_j (x_j - center_j)
                center_dot = dot_dense(x, ws.scaled_center, d) - cfg.center_sq
            for k in range(K):
                c = ws.grad[k] * scale
                if c == 0.0:
                    continue
                acc = ws.acc + k * d
                if cfg.preconditioned:
                    axpy_centered_dense(c, x, center, acc, d)
                else:
                    axpy_dense(c, x, acc, d)
                ws.acc_b[k] += c * (1.0 - center_dot)
        apply_step(cfg, ws, step_size(cfg, cnt.t), W, b, velocity, velocity_b,
                   step_scale, center, K, d)
        after_update(cfg, cnt, W, b, W_avg, b_avg, K, d)


def epoch_dense(const floating[:, ::1] X, const double[:, ::1] Y,
                const double[::1] sample_weight, const Py_ssize_t[::1] order,
                double[:, ::1] W, double[::1] b,
                double[:, ::1] velocity, double[::1] velocity_b,
                double[:, ::1] W_avg, double[::1] b_avg,
                const double[::1] step_scale, const double[::1] center,
                EpochConfig cfg, long long t, long long n_averaged):
    """Run one epoch of sgd / mini-batch updates over dense rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous
    Y : ndarray of shape (n_samples, n_outputs)
    sample_weight : ndarray of shape (n_samples,)
    order : ndarray of shape (n_rows,), the row indices in visiting order.
    W, b : coefficients and intercepts, updated in place.
    velocity, velocity_b : momentum buffers, updated in place (unused, may be
        empty, without momentum).
    W_avg, b_avg : averaged coefficients, updated in place once averaging
        has started (may be empty without averaging).
    step_scale, center : per-feature step multipliers and centring vector of
        the preconditioner (read only when ``cfg.preconditioned``).
    cfg : EpochConfig (a dict with its fields).
    t : number of updates made before this epoch.
    n_averaged : number of iterates already in the average.

    Returns
    -------
    t, n_averaged : the updated counters.
    loss_sum, weight_sum : sum of s_i L_i (at the coefficients each row saw
        before its update) and of s_i over the epoch.
    """
    cdef Py_ssize_t n = order.shape[0], d = X.shape[1], K = W.shape[0]
    cdef Py_ssize_t B = max(1, min(cfg.batch_size, n))
    cdef bint with_momentum = cfg.momentum > 0.0
    cdef Counters cnt = Counters(t, n_averaged, 0.0, 0.0)
    cdef Workspace ws
    cdef bint uniform
    if n == 0 or d == 0:
        return t, n_averaged, 0.0, 0.0
    # Raw pointers: the helpers index rows as X + i * d (C-contiguous).
    cdef const floating* Xp = &X[0, 0]
    cdef double* vel = &velocity[0, 0] if with_momentum else NULL
    cdef double* vel_b = &velocity_b[0] if with_momentum else NULL
    cdef bint averaging = cfg.average_start >= 0
    cdef double* Wa = &W_avg[0, 0] if averaging else NULL
    cdef double* ba = &b_avg[0] if averaging else NULL
    cdef const double* ss = &step_scale[0] if cfg.preconditioned else NULL
    cdef const double* ctr = &center[0] if cfg.preconditioned else NULL
    if alloc_workspace(&ws, B, K, d, cfg.l1 > 0.0) != 0:
        free_workspace(&ws)
        raise MemoryError()
    with nogil:
        uniform = all_equal(&sample_weight[0], sample_weight.shape[0])
        if (B == 1 and not with_momentum and cfg.preconditioned
                and cfg.schedule == CONSTANT):
            sgd_dense_preconditioned(Xp, d, &Y[0, 0], K, &sample_weight[0],
                                     uniform, &order[0], n, &W[0, 0], &b[0],
                                     Wa, ba, ss, ctr, &cfg, &ws, &cnt)
        elif B == 1 and not with_momentum and not cfg.preconditioned:
            if cfg.l1 == 0.0 and not averaging:
                sgd_dense_lazy(Xp, d, &Y[0, 0], K, &sample_weight[0], uniform,
                               &order[0], n, &W[0, 0], &b[0], &cfg, &ws, &cnt)
            else:
                sgd_dense_eager(Xp, d, &Y[0, 0], K, &sample_weight[0], uniform,
                                &order[0], n, &W[0, 0], &b[0], Wa, ba, &cfg, &ws,
                                &cnt)
        else:
            epoch_dense_general(Xp, d, &Y[0, 0], K, &sample_weight[0], uniform,
                                &order[0], n, &W[0, 0], &b[0], vel, vel_b, Wa, ba,
                                ss, ctr, &cfg, &ws, &cnt)
    free_workspace(&ws)
    return cnt.t, cnt.n_averaged, cnt.loss_sum, cnt.weight_sum


# ---- CSR --------------------------------------------------------------------

cdef inline void catch_up(double* W, Py_ssize_t K, Py_ssize_t d, Py_ssize_t j,
                          double l1_total, double* l1_applied) noexcept nogil:
    """Apply to feature j the cumulative L1 penalty it missed since it was
    last read (``l1_applied`` is ``q``, (K, d), in units of W)."""
    cdef Py_ssize_t k
    for k in range(K):
        W[k * d + j] = cumulative_l1(W[k * d + j], l1_total, l1_applied + k * d + j)


cdef void fold_scale(double* W, Py_ssize_t K, Py_ssize_t d, double scale,
                     double l1_total, double* l1_applied) noexcept nogil:
    """Bring every feature up to date and fold the lazy scale into W (and
    into ``q``; the caller multiplies ``l1_total`` by ``scale``)."""
    cdef Py_ssize_t j
    if l1_applied != NULL:
        for j in range(d):
            catch_up(W, K, d, j, l1_total, l1_applied)
        for j in range(K * d):
            l1_applied[j] *= scale
    for j in range(K * d):
        W[j] *= scale


cdef inline void prefetch_csr_row(const floating* vals, const index_t* cols,
                                  const index_t* indptr, const double* Y,
                                  Py_ssize_t K, const double* sample_weight,
                                  bint uniform_weight,
                                  const Py_ssize_t* order, Py_ssize_t pos,
                                  Py_ssize_t n) noexcept nogil:
    """Ask for the values, indices, target and weight of the row at ``pos``,
    and for the row pointers of the row as far again ahead: reading
    ``indptr`` here would otherwise be a cache miss of its own before the
    prefetches of the row can even be issued."""
    cdef Py_ssize_t i, start, nnz
    if pos + PREFETCH_DISTANCE < n:
        prefetch(indptr + order[pos + PREFETCH_DISTANCE])
    if pos < n:
        i = order[pos]
        start = indptr[i]
        nnz = indptr[i + 1] - start
        prefetch_span(vals + start, nnz * sizeof(vals[0]))
        prefetch_span(cols + start, nnz * sizeof(cols[0]))
        prefetch_span(Y + i * K, K * sizeof(double))
        if not uniform_weight:
            prefetch(sample_weight + i)


def epoch_csr(const floating[::1] data, const index_t[::1] indices,
              const index_t[::1] indptr, const double[:, ::1] Y,
              const double[::1] sample_weight, const Py_ssize_t[::1] order,
              double[:, ::1] W, double[::1] b,
              double[:, ::1] velocity, double[::1] velocity_b,
              double[:, ::1] W_avg, double[::1] b_avg,
              EpochConfig cfg, long long t, long long n_averaged):
    """Run one epoch of sgd / mini-batch updates over CSR rows.

    Same contract as ``epoch_dense`` (without preconditioning).  Without
    momentum and averaging the penalty is applied lazily: O(nnz) per update.
    """
    cdef Py_ssize_t n = order.shape[0], d = W.shape[1], K = W.shape[0]
    cdef Py_ssize_t B = max(1, min(cfg.batch_size, n))
    cdef Py_ssize_t batch, start, nb, r, i, k, m, row_start, nnz
    cdef bint with_momentum = cfg.momentum > 0.0
    cdef bint lookahead = with_momentum and cfg.nesterov
    cdef bint averaging = cfg.average_start >= 0
    cdef bint lazy = not with_momentum and not averaging
    cdef double s, eta, c, scale
    cdef double wscale = 1.0, l1_total = 0.0
    cdef Counters cnt = Counters(t, n_averaged, 0.0, 0.0)
    cdef Workspace ws
    cdef EpochConfig eager_cfg = cfg
    eager_cfg.preconditioned = False
    if n == 0 or d == 0:
        return t, n_averaged, 0.0, 0.0
    # Base pointers taken once: a row with no stored value must not index
    # past the end of ``data`` (a bounds-checked build would raise there).
    cdef const floating* vals = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cols = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const index_t* ptr = &indptr[0]
    cdef const Py_ssize_t* orderp = &order[0]
    cdef const double* Yp = &Y[0, 0]
    cdef const double* sw = &sample_weight[0]
    cdef double* Wp = &W[0, 0]
    cdef double* bp = &b[0]
    cdef double* vel = &velocity[0, 0] if with_momentum else NULL
    cdef double* vel_b = &velocity_b[0] if with_momentum else NULL
    cdef double* Wa = &W_avg[0, 0] if averaging else NULL
    cdef double* ba = &b_avg[0] if averaging else NULL
    if alloc_workspace(&ws, B, K, d, cfg.l1 > 0.0) != 0:
        free_workspace(&ws)
        raise MemoryError()
    cdef double* l1_applied = ws.l1_applied
    cdef bint uniform
    with nogil:
        uniform = all_equal(sw, sample_weight.shape[0])
        for batch in range((n + B - 1) // B):
            start = batch * B
            nb = min(B, n - start)
            # 1. loss derivatives of the batch rows (features caught up first)
            for r in range(nb):
                prefetch_csr_row(vals, cols, ptr, Yp, K, sw, uniform, orderp,
                                 start + r + PREFETCH_DISTANCE, n)
                i = orderp[start + r]
                row_start = ptr[i]
                nnz = ptr[i + 1] - row_start
                if lazy and cfg.l1 > 0.0:
                    for m in range(nnz):
                        catch_up(Wp, K, d, cols[row_start + m], l1_total, l1_applied)
                s = sw[0] if uniform else sw[i]
                for k in range(K):
                    ws.pred[k] = bp[k] + wscale * dot_csr(
                        vals + row_start, cols + row_start, nnz, Wp + k * d)
                    if lookahead:
                        ws.pred[k] += cfg.momentum * (vel_b[k] + dot_csr(
                            vals + row_start, cols + row_start, nnz, vel + k * d))
                cnt.loss_sum += s * row_loss_grad(cfg.loss, Yp + i * K, ws.pred,
                                                  &ws.grad[r * K], K, cfg.epsilon)
                cnt.weight_sum += s
                scale = s * cfg.weight_scale / nb
                for k in range(K):
                    ws.grad[r * K + k] *= scale
            # 2. the gradient step
            eta = step_size(&cfg, cnt.t)
            for r in range(nb):
                i = orderp[start + r]
                row_start = ptr[i]
                nnz = ptr[i + 1] - row_start
                for k in range(K):
                    c = ws.grad[r * K + k]
                    if c == 0.0:
                        continue
                    if not lazy:
                        # eager: the step is taken by apply_step below
                        axpy_csr(c, vals + row_start, cols + row_start, nnz,
                                 ws.acc + k * d)
                        ws.acc_b[k] += c
                        continue
                    axpy_csr(-eta * c / wscale, vals + row_start, cols + row_start,
                             nnz, Wp + k * d)
                    if cfg.fit_intercept:
                        bp[k] -= eta * c
            # 3. the penalty: lazily (scale and running L1 total) or eagerly
            if lazy:
                # prox in units of W: threshold eta*l1/wscale, then shrink scale
                l1_total += eta * cfg.l1 / wscale
                wscale /= 1.0 + eta * cfg.l2
                if wscale < MIN_SCALE:
                    fold_scale(Wp, K, d, wscale, l1_total, l1_applied)
                    l1_total *= wscale  # W's new units
                    wscale = 1.0
                cnt.t += 1
            else:
                apply_step(&eager_cfg, &ws, eta, Wp, bp, vel, vel_b, NULL, NULL, K, d)
                after_update(&cfg, &cnt, Wp, bp, Wa, ba, K, d)
        if lazy:
            fold_scale(Wp, K, d, wscale, l1_total, l1_applied)
    free_workspace(&ws)
    return cnt.t, cnt.n_averaged, cnt.loss_sum, cnt.weight_sum


def avx_selected():
    """Whether this module's rows of 32 values or more run the AVX loops."""
    return bool(skgd_avx_selected())
