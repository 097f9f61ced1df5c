"""The demo run: a simulated world through the exchange in event-time order, with two baselines beside it.

Three kinds of events are merged by time: transfers (scored in micro-batches between events), incident
reports (intake -> trace -> freeze orders at ``reported_at``) and banks acknowledging orders (after a
delay drawn from a seeded RNG). A transfer Zaslon holds never executes, so it never enters Zaslon's
ledger; a freeze adds a row to the FROZEN sink, so frozen money can no longer leave in the trace.

The baselines run in the same pass over the same events:
* list-only: a transfer to a payee already named in any report is held (2 days, as 161-FZ); no tracing.
* no exchange: each bank holds its own customers' transfers to payees its own customers reported, and
  freezes what is still in the first receiving account when that account is its own (it cannot see
  further). It has its own ledger of the transfers it let through.
Ground truth is not read here: ``zaslon.lab.outcome`` scores the run afterwards.
"""

from __future__ import annotations

import heapq
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import polars as pl
from sqlalchemy import Engine, insert, select

from zaslon.adapters.db.tables_core import orgs
from zaslon.core.cashout import cashout_alert
from zaslon.core.corroborate import is_established
from zaslon.core.features import FEATURE_NAMES
from zaslon.core.fx import to_byn_minor
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.ledger import FROZEN_SINK, Dest, Ledger, distinct_payers, from_us
from zaslon.core.policy import HOLD
from zaslon.core.trace import Method, TraceResult, trace
from zaslon.core.types import CASH_SINK, Atm, Channel, Scheme, Transfer
from zaslon.errors import ZaslonError
from zaslon.flow.freeze import FreezeStore
from zaslon.flow.ingest import store_transfers
from zaslon.flow.intake import IncidentReport, Victim, intake_incident
from zaslon.flow.ledger import register_accounts
from zaslon.flow.model import labels_known_by, train
from zaslon.flow.replay import columns_of_frame, slice_cols
from zaslon.simulate.load import World

Progress = Callable[[int], None]
INF = np.iinfo(np.int64).max


@dataclass(frozen=True)
class DemoConfig:
    seed: int = 7
    # Banks act on an order in minutes: an on-call officer reads it off the queue (assumed 2-15 min).
    ack_delay_s: tuple[float, float] = (120.0, 900.0)
    max_depth: int = 6
    method: Method = Method.FIFO
    chunk: int = 8192
    call_window_s: int = 3600  # a transfer within an hour of a call from a flagged number: "on a call"
    # Other money that fed the drops this victim's money reached (within 6 hops), traced and frozen with
    # it: in practice other, often unreported, victims of the same group.
    linked_depth: int = 6
    max_linked: int = 200
    linked_lookback_s: int = 3 * 86_400
    # The model is retrained weekly on what was reported by then, as `zaslon replay` does (0: no model).
    retrain_days: float = 7.0
    min_positives: int = 5
    card_pepper: bytes = b"zaslon-demo-pepper"


@dataclass
class Scenario:
    """What one way of working did: which transfers it stopped and what it froze, per incident."""

    stopped: np.ndarray  # bool per transfer row
    frozen: dict[str, int] = field(default_factory=dict)
    freeze_times_s: dict[str, float] = field(default_factory=dict)
    seeds: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # incident -> (ledger row, amount)
    seed_ids: dict[str, list[str]] = field(default_factory=dict)
    frozen_by_seed: dict[str, int] = field(default_factory=dict)  # seed transfer id -> frozen money
    linked: int = 0  # other victims' transfers traced with an incident (feeders of its drops)


@dataclass
class DemoRun:
    transfer_ids: list[str]
    amounts: np.ndarray
    zaslon: Scenario
    list_only: Scenario
    no_exchange: Scenario
    knowledge: Knowledge
    incidents: int = 0
    duplicates: int = 0
    rejected: int = 0
    orders: int = 0
    alerts: int = 0
    traced_accounts: int = 0
    models: list[dict[str, object]] = field(default_factory=list)


class _Demo:
    def __init__(self, world: World, db: Engine, engine_factory: Callable[[Knowledge], object],
                 cfg: DemoConfig) -> None:
        self.w, self.db, self.cfg = world, db, cfg
        self.rng = random.Random(cfg.seed)
        self.knowledge = Knowledge()
        self.engine = engine_factory(self.knowledge)
        self.store = FreezeStore(db)
        t = world.transfers
        self.n = len(t)
        self.ids: list[str] = t["transfer_id"].to_list()
        self.ts_us = t["ts"].dt.epoch("us").to_numpy().astype(np.int64)
        # Every amount as BYN kopecks at reference rates: traces and outcomes add money across currencies.
        self.amount_orig = t["amount"].to_numpy().astype(np.int64)
        self.amount = to_byn_minor(t["amount"].to_numpy().astype(np.int64), t["currency"].to_list())
        self.payer: list[str] = t["payer"].to_list()
        self.payee: list[str] = t["payee"].to_list()
        self.payer_bank: list[str | None] = t["payer_bank"].to_list()
        self.payee_bank: list[str | None] = t["payee_bank"].to_list()
        self.payee_country: list[str | None] = t["payee_country"].to_list()
        self.atm_id: list[str | None] = t["atm_id"].to_list()
        self.currency: list[str] = t["currency"].to_list()
        self.channel: list[str] = t["channel"].to_list()
        self.cols = columns_of_frame(t)
        self.caller = _last_caller(world, cfg.call_window_s)
        self.row_of = {tid: i for i, tid in enumerate(self.ids)}
        self.crypto = set(world.accounts.filter(pl.col("kind") == "crypto_exchange")["account_id"].to_list())
        self.kind_of = dict(world.accounts.select("account_id", "kind").iter_rows())
        self.party_of = dict(world.accounts.select("account_id", "party_id").iter_rows())
        self.atms = {r[0]: Atm(r[0], float(r[1]), float(r[2]), r[3])
                     for r in world.atms.select("atm_id", "lat", "lon", "city").iter_rows()}
        self.zl, self.nl = Ledger(), Ledger()  # Zaslon's and the banks-alone executed transfers
        for led in (self.zl, self.nl):
            register_accounts(led, world.accounts)
            led.add_account(CASH_SINK, bank_id=None)
        self.x = np.zeros((self.n, len(FEATURE_NAMES)), dtype=np.float32) if cfg.retrain_days > 0 else None
        self.named: list[tuple[datetime, list[str]]] = []  # what reports named, as the model may learn it
        self.zaslon = Scenario(np.zeros(self.n, dtype=np.bool_))
        self.list_only = Scenario(np.zeros(self.n, dtype=np.bool_))
        self.nx = Scenario(np.zeros(self.n, dtype=np.bool_))
        self.zl_row: dict[str, int] = {}
        self.nl_row: dict[str, int] = {}
        self.national_list: set[str] = set()
        self.bank_lists: dict[str, set[str]] = {}
        self.traced_seed: dict[str, str] = {}  # transfer id -> first incident that traced it
        self.nx_seed: set[str] = set()
        self.events: list[tuple[int, int, str, tuple[str, ...]]] = []  # (due, seq, kind, args)
        self.seq = 0
        self.submitted: set[str] = set()
        self.established: set[str] = set()
        self.org_ids: set[str] = set()
        self.run = DemoRun(self.ids, self.amount, self.zaslon, self.list_only, self.nx, self.knowledge)
        self._orgs()

    # ------------------------------------------------------------------ setup
    def _orgs(self) -> None:
        """Every bank and reporter becomes an organisation (no API keys: the demo calls the pipeline)."""
        now = from_us(int(self.ts_us[0])) if self.n else datetime.now().astimezone()
        wanted: dict[str, tuple[str, str | None]] = {}
        for bank in self.w.banks["bank_id"].to_list():
            wanted[bank] = ("bank", bank)
        for org, kind in self.w.incidents.select("reporter_org", "reporter_kind").unique().iter_rows():
            wanted.setdefault(org, (kind, org if kind == "bank" else None))
        with self.db.begin() as conn:
            have = set(conn.execute(select(orgs.c.org_id)).scalars())
            rows = [{"org_id": o, "name": f"{o} ({k})", "kind": k, "bank_id": b if b and len(b) <= 11 else None,
                     "created_at": now} for o, (k, b) in wanted.items() if o not in have]
            if rows:
                conn.execute(insert(orgs), rows)
        self.org_ids = have | set(wanted)

    def _push(self, due: int, kind: str, *args: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (due, self.seq, kind, args))

    # ------------------------------------------------------------------ the loop
    def go(self, progress: Progress | None) -> DemoRun:
        inc = self.w.incidents.sort("reported_at", maintain_order=True)
        inc_us = inc["reported_at"].dt.epoch("us").to_numpy().astype(np.int64)
        inc_rows = list(inc.iter_rows(named=True))
        pos, k = 0, 0
        if self.x is not None and self.n:
            step = int(self.cfg.retrain_days * 86_400 * 1_000_000)
            day0 = int(self.ts_us[0]) // 86_400_000_000 * 86_400_000_000
            for edge in range(day0 + step, int(self.ts_us[-1]) + 1, step):
                self._push(edge, "train")
        while pos < self.n or k < len(inc_rows) or self.events:
            next_inc = int(inc_us[k]) if k < len(inc_rows) else INF
            next_ev = self.events[0][0] if self.events else INF
            nxt = min(next_inc, next_ev)
            hi = self.n if nxt == INF else int(np.searchsorted(self.ts_us, nxt, side="left"))
            hi = min(max(hi, pos), pos + self.cfg.chunk)
            if hi > pos:
                self._transfers(pos, hi)
                if progress is not None:
                    progress(hi - pos)
                pos = hi
                continue
            if next_ev <= next_inc:
                due, _, kind, args = heapq.heappop(self.events)
                if kind == "ack":
                    self._ack(due, *args)
                elif kind == "nx":
                    self._nx_freeze(due, *args)
                else:
                    self._train(due, pos)
            else:
                self._incident(inc_rows[k], int(inc_us[k]))
                k += 1
        self.run.traced_accounts = sum(
            1 for f in self.knowledge.accounts.values() if f & AccountFlag.TRACED)
        return self.run

    def _transfers(self, lo: int, hi: int) -> None:
        cols = slice_cols(self.cols, lo, hi)
        flagged = self.knowledge.flagged_phones
        cols.on_flagged_call = np.fromiter(
            (c is not None and c in flagged for c in self.caller[lo:hi]), dtype=np.bool_, count=hi - lo)
        res = self.engine.score_columns(cols, explain=False)  # type: ignore[attr-defined]
        if self.x is not None:
            self.x[lo:hi] = res.features
        stop_z = res.outcome >= HOLD
        self.zaslon.stopped[lo:hi] = stop_z
        traced = self.knowledge.accounts
        for j, i in enumerate(range(lo, hi)):
            payee, bank = self.payee[i], self.payer_bank[i]
            if payee in self.national_list:
                self.list_only.stopped[i] = True
            if bank is not None and payee in self.bank_lists.get(bank, ()):
                self.nx.stopped[i] = True
            else:
                self.nl_row[self.ids[i]] = self._append(self.nl, i)
            if stop_z[j]:
                continue
            self.zl_row[self.ids[i]] = self._append(self.zl, i)
            if self.payer[i] in traced and (payee == CASH_SINK or payee in self.crypto
                                            or self.payee_country[i] not in (None, "BY")):
                self._alert(i)

    def _train(self, due: int, pos: int) -> None:
        """Retrain on every transfer so far, labelled by the reports made so far (never ground truth)."""
        assert self.x is not None
        cutoff = from_us(due)
        y = labels_known_by(self.ids[:pos], self.named, cutoff)
        if int(y.sum()) < self.cfg.min_positives or int(y.sum()) == pos:
            return
        trained = train(self.x[:pos], y, cutoff=cutoff)
        self.engine.set_model(trained.compiled)  # type: ignore[attr-defined]
        self.run.models.append(trained.meta)

    def _append(self, led: Ledger, i: int) -> int:
        return led.append(self.ids[i], int(self.ts_us[i]), self.payer[i], self.payee[i], int(self.amount[i]),
                          payer_bank=self.payer_bank[i], payee_bank=self.payee_bank[i],
                          payee_country=self.payee_country[i], atm_id=self.atm_id[i])

    def _transfer(self, i: int) -> Transfer:
        atm = self.atm_id[i]
        return Transfer(
            self.ids[i], from_us(int(self.ts_us[i])), self.payer[i], self.payee[i], int(self.amount_orig[i]),
            self.currency[i], Channel(self.channel[i]), payer_bank=self.payer_bank[i],
            payee_bank=self.payee_bank[i], payee_country=self.payee_country[i],
            atm=self.atms.get(atm) if atm else None,
        )

    def _alert(self, i: int) -> None:
        alert = cashout_alert(self._transfer(i), self.knowledge, crypto_accounts=self.crypto)
        if alert is not None and self.store.record_alert(alert, now=alert.ts):
            self.run.alerts += 1

    # ------------------------------------------------------------------ incidents
    def _incident(self, row: dict[str, object], at_us: int) -> None:
        self.run.incidents += 1
        at = from_us(at_us)
        named: list[str] = list(row.get("transfer_ids") or [])  # type: ignore[call-overload]
        tids = tuple(dict.fromkeys(str(t) for t in named if str(t) in self.row_of))
        org, kind = str(row["reporter_org"]), str(row["reporter_kind"])
        self._baselines(tids, org, kind, str(row["incident_id"]), at_us)
        # The reporting bank submitted the disputed transfers it holds (the demo does not store every
        # transfer); intake checks they exist. Not part of the report-to-orders time.
        self._submit(tids, org, at)
        started = time.perf_counter()
        try:
            scheme = Scheme(str(row["scheme"]))
        except ValueError:
            scheme = Scheme.OTHER
        report = IncidentReport(
            org, kind, scheme, at, Victim(party_id=row.get("victim_party")),  # type: ignore[arg-type]
            tids, str(row.get("text") or ""), external_ref=str(row["incident_id"]),
            language=row.get("language"),  # type: ignore[arg-type]
        )
        try:
            res = intake_incident(self.db, self.knowledge, report, card_pepper=self.cfg.card_pepper, now=at,
                                  incident_id=str(row["incident_id"]))
        except ZaslonError:
            self.run.rejected += 1
            return
        if not res.created:
            self.run.duplicates += 1
            return
        inc_id = res.incident.incident_id
        self.named.append((at, list(tids)))
        for acc in getattr(res, "flagged_accounts", ()):
            if self._established(acc):  # one report does not list an established business
                self.knowledge.unflag(acc, AccountFlag.REPORTED)
        for t in tids:
            if self.payee[self.row_of[t]] != CASH_SINK:
                self.national_list.add(self.payee[self.row_of[t]])
        self.national_list.update(a for a in getattr(res, "flagged_accounts", ()) if a != CASH_SINK)
        fresh = [t for t in tids if t not in self.traced_seed and t in self.zl_row]
        for t in fresh:
            self.traced_seed[t] = inc_id
        seeds = [(self.zl_row[t], int(self.amount[self.row_of[t]])) for t in fresh]
        result = trace(self.zl, seeds, upto=self.zl.n_rows, max_depth=self.cfg.max_depth, method=self.cfg.method,
                       feeders_lookback_us=self.cfg.linked_lookback_s * 1_000_000, max_feeders=4 * self.cfg.max_linked)
        victim = row.get("victim_party")
        linked = self._linked(result, victim)
        if linked:
            fresh += linked
            seeds += [(self.zl_row[t], int(self.amount[self.row_of[t]])) for t in linked]
            result = trace(self.zl, seeds, upto=self.zl.n_rows, max_depth=self.cfg.max_depth,
                           method=self.cfg.method)
        for acc in result.accounts:
            if (victim is None or self.party_of.get(acc) != victim) and not self._established(acc):
                self.knowledge.flag(acc, AccountFlag.TRACED)
        issued = self.store.issue(inc_id, result, now=at)
        elapsed = time.perf_counter() - started
        self.zaslon.seeds[inc_id] = seeds
        self.zaslon.seed_ids[inc_id] = fresh
        if issued.created:
            self.zaslon.freeze_times_s[inc_id] = elapsed
            self.run.orders += len(issued.created)
        lo_s, hi_s = self.cfg.ack_delay_s
        for o in issued.created:
            self._push(at_us + int(self.rng.uniform(lo_s, hi_s) * 1e6), "ack", o.order_id, inc_id, o.account_id)

    def _linked(self, result: TraceResult, victim: object) -> list[str]:
        """Backwards: money from outside the trace into its first drops, not traced for anyone yet."""
        depth: dict[str, int] = {}
        for h in result.hops:
            depth[h.to_account] = min(depth.get(h.to_account, h.depth), h.depth)
        out: list[str] = []
        for f in result.feeders:
            if len(out) >= self.cfg.max_linked:
                break
            t = f.transfer_id
            if (depth.get(f.into_account, 99) > self.cfg.linked_depth or t in self.traced_seed
                    or t not in self.zl_row or (victim is not None and f.payer_party == victim)
                    or self._established(f.into_account)):
                continue
            self.traced_seed[t] = "linked"
            out.append(t)
        self.zaslon.linked += len(out)
        return out

    def _established(self, account: str) -> bool:
        if account in self.established:  # payers only ever grow: once established, always
            return True
        idx = self.zl.account_index.get(account)
        if idx is None:
            return False
        if is_established(self.kind_of.get(account), distinct_payers(self.zl, idx, self.zl.n_rows)):
            self.established.add(account)
            return True
        return False

    def _submit(self, tids: tuple[str, ...], reporter: str, at: datetime) -> None:
        """Store the disputed transfers as the payer's bank would have submitted them (once each)."""
        by_org: dict[str, list[Transfer]] = {}
        for t in tids:
            if t in self.submitted:
                continue
            self.submitted.add(t)
            bank = self.payer_bank[self.row_of[t]]
            by_org.setdefault(bank if bank in self.org_ids else reporter, []).append(self._transfer(self.row_of[t]))
        for org, batch in by_org.items():
            store_transfers(self.db, org, batch, now=at)

    def _held(self, led: Ledger, seeds: list[tuple[int, int]], account: str, depth: int) -> int:
        res = trace(led, seeds, upto=led.n_rows, max_depth=depth, method=self.cfg.method)
        return sum(h.amount for h in res.holdings if h.account_id == account)

    def _freeze(self, sc: Scenario, led: Ledger, inc_id: str, account: str, depth: int, cap: int | None,
                due: int, row_id: str) -> int:
        """Freeze what of the incident's traced money is in ``account`` now; credit it seed by seed."""
        seeds, ids = sc.seeds[inc_id], sc.seed_ids[inc_id]
        total = self._held(led, seeds, account, depth)
        amount = total if cap is None else min(cap, total)
        if amount <= 0:
            return 0
        per_seed = [total] if len(seeds) == 1 else [self._held(led, [s], account, depth) for s in seeds]
        left = amount
        for tid, have in zip(ids, per_seed, strict=True):
            take = min(have, left)
            if take:
                sc.frozen_by_seed[tid] = sc.frozen_by_seed.get(tid, 0) + take
                left -= take
        led.append(row_id, due, account, FROZEN_SINK, amount)
        sc.frozen[inc_id] = sc.frozen.get(inc_id, 0) + amount
        return amount

    def _ack(self, due: int, order_id: str, inc_id: str, account: str) -> None:
        """The bank acknowledges and freezes what of the traced money is still in the account now."""
        at = from_us(due)
        order = self.store.acknowledge(order_id, None, by_org=None, now=at)
        amount = self._freeze(self.zaslon, self.zl, inc_id, account, self.cfg.max_depth, order.amount, due,
                              f"freeze:{order_id}")
        self.store.frozen(order_id, None, amount, by_org=None, now=at)

    # ------------------------------------------------------------------ baselines
    def _baselines(self, tids: tuple[str, ...], org: str, kind: str, inc_id: str, at_us: int) -> None:
        """No exchange: a bank learns only from its own customers' reports and sees only its own accounts."""
        if kind != "bank":
            return
        mine = [t for t in tids if self.payer_bank[self.row_of[t]] == org and t not in self.nx_seed]
        for t in mine:
            self.nx_seed.add(t)
            if self.payee[self.row_of[t]] != CASH_SINK:
                self.bank_lists.setdefault(org, set()).add(self.payee[self.row_of[t]])
        own = [t for t in mine if t in self.nl_row and self.payee_bank[self.row_of[t]] == org
               and Dest(int(self.nl.dest[self.nl_row[t]])) is Dest.ACCOUNT]
        if not own:
            return
        self.nx.seeds[inc_id] = [(self.nl_row[t], int(self.amount[self.row_of[t]])) for t in own]
        self.nx.seed_ids[inc_id] = own
        delay = self.rng.uniform(*self.cfg.ack_delay_s)
        for acc in sorted({self.payee[self.row_of[t]] for t in own}):
            self._push(at_us + int(delay * 1e6), "nx", inc_id, acc)
        self.nx.freeze_times_s[inc_id] = delay

    def _nx_freeze(self, due: int, inc_id: str, account: str) -> None:
        self._freeze(self.nx, self.nl, inc_id, account, 1, None, due, f"freeze:nx:{inc_id}:{account}")


def _last_caller(world: World, window_s: int) -> list[str | None]:
    """Per transfer, the number of the payer's most recent call within ``window_s`` (None if none)."""
    t = world.transfers.select(pl.int_range(pl.len()).alias("_i"), "ts", "payer")
    if world.calls is None or world.calls.is_empty():
        return [None] * len(t)
    parties = world.accounts.select(pl.col("account_id").alias("payer"), pl.col("party_id").alias("_p"))
    left = t.join(parties, on="payer", how="left").sort("ts")
    calls = world.calls.select(pl.col("ts").alias("_cts"), pl.col("ts"), pl.col("callee_party").alias("_p"),
                               "caller").drop_nulls("_p").sort("ts")
    joined = left.join_asof(calls, on="ts", by="_p", strategy="backward", tolerance=f"{window_s}s",
                            check_sortedness=False)
    return joined.sort("_i")["caller"].to_list()


def run_demo(
    world: World, db: Engine, *, engine_factory: Callable[[Knowledge], object],
    cfg: DemoConfig | None = None, progress: Progress | None = None,
) -> DemoRun:
    return _Demo(world, db, engine_factory, cfg or DemoConfig()).go(progress)
