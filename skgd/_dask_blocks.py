"""Row blocks of a dask collection, kept where they live, and the work on each.

A fit on a dask array persists its row blocks once -- each block holds its
rows of X, the encoded targets and the sample weights -- on the worker that
computed it (or in this process with dask's threaded scheduler).  Every
statistic the batch solver needs is then a sum over the rows: a function
runs on each block where the block lives and returns a small partial sum
(a few vectors, at most a d x d matrix), and the client adds the partials
**in block order**.  The floating-point operations and their order are fixed
by the chunking alone, so the result is bit-identical on any number of
workers and threads.

The functions in the second half of this module run on the workers: they
only see one block and never return its rows.
"""

import sys

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight

from ._fast._duality import binary_mixture_entropy, multinomial_mixture_entropy
from ._fast._gradient import gradient_dense
from ._losses import LOSSES, softmax_curvature

# A pass's task over a group of blocks holds them all in memory: at most
# this fraction of a worker's memory limit.
GROUP_MEMORY_SHARE = 8
# Rows of a block converted to float64 at a time by the moment passes
# (~4 MB, one BLAS-3 product each): no block-sized temporary.
_SUB_CHUNK_BYTES = 1 << 22


def current_scheduler():
    """The ``distributed`` client dask would use, or a local scheduler's name.

    dask's own choice (``dask.base.get_scheduler``): the default client, unless
    ``dask.config.set(scheduler=...)`` says otherwise.  The blocks of a local
    fit live in this process; they are handed to threads ('sync' runs them
    one by one), never pickled to processes.
    """
    import dask.base
    import dask.local

    scheduler = dask.base.get_scheduler()
    owner = getattr(scheduler, "__self__", None)
    if "distributed" in sys.modules:
        import distributed

        if isinstance(owner, distributed.Client):
            return owner
    return "sync" if scheduler is dask.local.get_sync else "threads"


class BlockStore:
    """The persisted row blocks of one fit, built once with encoded targets.

    Parameters
    ----------
    X : dask array of shape (n_samples, n_features), one chunk of columns
    y : dask array with the row chunks of X
    sample_weight : dask array with the row chunks of X, a number or None
    encode : callable
        ``encode(y, sample_weight, *encode_args) -> (Y, weights)``, run on
        every block: the targets of the K-output model and the final weights.
    """

    def __init__(self, X, y, sample_weight, encode, encode_args):
        from dask import delayed

        parts = [
            delayed(Block)(x, Y_and_w)
            for x, Y_and_w in zip(
                X.to_delayed().ravel(),
                target_parts(delayed(encode), y, sample_weight, *encode_args),
            )
        ]
        scheduler = current_scheduler()
        self.client = None if isinstance(scheduler, str) else scheduler
        self.local = scheduler if self.client is None else None
        if self.client is not None:
            # futures in block order; each block stays on the worker that
            # computed it until the store is dropped
            self.blocks = self.client.compute(parts)
            self._group_by_thread()
        else:
            import dask

            self.blocks = list(dask.compute(*parts, scheduler=self.local))

    def _group_by_thread(self):
        """Split the blocks into a few groups per worker thread, where they live.

        A pass then costs one task per group instead of one per block: the
        scheduler's round trip, not the kernel, is what a pass over small
        blocks waits for.  A task needs all of its blocks in memory at once,
        so on a worker with a memory limit a group holds at most
        1 / GROUP_MEMORY_SHARE of its limit (the other blocks may then be spilled
        to disk and read back one group at a time).
        """
        import distributed

        distributed.wait(self.blocks)
        holders = self.client.who_has(self.blocks)
        sizes = self.client.nbytes([block.key for block in self.blocks], summary=False)
        workers = self.client.scheduler_info()["workers"]
        lanes, seen = {}, {}
        for index, block in enumerate(self.blocks):
            where = holders[block.key][0]
            lane = seen.get(where, 0) % workers[where]["nthreads"]
            seen[where] = seen.get(where, 0) + 1
            lanes.setdefault((where, lane), []).append(index)
        self.groups = []
        for (where, _), indices in lanes.items():
            budget = (workers[where].get("memory_limit") or np.inf) / GROUP_MEMORY_SHARE
            group, used = [], 0
            for index in indices:
                size = sizes.get(self.blocks[index].key, 0)
                if group and used + size > budget:
                    self.groups.append((where, group))
                    group, used = [], 0
                group.append(index)
                used += size
            self.groups.append((where, group))

    def _run(self, fn, args):
        if self.client is not None:
            n = len(self.blocks)
            return self.client.map(
                fn, self.blocks, *[[a] * n for a in args], pure=False
            )
        from dask.local import get_sync
        from dask.threaded import get

        # a plain task graph: a tenth of the overhead of dask.delayed (none
        # of the arguments is a tuple or list, which dask would unpack)
        graph = {
            ("skgd-block", i): (fn, block, *args) for i, block in enumerate(self.blocks)
        }
        run = get_sync if self.local == "sync" else get
        return run(graph, list(graph))

    def map(self, fn, *args):
        """``[fn(block, *args) for block in blocks]``, run where the blocks are."""
        if self.client is None:
            return self._run(fn, args)
        tasks = [
            self.client.submit(
                _run_group,
                fn,
                [self.blocks[i] for i in indices],
                args,
                workers=[where],
                allow_other_workers=True,
                pure=False,
            )
            for where, indices in self.groups
        ]
        results = [None] * len(self.blocks)
        for (_, indices), group in zip(self.groups, self.client.gather(tasks)):
            for index, result in zip(indices, group):
                results[index] = result
        return results

    def reduce(self, fn, *args):
        """Sum of ``fn(block, *args)`` (tuples of arrays) over the blocks, in order.

        Partials are fetched one at a time: a client never holds more than
        one of them besides the sum (they may be d x d matrices).
        """
        results = self._run(fn, args)
        if self.client is not None:
            results = (future.result() for future in results)
        return ordered_sum(results)


def _run_group(fn, blocks, args):
    return [fn(block, *args) for block in blocks]


def ordered_sum(parts):
    """Element-wise sum of tuples of arrays, in the order given (in float64)."""
    total = None
    for part in parts:
        if total is None:
            total = [np.array(p, dtype=np.float64) for p in part]
        else:
            for acc, p in zip(total, part):
                acc += p
    return total


def target_parts(fn, y, sample_weight, *args):
    """``fn(y_block, weight_block, *args)`` per row block, as dask.delayed calls."""
    y_parts = y.to_delayed().ravel()
    if sample_weight is None or np.isscalar(sample_weight):
        w_parts = [sample_weight] * len(y_parts)
    else:
        w_parts = sample_weight.to_delayed().ravel()
    return [fn(yb, wb, *args) for yb, wb in zip(y_parts, w_parts)]


def map_targets(fn, y, sample_weight, *args):
    """``[fn(y_block, weight_block, *args)]`` computed by dask's scheduler.

    The passes over the labels and weights that come before the blocks are
    built: they read y and the weights only (small next to X).
    """
    import dask

    return list(dask.compute(*target_parts(dask.delayed(fn), y, sample_weight, *args)))


class Block:
    """One row block: X (C-contiguous float), the encoded targets, the weights."""

    __slots__ = ("X", "y", "sw")

    def __init__(self, X, targets):
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        self.X = np.ascontiguousarray(X)
        self.y, self.sw = targets

    def __sizeof__(self):
        # what dask's memory manager counts against a worker's limit (the
        # default, sys.getsizeof, would see a few bytes and never spill)
        return self.X.nbytes + self.y.nbytes + self.sw.nbytes + 64


# ---- run on the workers ----
def _sub_chunks(X):
    """Row slices of a block in float64, a few thousand rows at a time."""
    rows = max(64, _SUB_CHUNK_BYTES // (8 * max(X.shape[1], 1)))
    for start in range(0, X.shape[0], rows):
        yield start, np.asarray(X[start : start + rows], dtype=np.float64)


def _weights(y, sample_weight):
    return _check_sample_weight(
        sample_weight,
        np.empty((np.shape(y)[0], 0)),
        dtype=np.float64,
        ensure_non_negative=True,
    )


def labels_of(y, sample_weight):
    """The distinct labels of a block (after the checks of fit)."""
    check_classification_targets(y)
    return np.unique(y)


def class_weight_sums(y, sample_weight, classes):
    """Per-class sum and maximum of the sample weights of a block."""
    weights = _weights(y, sample_weight)
    index = np.searchsorted(classes, y)
    sums = np.bincount(index, weights=weights, minlength=classes.shape[0])
    top = np.zeros(classes.shape[0])
    np.maximum.at(top, index, weights)
    return sums, top


def largest_weight(y, sample_weight):
    """The largest sample weight of a block; checks that y is finite."""
    if not np.all(np.isfinite(np.asarray(y, dtype=np.float64))):
        raise ValueError("Input y contains NaN or infinity.")
    return np.max(_weights(y, sample_weight), initial=0.0)


def encode_classes(y, sample_weight, classes, per_class, loss, exponent):
    """Targets of the K-output model and the final, normalised weights."""
    from ._classification import encode_labels

    weights = _weights(y, sample_weight)
    index = np.searchsorted(classes, y)
    if per_class is not None:
        weights = weights * per_class[index]
    # scaling by a power of two is exact: the model does not change
    return encode_labels(index, classes.shape[0], loss), np.ldexp(weights, exponent)


def encode_values(y, sample_weight, exponent):
    """Regression targets as an (n, K) float64 array; normalised weights."""
    y = np.asarray(y)
    Y = np.ascontiguousarray(y.reshape(y.shape[0], -1), dtype=np.float64)
    return Y, np.ldexp(_weights(y, sample_weight), exponent)


def block_first_moments(block):
    """Weight total, weighted column and target sums, and 'X is finite'."""
    sums = np.zeros(block.X.shape[1])
    finite = True
    for start, rows in _sub_chunks(block.X):
        finite = finite and bool(np.all(np.isfinite(rows)))
        sums += block.sw[start : start + rows.shape[0]] @ rows
    return np.sum(block.sw), sums, block.sw @ block.y, float(finite)


def block_second_moments(block, mean, full):
    """Weighted sum of ``(x - mean)(x - mean)^T`` (only its diagonal if not full)."""
    d = block.X.shape[1]
    acc = np.zeros((d, d) if full else d)
    for start, rows in _sub_chunks(block.X):
        rows = rows - mean  # a new array: the rows may be a view of X
        weighted = rows * block.sw[start : start + rows.shape[0], None]
        acc += rows.T @ weighted if full else np.einsum("ij,ij->j", rows, weighted)
    return (acc,)


def block_gradient(block, W, b, W_eval, b_eval, loss_code, epsilon):
    """The fused kernel on one block: partial (G, Gb, loss sum), unnormalised.

    One thread per block: dask runs the blocks in parallel, and the kernel's
    result does not depend on its thread count anyway.
    """
    G, Gb = np.empty_like(W), np.empty_like(b)
    loss_sum = gradient_dense(
        block.X, block.y, block.sw, W, b, W_eval, b_eval, G, Gb, loss_code, epsilon, 1
    )
    return G, Gb, loss_sum


def block_gram_product(block, W, b):
    """``sum_i s_i (W x_i + b) x_i`` (and its intercept part): a Gram product."""
    zeros = np.zeros((block.X.shape[0], W.shape[0]))
    G, Gb = np.empty_like(W), np.empty_like(b)
    gradient_dense(
        block.X, zeros, block.sw, W, b, W, b, G, Gb, LOSSES["squared_error"].code, 0.0, 1
    )
    return G, Gb


def block_target_sums(block, shift, positive):
    """Weighted sums of the targets ``T`` of a block, for the solver's certificates.

    ``T = Y - shift``, or the indicator ``Y > 0`` with ``positive``; returns
    ``sum_i s_i T_i x_i^T`` (K, d) -- the fused kernel's squared-loss
    gradient at zero with targets ``T``, so float32 X is not cast to a
    copy -- ``sum_i s_i T_i`` and ``sum_i s_i T_i^2`` (K,).
    """
    T = (block.y > 0).astype(np.float64) if positive else block.y - shift
    K, d = T.shape[1], block.X.shape[1]
    zero_w, zero_b = np.zeros((K, d)), np.zeros(K)
    G, Gb = np.empty((K, d)), np.empty(K)
    gradient_dense(
        block.X, T, block.sw, zero_w, zero_b, zero_w, zero_b, G, Gb,
        LOSSES["squared_error"].code, 0.0, 1,
    )
    return -G, block.sw @ T, block.sw @ (T * T)


def block_curvature_sums(block, W, b, loss_code):
    """``sum_i s_i h_ik x_i`` (K, d) and ``sum_i s_i h_ik`` of a block, with
    ``h_ik = p_ik (1 - p_ik)`` the softmax curvature at (W, b): the rows'
    derivatives from the fused kernel, then its squared-loss gradient at
    zero with targets ``h`` (as :func:`block_target_sums`)."""
    K, d = W.shape
    U = np.zeros((block.X.shape[0], K))
    G, Gb = np.empty_like(W), np.empty_like(b)
    gradient_dense(block.X, block.y, block.sw, W, b, W, b, G, Gb, loss_code, 0.0, 1, U)
    H = softmax_curvature(U, block.y)
    zero_w, zero_b = np.zeros((K, d)), np.zeros(K)
    gradient_dense(block.X, H, block.sw, zero_w, zero_b, zero_w, zero_b, G, Gb,
                   LOSSES["squared_error"].code, 0.0, 1)
    return -G, block.sw @ H


def block_margin_sums(block, W, b, loss_code):
    """The margin losses' certificate sums on one block, unnormalised.

    From the rows' loss derivatives ``u`` at (W, b) (the fused kernel's, as
    in memory), per output: ``sum_i s_i [y_i > 0] u_i x_i^T`` (K, d), the
    positive class's share of the gradient (the fused kernel's squared-loss
    gradient at zero, so float32 X is not cast to a copy), then ``sum s a``
    and ``sum s a^2`` over each class, ``a = |u|`` (``skgd._gap``).
    """
    K, d = W.shape
    U = np.zeros((block.X.shape[0], K))
    G, Gb = np.empty_like(W), np.empty_like(b)
    gradient_dense(block.X, block.y, block.sw, W, b, W, b, G, Gb, loss_code, 0.0, 1, U)
    positive = block.y > 0
    zero_w, zero_b = np.zeros((K, d)), np.zeros(K)
    G_plus, Gb_plus = np.empty_like(W), np.empty_like(b)
    gradient_dense(block.X, -np.where(positive, U, 0.0), block.sw, zero_w, zero_b,
                   zero_w, zero_b, G_plus, Gb_plus, LOSSES["squared_error"].code, 0.0, 1)
    a = np.abs(U)
    wa = block.sw[:, None] * a
    a_plus = np.where(positive, wa, 0.0).sum(axis=0)
    q = wa * a
    q_plus = np.where(positive, q, 0.0).sum(axis=0)
    return G_plus, a_plus, wa.sum(axis=0) - a_plus, q_plus, q.sum(axis=0) - q_plus


def block_mixture_entropy(block, W, b, loss_code, t, pi, raise_positive):
    """The certificate's exact intercept correction on one block, unnormalised.

    The rows' loss derivatives at (W, b) come from the fused kernel (the
    numbers of the in-memory pass), then ``sum_i s_i f*(u'_i)`` of their
    mixture (``skgd._gap``): ``q' = (1 - t) q_i + t pi`` for the multinomial
    loss (``pi`` given), ``p' = (1 - t) p_i + t`` on the rows of the raised
    class for the binary one (``raise_positive``: the positive class).
    """
    K = W.shape[0]
    U = np.zeros((block.X.shape[0], K))  # rows of zero weight are left at 0
    G, Gb = np.empty_like(W), np.empty_like(b)
    gradient_dense(block.X, block.y, block.sw, W, b, W, b, G, Gb, loss_code, 0.0, 1, U)
    if pi is not None:
        return (multinomial_mixture_entropy(U, block.y, block.sw, t, pi),)
    positive = block.y[:, 0] > 0
    raised = positive if raise_positive else ~positive
    return (binary_mixture_entropy(U, raised.view(np.uint8), block.sw, t),)
