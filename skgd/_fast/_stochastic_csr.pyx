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
# differ per feature, and the lazy path keeps one scale per level of
# multipliers (powers of two; ``levels_shrink`` of ``_penalty.pxd``)
# instead of one for all.  It takes no L1 (learning_rate='auto' with at
# most L2 is the only user); the eager path takes any penalty and any
# multipliers.

from skgd._fast._epoch cimport (Counters, EpochConfig, Workspace, after_update,
                                all_equal, alloc_workspace, apply_step,
                                averaged_now, epoch_penalty, free_workspace,
                                step_size, update_average)
from skgd._fast._loss cimport row_loss_grad
from skgd._fast._penalty cimport (MAX_LEVELS, Penalty, feature_levels,
                                  levels_fold, levels_shrink, penalty_catch_up,
                                  penalty_fold, penalty_lazy_step)
from libc.math cimport ldexp
from skgd._fast._rows cimport (PREFETCH_DISTANCE, axpy_csr, dot_csr, floating,
                               index_t, prefetch_csr_row)


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
    # lazy and preconditioned: one L2 scale per level of step multipliers
    cdef bint levelled = scaled and lazy
    cdef int n_levels = 0, g
    cdef double scales[MAX_LEVELS]
    cdef double unit[MAX_LEVELS]    # the step in units of W, per level
    cdef double* lscale = scales
    cdef const unsigned char* lev
    cdef double acc
    cdef const double* ss = NULL
    if scaled:
        if step_scale is None or step_scale.shape[0] != d:
            raise ValueError("a preconditioned epoch needs step_scale of n_features")
        if levelled and cfg.l1 > 0.0:
            raise ValueError("the lazy preconditioned CSR epoch takes no L1 penalty")
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
    lev = ws.level_j
    if levelled:
        n_levels = feature_levels(ss, d, ws.level_j)
        if n_levels < 0:
            free_workspace(&ws)
            raise ValueError("the lazy preconditioned CSR epoch needs step_scale "
                             "of powers of two in [1, 2 ** 62]")
        for g in range(n_levels):
            scales[g] = 1.0
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
                s = sw[0] if uniform else sw[i]
                for k in range(K):
                    if levelled:
                        acc = 0.0
                        for m in range(nnz):
                            j = cols[row_start + m]
                            acc += vals[row_start + m] * (lscale[lev[j]] * Wp[k * d + j])
                        ws.pred[k] = bp[k] + acc
                    else:
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
            for g in range(n_levels):
                unit[g] = eta * ldexp(1.0, g) / scales[g]
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
                    if levelled:
                        # per-feature steps, in units of the feature's level
                        for m in range(nnz):
                            j = cols[row_start + m]
                            Wp[k * d + j] -= c * vals[row_start + m] * unit[lev[j]]
                    else:
                        axpy_csr(-eta * c / pen.scale, vals + row_start,
                                 cols + row_start, nnz, Wp + k * d)
                    if cfg.fit_intercept:
                        bp[k] -= eta * c
            # 3. the penalty: lazily (scale and running L1 total) or eagerly
            if lazy:
                # the prox in units of W: threshold eta * l1 / scale, then
                # the scale shrinks
                if levelled:
                    if cfg.l2 > 0.0 and levels_shrink(lscale, n_levels, eta, cfg.l2):
                        levels_fold(Wp, K, d, lev, lscale, n_levels)
                elif penalty_lazy_step(&pen, eta):
                    penalty_fold(&pen, Wp, K, d)
                cnt.t += 1
                if averaging and averaged_now(&cfg, cnt.t):
                    # the true coefficients of this iterate join the average
                    if levelled:
                        levels_fold(Wp, K, d, lev, lscale, n_levels)
                    else:
                        penalty_fold(&pen, Wp, K, d)
                    cnt.n_averaged += 1
                    update_average(&cfg, Wp, bp, Wa, ba, K, d, cnt.n_averaged)
            else:
                # (no centring: ``scaled_center`` is the workspace's zeros)
                apply_step(&cfg, &ws, &pen, eta, Wp, bp, vel, vel_b, ss,
                           ws.scaled_center, K, d)
                after_update(&cfg, &cnt, Wp, bp, Wa, ba, K, d)
        if levelled:
            levels_fold(Wp, K, d, lev, lscale, n_levels)
        elif lazy:
            penalty_fold(&pen, Wp, K, d)
    free_workspace(&ws)
    return cnt.t, cnt.n_averaged, cnt.loss_sum, cnt.weight_sum
