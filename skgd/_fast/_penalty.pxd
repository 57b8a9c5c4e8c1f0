# The elastic-net penalty at the level of one coefficient: the one home of
# the penalty step of every kernel.
#
# Design
# ------
# The penalty  l1 |w| + l2 / 2 w^2  enters a step of size eta in one of two
# ways, each written once here:
#
# * ``prox_coef``: its proximal operator, soft-threshold by ``eta * l1``,
#   then divide by ``1 + eta * l2`` (SAGA, whose variance-reduced steps
#   converge to the exact minimiser).  It is C code so that the vectorised C
#   loop of ``_saga.pyx`` calls it as well.
# * ``penalise``: the cumulative L1 penalty of Tsuruoka, Tsujii and
#   Ananiadou (2009), as in scikit-learn's SGD, then the L2 shrink (the SGD
#   and mini-batch loops).  With ``u`` the thresholds ``eta * l1`` accrued
#   since the start of the epoch and ``q`` the signed shrinkage already
#   applied to a coefficient, a positive coefficient loses at most ``u + q``
#   and a negative one at most ``u - q``, never crossing zero.  While a
#   plain soft-threshold lets every noisy single-row gradient push a
#   coefficient off zero, the cumulative penalty keeps the thresholds a
#   coefficient was spared while it sat at zero and pulls it back:
#   coefficients whose *mean* gradient stays below l1 end the epoch exactly
#   zero, as in the Lasso solution.  Away from zero it is the soft-threshold.
#   ``u`` and ``q`` start at zero every epoch and shrink with the
#   coefficients under L2.
#
# ``Penalty`` is the state of one epoch of an SGD loop (in the spirit of
# scikit-learn's WeightVector: one type owns the lazy L2 scale and the
# cumulative-L1 state).  A loop keeps it as a local, so that after inlining
# its fields live in registers; an update is
#
#     penalty_start(&p, eta)              threshold, shrink, u += threshold
#     w_j = penalise(stepped_j, p.u, q, j, p.inv_shrink, p.cumulative)
#     penalty_end(&p)                     u shrinks with the coefficients
#
# or, with per-feature steps (preconditioned), the ``_features`` variants
# with the tables ``eta_j``, ``inv_shrink_j`` and budgets ``u_j``.
#
# Lazily (plain dense SGD with at most L2, and CSR rows) the coefficients are
# ``scale * W``: ``penalty_lazy_step`` shrinks ``scale`` and accrues the L1
# thresholds in units of W (``l1_total``); a CSR feature catches up just
# before it is read (``penalty_catch_up``: the cumulative penalty of several
# updates without a gradient on the feature is the one of their total), and
# ``penalty_fold`` brings every feature up to date and folds ``scale`` back
# into W whenever it drops below MIN_SCALE and at the end of the epoch.
#
# ``LazyPenalty`` (below) is the lazy state of the SAGA CSR kernel, where
# every update also moves every coefficient by a known drift:
#
# * the coefficients are stored as ``scale * v``; the L2 part of every step
#   only shrinks the scalar ``scale`` (``lazy_advance``);
# * a step that moves every coordinate by the same known drift ``a_j``
#   (the table average of a variance-reduced method, constant for feature j
#   until a row containing j is visited) is recorded once, as the partial
#   sums ``C[t] = sum_{tau < t} eta / scale_tau``; a coordinate is brought up
#   to date just before it is read (``lazy_catch_up``), in O(1) -- or
#   O(log lag) in the rare case that it crosses zero under L1.
#
# The catch-up is exact (equal, up to rounding, to applying the proximal
# steps one by one): in units of v every skipped step moves the coordinate
# by ``-c_tau a_j`` and then soft-thresholds it by ``c_tau l1``, with the
# same ``c_tau`` in both.  The path is therefore piecewise linear in the
# partial sum ``C``: while the coordinate is positive it moves by
# ``-(a_j + l1)`` per unit of ``C``, while negative by ``-(a_j - l1)``, and at
# zero it stays there if ``|a_j| <= l1``.  Only the one step that reaches
# zero needs the step-by-step formula; a binary search on ``C`` finds it.

from libc.math cimport frexp, ldexp


cdef extern from *:
    """
    #include <math.h>
    /* prox of eta * (l1 |w| + l2 / 2 w^2) with threshold = eta * l1 and
       inv_shrink = 1 / (1 + eta * l2): soft-threshold, then shrink.  Branch
       free (fmax, copysign), so that a loop calling it vectorises. */
    static inline double skgd_prox_coef(double w, double threshold,
                                        double inv_shrink)
    {
        return copysign(fmax(fabs(w) - threshold, 0.0), w) * inv_shrink;
    }
    /* Fold a lazy L2 scale back into the coefficients below this value
       (as scikit-learn's WeightVector does), long before it could
       underflow or its inverse overflow. */
    #define SKGD_MIN_SCALE 1e-9
    """
    double prox_coef "skgd_prox_coef"(double w, double threshold,
                                      double inv_shrink) noexcept nogil
    const double MIN_SCALE "SKGD_MIN_SCALE"


ctypedef struct Penalty:
    double l1              # strength of sum |w|
    double l2              # strength of 1/2 ||w||^2
    bint cumulative        # l1 > 0: the cumulative L1 state (u, q) is kept
    double threshold       # eta * l1 of the current update
    double inv_shrink      # 1 / (1 + eta * l2) of the current update
    double u               # thresholds accrued, one step for every feature
    double* u_j            # (d,) thresholds accrued per feature, or NULL
    double* eta_j          # (d,) per-feature steps, or NULL
    double* inv_shrink_j   # (d,) 1 / (1 + eta_j * l2), or NULL
    double tables_eta      # the eta that eta_j and inv_shrink_j were formed for
    double* q              # (K, d) shrinkage applied, or NULL without L1
    double scale           # lazy: true coefficients are scale * W
    double l1_total        # lazy: thresholds accrued, in units of W


cdef inline Penalty penalty_new(double l1, double l2, double* q, double* u_j,
                                double* eta_j, double* inv_shrink_j) noexcept nogil:
    """The state at the start of an epoch.  ``q`` (K * d) and ``u_j`` (d)
    are zeroed buffers (needed only with L1, ``u_j`` only with per-feature
    steps), ``eta_j`` and ``inv_shrink_j`` scratch tables of d (only with
    per-feature steps)."""
    cdef Penalty p
    p.l1, p.l2, p.cumulative = l1, l2, l1 > 0.0
    p.threshold, p.inv_shrink = 0.0, 1.0
    p.u, p.u_j, p.eta_j, p.inv_shrink_j = 0.0, u_j, eta_j, inv_shrink_j
    p.tables_eta = -1.0  # none yet (a step is > 0)
    p.q = q if l1 > 0.0 else NULL
    p.scale, p.l1_total = 1.0, 0.0
    return p


cdef inline bint penalised(Penalty* p) noexcept nogil:
    return p.l1 > 0.0 or p.l2 > 0.0


cdef inline double penalise(double stepped, double u, double* q, Py_ssize_t j,
                            double inv_shrink, bint cumulative) noexcept nogil:
    """The penalty step of one coefficient after its gradient step.

    Tsuruoka et al.'s cumulative L1 with budget ``u`` and applied shrinkage
    ``q[j]`` (updated), then the L2 shrink ``inv_shrink``; without L1 only
    the shrink (and ``q`` is not read: it may be NULL).  Written with selects instead of branches: the sign of a
    coefficient near zero is a coin flip the branch predictor would miss on
    every other feature.
    """
    cdef double down, up, new
    if not cumulative:
        return stepped * inv_shrink
    down = stepped - (u + q[j])
    up = stepped + (u - q[j])
    new = (down if down > 0.0 else 0.0) if stepped > 0.0 else (
        (up if up < 0.0 else 0.0) if stepped < 0.0 else stepped)
    q[j] = (q[j] + (new - stepped)) * inv_shrink
    return new * inv_shrink


cdef inline void penalty_start(Penalty* p, double eta) noexcept nogil:
    """Start an update of step ``eta`` shared by every feature: its
    threshold joins the budget."""
    p.threshold = eta * p.l1
    p.inv_shrink = 1.0 / (1.0 + eta * p.l2)
    p.u += p.threshold


cdef inline void penalty_end(Penalty* p) noexcept nogil:
    """End an update: the budget shrinks with the coefficients under L2."""
    p.u *= p.inv_shrink


cdef inline void penalty_feature_steps(Penalty* p, double eta,
                                       const double* step_scale,
                                       Py_ssize_t d) noexcept nogil:
    """Per-feature steps ``eta * step_scale_j`` (``eta`` if ``step_scale``
    is NULL) and their shrinks, for the ``_features`` updates.

    ``step_scale`` is fixed for the epoch, so the tables are formed again
    only when ``eta`` changes (every update under a decaying schedule, once
    per epoch under a constant one)."""
    cdef Py_ssize_t j
    if eta == p.tables_eta:
        return
    p.tables_eta = eta
    for j in range(d):
        p.eta_j[j] = eta * step_scale[j] if step_scale != NULL else eta
        p.inv_shrink_j[j] = 1.0 / (1.0 + p.eta_j[j] * p.l2) if p.l2 > 0.0 else 1.0


cdef inline void penalty_start_features(Penalty* p, Py_ssize_t d) noexcept nogil:
    """``penalty_start`` with the per-feature steps of ``penalty_feature_steps``."""
    cdef Py_ssize_t j
    if p.cumulative:
        for j in range(d):
            p.u_j[j] += p.eta_j[j] * p.l1


cdef inline void penalty_end_features(Penalty* p, Py_ssize_t d) noexcept nogil:
    """``penalty_end`` with per-feature steps."""
    cdef Py_ssize_t j
    if p.cumulative:
        for j in range(d):
            p.u_j[j] *= p.inv_shrink_j[j]


cdef inline double lazy_shrink(double scale, double eta, double l2) noexcept nogil:
    """The lazy scale after the L2 prox of an update of step ``eta``.

    A function of values, not of the state: the plain dense SGD loop keeps
    its scale in a register (a field of a struct in memory would put a
    store and a reload on the critical path of every row: the next row's
    prediction and step need it)."""
    return scale / (1.0 + eta * l2)


cdef inline bint penalty_lazy_step(Penalty* p, double eta) noexcept nogil:
    """The penalty of an update of step ``eta``, lazily: its threshold in
    units of W joins ``l1_total``, its L2 shrink only shrinks ``scale``.
    True when ``scale`` must be folded back (``penalty_fold``)."""
    if p.cumulative:
        p.l1_total += eta * p.l1 / p.scale
    p.scale = lazy_shrink(p.scale, eta, p.l2)
    return p.scale < MIN_SCALE


cdef inline void catch_up_feature(double* W, Py_ssize_t K, Py_ssize_t d,
                                  Py_ssize_t j, double l1_total,
                                  double* q) noexcept nogil:
    """Apply to feature j the cumulative L1 it missed since it was last read
    (lazily, in units of W: no shrink)."""
    cdef Py_ssize_t k
    for k in range(K):
        W[k * d + j] = penalise(W[k * d + j], l1_total, q, k * d + j, 1.0, True)


cdef inline void fold_scale(double* W, Py_ssize_t K, Py_ssize_t d, double scale,
                            double l1_total, double* q) noexcept nogil:
    """Bring every feature up to date (``q``: NULL without L1) and fold
    ``scale`` into W and ``q``."""
    cdef Py_ssize_t j
    if q != NULL:
        for j in range(d):
            catch_up_feature(W, K, d, j, l1_total, q)
        for j in range(K * d):
            q[j] *= scale
    if scale != 1.0:
        for j in range(K * d):
            W[j] *= scale


# The two below take the state's fields, not its address, to the loops that
# the compiler may keep out of line: a loop's Penalty then never escapes,
# and its fields stay in registers across the stores to W.

cdef inline void penalty_catch_up(Penalty* p, double* W, Py_ssize_t K,
                                  Py_ssize_t d, Py_ssize_t j) noexcept nogil:
    """Apply to feature j the cumulative L1 it missed since it was last read."""
    catch_up_feature(W, K, d, j, p.l1_total, p.q)


cdef inline void penalty_fold(Penalty* p, double* W, Py_ssize_t K,
                              Py_ssize_t d) noexcept nogil:
    """Bring every feature up to date and fold ``scale`` into W (and into
    the L1 state): afterwards W holds the true coefficients."""
    fold_scale(W, K, d, p.scale, p.l1_total, p.q)
    p.l1_total *= p.scale
    p.scale = 1.0


# Per-feature lazy L2 on levels (preconditioned CSR mini-batches).  With a
# step ``eta * step_scale_j`` per feature, every update shrinks feature j by
# its own factor ``1 / (1 + eta step_scale_j l2)``: one shared ``scale``
# cannot hold them all.  When every ``step_scale_j`` is a power of two,
# ``2 ** level_j``, the features of one level shrink alike: each level keeps
# its own lazy scale (true coefficient ``scales[level_j] * W_j``), shrunk
# once per update (``levels_shrink``, O(levels)), and folded back into W
# (``levels_fold``, O(d)) when one drops below MIN_SCALE, when the average
# takes an iterate and at the end of the epoch.  A read or a step of a
# stored value costs one lookup of its level: O(nnz) per update, at any
# step schedule, exactly (up to rounding) the eager shrink.  A
# preconditioner of the frequencies of sparse features rounded to powers of
# two loses nothing measurable (skgd._sgd.frequency_preconditioner); a
# per-feature power ``factor ** lag`` instead cost a ``pow`` per stored
# value and per feature of every averaged iterate: 4.7 times the epoch.

# At most this many levels: step multipliers 1 .. 2 ** 62.
cdef enum:
    MAX_LEVELS = 63


cdef inline int feature_levels(const double* step_scale, Py_ssize_t d,
                               unsigned char* level) noexcept nogil:
    """``level_j = log2(step_scale_j)``; returns the number of levels used
    (the largest level + 1), or -1 if some multiplier is not a power of two
    in [1, 2 ** 62]."""
    cdef Py_ssize_t j
    cdef int e, top = 0
    cdef double mantissa
    for j in range(d):
        mantissa = frexp(step_scale[j], &e)
        # step_scale_j = mantissa * 2 ** e, a power of two iff mantissa = 1/2
        if mantissa != 0.5 or e < 1 or e > MAX_LEVELS:
            return -1
        level[j] = <unsigned char> (e - 1)
        if e > top:
            top = e
    return top


cdef inline bint levels_shrink(double* scales, int n_levels, double eta,
                               double l2) noexcept nogil:
    """The L2 prox of an update of step ``eta`` on every level's scale.  True
    when a scale must be folded back (``levels_fold``)."""
    cdef int g
    cdef bint small = False
    for g in range(n_levels):
        scales[g] /= 1.0 + eta * ldexp(1.0, g) * l2
        small = small or scales[g] < MIN_SCALE
    return small


cdef inline void levels_fold(double* W, Py_ssize_t K, Py_ssize_t d,
                             const unsigned char* level, double* scales,
                             int n_levels) noexcept nogil:
    """Fold the levels' scales into W: afterwards W holds the true
    coefficients and every scale is 1."""
    cdef Py_ssize_t k, j
    cdef int g
    for g in range(n_levels):
        if scales[g] != 1.0:
            break
    else:
        return
    for k in range(K):
        for j in range(d):
            W[k * d + j] *= scales[level[j]]
    for g in range(n_levels):
        scales[g] = 1.0


ctypedef struct LazyPenalty:
    double step          # eta, the same for every update of the window
    double l1
    double shrink        # 1 + eta * l2
    double scale         # true coefficients = scale * stored ones
    double* C            # partial sums of eta / scale, C[0] = 0 (capacity + 1)
    Py_ssize_t t         # updates recorded in the window
    Py_ssize_t capacity  # updates a window holds before it must be flushed


cdef inline void lazy_reset(LazyPenalty* lp) noexcept nogil:
    """Start a window: the stored coefficients are the true ones."""
    lp.scale = 1.0
    lp.t = 0
    lp.C[0] = 0.0


cdef inline bint lazy_full(LazyPenalty* lp) noexcept nogil:
    """True when the window must be flushed before the next update: it is
    full, or ``scale`` is small enough (MIN_SCALE) to be folded back into
    the coefficients."""
    return lp.t >= lp.capacity or lp.scale < MIN_SCALE


cdef inline double lazy_unit(LazyPenalty* lp) noexcept nogil:
    """``eta / scale``: one step of the current update in stored units."""
    return lp.step / lp.scale


cdef inline void lazy_advance(LazyPenalty* lp) noexcept nogil:
    """Record the current update (its drift and L1 part), then its L2 shrink."""
    lp.C[lp.t + 1] = lp.C[lp.t] + lp.step / lp.scale
    lp.t += 1
    lp.scale /= lp.shrink


cdef inline Py_ssize_t _first_reaching(const double* C, Py_ssize_t last,
                                       Py_ssize_t now, double v,
                                       double rate) noexcept nogil:
    """First update m in [last, now) after which ``v - (C[m+1] - C[last]) rate``
    is <= 0 (it is known to be for m = now - 1)."""
    cdef Py_ssize_t lo = last, hi = now - 1, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if v - (C[mid + 1] - C[last]) * rate <= 0.0:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef inline double _catch_up_nonneg(const double* C, Py_ssize_t last,
                                    Py_ssize_t now, double v, double a,
                                    double l1) noexcept nogil:
    """``lazy_catch_up`` for v > 0, or v == 0 with a <= 0."""
    cdef double rate = a + l1, z, zp, c
    cdef Py_ssize_t m
    if v == 0.0:
        # at zero: pushed up only by a drift stronger than the threshold
        if -a <= l1:
            return 0.0
        return -(C[now] - C[last]) * rate
    z = v - (C[now] - C[last]) * rate
    if rate <= 0.0 or z > 0.0:
        return z
    # The coordinate reaches zero during update m: replay that one update.
    m = _first_reaching(C, last, now, v, rate)
    c = C[m + 1] - C[m]
    zp = v - (C[m] - C[last]) * rate - c * a
    if zp > 0.0 or zp + c * l1 >= 0.0:
        z = 0.0
    else:
        z = zp + c * l1
    # after it: at zero (|a| <= l1 here unless a > l1) or negative
    if a <= l1:
        return 0.0
    return z - (C[now] - C[m + 1]) * (a - l1)


cdef inline double lazy_catch_up(LazyPenalty* lp, double v, double a,
                                 Py_ssize_t last) noexcept nogil:
    """Apply to a stored coordinate ``v`` the updates ``last .. t - 1`` it
    missed: each moves it by ``-c a`` and soft-thresholds it by ``c l1`` with
    ``c = eta / scale`` of that update (see the design note)."""
    cdef Py_ssize_t now = lp.t
    if last >= now:
        return v
    if lp.l1 == 0.0:
        return v - (lp.C[now] - lp.C[last]) * a
    if v < 0.0 or (v == 0.0 and a > 0.0):
        return -_catch_up_nonneg(lp.C, last, now, -v, -a, lp.l1)
    return _catch_up_nonneg(lp.C, last, now, v, a, lp.l1)
