"""The demo run: a simulated country's banks, telecoms and police working with the exchange, in event-time order.

The simulated parties are clients of the exchange, through a ``Transport`` (in-process calls or real HTTP):
* each bank registers its customers' profiles, sends its customers' transfers to be scored in micro-batches
  between events, executes those not held or blocked, and declines a transfer that would spend frozen money;
* telecoms report the calls to their subscribers as they happen;
* victims' reports arrive at their report time from the bank, the police or the telecom that took them;
* a bank reads the freeze orders addressed to it, acknowledges each after a delay seeded by what the order is about and
  freezes what the account actually holds at that moment (at most the order's amount);
* the desk retrains the model every week on what reports taught by then;
* the desk's clock runs on event time for the at-door courier risks: whenever the exchange says a courier watch
  falls due, every transfer before that moment is scored first, then the exchange raises what is due; the
  alerts raised (person, time) are kept for the outcome (a courier pickup after an alert counts as prevented);
* with a partner country (``--partners``, ``zaslon.lab.partners``): its own exchange takes our freeze requests for
  money that reached its banks, and its banks freeze what is still there.
The exchange's decisions, traces, orders and cases are the product's own: nothing here traces or links.

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
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from zaslon.adapters.stix.content import derived_id
from zaslon.core.fx import to_byn_minor
from zaslon.core.ledger import FROZEN_SINK, Dest, Ledger, from_us
from zaslon.core.trace import trace
from zaslon.core.types import CASH_SINK, Atm, Channel, Scheme, Transfer
from zaslon.flow.customers import Customer
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.ledger import register_accounts
from zaslon.flow.ports.stats import HistoryRow
from zaslon.flow.ports.telecom import CallEvent
from zaslon.flow.telecom import CallReport
from zaslon.lab.partners import PartnerCountry, p99
from zaslon.lab.transport import Transport
from zaslon.simulate.load import World
from zaslon.simulate.population import PHONE_CODES

Progress = Callable[[int], None]
INF = np.iinfo(np.int64).max
_STOP = ("hold", "block")


@dataclass(frozen=True)
class DemoConfig:
    seed: int = 7
    # Banks act on an order in minutes: an on-call officer reads it off the queue (assumed 2-15 min).
    ack_delay_s: tuple[float, float] = (120.0, 900.0)
    chunk: int = 8192
    # Each bank sends its customers' transfers of a chunk in one batch, so batches overlap in time by up to a
    # chunk's span: the exchange's ledger follower must stay further behind than that (``ledger_lag_s``).
    chunk_span_s: float = 1800.0
    # The desk retrains the model weekly on what was reported by then, as `zaslon replay` does (0: no model).
    retrain_days: float = 7.0


@dataclass
class Scenario:
    """What one way of working did: which transfers it stopped and what it froze, per incident."""

    stopped: np.ndarray  # bool per transfer row
    frozen: dict[str, int] = field(default_factory=dict)
    freeze_times_s: dict[str, float] = field(default_factory=dict)
    seeds: dict[str, list[tuple[int, int]]] = field(default_factory=dict)  # incident -> (ledger row, amount)
    seed_ids: dict[str, list[str]] = field(default_factory=dict)
    frozen_by_seed: dict[str, int] = field(default_factory=dict)  # seed transfer id -> frozen money


@dataclass
class DemoRun:
    transfer_ids: list[str]
    amounts: np.ndarray
    zaslon: Scenario
    list_only: Scenario
    no_exchange: Scenario
    transport: str
    incidents: int = 0
    duplicates: int = 0
    rejected: int = 0
    orders: int = 0
    declined: int = 0
    models: list[dict[str, object]] = field(default_factory=list)
    cases: dict[str, list[str]] = field(default_factory=dict)  # the exchange's cases, of the world's incident ids
    incident_ids: dict[str, str] = field(default_factory=dict)  # the exchange's incident id -> the world's
    drops: list[dict[str, object]] = field(default_factory=list)
    # Every order the banks received: (account, amount in BYN kopecks), scored against the truth afterwards.
    ordered: list[tuple[str, int]] = field(default_factory=list)
    # Cash withdrawals the exchange let through from an account after an order on it was issued.
    cashouts_allowed_after_order: int = 0
    history_incidents: int = 0  # simulated past incidents imported for the statistics
    # The world's incident behind each of ``ordered``, and behind the first order of each such withdrawal's account.
    ordered_incidents: list[str] = field(default_factory=list)
    cashouts_after_order_incidents: list[str] = field(default_factory=list)
    # At-door courier risks the exchange raised to district officers: (person = the bank's customer id, µs).
    courier_alerts: list[tuple[str, int]] = field(default_factory=list)
    # With a partner country (``--partners``): what was asked and frozen abroad (lab/partners.py).
    abroad: dict[str, object] | None = None


class _Demo:
    def __init__(self, world: World, transport: Transport, banks: dict[str, str], desk: str,
                 telecom_of: dict[str, str], cfg: DemoConfig, partner: PartnerCountry | None = None) -> None:
        self.w, self.x, self.cfg = world, transport, cfg
        self.partner = partner
        self.partner_orders: dict[str, tuple[object, int]] = {}  # order id abroad -> (order, report time µs)
        self.banks = banks  # BIC -> org id
        self.desk = desk
        self.telecom_of = telecom_of  # world operator -> org id
        self.nx_rng = random.Random(cfg.seed + 1)  # the banks-alone baseline's own delays: independent of Zaslon
        t = world.transfers
        self.n = len(t)
        self.ids: list[str] = t["transfer_id"].to_list()
        self.ts_us = t["ts"].dt.epoch("us").to_numpy().astype(np.int64)
        # Every amount as BYN kopecks at reference rates: outcomes and bank balances add money across currencies.
        self.amount_orig = t["amount"].to_numpy().astype(np.int64)
        self.amount = to_byn_minor(self.amount_orig, t["currency"].to_list())
        self.payer: list[str] = t["payer"].to_list()
        self.payee: list[str] = t["payee"].to_list()
        self.payer_bank: list[str | None] = t["payer_bank"].to_list()
        self.payee_bank: list[str | None] = t["payee_bank"].to_list()
        self.payee_country: list[str | None] = t["payee_country"].to_list()
        self.atm_id: list[str | None] = t["atm_id"].to_list()
        self.currency: list[str] = t["currency"].to_list()
        self.channel: list[str] = t["channel"].to_list()
        self.device: list[str | None] = t["device"].to_list()
        self.ip: list[str | None] = t["ip"].to_list()
        self.row_of = {tid: i for i, tid in enumerate(self.ids)}
        self.atms = {r[0]: Atm(r[0], float(r[1]), float(r[2]), r[3])
                     for r in world.atms.select("atm_id", "lat", "lon", "city").iter_rows()}
        # The banks' side: balances of what executed, amounts frozen on orders.
        self.balance: dict[str, int] = {}
        self.frozen_in: dict[str, int] = {}
        self.ordered_since: dict[str, int] = {}  # account -> event time (µs) of its first order
        self.first_order_incident: dict[str, str] = {}  # account -> the world's incident of its first order
        self.nl = Ledger()  # the banks-alone executed transfers (baseline)
        register_accounts(self.nl, world.accounts)
        self.nl.add_account(CASH_SINK, bank_id=None)
        self.zaslon = Scenario(np.zeros(self.n, dtype=np.bool_))
        self.list_only = Scenario(np.zeros(self.n, dtype=np.bool_))
        self.nx = Scenario(np.zeros(self.n, dtype=np.bool_))
        self.nl_row: dict[str, int] = {}
        self.national_list: set[str] = set()
        self.bank_lists: dict[str, set[str]] = {}
        self.nx_seed: set[str] = set()
        self.events: list[tuple[int, int, str, tuple[str, ...]]] = []  # (due, seq, kind, args)
        self.seq = 0
        self.run = DemoRun(self.ids, self.amount, self.zaslon, self.list_only, self.nx, transport.name)
        self.calls = self._calls()
        self.call_pos = 0
        self.victims: dict[str, tuple[Any, ...]] | None = None
        self.district_due: int | None = None  # the desk's next courier-risk evaluation already scheduled (µs)

    def _push(self, due: int, kind: str, *args: str) -> None:
        self.seq += 1
        heapq.heappush(self.events, (due, self.seq, kind, args))

    def _submitter(self, i: int) -> str:
        """The bank that sends a transfer to be scored: the payer's, else the payee's (money from abroad)."""
        return self.banks.get(self.payer_bank[i] or "") or self.banks.get(self.payee_bank[i] or "") \
            or next(iter(self.banks.values()))

    # ------------------------------------------------------------------ set-up
    def register_customers(self) -> None:
        acc = self.w.accounts.select("account_id", "bank_id", "party_id", "opened_at", "kind", "card")
        wanted = ("birth_date", "lives_alone", "phone", "region", "district")  # what a bank knows of its customer
        parties = self.w.parties
        if parties is not None and {"birth_date", "lives_alone", "phone"} <= set(parties.columns):
            parties = parties.with_columns(pl.lit(None, pl.Utf8).alias(c) for c in wanted if c not in parties.columns)
            acc = acc.join(parties.select("party_id", *wanted), on="party_id", how="left")
        else:
            acc = acc.with_columns(pl.lit(None).alias("birth_date"), pl.lit(False).alias("lives_alone"),
                                   *(pl.lit(None, pl.Utf8).alias(c) for c in ("phone", "region", "district")))
        by_bank: dict[str, list[Customer]] = {}
        for a, bank, party, opened, kind, card, birth, alone, phone, region, district in acc.iter_rows():
            org = self.banks.get(bank or "")
            if org is None:
                continue
            if opened is not None and opened.tzinfo is None:
                opened = opened.replace(tzinfo=UTC)  # the world's times are UTC
            by_bank.setdefault(org, []).append(Customer(
                a, kind, party, opened, birth, bool(alone),
                (phone,) if phone else (), (card,) if card else (), region=region, district=district))
        for org, customers in sorted(by_bank.items()):
            for start in range(0, len(customers), 10_000):
                self.x.register_customers(org, customers[start : start + 10_000])

    def _calls(self) -> list[tuple[int, str, CallReport | CallEvent]]:
        """What operators report and when: a call's start event when it connects (with Number Verification
        where the world has it) and its end event with the duration when it ends. An operator that serves no
        registered range (subscribers with foreign numbers) reports on the older calls route at the start."""
        calls = self.w.calls
        if calls is None or calls.is_empty():
            return []
        if "caller_verified" not in calls.columns:
            calls = calls.with_columns(pl.lit(None, dtype=pl.Boolean).alias("caller_verified"))
        served = {owner for _, owner, _ in PHONE_CODES}  # the operators ``Parties`` registers ranges for
        with_ranges = {org for op, org in self.telecom_of.items() if op in served}
        out: list[tuple[int, str, CallReport | CallEvent]] = []
        for cid, ts, caller, callee, party, dur, op, verified in calls.sort("ts").select(
                "call_id", "ts", "caller", "callee", "callee_party", "duration_s", "operator",
                "caller_verified").iter_rows():
            org = self.telecom_of.get(op)
            if org is None:
                continue
            us = int(ts.timestamp() * 1_000_000)
            secs = None if dur is None else int(dur)
            if org not in with_ranges:
                out.append((us, org, CallReport(cid, ts, caller, callee, party, secs)))
                continue
            out.append((us, org, CallEvent(cid, "start", ts, caller, callee, party, caller_verified=verified)))
            if secs is not None:
                end = ts + timedelta(seconds=secs)
                out.append((us + secs * 1_000_000, org, CallEvent(cid, "end", end, caller, callee, party, secs)))
        out.sort(key=lambda row: row[0])  # stable: a start before the end of a zero-length call
        return out

    # ------------------------------------------------------------------ the loop
    def go(self, progress: Progress | None) -> DemoRun:
        self.register_customers()
        self._load_history()
        inc = self.w.incidents.sort("reported_at", maintain_order=True)
        inc_us = inc["reported_at"].dt.epoch("us").to_numpy().astype(np.int64)
        inc_rows = list(inc.iter_rows(named=True))
        pos, k = 0, 0
        if self.cfg.retrain_days > 0 and self.n:
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
            if hi > pos:  # a chunk spans at most ``chunk_span_s`` of event time (banks' batches overlap by that)
                hi = min(hi, max(pos + 1, int(np.searchsorted(
                    self.ts_us, int(self.ts_us[pos]) + int(self.cfg.chunk_span_s * 1e6), side="left"))))
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
                elif kind == "district":
                    self._report_calls(due)
                    self._district_clock(due)
                elif kind == "xb":
                    self._partner_bank_acts(due, *args)
                else:
                    self._report_calls(due)
                    meta = self.x.train(from_us(due))
                    if meta is not None:
                        self.run.models.append(meta)
            else:
                self._report_calls(int(inc_us[k]))
                self._incident(inc_rows[k], int(inc_us[k]))
                k += 1
        ours = self.run.incident_ids
        self.run.cases = {case: [ours.get(i, i) for i in incs] for case, incs in self.x.cases().items()}
        self.run.drops = list(self.x.publish_drops())
        if self.partner is not None:
            self.run.abroad = self._abroad_outcome(self.partner)
        return self.run

    def _report_calls(self, upto_us: int) -> None:
        """Telecoms report every call made up to ``upto_us`` (in batches, as operators stream them)."""
        end = self.call_pos
        while end < len(self.calls) and self.calls[end][0] <= upto_us:
            end += 1
        by_org: dict[str, list[CallReport]] = {}
        events: dict[str, list[CallEvent]] = {}
        for _, org, call in self.calls[self.call_pos : end]:
            if isinstance(call, CallEvent):
                events.setdefault(org, []).append(call)
            else:
                by_org.setdefault(org, []).append(call)
        for org, calls in sorted(by_org.items()):
            for start in range(0, len(calls), 10_000):
                self.x.report_calls(org, calls[start : start + 10_000])
        for org, evs in sorted(events.items()):
            for start in range(0, len(evs), 10_000):
                self.x.report_call_events(org, evs[start : start + 10_000])
        self.call_pos = end

    def _district_clock(self, at_us: int) -> None:
        """The desk evaluates the at-door courier risks at ``at_us`` (every transfer before it is scored), keeps
        what was raised and schedules the next evaluation when the exchange says the next watch falls due."""
        raised, nxt = self.x.courier_risks(from_us(at_us))
        for r in raised:
            self.run.courier_alerts.append((str(r["person"]), _us(r["at"])))
        if self.district_due is not None and self.district_due <= at_us:
            self.district_due = None
        if nxt is not None:
            due = max(_us(nxt), at_us + 1)
            if self.district_due is None or due < self.district_due:
                self.district_due = due
                self._push(due, "district")

    def _transfers(self, lo: int, hi: int) -> None:
        self._report_calls(int(self.ts_us[hi - 1]))
        # Every transfer before this chunk is scored: the desk's clock may stand just before its first one
        # (the calls of this chunk fall due after it: a watch lasts longer than a chunk spans).
        self._district_clock(int(self.ts_us[lo]) - 1)
        # A bank declines a transfer that would spend money frozen in its customer's account.
        spend: dict[str, int] = {}
        send: dict[str, list[int]] = {}
        for i in range(lo, hi):
            payer = self.payer[i]
            if payer == self.payee[i]:  # a move within one account is no payment: nothing to ask about
                continue
            held = self.frozen_in.get(payer)
            if held:
                out = spend.get(payer, 0) + int(self.amount[i])
                if self.balance.get(payer, 0) - out < held:
                    self.run.declined += 1
                    continue
                spend[payer] = out
            send.setdefault(self._submitter(i), []).append(i)
        outcome: dict[int, str] = {}
        for org, rows in sorted(send.items()):
            for row, decided in zip(rows, self.x.score(org, [self._transfer(i) for i in rows]), strict=True):
                outcome[row] = decided
        for i in range(lo, hi):
            self._baseline_row(i)  # the baselines know nothing of Zaslon's freezes: their banks do not decline
            got = outcome.get(i)
            if got is None:
                continue
            if got in _STOP:
                self.zaslon.stopped[i] = True
                continue
            since = self.ordered_since.get(self.payer[i])
            if self.payee[i] == CASH_SINK and since is not None and since <= int(self.ts_us[i]):
                self.run.cashouts_allowed_after_order += 1
                self.run.cashouts_after_order_incidents.append(self.first_order_incident[self.payer[i]])
            a = int(self.amount[i])
            if self.partner is not None and self.payee_country[i] == self.partner.country:
                self.partner.arrived(self.payee[i], int(self.ts_us[i]), a, self.ids[i])
            self.balance[self.payer[i]] = self.balance.get(self.payer[i], 0) - a
            self.balance[self.payee[i]] = self.balance.get(self.payee[i], 0) + a

    def _baseline_row(self, i: int) -> None:
        payee, bank = self.payee[i], self.payer_bank[i]
        if payee in self.national_list:
            self.list_only.stopped[i] = True
        if bank is not None and payee in self.bank_lists.get(bank, ()):
            self.nx.stopped[i] = True
        else:
            self.nl_row[self.ids[i]] = self.nl.append(
                self.ids[i], int(self.ts_us[i]), self.payer[i], payee, int(self.amount[i]),
                payer_bank=self.payer_bank[i], payee_bank=self.payee_bank[i],
                payee_country=self.payee_country[i], atm_id=self.atm_id[i])

    def _transfer(self, i: int) -> Transfer:
        atm = self.atm_id[i]
        return Transfer(
            self.ids[i], from_us(int(self.ts_us[i])), self.payer[i], self.payee[i], int(self.amount_orig[i]),
            self.currency[i], Channel(self.channel[i]), device=self.device[i], ip=self.ip[i],
            payer_bank=self.payer_bank[i], payee_bank=self.payee_bank[i], payee_country=self.payee_country[i],
            atm=self.atms.get(atm) if atm else None,
        )

    # ------------------------------------------------------------------ incidents
    def _incident(self, row: dict[str, object], at_us: int) -> None:
        self.run.incidents += 1
        at = from_us(at_us)
        named: list[str] = list(row.get("transfer_ids") or [])  # type: ignore[call-overload]
        tids = tuple(dict.fromkeys(str(t) for t in named if str(t) in self.row_of))
        org, kind = str(row["reporter_org"]), str(row["reporter_kind"])
        self._baselines(tids, org, kind, str(row["incident_id"]), at_us)
        try:
            scheme = Scheme(str(row["scheme"]))
        except ValueError:
            scheme = Scheme.OTHER
        victim = row.get("victim_party")
        report = IncidentReport(
            org, kind, scheme, at, self._victim(str(victim), at) if victim else None,
            tids, str(row.get("text") or ""), external_ref=str(row["incident_id"]),
            language=row.get("language"),  # type: ignore[arg-type]
        )
        if self.partner is not None and org in self.partner.banks:  # a partner country's bank reports at home too
            self.partner.report_at_home(org, report, str(row["incident_id"]))
        started = time.perf_counter()
        res, elapsed = self.x.report_incident(org, report)
        if res is None:
            self.run.rejected += 1
            return
        if not res["created"]:
            self.run.duplicates += 1
            return
        inc_id = str(row["incident_id"])  # the lab keys by the world's id; the exchange has its own
        self.run.incident_ids[str(res["incident_id"])] = inc_id
        for t in tids:
            if self.payee[self.row_of[t]] != CASH_SINK:
                self.national_list.add(self.payee[self.row_of[t]])
        self.national_list.update(a for a in res["flagged_accounts"] if a != CASH_SINK)
        self.zaslon.seed_ids[inc_id] = list(tids)
        if self.partner is not None:
            self._asked_abroad(str(res["incident_id"]), inc_id, started, at_us)
        if not res["orders"]:
            return
        self.zaslon.freeze_times_s[inc_id] = elapsed
        self.run.orders += len(res["orders"])
        orders = [o for bank in sorted(self.banks.values()) for o in self.x.new_orders(bank, str(res["incident_id"]))]
        # In the order of what the orders name, not of their ids: those derive from the exchange's random
        # incident ids, and would hand the same delays to different orders in every run.
        for o in sorted(orders, key=lambda o: (str(o["bank_id"]), str(o["account_id"]))):
            self.run.ordered.append((str(o["account_id"]), int(o["amount"])))
            self.run.ordered_incidents.append(inc_id)
            self.ordered_since.setdefault(str(o["account_id"]), at_us)
            self.first_order_incident.setdefault(str(o["account_id"]), inc_id)
            bank = self.banks.get(str(o["bank_id"]))
            if bank is None:
                continue
            delay = self.ack_delay_s(inc_id, str(o["bank_id"]), str(o["account_id"]))
            self._push(at_us + int(delay * 1e6), "ack", bank, str(o["order_id"]), inc_id,
                       str(o["account_id"]), str(o["amount"]))

    # ------------------------------------------------------------------ a partner country
    def _asked_abroad(self, incident_id: str, inc_id: str, started: float, at_us: int) -> None:
        """The freeze requests our exchange sent abroad for this report: wait until the partner holds them
        (the measured report -> partner time), then its bank acts on each order after a delay, as ours do."""
        assert self.partner is not None
        mine = [r for r in self.x.freeze_requests_abroad() if r.get("case_ref") == incident_id]
        fresh = self.partner.new_requests(mine)
        if not fresh:
            return
        for req in self.partner.wait_accepted([str(r["request_id"]) for r in fresh], started):
            for order in self.partner.orders_for(str(req["request_id"])):
                self.partner_orders[order.order_id] = (order, at_us)
                delay = self.ack_delay_s(inc_id, order.bank_id, order.account_id)
                self._push(at_us + int(delay * 1e6), "xb", order.order_id, inc_id)

    def _partner_bank_acts(self, due: int, order_id: str, inc_id: str) -> None:
        assert self.partner is not None
        order, reported_us = self.partner_orders[order_id]
        take = self.partner.bank_acts(order, from_us(due), due)
        if take:
            self.partner.frozen_event_s.append((due - reported_us) / 1e6)
            self.zaslon.frozen[inc_id] = self.zaslon.frozen.get(inc_id, 0) + take
            self._credit(self.zaslon, inc_id, take)

    def _abroad_outcome(self, partner: PartnerCountry) -> dict[str, object]:
        """What our exchange's order board shows for the requests abroad after its sync with the partner (the
        answers come back on the exchange's own schedule over HTTP: wait for them, at most a minute)."""
        frozen_there = sum(partner.frozen_in.values())
        deadline = time.monotonic() + 60
        while True:
            self.x.sync_partners()
            ours = [r for r in self.x.freeze_requests_abroad() if r["request_id"] in partner.seen_requests]
            seen_here = sum(int(r.get("frozen_amount") or 0) for r in ours)
            if seen_here >= frozen_there or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        links = self._case_links(partner)
        return {
            **links,
            "frozen_abroad": seen_here / 100,  # BYN, as every money figure of the summary
            "partner_freeze_p99_s": p99(partner.accept_s),
            "partner_freeze_p50_s": None if not partner.accept_s else float(np.median(partner.accept_s)),
            "partner_requests": partner.requests,
            "partner_refused": partner.refused,
            "partner_frozen_after_report_p50_s": (None if not partner.frozen_event_s
                                                  else float(np.median(partner.frozen_event_s))),
            "partner_country": partner.country,
        }

    def _case_links(self, partner: PartnerCountry) -> dict[str, object]:
        """Both exchanges' cross-border case links after a few publishing rounds each way (the partner's own
        schedule is the lab's to run; ours publishes on its own over HTTP): for each side, its linked cases
        as the world's incident ids, ours and the partner's, scored against the truth in ``lab.outcome``."""
        # Rounds until both sides' links have not changed for four rounds running (over HTTP the served
        # exchange's own rounds take as long as they take), at most a minute and a half.
        seen: list[tuple[str, str]] = []
        start = time.monotonic()
        # Over HTTP a round of the served exchange may take longer than the wait between two looks: look for at
        # least half a minute there.
        least = 30.0 if self.x.name == "http" else 0.0
        while time.monotonic() < start + 120 and (len(seen) < 4 or len(set(seen[-4:])) > 1
                                                  or time.monotonic() < start + least):
            partner.exchange.sharing.publish()  # the partner's scheduled round: its outbox for us
            self.x.sync_partners(publish=True)  # ours: publish, push to the partner, pull its outbox
            seen.append((repr(self.x.case_links_abroad()), repr(partner.exchange.sharing.case_links())))
        ours = self.run.incident_ids
        here_cases = self.x.cases()
        there_cases = {f"case-{no}": incs for no, incs in partner.exchange.cases.linker.cases().items()}
        there_groupings: dict[str, list[str]] = {}
        for case_id, incs in there_cases.items():
            gid = derived_id("grouping", partner.exchange.sharing.author.name, case_id)
            there_groupings[gid] = sorted(partner.incident_ids.get(i, i) for i in incs)
        here_groupings = {derived_id("grouping", partner.home_name, case_id): sorted(ours.get(i, i) for i in incs)
                          for case_id, incs in here_cases.items()}
        at_home = [{"ours": sorted(ours.get(i, i) for c in link["our_cases"] for i in here_cases.get(c, ())),
                    "theirs": there_groupings.get(str(link["partner_case"]), [])}
                   for link in self.x.case_links_abroad()]
        there = [{"ours": sorted(partner.incident_ids.get(i, i) for c in link["our_cases"]
                                 for i in there_cases.get(c, ())),
                  "theirs": here_groupings.get(str(link["partner_case"]), [])}
                 for link in partner.exchange.sharing.case_links()]
        return {"partner_case_links": at_home, "partner_case_links_there": there,
                "partner_incidents": len(partner.incident_ids)}

    def ack_delay_s(self, inc_id: str, bank_id: str, account: str) -> float:
        """How long a bank takes to act on an order: drawn from a generator seeded by what the order is about
        (the world's incident, the bank, the account), so the draw is the same in every run whatever other
        orders came before it, and one order more or less elsewhere does not shift every later delay."""
        lo_s, hi_s = self.cfg.ack_delay_s
        return random.Random(f"{self.cfg.seed}\x1f{inc_id}\x1f{bank_id}\x1f{account}").uniform(lo_s, hi_s)

    def _ack(self, due: int, bank: str, order_id: str, inc_id: str, account: str, amount: str) -> None:
        """The bank acknowledges, then freezes what the account holds now (at most the order's amount)."""
        at = from_us(due)
        self.x.acknowledge(bank, order_id, at)
        free = self.balance.get(account, 0) - self.frozen_in.get(account, 0)
        take = max(0, min(int(amount), free))
        self.x.frozen(bank, order_id, take, at)
        if take:
            self.frozen_in[account] = self.frozen_in.get(account, 0) + take
            self.zaslon.frozen[inc_id] = self.zaslon.frozen.get(inc_id, 0) + take
            self._credit(self.zaslon, inc_id, take)

    def _credit(self, sc: Scenario, inc_id: str, amount: int) -> None:
        """Credit frozen money to the incident's disputed transfers, each at most up to its own amount.

        The lab cannot tell whose money a frozen balance is without tracing it itself, which it must not do;
        so frozen money beyond what the report disputed (other, unreported victims' money the exchange traced
        with it) is not counted: the figure is a floor."""
        left = amount
        for tid in sc.seed_ids.get(inc_id) or []:
            room = int(self.amount[self.row_of[tid]]) - sc.frozen_by_seed.get(tid, 0)
            take = min(left, max(room, 0))
            if take:
                sc.frozen_by_seed[tid] = sc.frozen_by_seed.get(tid, 0) + take
                left -= take

    # ------------------------------------------------------------------ statistics (history, victims)
    def _load_history(self) -> None:
        """The desk imports the world's simulated past years of reported incidents (statistics only)."""
        h = self.w.history
        if h is None or h.is_empty():
            return
        rows = [HistoryRow(hid, scheme, at, region, district, None if age is None else int(age), alone,
                           None if stolen is None else int(stolen))
                for hid, scheme, at, region, district, age, alone, stolen in h.select(
                    "history_id", "scheme", "reported_at", "region", "district", "victim_age",
                    "victim_lives_alone", "stolen").iter_rows()]
        self.run.history_incidents = self.x.import_history(self.desk, rows)

    def _victim(self, party: str, at: datetime) -> Victim:
        """The victim as the reporter records them: age, living alone, and where they live."""
        if self.victims is None:
            p = self.w.parties
            self.victims = {} if p is None or not {"birth_date", "region", "district"} <= set(p.columns) else {
                r[0]: r[1:] for r in p.select("party_id", "kind", "birth_date", "lives_alone", "region",
                                              "district").iter_rows()}
        got = self.victims.get(party)
        if got is None:
            return Victim(party_id=party)
        kind, birth, alone, region, district = got
        age = None if birth is None else at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))
        return Victim(party_id=party, age=age, lives_alone=bool(alone) if kind == "person" else None,
                      region=region, district=district)

    # ------------------------------------------------------------------ baselines
    def _baselines(self, tids: tuple[str, ...], org: str, kind: str, inc_id: str, at_us: int) -> None:
        """No exchange: a bank learns only from its own customers' reports and sees only its own accounts."""
        if kind != "bank":
            return
        bic = next((b for b, o in self.banks.items() if o == org), org)
        mine = [t for t in tids if self.payer_bank[self.row_of[t]] == bic and t not in self.nx_seed]
        for t in mine:
            self.nx_seed.add(t)
            if self.payee[self.row_of[t]] != CASH_SINK:
                self.bank_lists.setdefault(bic, set()).add(self.payee[self.row_of[t]])
        own = [t for t in mine if t in self.nl_row and self.payee_bank[self.row_of[t]] == bic
               and Dest(int(self.nl.dest[self.nl_row[t]])) is Dest.ACCOUNT]
        if not own:
            return
        self.nx.seeds[inc_id] = [(self.nl_row[t], int(self.amount[self.row_of[t]])) for t in own]
        self.nx.seed_ids[inc_id] = own
        delay = self.nx_rng.uniform(*self.cfg.ack_delay_s)
        for acc in sorted({self.payee[self.row_of[t]] for t in own}):
            self._push(at_us + int(delay * 1e6), "nx", inc_id, acc)
        self.nx.freeze_times_s[inc_id] = delay

    def _nx_freeze(self, due: int, inc_id: str, account: str) -> None:
        """The bank alone freezes what of its customer's reported money is still in its own first account."""
        led, sc = self.nl, self.nx
        seeds, ids = sc.seeds[inc_id], sc.seed_ids[inc_id]
        res = trace(led, seeds, upto=led.n_rows, max_depth=1)
        amount = sum(h.amount for h in res.holdings if h.account_id == account)
        if amount <= 0:
            return
        left = amount
        for tid, seed in zip(ids, seeds, strict=True):
            one = trace(led, [seed], upto=led.n_rows, max_depth=1)
            take = min(left, sum(h.amount for h in one.holdings if h.account_id == account))
            if take:
                sc.frozen_by_seed[tid] = sc.frozen_by_seed.get(tid, 0) + take
                left -= take
        led.append(f"freeze:nx:{inc_id}:{account}", due, account, FROZEN_SINK, amount)
        sc.frozen[inc_id] = sc.frozen.get(inc_id, 0) + amount


def _us(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def run_demo(world: World, transport: Transport, *, banks: dict[str, str], desk: str,
             telecom_of: dict[str, str], cfg: DemoConfig | None = None,
             progress: Progress | None = None, partner: PartnerCountry | None = None) -> DemoRun:
    return _Demo(world, transport, banks, desk, telecom_of, cfg or DemoConfig(), partner).go(progress)
