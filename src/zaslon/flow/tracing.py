"""The trace step of the flow: a ledger kept in step with the store, and trace -> flags -> freeze orders.

The ledger holds what actually happened to money: every stored transfer except those the exchange held or
blocked (they never executed), and every freeze a bank reported (money frozen can no longer move on). It is
refreshed from the store before each trace: new rows are appended; a row dated before the newest one already
indexed (a late transfer) makes it rebuild, so the time order the trace relies on always holds.

``trace_incident`` follows an incident's disputed transfers through everything recorded before the report
time, then also the money other payers sent into the same first drops (in practice other, often unreported,
victims of the same group), and returns what to freeze and which accounts the money reached.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.transfers import SqlTransferStore
from zaslon.core.corroborate import is_established
from zaslon.core.features import AccountProfile
from zaslon.core.fx import to_byn_minor
from zaslon.core.knowledge import Knowledge
from zaslon.core.ledger import FROZEN_SINK, Ledger, distinct_payers, to_us
from zaslon.core.trace import ExitKind, Method, TraceResult, trace
from zaslon.core.types import CASH_SINK, split_transfer_key, transfer_key
from zaslon.flow.ports.transfers import FreezeRow, LedgerRow, TransferStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

# A transfer the exchange held or blocked did not execute: it moved no money.
_NOT_EXECUTED = ("hold", "block")
# ``TraceSettings.payer_protection_s`` by default.
PAYER_PROTECTION_S = 72 * 3600


@dataclass(frozen=True, slots=True)
class TraceSettings:
    max_depth: int = 6  # Brazil's MED 2.0 follows about five levels of onward transfers
    method: Method = Method.FIFO
    # Other money that fed the drops this victim's money reached (within ``linked_depth`` hops), traced and
    # frozen with it: in practice other, often unreported, victims of the same group. Only money that came in
    # during the drop's active period counts: from ``linked_lookback_s`` before this victim's money reached it
    # until the report. On the small world (its reports re-traced afterwards), with 72 h 855 of the 967 linked
    # transfers carried fraud money; 24 h linked fewer legitimate ones (68 instead of 112) but saved 2.2 points
    # less of the stolen money, as fewer of the group's drops were traced before its next victims paid them.
    linked_depth: int = 6
    max_linked: int = 200
    linked_lookback_s: int = 3 * 86_400
    # How long a trace protects an account it reached as a payer (its outflows held, its exits blocked) when no
    # order covers it and nothing corroborates it as a drop. Money moves on within hours; on the small world
    # every fraud-money transfer held more than 72 h after an account's first hold was on an account under an
    # order, while ~490 legitimate ones were not (docs/scoring.md, "Payer-side protection").
    payer_protection_s: int = PAYER_PROTECTION_S
    # Flag an account abroad that the victims' money was paid to (an ``abroad`` exit) TRACED, so what is paid
    # to it next is held here. Off: on small-42 it held what went on to the 10 Russian accounts already named in
    # freeze requests (frozen at home +93k BYN, abroad -36k) but the run's model then stopped less at the victims'
    # payments (prevented -116k): saved share 0.620 -> 0.617. Measured on one world only (BENCHMARKS.md).
    flag_abroad_payees: bool = False


class LiveLedger:
    """The trace's ledger, in step with the store. ``profiles`` tells merchants and exchanges apart (money
    paid to a shop is spent, not laundered) and which customer owns an account."""

    def __init__(self, engine: Engine, profiles: Mapping[str, AccountProfile] | None = None,
                 owners: Mapping[str, str] | None = None) -> None:
        self.engine = engine
        self._store: TransferStore = SqlTransferStore(engine)
        self.profiles: Mapping[str, AccountProfile] = profiles if profiles is not None else {}
        self.owners: Mapping[str, str] = owners if owners is not None else {}
        # Held while the ledger is appended to, and by a trace for as long as it reads the ledger (the follower
        # must not append or compact under a running trace). Re-entrant: a trace takes it, then calls current().
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self.last_error: str | None = None
        self._reset()

    def follow(self, lag_s: float, interval_s: float = 0.2) -> None:
        """Keep the ledger in step in a background thread, so a report traces at once instead of first taking in
        everything stored since the last one (on a busy exchange, tens of thousands of rows). A trace still
        catches up itself before it runs. It takes rows only up to ``lag_s`` before the newest stored one:
        transfers arrive from many banks, not in one time order, and a row older than what was taken in would make
        the ledger rebuild. Given a lag longer than the banks' skew, results never depend on this thread's timing."""
        if self._follower is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.current(check_late=False, lag_s=lag_s)
                except Exception as exc:  # the store away for a moment: the next round, or the trace, retries
                    self.last_error = f"{type(exc).__name__}: {exc}"

        self._follower = threading.Thread(target=loop, name="zaslon-ledger-follower", daemon=True)
        self._follower.start()

    def stop(self) -> None:
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=10)
            self._follower = None

    def _reset(self) -> None:
        self.ledger = Ledger()
        self.ledger.add_account(CASH_SINK, bank_id=None)
        self._consumed = 0  # stored transfer rows taken in (executed or not)
        self._last_us: int | None = None
        self._at_last: set[str] = set()  # ids consumed at exactly the newest timestamp
        self._last_event = 0  # newest order event read (freezes)
        self._pending_freezes: list[tuple[int, FreezeRow]] = []  # read, dated past the last cut

    def current(self, *, check_late: bool = True, upto: datetime | None = None, lag_s: float | None = None) -> Ledger:
        """The ledger with what is stored, taken in time order up to a cut: rows dated at or before ``upto`` (a
        trace needs nothing later), or (the follower) no newer than ``lag_s`` before the newest stored row. Rows
        past the cut stay in the store for a later call, so banks' batches that overlap in time (each bank sends
        its own customers' transfers) are taken in order instead of looking late.

        ``check_late`` counts the stored rows to find a transfer dated before what was already taken in (which
        makes the ledger rebuild); the follower skips that count, a trace does not. The count comes before the
        read: rows committed in between only add to what is read, so they are never mistaken for a late row."""
        with self.lock:
            store = self._store
            stored = store.count() if check_late else -1
            self._pending_freezes += [(to_us(e.at), e) for e in store.freezes(after_event=self._last_event)]
            if self._pending_freezes:
                self._last_event = max(self._last_event, max(int(e.event_id) for _, e in self._pending_freezes))
            if stored == self._consumed and not self._pending_freezes:
                return self.ledger  # nothing new (the common case for a trace when the follower keeps up)
            cut = upto
            if lag_s is not None:
                newest = store.newest()
                if newest is None:
                    return self.ledger
                behind = newest - timedelta(seconds=lag_s)
                cut = behind if cut is None else min(cut, behind)
            since = None if self._last_us is None else datetime.fromtimestamp(self._last_us / 1e6, tz=UTC)
            # Every stored row is consumed (and counted); those that did not execute are skipped in ``_take``.
            rows = [r for r in store.ledger_rows(since, cut)
                    if not (self._last_us is not None and to_us(r.ts) == self._last_us
                            and transfer_key(r.org_id, r.transfer_id) in self._at_last)]
            later = store.count(after=cut) if check_late and cut is not None else 0
            late = (check_late and len(rows) + later < stored - self._consumed) or any(
                self._last_us is not None and at < self._last_us for at, _ in self._pending_freezes)
            if late:
                self._reset()
                rows = store.ledger_rows(None, cut)
                self._pending_freezes = [(to_us(e.at), e) for e in store.freezes()]
                if self._pending_freezes:
                    self._last_event = max(int(e.event_id) for _, e in self._pending_freezes)
            limit = None if cut is None else to_us(cut)
            frozen = [f for f in self._pending_freezes if limit is None or f[0] <= limit]
            self._pending_freezes = [f for f in self._pending_freezes if not (limit is None or f[0] <= limit)]
            self._take(rows, frozen)
            if lag_s is not None and self.ledger.tail_rows >= self.ledger.compact_every // 2:
                self.ledger.compact()  # here, in the background, rather than in the middle of a trace
            return self.ledger

    def _take(self, rows: list[LedgerRow], frozen: list[tuple[int, FreezeRow]]) -> None:
        """Append transfers and freezes merged in time order (a freeze after transfers of the same moment)."""
        amounts = to_byn_minor_list(rows)
        merged: list[tuple[int, int, int, Any]] = [(to_us(r.ts), 0, i, r) for i, r in enumerate(rows)]
        merged += [(at, 1, i, e) for i, (at, e) in enumerate(frozen)]
        merged.sort(key=lambda x: (x[0], x[1], x[2]))
        led = self.ledger
        for at, kind, i, r in merged:
            if kind == 1:
                led.append(f"freeze:{r.event_id}", at, r.account_id, FROZEN_SINK, int(r.amount),
                           payer_bank=r.bank_id)
                self._last_event = max(self._last_event, int(r.event_id))
                continue
            self._consumed += 1
            if at != self._last_us:
                self._last_us, self._at_last = at, set()
            # The ledger keys a transfer by its submitter and id (``transfer_key``): ids are each bank's own.
            key = transfer_key(r.org_id, r.transfer_id)
            self._at_last.add(key)
            if r.outcome in _NOT_EXECUTED:
                continue
            for acct, bank in ((r.payer, r.payer_bank), (r.payee, r.payee_bank)):
                if acct not in led.account_index:
                    self._add_account(acct, bank)
            led.append(
                key, at, r.payer, r.payee, amounts[i], payer_bank=r.payer_bank,
                payee_bank=r.payee_bank, payee_country=r.payee_country, atm_id=r.atm_id)
        if self._last_us is None and merged:
            self._last_us = merged[-1][0]

    @property
    def row_of(self) -> Mapping[str, int]:
        """The ledger row of each executed transfer, by ``transfer_key`` (looked up in the ledger's packed ids:
        a dict of every stored transfer cost about 150 bytes a row of resident memory)."""
        return _RowsOf(self.ledger)

    def _add_account(self, account: str, bank: str | None) -> None:
        prof = self.profiles.get(account)
        kind = prof.kind if prof is not None else None
        self.ledger.add_account(account, bank_id=bank, party_id=self.owners.get(account),
                                crypto_exchange=kind == "crypto_exchange", merchant=kind == "merchant")


class _RowsOf(Mapping[str, int]):
    """A ledger's executed transfers by ``transfer_key`` (the ledger's own freeze rows hold no ``/``)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __getitem__(self, key: str) -> int:
        row = self.ledger.find(key) if "/" in key else None
        if row is None:
            raise KeyError(key)
        return row

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and "/" in key and self.ledger.find(key) is not None

    def __iter__(self) -> Iterator[str]:
        return (t for t in self.ledger.transfer_ids if "/" in t)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def to_byn_minor_list(rows: list[Any]) -> list[int]:
    if not rows:
        return []
    import numpy as np

    out = to_byn_minor(np.array([r.amount for r in rows], dtype=np.int64), [r.currency for r in rows])
    return [int(a) for a in out.tolist()]


@dataclass
class TracedIncident:
    result: TraceResult
    seeds: list[str]  # the transfers traced for this incident: its own disputed ones, then linked feeders
    linked: int
    flagged: list[str] = field(default_factory=list)
    # Accounts the money reached that many unrelated payers use (a shop, a company): their orders wait for the
    # desk instead of going out automatically, and they are not flagged.
    established: list[str] = field(default_factory=list)


class Tracer:
    """Traces incidents against the live ledger; remembers which transfers were already traced, so money is
    traced (and ordered frozen) for the first incident that names it, not once per report."""

    def __init__(self, live: LiveLedger, settings: TraceSettings | None = None) -> None:
        self.live = live
        self.settings = settings or TraceSettings()
        self.traced: set[str] = set()
        self._established: set[str] = set()  # payers only ever grow: once established, always
        self._lock = threading.Lock()

    def established(self, led: Ledger, account: str) -> bool:
        if account in self._established:
            return True
        idx = led.account_index.get(account)
        if idx is None:
            return False
        prof = self.live.profiles.get(account)
        if is_established(prof.kind if prof else None, distinct_payers(led, idx, led.n_rows)):
            self._established.add(account)
            return True
        return False

    def trace_incident(self, transfer_ids: tuple[str, ...], reported_at: datetime, *, victim: str | None,
                       knowledge: Knowledge) -> TracedIncident:
        """``transfer_ids``: the disputed transfers by ``transfer_key`` (submitter and id), as the ledger keys them."""
        cfg = self.settings
        with self._lock, self.live.lock:  # the follower waits while this trace reads the ledger
            led = self.live.current(upto=reported_at)
            upto = led.upto(to_us(reported_at))
            row_of = self.live.row_of
            # The victim's own accounts: the payers of the disputed transfers, and what the bank says they own.
            mine = {led.account_ids[int(led.payer[row_of[t]])] for t in transfer_ids if t in row_of}

            def victims(account: str) -> bool:
                idx = led.account_index.get(account)
                owner = led.account_party[idx] if idx is not None else None
                return account in mine or (victim is not None and owner == victim)

            fresh = [t for t in transfer_ids if t in row_of and row_of[t] < upto and t not in self.traced]
            self.traced.update(fresh)
            seeds = [(row_of[t], int(led.amount[row_of[t]])) for t in fresh]
            res = trace(led, seeds, upto=upto, max_depth=cfg.max_depth, method=cfg.method,
                        feeders_lookback_us=cfg.linked_lookback_s * 1_000_000, max_feeders=4 * cfg.max_linked)
            linked = self._linked(led, res, victims)
            if linked:
                self.traced.update(linked)
                seeds += [(row_of[t], int(led.amount[row_of[t]])) for t in linked]
                res = trace(led, seeds, upto=upto, max_depth=cfg.max_depth, method=cfg.method)
            flagged, established = [], []
            until = int(reported_at.timestamp()) + cfg.payer_protection_s
            for acc in sorted(res.accounts):
                if victims(acc):
                    continue
                if self.established(led, acc):
                    established.append(acc)
                else:
                    knowledge.mark_traced(acc, until)
                    flagged.append(acc)
            # An account abroad the victims' money went to (the trace stops there: our banks do not hold it) is a
            # drop like the ones at home: what is paid to it next is held here, not sent after the first.
            for e in res.exits if cfg.flag_abroad_payees else ():
                to = e.to_account
                if (e.kind is not ExitKind.ABROAD or not to or to in res.accounts or to in flagged
                        or victims(to) or self.established(led, to)):
                    continue
                knowledge.mark_traced(to, until)
                flagged.append(to)
            return TracedIncident(res, fresh + linked, len(linked), flagged, established)

    def view(self, transfer_ids: tuple[str, ...], at: datetime) -> TraceResult:
        """Where the money of ``transfer_ids`` is at ``at``, for a reader (the desk's money-flow graph): the
        same trace, every disputed transfer followed, nothing remembered and nothing flagged."""
        cfg = self.settings
        with self._lock, self.live.lock:
            # No count of every stored row (a late-row check costs a scan of the transfers on each page view): a
            # reader takes in what is new; the next trace of a report still checks and rebuilds if it must.
            led = self.live.current(check_late=False, upto=at)
            upto = led.upto(to_us(at))
            row_of = self.live.row_of
            seeds = [(row_of[t], int(led.amount[row_of[t]])) for t in transfer_ids if t in row_of and row_of[t] < upto]
            return trace(led, seeds, upto=upto, max_depth=cfg.max_depth, method=cfg.method, max_feeders=0)

    def _linked(self, led: Ledger, result: TraceResult, victims: Callable[[str], bool]) -> list[str]:
        """Backwards: money from outside the trace into its first drops, not traced for anyone yet."""
        cfg = self.settings
        depth: dict[str, int] = {}
        for h in result.hops:
            depth[h.to_account] = min(depth.get(h.to_account, h.depth), h.depth)
        out: list[str] = []
        row_of = self.live.row_of
        for f in result.feeders:
            if len(out) >= cfg.max_linked:
                break
            t = f.transfer_id
            if (depth.get(f.into_account, 99) > cfg.linked_depth or t in self.traced or t not in row_of
                    or victims(f.payer) or self.established(led, f.into_account)):
                continue
            out.append(t)
        return out


def restore_traced_flags(engine: Engine, knowledge: Knowledge,
                         kind_of: Callable[[str], str | None] | None = None,
                         payer_protection_s: int = PAYER_PROTECTION_S) -> int:
    """After a restart: TRACED again on the accounts freeze orders name, as ``Tracer`` flags them (not an
    established account, a shop many people pay; not an account an upheld appeal cleared after its last order).
    Accounts the trace only passed through, named in no order, are not restored: the traced set itself is not
    stored. Distinct payers are counted in SQL, for those accounts only."""
    from zaslon.adapters.db.stores.incidents import SqlAppealStore
    from zaslon.flow.ports.incidents import AppealStore

    store: TransferStore = SqlTransferStore(engine)
    issued = store.last_order_per_account()
    if not issued:
        return 0
    appeals: AppealStore = SqlAppealStore(engine)
    delisted = appeals.upheld_appeals()
    accounts = sorted(issued)
    payers = store.distinct_payers(accounts)
    flagged = 0
    for acc in accounts:
        if acc in delisted and delisted[acc] >= issued[acc]:
            continue
        if not is_established(kind_of(acc) if kind_of else None, payers.get(acc, 0)):  # as Tracer.established
            knowledge.mark_traced(acc, int(issued[acc].replace(tzinfo=issued[acc].tzinfo or UTC).timestamp())
                                 + payer_protection_s)
            flagged += 1
    return flagged


def _named(key: str | None) -> dict[str, str | None]:
    """A ledger key as the reporter is told it: the transfer's id and the organisation whose id it is."""
    if key is None or "/" not in key:  # none, or the ledger's own entry (a freeze)
        return {"transfer_id": key, "submitted_by": None}
    org, tid = split_transfer_key(key)
    return {"transfer_id": tid, "submitted_by": org}


def trace_summary(res: TraceResult) -> dict[str, Any]:
    """What the reporter is told of the trace."""
    return {
        "traced": res.traced, "still_in_accounts": res.held,
        "exits": [{"kind": e.kind.value, "amount": e.amount, "from_account": e.from_account,
                   **_named(e.transfer_id), "atm_id": e.atm_id, "country": e.country,
                   "bank_id": e.bank_id} for e in res.exits],
        "other_victims": [{"payer": f.payer, "into_account": f.into_account, **_named(f.transfer_id),
                           "amount": f.amount} for f in res.feeders[:50]],
    }
