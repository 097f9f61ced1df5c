"""The compiled inner loop of ``zaslon.core.features``: one pass over a batch in event-time order.

Kept apart so the numba-compiled code stays small and typed by numpy arrays only. Without numba the same
functions run as plain Python (correct, about 100x slower).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt

_F = TypeVar("_F", bound=Callable[..., Any])

try:  # numba is a declared dependency; the fallback keeps the core importable on odd platforms
    import numba

    def jit(fn: _F) -> _F:
        return cast(_F, numba.njit(cache=True, nogil=True)(fn))
except ImportError:  # pragma: no cover

    def jit(fn: _F) -> _F:
        return fn


# 67 computed here, then 6 telecom signals ``FeatureState.process`` copies in (zaslon.core.calls.SIGNAL_NAMES).
N_COMPUTED = 67
N_FEATURES = 73
NONE_TS = -(1 << 62)
NONE_DAY = -(1 << 31)

# Window tiers: (bucket width in seconds, buckets, first slot). 10 min, 1 h, 24 h, 7 d, 30 d.
TIER_W = np.array([120, 600, 7200, 86400, 432000], dtype=np.int64)
TIER_N = np.array([5, 6, 12, 7, 6], dtype=np.int64)
TIER_OFF = np.array([0, 5, 11, 23, 30], dtype=np.int64)
N_TIERS = 5
N_SLOTS = 36
# The largest outgoing amount is kept per 15-day epoch (this one and the one before): a max over the last
# 15 to 30 days in three numbers, where a true sliding max would need every amount.
MAX_EPOCH_S = 15 * 86400
OUT, IN = 0, 1
WEEK_MIN = 10080.0

# Order of the state arrays (FeatureState.arrays).
(S_BK, S_LAST, S_FIRST, S_NTOT, S_WEL, S_BLOOM_OUT, S_BLOOM_IN, S_NDIST, S_DEV, S_KEY, S_BIRTH, S_ALONE,
 S_MAX) = range(13)

# Knowledge bits (zaslon.core.knowledge.AccountFlag).
REPORTED, TRACED, IN_CASE, SUSPECTED_DROP, PARTNER_LISTED = 1, 2, 4, 8, 16


def new_state(cap: int) -> list[npt.NDArray[Any]]:
    last = np.full((cap, 2), NONE_TS, dtype=np.int64)
    return [
        np.zeros((cap, 2, N_SLOTS, 2), dtype=np.float32),  # S_BK: count, sum per bucket, out/in
        last,  # S_LAST: last event time per direction
        np.full(cap, NONE_TS, dtype=np.int64),  # S_FIRST: opened or first seen
        np.zeros((cap, 2), dtype=np.int32),  # S_NTOT: transfers ever, out/in
        np.zeros((cap, 2), dtype=np.float32),  # S_WEL: mean and M2 of log outgoing amount
        np.zeros((cap, 8), dtype=np.uint64),  # S_BLOOM_OUT: 512-bit Bloom filter of payees
        np.zeros((cap, 4), dtype=np.uint64),  # S_BLOOM_IN: 256-bit Bloom filter of payers
        np.zeros((cap, 2), dtype=np.int32),  # S_NDIST: distinct payees / payers
        np.zeros((cap, 4), dtype=np.uint32),  # S_DEV: last two device and last two IP hashes
        np.zeros(cap, dtype=np.uint32),  # S_KEY: stable hash of the account id
        np.full(cap, NONE_DAY, dtype=np.int32),  # S_BIRTH: owner's birth day since epoch
        np.zeros(cap, dtype=np.uint8),  # S_ALONE: bit 0 the owner lives alone, bit 1 the bank gave the opening date
        np.zeros((cap, 3), dtype=np.float32),  # S_MAX: 15-day epoch, max outgoing amount in it, in the one before
    ]


@jit
def _window(bk: Any, acc: int, d: int, tier: int, t: int, last: int) -> tuple[float, float]:
    if last == NONE_TS:
        return 0.0, 0.0
    w = TIER_W[tier]
    nb = TIER_N[tier]
    off = TIER_OFF[tier]
    bt = t // w
    bl = last // w
    lo = max(bt, bl) - nb + 1
    hi = min(bt, bl)
    c = 0.0
    s = 0.0
    for b in range(lo, hi + 1):
        slot = off + b % nb
        c += bk[acc, d, slot, 0]
        s += bk[acc, d, slot, 1]
    return c, s


@jit
def _add(bk: Any, lastarr: Any, acc: int, d: int, t: int, amount: float) -> None:
    last = lastarr[acc, d]
    for tier in range(N_TIERS):
        w = TIER_W[tier]
        nb = TIER_N[tier]
        off = TIER_OFF[tier]
        bt = t // w
        if last == NONE_TS or bt - last // w >= nb:
            for k in range(nb):
                bk[acc, d, off + k, 0] = 0.0
                bk[acc, d, off + k, 1] = 0.0
        else:
            bl = last // w
            if bt > bl:
                for b in range(bl + 1, bt + 1):
                    bk[acc, d, off + b % nb, 0] = 0.0
                    bk[acc, d, off + b % nb, 1] = 0.0
            elif bt <= bl - nb:  # far older than the ring: nothing to add to
                continue
        slot = off + bt % nb
        bk[acc, d, slot, 0] += 1.0
        bk[acc, d, slot, 1] += amount
    if last == NONE_TS or t > last:
        lastarr[acc, d] = t


@jit
def _bits(key: np.uint32, nbits: int) -> tuple[int, int]:
    k = np.uint64(key)
    h1 = (k * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    h2 = ((k ^ (k >> np.uint64(15))) * np.uint64(2246822519)) & np.uint64(0xFFFFFFFF)
    return int(h1 % np.uint64(nbits)), int(h2 % np.uint64(nbits))


@jit
def _seen(bloom: Any, acc: int, key: np.uint32, nbits: int) -> bool:
    p1, p2 = _bits(key, nbits)
    a = (bloom[acc, p1 // 64] >> np.uint64(p1 % 64)) & np.uint64(1)
    b = (bloom[acc, p2 // 64] >> np.uint64(p2 % 64)) & np.uint64(1)
    return bool(a == np.uint64(1) and b == np.uint64(1))


@jit
def _mark(bloom: Any, acc: int, key: np.uint32, nbits: int) -> None:
    p1, p2 = _bits(key, nbits)
    bloom[acc, p1 // 64] |= np.uint64(1) << np.uint64(p1 % 64)
    bloom[acc, p2 // 64] |= np.uint64(1) << np.uint64(p2 % 64)


@jit
def _age_days(first: int, t: int) -> float:
    if first == NONE_TS:
        return 0.0
    return max(0.0, (t - first) / 86400.0)


@jit
def _max_30d(mx: Any, a: int, t: int) -> float:
    e = t // MAX_EPOCH_S
    if mx[a, 0] == e:
        return float(max(mx[a, 1], mx[a, 2]))
    if mx[a, 0] == e - 1:
        return float(mx[a, 1])
    return 0.0


@jit
def _fold_max(mx: Any, a: int, t: int, rel: float) -> None:
    e = t // MAX_EPOCH_S
    if mx[a, 0] != e:
        mx[a, 2] = mx[a, 1] if mx[a, 0] == e - 1 else 0.0
        mx[a, 1] = 0.0
        mx[a, 0] = e
    mx[a, 1] = max(mx[a, 1], rel)


@jit
def run(
    payer: Any, payee: Any, ts: Any, amount: Any, cur: Any, cross: Any, dev: Any, ip: Any, call: Any, chan: Any,
    payer_flags: Any, payee_flags: Any, payee_reported_n: Any, payer_reported_n: Any, curstats: Any,
    bk: Any, last: Any, first: Any, ntot: Any, wel: Any, bloom_out: Any, bloom_in: Any, ndist: Any,
    devs: Any, key: Any, birth: Any, alone: Any, mx: Any,
    elderly_age: float, update: bool, out: Any,
) -> None:
    n = payer.shape[0]
    for i in range(n):
        a = payer[i]
        b = payee[i]
        t = ts[i]
        amt = amount[i]
        la = math.log(amt) if amt > 0.0 else 0.0
        c = cur[i]
        # Currency scale from the transfers before this one (its own amount if it is the first).
        cmean = curstats[c, 1] if curstats[c, 0] > 0 else la
        rel = math.exp(la - cmean) if amt > 0.0 else 0.0
        o = out[i]
        o[0] = la - cmean
        if first[a] == NONE_TS:
            first[a] = t
        n_out = ntot[a, OUT]
        if n_out >= 2:
            std = math.sqrt(wel[a, 1] / (n_out - 1))
            o[1] = (la - wel[a, 0]) / max(std, 0.25)
        else:
            o[1] = 0.0
        o[2] = _age_days(first[a], t)
        for tier in range(4):
            cn, sm = _window(bk, a, OUT, tier, t, last[a, OUT])
            o[3 + tier] = cn
            o[7 + tier] = sm
            cn, sm = _window(bk, a, IN, tier, t, last[a, IN])
            o[11 + tier] = cn
            o[15 + tier] = sm
        o[19] = n_out
        o[20] = ndist[a, OUT]
        fresh_payee = b >= 0 and not _seen(bloom_out, a, key[b], 512)
        o[21] = 1.0 if fresh_payee else 0.0
        o[22] = min(1.0, o[16] / rel) if rel > 0.0 else 0.0
        o[23] = min(WEEK_MIN, (t - last[a, IN]) / 60.0) if last[a, IN] != NONE_TS else WEEK_MIN
        o[24] = cross[i]
        d = dev[i]
        o[25] = 1.0 if d != 0 and n_out > 0 and d != devs[a, 0] and d != devs[a, 1] else 0.0
        p = ip[i]
        o[26] = 1.0 if p != 0 and n_out > 0 and p != devs[a, 2] and p != devs[a, 3] else 0.0
        elderly = birth[a] != NONE_DAY and (t / 86400.0 - birth[a]) / 365.2425 >= elderly_age
        o[27] = 1.0 if elderly else 0.0
        o[28] = alone[a] & 1
        o[29] = 1.0 if elderly and alone[a] & 1 else 0.0
        o[56] = 1.0 if alone[a] & 2 else 0.0
        o[30] = call[i]
        pf = payee_flags[i]
        if b >= 0:
            if first[b] == NONE_TS:
                first[b] = t
            o[31] = _age_days(first[b], t)
            for tier in range(4):
                cn, sm = _window(bk, b, IN, tier, t, last[b, IN])
                o[32 + tier] = cn
                o[36 + tier] = sm
            cn, sm = _window(bk, b, OUT, 1, t, last[b, OUT])
            o[40] = cn
            o[42] = sm
            cn, sm = _window(bk, b, OUT, 2, t, last[b, OUT])
            o[41] = cn
            o[43] = sm
            o[44] = ndist[b, IN]
            cn, sm = _window(bk, b, OUT, 3, t, last[b, OUT])
            o[53] = sm / max(o[39], 1e-6) if o[39] > 0.0 else 0.0
            o[57] = 1.0 if alone[b] & 2 else 0.0
        else:
            for j in range(31, 45):
                o[j] = 0.0
            o[53] = 0.0
            o[57] = 0.0
        o[45] = 1.0 if pf & REPORTED else 0.0
        o[46] = 1.0 if pf & IN_CASE else 0.0
        o[47] = 1.0 if pf & SUSPECTED_DROP else 0.0
        o[48] = 1.0 if pf & TRACED else 0.0
        o[49] = 1.0 if pf & PARTNER_LISTED else 0.0
        o[50] = 1.0 if payer_flags[i] != 0 else 0.0
        o[51] = 1.0 if b < 0 else 0.0
        o[52] = (t % 86400) / 3600.0
        o[54] = rel / (o[18] + 1.0)
        o[55] = chan[i]
        # Spending over 30 days, and this amount against it (amounts in relative units).
        cn, sm = _window(bk, a, OUT, 4, t, last[a, OUT])
        o[58] = cn
        o[59] = sm
        o[60] = sm / cn if cn > 0.0 else 0.0
        top = _max_30d(mx, a, t)
        o[61] = top
        o[62] = rel / top if top > 0.0 else 0.0
        # What delayed reports taught about the payee: how many of its incoming transfers were reported as
        # fraud so far, and their share of everything it received (a shop with one reported sale in 10,000 is
        # not a drop with three of five).
        rn = payee_reported_n[i]
        o[63] = rn
        o[64] = min(1.0, rn / ntot[b, IN]) if b >= 0 and ntot[b, IN] > 0 else (1.0 if rn > 0 else 0.0)
        o[65] = payer_reported_n[i]
        o[66] = ((t // 86400) + 3) % 7  # 0 Monday ... 6 Sunday (1970-01-01 was a Thursday)
        if not update:
            continue
        # ---- fold the transfer into the state (after its features were written) ----
        n_c = curstats[c, 0] + 1.0
        curstats[c, 1] += (la - curstats[c, 1]) / n_c
        curstats[c, 0] = n_c
        _add(bk, last, a, OUT, t, rel)
        _fold_max(mx, a, t, rel)
        m = wel[a, 0]
        nn = n_out + 1
        delta = la - m
        m += delta / nn
        wel[a, 0] = m
        wel[a, 1] += delta * (la - m)
        ntot[a, OUT] = nn
        if d != 0 and d != devs[a, 0] and d != devs[a, 1]:
            devs[a, 1] = devs[a, 0]
            devs[a, 0] = d
        if p != 0 and p != devs[a, 2] and p != devs[a, 3]:
            devs[a, 3] = devs[a, 2]
            devs[a, 2] = p
        if b >= 0:
            if fresh_payee:
                _mark(bloom_out, a, key[b], 512)
                ndist[a, OUT] += 1
            if not _seen(bloom_in, b, key[a], 256):
                _mark(bloom_in, b, key[a], 256)
                ndist[b, IN] += 1
            _add(bk, last, b, IN, t, rel)
            ntot[b, IN] += 1
