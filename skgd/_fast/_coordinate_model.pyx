# Coordinate descent on the proximal Newton model of an L1-penalised fit,
# over the columns of a working set (CSC, or dense columns), for one output.
#
# Design
# ------
# At the coefficients ``w`` (and intercept ``b``) of a loss that is a sum
# over the rows, the Newton model of the objective in the step ``(u, v)``
# (``v`` the intercept's) is
#
#     q(u, v) = g . u + g_b v + 1/2 sum_i c_i (x_i . u + v)^2
#               + l2 / 2 |u|^2 + l1 |w + u|_1 ,
#
# with ``g`` the gradient of the smooth part (data and L2 term), ``c_i >= 0``
# the rows' curvatures times their weights, and ``x_i`` restricted to the
# working set.  Sparse columns are all of one sign more often than not, so
# the intercept is strongly coupled to every coefficient, which coordinate
# descent pays for in sweeps.  Written with ``v = v' - mu . u``, ``mu`` the
# curvature-weighted mean of the rows (``mu_j = sum_i c_i x_ij / C``, ``C =
# sum_i c_i``), the model separates: ``v' = -g_b / C`` and ``u`` minimises
#
#     g' . u + 1/2 sum_i c_i ((x_i - mu) . u)^2 + l2 / 2 |u|^2 + l1 |w + u|_1,
#
# ``g' = g - g_b mu``: the columns centred, without filling them in.  One
# coordinate minimises it exactly with the others fixed: with ``r = X u``
# (n doubles) and ``T = sum_i c_i r_i`` kept up to date, and ``s_j = sum_i
# c_i x_ij``,
#
#     d_j = g'_j + l2 u_j + sum_i c_i x_ij r_i - s_j T / C ,
#     h_j = sum_i c_i x_ij^2 - s_j^2 / C + l2 ,
#     w_j + u_j <- soft(w_j + u_j - d_j / h_j, l1 / h_j) ,
#
# then ``r += (change) x_j`` and ``T += (change) s_j``: O(nnz of column j)
# per coordinate.  Without an intercept ``1 / C`` is taken as 0 (``mu =
# 0``).  This is the inner solver of newGLMNET (Yuan, Ho & Lin, 2012),
# which liblinear uses for L1-penalised logistic regression, with the
# columns centred.
#
# A sweep visits the columns in order and records each coordinate's
# violation of the model's optimality conditions before its update (the
# minimum-norm subgradient: |d_j + l1 sign| on a non-zero, (|d_j| - l1)+ on
# a zero); the sweeps stop once the largest is at most ``tol``.  ``T`` is
# summed anew at the start of every sweep (its updates would drift).

from libc.math cimport fabs

from skgd._fast._penalty cimport prox_coef
from skgd._fast._rows cimport floating, index_t


cdef inline double violation(double z, double d, double l1) noexcept nogil:
    """The model's minimum-norm subgradient at a coordinate of value ``z``."""
    if z > 0.0:
        return fabs(d + l1)
    if z < 0.0:
        return fabs(d - l1)
    return fabs(d) - l1 if fabs(d) > l1 else 0.0


# A stored column: ``count`` values and their rows (CSC), or, with ``rows``
# NULL, the n values of a dense column in row order.

cdef inline double column_dot(const floating* values, const index_t* rows,
                              Py_ssize_t count, const double* c,
                              const double* r) noexcept nogil:
    """``sum_i c_i x_ij r_i`` over a stored column."""
    cdef Py_ssize_t p
    cdef double total = 0.0
    if rows == NULL:
        for p in range(count):
            total += c[p] * values[p] * r[p]
    else:
        for p in range(count):
            total += c[rows[p]] * values[p] * r[rows[p]]
    return total


cdef inline double column_squares(const floating* values, const index_t* rows,
                                  Py_ssize_t count, const double* c) noexcept nogil:
    """``sum_i c_i x_ij^2`` over a stored column."""
    cdef Py_ssize_t p
    cdef double total = 0.0
    if rows == NULL:
        for p in range(count):
            total += c[p] * values[p] * values[p]
    else:
        for p in range(count):
            total += c[rows[p]] * values[p] * values[p]
    return total


cdef inline void column_axpy(double a, const floating* values, const index_t* rows,
                             Py_ssize_t count, double* r) noexcept nogil:
    """``r += a x_j`` over a stored column."""
    cdef Py_ssize_t p
    if rows == NULL:
        for p in range(count):
            r[p] += a * values[p]
    else:
        for p in range(count):
            r[rows[p]] += a * values[p]


def l1_model_descent(const floating[::1] data, const index_t[::1] indices,
                     const index_t[::1] indptr, bint dense,
                     const Py_ssize_t[::1] columns,
                     const double[::1] curvature,
                     const double[::1] column_sums, double inv_total,
                     const double[::1] grad, const double[::1] w, double l1,
                     double l2, double[::1] step, double[::1] residual, double floor,
                     int max_sweeps, double tol):
    """Minimise the proximal Newton model by cyclic coordinate descent.

    Parameters
    ----------
    data, indices, indptr : arrays
        X, CSC (n rows); or, with ``dense``, X in column-major order
        (``data``), column j at ``data[indptr[j]:indptr[j] + n]``, with
        ``indices`` unused (every row is stored).
    dense : bool
        Whether X is dense (column-major) rather than CSC.
    columns : ndarray of shape (n_columns,)
        The working set: the columns of X the model's coordinates are.
    curvature : ndarray of shape (n,)
        ``c_i``: each row's curvature times its weight (weights summing to 1).
    column_sums : ndarray of shape (n_columns,)
        ``s_j = sum_i c_i x_ij``.
    inv_total : float
        ``1 / sum_i c_i`` with an intercept (the columns centred), else 0.
    grad : ndarray of shape (n_columns,)
        Gradient of the smooth part of the objective (with its L2 term), in
        the centred coordinates: ``g'``.
    w : ndarray of shape (n_columns,)
        The coefficients the model is taken at.
    l1, l2 : float
        Penalty strengths.
    step : ndarray of shape (n_columns,)
        Output: the step ``u`` (its input is overwritten).
    residual : ndarray of shape (n,)
        Output: ``X u``.
    floor : float
        The least curvature of a coordinate, as a fraction of the largest
        column's: a column on rows that do not curve (a margin loss's linear
        pieces) would make the model unbounded along it; the line search
        shortens such a step.
    max_sweeps : int
        At most this many sweeps.
    tol : float
        Stop once a sweep's largest violation is at most this.

    Returns
    -------
    sweeps : int
        The sweeps made.
    largest : float
        The last sweep's largest violation.
    """
    cdef Py_ssize_t m = grad.shape[0], n = curvature.shape[0]
    cdef Py_ssize_t j, i, col, start, count, sweep = 0
    cdef double h, d, z, new, change, largest = 0.0, top = 0.0, total_r
    cdef double[::1] diagonal = step.copy()
    cdef const floating* values = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t* rows = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const index_t* col_rows = NULL  # the column's rows; NULL: dense
    cdef const double* c = &curvature[0] if n > 0 else NULL
    cdef double* r = &residual[0] if n > 0 else NULL
    with nogil:
        for i in range(n):
            r[i] = 0.0
        for j in range(m):
            step[j] = 0.0
            col = columns[j]
            start = indptr[col]
            count = n if dense else indptr[col + 1] - start
            if not dense:
                col_rows = rows + start
            h = l2 - column_sums[j] * column_sums[j] * inv_total + column_squares(
                values + start, col_rows, count, c)
            diagonal[j] = h
            if h > top:
                top = h
        floor *= top
        for j in range(m):
            if not diagonal[j] > floor:
                diagonal[j] = floor
        while sweep < max_sweeps:
            sweep += 1
            largest = 0.0
            total_r = 0.0
            if inv_total != 0.0:
                for i in range(n):
                    total_r += c[i] * r[i]
            for j in range(m):
                h = diagonal[j]
                col = columns[j]
                start = indptr[col]
                count = n if dense else indptr[col + 1] - start
                if not dense:
                    col_rows = rows + start
                d = (grad[j] + l2 * step[j] - column_sums[j] * total_r * inv_total
                     + column_dot(values + start, col_rows, count, c, r))
                z = w[j] + step[j]
                change = violation(z, d, l1)
                if change > largest:
                    largest = change
                if change == 0.0:
                    continue
                new = prox_coef(z - d / h, l1 / h, 1.0)  # soft-threshold
                change = new - z
                if change != 0.0:
                    step[j] += change
                    total_r += change * column_sums[j]
                    column_axpy(change, values + start, col_rows, count, r)
            if largest <= tol:
                break
    return sweep, largest
