# One epoch of stochastic (batch_size = 1) or mini-batch gradient descent
# over dense rows (CSR rows: ``_stochastic_csr.pyx``).
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
# a sample weight of 2 means what repeating the row means).  The penalty
# (L2 by its proximal shrink, L1 by Tsuruoka et al.'s cumulative penalty)
# is the ``Penalty`` state of ``_penalty.pxd``, the step the schedule of
# ``_schedule.pxd``; every loop below is built from those pieces and from
# the shared ones of ``_epoch.pxd``.
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
# Plain dense SGD (batch_size 1, no momentum) is the case that must run at
# memory speed, and has its own loops:
#   * with at most an L2 penalty and no averaging, the L2 prox is a lazy
#     scale shared by all K outputs, so an update is one dot product and
#     one axpy per output -- no pass over W to shrink it;
#   * with L1 or averaging, the axpy and the penalty are fused into one pass;
#   * preconditioned at a step fixed for the epoch (learning_rate='auto'),
#     the per-feature steps and shrinks are tables formed once per epoch.
# Shuffled rows are memory-latency bound (each row is a cold miss), so every
# loop prefetches the row, target and weight PREFETCH_DISTANCE samples ahead
# in the visiting order.

from skgd._fast._epoch cimport (Counters, EpochConfig, Workspace, after_update,
                                all_equal, alloc_workspace, apply_step, averaged_now,
                                epoch_penalty, free_workspace, step_size,
                                update_average)
from skgd._fast._loss cimport row_loss_grad
from skgd._fast._penalty cimport (MIN_SCALE, Penalty, penalise, penalised, penalty_end,
                                  penalty_end_features, penalty_fold,
                                  lazy_shrink, penalty_start,
                                  penalty_start_features, penalty_feature_steps)
from skgd._fast._rows cimport (PREFETCH_DISTANCE, PREFETCH_EARLY_DISTANCE,
                               axpy_centered_dense, axpy_dense, dot_dense,
                               floating, prefetch, prefetch_span,
                               prefetch_span_early, step_shrink_dense)
from skgd._fast._rows cimport skgd_avx_selected
from skgd._fast._schedule cimport CONSTANT


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


# ---- dense: plain SGD ------------------------------------------------------

cdef void sgd_dense_lazy(const floating* X, Py_ssize_t d, const double* Y,
                         Py_ssize_t K, const double* sample_weight,
                         bint uniform_weight, const Py_ssize_t* order,
                         Py_ssize_t n, double* W, double* b, EpochConfig* cfg,
                         Workspace* ws, Counters* cnt) noexcept nogil:
    """Plain SGD with at most an L2 penalty and no averaging.

    The coefficients are ``pen.scale * W``: the L2 prox (division by
    ``1 + eta * l2``) only shrinks the scalar ``pen.scale``, and a gradient
    step adds ``-eta * c / pen.scale * x`` to W.  Without a penalty the
    scale stays exactly 1 and this is the textbook update.

    The chain dot product -> loss derivative -> axpy of one row is the
    critical path of the epoch (the next row's dot product needs the
    updated W), so nothing else sits on it: ``1 / pen.scale`` is formed while
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
    cdef Penalty pen = epoch_penalty(cfg, ws)
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
            wscale = lazy_shrink(wscale, eta, l2)
            if wscale < MIN_SCALE:
                pen.scale = wscale
                penalty_fold(&pen, W, K, d)
                wscale = 1.0
            inv_wscale = 1.0 / wscale
        t += 1
    cnt.t = t
    cnt.loss_sum += loss_sum
    cnt.weight_sum += weight_sum
    pen.scale = wscale
    penalty_fold(&pen, W, K, d)


cdef void sgd_dense_eager(const floating* X, Py_ssize_t d, const double* Y,
                          Py_ssize_t K, const double* sample_weight,
                          bint uniform_weight, const Py_ssize_t* order, Py_ssize_t n,
                          double* W, double* b, double* W_avg, double* b_avg,
                          EpochConfig* cfg, Workspace* ws,
                          Counters* cnt) noexcept nogil:
    """Plain SGD with an L1 part or averaging: axpy and penalty in one pass."""
    cdef Py_ssize_t r, i, k, j
    cdef double s, eta, c, a, scale
    cdef Penalty pen = epoch_penalty(cfg, ws)
    cdef bint is_penalised = penalised(&pen)
    cdef bint cumulative = pen.cumulative
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
        penalty_start(&pen, eta)
        for k in range(K):
            c = ws.grad[k] * scale
            w = W + k * d
            if c != 0.0 and cfg.fit_intercept:
                b[k] -= eta * c
            a = -eta * c
            if not is_penalised:
                if c != 0.0:
                    axpy_dense(a, x, w, d)
            else:
                q = pen.q + k * d if cumulative else NULL
                for j in range(d):
                    w[j] = penalise(w[j] + a * x[j], pen.u, q, j, pen.inv_shrink,
                                    cumulative)
        penalty_end(&pen)
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
    traffic).  An L1 part is the cumulative penalty with per-feature
    budgets ``u_j``.  The intercept takes the step of the
    centred problem and the shift ``sum_j (new_j - stepped_j) center_j``
    that keeps it fixed under the penalty; that sum keeps four partial sums
    (``step_shrink_dense``), so that it does not serialise the loop on one
    chain of additions.
    """
    cdef Py_ssize_t r, i, k, j
    cdef int loss = cfg.loss
    cdef double epsilon = cfg.epsilon, eta = cfg.eta0
    cdef double weight_scale = cfg.weight_scale, center_sq = cfg.center_sq
    cdef bint fit_intercept = cfg.fit_intercept
    cdef bint centred = fit_intercept
    cdef Penalty pen = epoch_penalty(cfg, ws)
    cdef bint is_penalised = penalised(&pen)
    cdef bint cumulative = pen.cumulative
    cdef double* u = pen.u_j
    cdef double* q
    cdef double* pred = ws.pred
    cdef double* grad = ws.grad
    # per-epoch tables: eta_j, 1 / (1 + eta_j l2) and step_scale_j center_j
    cdef double* eta_j = pen.eta_j
    cdef double* inv_shrink = pen.inv_shrink_j
    cdef double* scaled_center = ws.scaled_center
    cdef double s = sample_weight[0], scale = s * weight_scale
    cdef double c, stepped, new, center_dot = 0.0
    cdef double shift
    cdef long long t = cnt.t
    cdef double loss_sum = 0.0, weight_sum = 0.0
    cdef const floating* x
    cdef double* w
    penalty_feature_steps(&pen, eta, step_scale, d)
    for j in range(d):
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
        penalty_start_features(&pen, d)
        for k in range(K):
            c = grad[k] * scale
            w = W + k * d
            shift = 0.0
            if cumulative:
                q = pen.q + k * d
                for j in range(d):
                    stepped = w[j] - eta_j[j] * (c * (x[j] - center[j]))
                    new = penalise(stepped, u[j], q, j, inv_shrink[j], True)
                    shift += (new - stepped) * center[j]
                    w[j] = new
                if not centred:
                    shift = 0.0
            elif is_penalised:
                # the L2 shrink of ``penalise``, vectorised (_simd.h)
                shift = step_shrink_dense(c, x, center, eta_j, inv_shrink, w, d)
                if not centred:
                    shift = 0.0
            elif c != 0.0:
                for j in range(d):
                    w[j] = w[j] - eta_j[j] * (c * (x[j] - center[j]))
            if fit_intercept:
                b[k] -= eta * (c * (1.0 - center_dot))
            b[k] -= shift
        penalty_end_features(&pen, d)
        t += 1
        if averaged_now(cfg, t):
            cnt.n_averaged += 1
            update_average(cfg, W, b, W_avg, b_avg, K, d, cnt.n_averaged)
    cnt.t = t
    cnt.loss_sum += loss_sum
    cnt.weight_sum += weight_sum


# ---- dense: mini-batches, momentum, preconditioning ----------------------------

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
    cdef Penalty pen = epoch_penalty(cfg, ws)
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
        apply_step(cfg, ws, &pen, step_size(cfg, cnt.t), W, b, velocity, velocity_b,
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


def avx_selected():
    """Whether this module's rows of 32 values or more run the AVX loops."""
    return bool(skgd_avx_selected())
