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
# a sample weight of 2 means what repeating the row means).  The penalty is
# applied by its proximal operator: soft-thresholding for L1 (exact zeros)
# and division by ``1 + eta * l2`` for L2 (never a sign flip, whatever eta).
#
# Dense rows touch every coefficient anyway, so the prox is applied eagerly
# to all of them after each update ("eager" mode).  A dense update may be
# preconditioned: per-feature step multipliers ``step_scale`` and a centring
# vector ``center`` make it a plain SGD step on standardised features,
# written back in the user's coordinates (see ``skgd._preconditioning``).
#
# CSR rows touch only their non-zeros.  Without momentum or averaging the
# penalty is applied lazily so that an update costs O(nnz):
#   * the true coefficients are ``scale * W``; L2 only shrinks ``scale``;
#   * L1 keeps the running total ``l1_total`` of thresholds (in units of W)
#     and, per feature, the total already applied; a feature catches up just
#     before it is read, so it sees exactly the soft-thresholds it missed
#     (composing soft-thresholds adds their thresholds).
# ``scale`` is folded back into W whenever it drops below 1e-9 and at the end
# of the epoch, so the caller always sees true coefficients.
# With momentum or averaging every coefficient moves on every update and the
# CSR path runs eagerly as well (O(n_features) per update).

from libc.math cimport copysign, fabs, pow
from libc.stdlib cimport calloc, free, malloc

from skgd._fast._loss cimport row_loss_grad
from skgd._fast._rows cimport (axpy_csr, axpy_dense, dot_csr, dot_dense,
                               floating, index_t)

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
    double* center_dot     # (batch_size,) step_scale * center . x_i - center_sq
    double* acc            # (K, d) accumulated batch gradient (momentum only)
    double* acc_b          # (K,)
    double* pred           # (K,)


cdef inline double step_size(EpochConfig* cfg, long long t) noexcept nogil:
    """Learning rate of update number ``t`` (0-based, counted over the fit)."""
    if cfg.schedule == OPTIMAL:
        return 1.0 / (cfg.optimal_alpha * (cfg.optimal_t0 + t))
    elif cfg.schedule == INVSCALING:
        return cfg.eta0 / pow(t + 1.0, cfg.power_t)
    return cfg.eta0


cdef inline double prox(double w, double eta, double l1, double l2) noexcept nogil:
    """prox of eta * (l1 |w| + l2 / 2 w^2): soft-threshold, then shrink."""
    cdef double a = fabs(w) - eta * l1
    if a <= 0.0:
        return 0.0
    return copysign(a, w) / (1.0 + eta * l2)


cdef void finish_step_eager(EpochConfig* cfg, Workspace* ws, double eta,
                            double[:, ::1] W, double[::1] b,
                            double[:, ::1] velocity, double[::1] velocity_b,
                            const double[::1] step_scale,
                            const double[::1] center) noexcept nogil:
    """Momentum (if any) and the proximal step on every coefficient.

    Without momentum the gradient has already been added to W; with momentum
    it waits in ``ws.acc`` and enters through the velocity.  With centring,
    a change of w_j moves the intercept by -center_j * change, which keeps
    the intercept of the standardised problem fixed (it is not penalised).
    """
    cdef Py_ssize_t K = W.shape[0], d = W.shape[1], k, j
    cdef double mom = cfg.momentum, old, new, eta_j, shift
    cdef bint penalised = cfg.l1 > 0.0 or cfg.l2 > 0.0
    cdef bint centred = cfg.preconditioned and cfg.fit_intercept
    for k in range(K):
        if mom > 0.0:
            for j in range(d):
                velocity[k, j] = mom * velocity[k, j] - eta * ws.acc[k * d + j]
                W[k, j] += velocity[k, j]
                ws.acc[k * d + j] = 0.0
            if cfg.fit_intercept:
                velocity_b[k] = mom * velocity_b[k] - eta * ws.acc_b[k]
                b[k] += velocity_b[k]
            ws.acc_b[k] = 0.0
        if not penalised:
            continue
        shift = 0.0
        for j in range(d):
            old = W[k, j]
            eta_j = eta * step_scale[j] if cfg.preconditioned else eta
            new = prox(old, eta_j, cfg.l1, cfg.l2)
            W[k, j] = new
            if centred:
                shift += (new - old) * center[j]
        b[k] -= shift


cdef void update_average(double[:, ::1] W, double[::1] b, double[:, ::1] W_avg,
                         double[::1] b_avg, long long n_averaged) noexcept nogil:
    """Running mean of the iterates (Polyak-Ruppert averaging)."""
    cdef Py_ssize_t K = W.shape[0], d = W.shape[1], k, j
    cdef double rate = 1.0 / n_averaged
    for k in range(K):
        for j in range(d):
            W_avg[k, j] += rate * (W[k, j] - W_avg[k, j])
        b_avg[k] += rate * (b[k] - b_avg[k])


cdef int alloc_workspace(Workspace* ws, Py_ssize_t B, Py_ssize_t K, Py_ssize_t d,
                         bint with_acc) noexcept nogil:
    ws.grad = <double*> malloc(B * K * sizeof(double))
    ws.center_dot = <double*> calloc(B, sizeof(double))
    ws.pred = <double*> malloc(K * sizeof(double))
    ws.acc = <double*> calloc(K * d, sizeof(double)) if with_acc else NULL
    ws.acc_b = <double*> calloc(K, sizeof(double)) if with_acc else NULL
    if ws.grad == NULL or ws.center_dot == NULL or ws.pred == NULL:
        return -1
    if with_acc and (ws.acc == NULL or ws.acc_b == NULL):
        return -1
    return 0


cdef void free_workspace(Workspace* ws) noexcept nogil:
    free(ws.grad)
    free(ws.center_dot)
    free(ws.pred)
    free(ws.acc)
    free(ws.acc_b)


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
    cdef Py_ssize_t batch, start, nb, r, i, k, j
    cdef bint with_momentum = cfg.momentum > 0.0
    cdef bint lookahead = with_momentum and cfg.nesterov
    cdef double loss_sum = 0.0, weight_sum = 0.0, s, eta, c, scale
    cdef const floating* x
    cdef Workspace ws
    if alloc_workspace(&ws, B, K, d, with_momentum) != 0:
        free_workspace(&ws)
        raise MemoryError()
    with nogil:
        for batch in range((n + B - 1) // B):
            start = batch * B
            nb = min(B, n - start)
            # 1. loss derivatives of the batch rows at the current point
            for r in range(nb):
                i = order[start + r]
                x = &X[i, 0]
                s = sample_weight[i]
                for k in range(K):
                    ws.pred[k] = b[k] + dot_dense(x, &W[k, 0], d)
                    if lookahead:
                        ws.pred[k] += cfg.momentum * (
                            velocity_b[k] + dot_dense(x, &velocity[k, 0], d))
                loss_sum += s * row_loss_grad(cfg.loss, &Y[i, 0], ws.pred,
                                              &ws.grad[r * K], K, cfg.epsilon)
                weight_sum += s
                scale = s * cfg.weight_scale / nb
                for k in range(K):
                    ws.grad[r * K + k] *= scale
                if cfg.preconditioned and cfg.fit_intercept:
                    ws.center_dot[r] = -cfg.center_sq
                    for j in range(d):
                        ws.center_dot[r] += step_scale[j] * center[j] * x[j]
            # 2. the gradient step (into W, or into the momentum accumulator)
            eta = step_size(&cfg, t)
            for r in range(nb):
                x = &X[order[start + r], 0]
                for k in range(K):
                    c = ws.grad[r * K + k]
                    if c == 0.0:
                        continue
                    if with_momentum:
                        if cfg.preconditioned:
                            for j in range(d):
                                ws.acc[k * d + j] += c * step_scale[j] * (x[j] - center[j])
                        else:
                            axpy_dense(c, x, &ws.acc[k * d], d)
                        ws.acc_b[k] += c * (1.0 - ws.center_dot[r])
                        continue
                    if cfg.preconditioned:
                        for j in range(d):
                            W[k, j] -= eta * c * step_scale[j] * (x[j] - center[j])
                    else:
                        axpy_dense(-eta * c, x, &W[k, 0], d)
                    if cfg.fit_intercept:
                        b[k] -= eta * c * (1.0 - ws.center_dot[r])
            finish_step_eager(&cfg, &ws, eta, W, b, velocity, velocity_b,
                              step_scale, center)
            t += 1
            if cfg.average_start >= 0 and t > cfg.average_start:
                n_averaged += 1
                update_average(W, b, W_avg, b_avg, n_averaged)
    free_workspace(&ws)
    return t, n_averaged, loss_sum, weight_sum


cdef inline void catch_up(double[:, ::1] W, Py_ssize_t j, double l1_total,
                          double* l1_applied) noexcept nogil:
    """Apply to feature j the L1 thresholds it missed since it was last read."""
    cdef Py_ssize_t k
    cdef double missed = l1_total - l1_applied[j], w, a
    if missed <= 0.0:
        return
    for k in range(W.shape[0]):
        w = W[k, j]
        a = fabs(w) - missed
        W[k, j] = copysign(a, w) if a > 0.0 else 0.0
    l1_applied[j] = l1_total


cdef void fold_scale(double[:, ::1] W, double scale, double l1_total,
                     double* l1_applied) noexcept nogil:
    """Bring every feature up to date and fold the lazy scale into W."""
    cdef Py_ssize_t K = W.shape[0], d = W.shape[1], k, j
    for j in range(d):
        catch_up(W, j, l1_total, l1_applied)
        l1_applied[j] = 0.0
    for k in range(K):
        for j in range(d):
            W[k, j] *= scale


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
    cdef bint lazy = not with_momentum and cfg.average_start < 0
    cdef double loss_sum = 0.0, weight_sum = 0.0, s, eta, c, scale
    cdef double wscale = 1.0, l1_total = 0.0
    cdef const floating* vals = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* cols = &indices[0] if indices.shape[0] > 0 else NULL
    cdef double* l1_applied = <double*> calloc(d, sizeof(double))
    cdef Workspace ws
    cdef EpochConfig eager_cfg = cfg
    eager_cfg.preconditioned = False
    if l1_applied == NULL or alloc_workspace(&ws, B, K, d, with_momentum) != 0:
        free(l1_applied)
        free_workspace(&ws)
        raise MemoryError()
    with nogil:
        for batch in range((n + B - 1) // B):
            start = batch * B
            nb = min(B, n - start)
            # 1. loss derivatives of the batch rows (features caught up first)
            for r in range(nb):
                i = order[start + r]
                row_start = indptr[i]
                nnz = indptr[i + 1] - row_start
                if lazy and cfg.l1 > 0.0:
                    for m in range(nnz):
                        catch_up(W, cols[row_start + m], l1_total, l1_applied)
                s = sample_weight[i]
                for k in range(K):
                    ws.pred[k] = b[k] + wscale * dot_csr(
                        vals + row_start, cols + row_start, nnz, &W[k, 0])
                    if lookahead:
                        ws.pred[k] += cfg.momentum * (velocity_b[k] + dot_csr(
                            vals + row_start, cols + row_start, nnz, &velocity[k, 0]))
                loss_sum += s * row_loss_grad(cfg.loss, &Y[i, 0], ws.pred,
                                              &ws.grad[r * K], K, cfg.epsilon)
                weight_sum += s
                scale = s * cfg.weight_scale / nb
                for k in range(K):
                    ws.grad[r * K + k] *= scale
            # 2. the gradient step
            eta = step_size(&cfg, t)
            for r in range(nb):
                i = order[start + r]
                row_start = indptr[i]
                nnz = indptr[i + 1] - row_start
                for k in range(K):
                    c = ws.grad[r * K + k]
                    if c == 0.0:
                        continue
                    if with_momentum:
                        axpy_csr(c, vals + row_start, cols + row_start, nnz,
                                 &ws.acc[k * d])
                        ws.acc_b[k] += c
                        continue
                    axpy_csr(-eta * c / wscale, vals + row_start, cols + row_start,
                             nnz, &W[k, 0])
                    if cfg.fit_intercept:
                        b[k] -= eta * c
            # 3. the penalty: lazily (scale and running L1 total) or eagerly
            if lazy:
                # prox in units of W: threshold eta*l1/wscale, then shrink scale
                l1_total += eta * cfg.l1 / wscale
                wscale /= 1.0 + eta * cfg.l2
                if wscale < MIN_SCALE:
                    fold_scale(W, wscale, l1_total, l1_applied)
                    wscale = 1.0
                    l1_total = 0.0
            else:
                finish_step_eager(&eager_cfg, &ws, eta, W, b, velocity, velocity_b,
                                  b, b)
            t += 1
            if cfg.average_start >= 0 and t > cfg.average_start:
                n_averaged += 1
                update_average(W, b, W_avg, b_avg, n_averaged)
        if lazy:
            fold_scale(W, wscale, l1_total, l1_applied)
    free(l1_applied)
    free_workspace(&ws)
    return t, n_averaged, loss_sum, weight_sum
