"""Structural laundering patterns for drop ranking: round-trips of one sum and split (repeated) transfers.

Pure numpy, label-free. Both look only at the transfers' payer, payee, amount and time.

* ``round_trips``: rings of 3 or more accounts (strongly connected components) joined by transfers
  that all carry the same sum (within a relative tolerance) inside one time span: money sent round
  a ring of accounts back to where it started (round-tripping, FATF's "circular transactions").
  Unlike ``mules._cycles`` the hops need not follow each other in time: a ring operated by one group
  moves the same sum hop by hop on whatever days suit it, so only the amount and a bounded span tie
  the hops together.
* ``split_transfers``: one payer paying one payee the same sum several times inside one window
  (structuring: a sum cut into identical pieces to stay under reporting or limit thresholds).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _amount_bins(amount: FloatArray, tolerance: float, shift: float) -> IntArray:
    step = np.log1p(max(tolerance, 1e-9))
    bins: IntArray = np.floor(np.log(np.maximum(amount, 1e-9)) / step + shift).astype(np.int64)
    return bins


def _prune(src: IntArray, dst: IntArray) -> BoolArray:
    """Edges that can lie on a directed cycle: repeatedly drop edges whose source has no incoming
    edge or whose target has no outgoing one (cheap, vectorised over all groups at once, and it
    leaves almost nothing of random traffic)."""
    keep: BoolArray = src != dst
    # Accounts numbered 0..m-1 once, so each round counts in- and out-edges with bincount instead of
    # sorting both endpoint lists again (what two ``np.isin`` calls a round cost).
    nodes, number = np.unique(np.concatenate([src, dst]), return_inverse=True)
    s_all, d_all = number[: len(src)], number[len(src):]
    while True:
        idx = np.flatnonzero(keep)
        s, d = s_all[idx], d_all[idx]
        has_in = np.bincount(d, minlength=len(nodes)) > 0
        has_out = np.bincount(s, minlength=len(nodes)) > 0
        ok = has_in[s] & has_out[d]
        if ok.all():
            return keep
        keep[idx[~ok]] = False


def _ring_nodes(src: IntArray, dst: IntArray) -> set[int]:
    """Accounts in a strongly connected component of 3 or more accounts: each of them sends money
    that comes back to it through the others. No bound on the ring's length is needed (iterative
    Kosaraju on a small, pruned subgraph)."""
    fwd: dict[int, list[int]] = {}
    rev: dict[int, list[int]] = {}
    for a, b in zip(src.tolist(), dst.tolist(), strict=True):
        fwd.setdefault(a, []).append(b)
        rev.setdefault(b, []).append(a)
    nodes = sorted(set(fwd) | set(rev))
    seen: set[int] = set()
    finish: list[int] = []
    for root in nodes:
        if root in seen:
            continue
        seen.add(root)
        stack: list[tuple[int, int]] = [(root, 0)]
        while stack:
            node, i = stack.pop()
            nbrs = fwd.get(node, [])
            if i < len(nbrs):
                stack.append((node, i + 1))
                nxt = nbrs[i]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, 0))
            else:
                finish.append(node)
    found: set[int] = set()
    assigned: set[int] = set()
    for root in reversed(finish):
        if root in assigned:
            continue
        comp = [root]
        assigned.add(root)
        todo = [root]
        while todo:
            node = todo.pop()
            for prv in rev.get(node, []):
                if prv not in assigned:
                    assigned.add(prv)
                    comp.append(prv)
                    todo.append(prv)
        if len(comp) >= 3:
            found.update(comp)
    return found


def round_trips(
    n: int,
    payer: IntArray,
    payee: IntArray,
    amount: FloatArray,
    ts: FloatArray,
    *,
    tolerance: float,
    span: float,
) -> FloatArray:
    """1.0 for every account on a ring of 3 or more accounts passing one sum round within ``span``.

    Transfers are grouped by (amount bin, span bin), with two offset binnings of each so that a ring
    straddling a bin edge is still seen; inside a group the graph is tiny after pruning.
    """
    out = np.zeros(n, dtype=np.float64)
    if len(payer) < 3:
        return out
    for a_shift in (0.0, 0.5):
        a_bin = _amount_bins(amount, tolerance, a_shift)
        for t_shift in (0.0, 0.5):
            t_bin = (np.floor(ts / span + t_shift).astype(np.int64) if np.isfinite(span)
                     else np.zeros(len(ts), dtype=np.int64))
            key = (a_bin - a_bin.min()) * (int(t_bin.max() - t_bin.min()) + 1) + (t_bin - t_bin.min())
            _, group = np.unique(key, return_inverse=True)
            group = group.reshape(-1).astype(np.int64)
            cand = np.flatnonzero(np.bincount(group)[group] >= 3)
            # An account inside a group is the node (group, account): one sum, one span.
            keep = _prune(group[cand] * n + payer[cand], group[cand] * n + payee[cand])
            if keep.sum() < 3:
                continue
            idx = cand[keep]
            idx = idx[np.argsort(group[idx], kind="stable")]
            bounds = np.flatnonzero(np.diff(group[idx])) + 1
            for part in np.split(idx, bounds):
                if len(part) >= 3:
                    for acct in _ring_nodes(payer[part], payee[part]):
                        out[acct] = 1.0
    return out


def split_transfers(
    n: int,
    payer: IntArray,
    payee: IntArray,
    amount: FloatArray,
    ts: FloatArray,
    *,
    tolerance: float,
    window: float,
    min_repeats: int,
) -> FloatArray:
    """Per account, 1 - 0.5**k where k is the number of its counterparties it paid (or was paid by)
    the same sum at least ``min_repeats`` times inside one window: one such pair is a hint, several
    are a habit."""
    out = np.zeros(n, dtype=np.float64)
    if len(payer) == 0:
        return out
    pairs: set[tuple[int, int]] = set()
    for a_shift in (0.0, 0.5):
        a_bin = _amount_bins(amount, tolerance, a_shift)
        t_bin = np.floor(ts / max(window, 1e-9) + a_shift).astype(np.int64)
        keys = np.stack([payer, payee, a_bin, t_bin])
        uniq, counts = np.unique(keys, axis=1, return_counts=True)
        hit = uniq[:, counts >= min_repeats]
        pairs.update(zip(hit[0].tolist(), hit[1].tolist(), strict=True))
    if not pairs:
        return out
    arr = np.array(sorted(pairs), dtype=np.int64)
    k = np.bincount(arr[:, 0], minlength=n) + np.bincount(arr[:, 1], minlength=n)
    return np.asarray(1.0 - 0.5 ** k.astype(np.float64), dtype=np.float64)
