# One epoch of stochastic (batch_size = 1) or mini-batch gradient descent
# over CSR rows: the update of ``_stochastic.pyx`` (see its design note),
# touching only the non-zeros of each row.
#
# Without momentum or averaging the penalty is applied lazily, so that an
# update costs O(nnz): the ``Penalty`` state of ``_penalty.pxd`` keeps the
# true coefficients as ``scale * W`` (L2 only shrinks ``scale``) and the L1
# thresholds accrued in units of W; a feature catches up just before it is
# read, which gives exactly what the eager penalty gives (the cumulative
# penalty of several updates without a gradient on the feature is the one
# of their total).  ``scale`` is folded back into W whenever it drops below
# MIN_SCALE and at the end of the epoch, so the caller always sees true
# coefficients.  With momentum, or averaging of every iterate, every
# coefficient moves on every update and the CSR path runs eagerly
# (``apply_step``, O(n_features) per update).  An average of every
# ``average_every``-th iterate (learning_rate='auto') stays lazy: the
# iterates it takes are brought up to date (``penalty_fold``, O(n_features))
# only then.
#
# Preconditioned (``cfg.preconditioned``: per-feature step multipliers
# ``step_scale``, no centring, which would destroy sparsity) the step on
# feature j is ``eta * step_scale[j]``, and so is its L2 prox: the shrinks
# differ per feature and the lazy path keeps them per feature instead of in
# one ``scale`` (``feature_catch_up`` of ``_penalty.pxd``: feature j gets
# the shrinks it missed as one power of its factor when it is read).  That
# needs a step fixed for the epoch and no L1 (learning_rate='auto' with at
# most L2, the only user); the eager path takes any penalty.

from skgd._fast._epoch cimport (Counters, EpochConfig, Workspace, after_update,
                                all_equal, alloc_workspace, apply_step,
                                averaged_now, epoch_penalty, free_workspace,
                                step_size, update_average)
from skgd._fast._loss cimport row_loss_grad
from skgd._fast._penalty cimport (Penalty, feature_catch_up, feature_fold,
                                  penalty_catch_up, penalty_feature_steps,
                                  penalty_fold, penalty_lazy_step)
from skgd._fast._rows cimport (PREFETCH_DISTANCE, axpy_csr, dot_csr, floating,
                               index_t, prefetch, prefetch_span)
from skgd._fast._schedule cimport CONSTANT


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
              EpochConfig cfg, long long t, long long n_averaged,
              const double[::1] step_scale=None):
    """Run one epoch of sgd / mini-batch updates over CSR rows.

    Same contract as ``epoch_dense``, with the preconditioner's
    ``step_scale`` only (``cfg.preconditioned``; no centring).  Without
    momentum, and without averaging or with ``average_every > 1``, the
    penalty is applied lazily: O(nnz) per update.
    """
    cdef Py_ssize_t n = order.shape[0], d = W.shape[1], K = W.shape[0]
    cdef Py_ssize_t B = max(1, min(cfg.batch_size, n))
    cdef Py_ssize_t batch, start, nb, r, i, j, k, m, row_start, nnz
    cdef bint with_momentum = cfg.momentum > 0.0
    cdef bint lookahead = with_momentum and cfg.nesterov
    cdef bint averaging = cfg.average_start >= 0
    cdef bint lazy = not with_momentum and (not averaging or cfg.average_every > 1)
    cdef double s, eta, c, scale
    cdef Penalty pen
    cdef Counters cnt = Counters(t, n_averaged, 0.0, 0.0)
    cdef Workspace ws
    cdef bint scaled = cfg.preconditioned
    # per-feature lazy L2 (the shrinks of the epoch, counted from its start)
    cdef bint feature_l2 = scaled and lazy and cfg.l2 > 0.0
    cdef long long u = 0
    cdef const double* ss = NULL
    cdef double* eta_j
    if scaled:
        if step_scale is None or step_scale.shape[0] != d:
            raise ValueError("a preconditioned epoch needs step_scale of n_features")
        if lazy and (cfg.l1 > 0.0 or cfg.schedule != CONSTANT):
            raise ValueError("the lazy preconditioned CSR epoch needs a constant "
                             "step and no L1 penalty")
        if d > 0:
            ss = &step_scale[0]
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
    pen = epoch_penalty(&cfg, &ws)
    eta_j = pen.eta_j
    if scaled and lazy:
        # the per-feature steps and shrinks of the epoch's constant step
        penalty_feature_steps(&pen, cfg.eta0, ss, d)
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
                if lazy and pen.cumulative:
                    for m in range(nnz):
                        penalty_catch_up(&pen, Wp, K, d, cols[row_start + m])
                elif feature_l2:
                    for m in range(nnz):
                        feature_catch_up(Wp, K, d, cols[row_start + m], u, ws.last_j,
                                         pen.inv_shrink_j)
                s = sw[0] if uniform else sw[i]
                for k in range(K):
                    ws.pred[k] = bp[k] + pen.scale * dot_csr(
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
                    if scaled:
                        # per-feature steps (the lazy scale stays 1 here)
                        for m in range(nnz):
                            j = cols[row_start + m]
                            Wp[k * d + j] -= eta_j[j] * c * vals[row_start + m]
                    else:
                        axpy_csr(-eta * c / pen.scale, vals + row_start,
                                 cols + row_start, nnz, Wp + k * d)
                    if cfg.fit_intercept:
                        bp[k] -= eta * c
            # 3. the penalty: lazily (scale and running L1 total) or eagerly
            if lazy:
                # the prox in units of W: threshold eta * l1 / scale, then
                # the scale shrinks
                if scaled:
                    u += 1  # this update's shrinks are owed to every feature
                elif penalty_lazy_step(&pen, eta):
                    penalty_fold(&pen, Wp, K, d)
                cnt.t += 1
                if averaging and averaged_now(&cfg, cnt.t):
                    # the true coefficients of this iterate join the average
                    if feature_l2:
                        feature_fold(Wp, K, d, u, ws.last_j, pen.inv_shrink_j)
                    else:
                        penalty_fold(&pen, Wp, K, d)
                    cnt.n_averaged += 1
                    update_average(&cfg, Wp, bp, Wa, ba, K, d, cnt.n_averaged)
            else:
                # (no centring: ``scaled_center`` is the workspace's zeros)
                apply_step(&cfg, &ws, &pen, eta, Wp, bp, vel, vel_b, ss,
                           ws.scaled_center, K, d)
                after_update(&cfg, &cnt, Wp, bp, Wa, ba, K, d)
        if feature_l2:
            feature_fold(Wp, K, d, u, ws.last_j, pen.inv_shrink_j)
        elif lazy:
            penalty_fold(&pen, Wp, K, d)
    free_workspace(&ws)
    return cnt.t, cnt.n_averaged, cnt.loss_sum, cnt.weight_sum
