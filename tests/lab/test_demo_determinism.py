"""The demo's simulated banks act the same way in every run of the same world.

The exchange names its incidents with random ids, and order ids derive from them: so two runs of one world see
the same orders under different ids, listed in a different order. A bank's delay in acting on an order must not
follow those ids (it once did: the delays were drawn from one seeded stream in order-id order, so each run handed
them to different orders, freezes landed minutes apart and the figures differed from run to run).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from zaslon.core.types import Transfer
from zaslon.flow.customers import Customer
from zaslon.flow.intake import IncidentReport
from zaslon.flow.telecom import CallReport
from zaslon.lab.demo import DemoConfig, run_demo
from zaslon.simulate.load import World

BANK = "AKBBBY2X"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
DROPS = [f"BY00AKBB{i:020d}" for i in range(8)]
VICTIMS = ["BY00AKBB99999999999999999999", "BY00AKBB99999999999999999998"]


def _world() -> World:
    accounts = [*VICTIMS, *DROPS]
    transfers = [(f"T{i:03d}", T0 + timedelta(minutes=i), VICTIMS[0], d, 100_000) for i, d in enumerate(DROPS)]
    transfers.append(("T900", T0 + timedelta(minutes=30), VICTIMS[1], DROPS[0], 50_000))
    n = len(transfers)
    return World(
        path=Path("."),
        accounts=pl.DataFrame({"account_id": accounts, "bank_id": [BANK] * len(accounts),
                               "party_id": [f"P{i}" for i in range(len(accounts))],
                               "opened_at": [T0 - timedelta(days=400)] * len(accounts),
                               "kind": ["personal"] * len(accounts), "country": ["BY"] * len(accounts),
                               "card": [None] * len(accounts)},
                              schema_overrides={"card": pl.String}),
        banks=pl.DataFrame({"bank_id": [BANK]}),
        atms=pl.DataFrame({"atm_id": [], "lat": [], "lon": [], "city": []},
                          schema={"atm_id": pl.String, "lat": pl.Float64, "lon": pl.Float64, "city": pl.String}),
        transfers=pl.DataFrame(
            {"transfer_id": [t[0] for t in transfers], "ts": [t[1] for t in transfers],
             "payer": [t[2] for t in transfers], "payee": [t[3] for t in transfers],
             "amount": [t[4] for t in transfers], "currency": ["BYN"] * n, "channel": ["mobile"] * n,
             "device": [None] * n, "ip": [None] * n, "payer_bank": [BANK] * n, "payee_bank": [BANK] * n,
             "payee_country": ["BY"] * n, "atm_id": [None] * n},
            schema_overrides={"device": pl.String, "ip": pl.String, "atm_id": pl.String}),
        incidents=pl.DataFrame({
            "incident_id": ["I0", "I1"], "reported_at": [T0 + timedelta(hours=1), T0 + timedelta(hours=2)],
            "reporter_org": [BANK, BANK], "reporter_kind": ["bank", "bank"], "victim_party": ["P0", "P1"],
            "scheme": ["vishing", "vishing"], "transfer_ids": [[t[0] for t in transfers[:-1]], ["T900"]],
            "text": ["", ""], "language": ["ru", "ru"]}),
        calls=None,
    )


class _Bank:
    """Stands in for the exchange: orders on every drop the first report names, one on the second report's drop,
    under fresh random ids each run (``reverse``: listed in the opposite order)."""

    name = "fake"

    def __init__(self, *, reverse: bool, skip: str | None = None) -> None:
        self.reverse, self.skip = reverse, skip
        self.orders: dict[str, list[dict[str, Any]]] = {}
        self.acks: dict[tuple[str, str], datetime] = {}  # (world incident, account) -> acknowledged at
        self._incident_of: dict[str, str] = {}

    def register_customers(self, bank: str, customers: Sequence[Customer]) -> None:
        pass

    def score(self, bank: str, transfers: Sequence[Transfer]) -> list[str]:
        return ["allow"] * len(transfers)

    def report_calls(self, telecom: str, calls: Sequence[CallReport]) -> None:
        pass

    def report_call_events(self, telecom: str, events: Sequence[Any]) -> None:
        pass

    def report_incident(self, org: str, report: IncidentReport) -> tuple[dict[str, Any] | None, float]:
        inc = f"inc-{uuid.uuid4().hex[:20]}"
        accounts = DROPS if report.external_ref == "I0" else [DROPS[0]]
        accounts = [a for a in accounts if a != self.skip]
        orders = [{"order_id": f"FO-{uuid.uuid4().hex[:20].upper()}", "account_id": a, "amount": 1_000,
                   "bank_id": BANK} for a in accounts]
        self.orders[inc] = list(reversed(orders)) if self.reverse else orders
        for o in orders:
            self._incident_of[o["order_id"]] = str(report.external_ref)
        return {"created": True, "incident_id": inc, "flagged_accounts": [],
                "orders": [o["order_id"] for o in orders]}, 0.001

    def new_orders(self, bank: str, incident_id: str) -> list[dict[str, Any]]:
        return self.orders.get(incident_id, [])

    def acknowledge(self, bank: str, order_id: str, at: datetime) -> None:
        account = next(o["account_id"] for orders in self.orders.values() for o in orders if o["order_id"] == order_id)
        self.acks[(self._incident_of[order_id], account)] = at

    def frozen(self, bank: str, order_id: str, amount: int, at: datetime) -> None:
        pass

    def train(self, cutoff: datetime) -> dict[str, Any] | None:
        return None

    def cases(self) -> dict[str, list[str]]:
        return {}

    def publish_drops(self) -> list[dict[str, Any]]:
        return []

    def courier_risks(self, at: datetime) -> tuple[list[dict[str, Any]], datetime | None]:
        return [], None


def _acks(**kw: Any) -> dict[tuple[str, str], datetime]:
    bank = _Bank(**kw)
    run_demo(_world(), bank, banks={BANK: BANK}, desk="desk", telecom_of={}, cfg=DemoConfig(seed=5, retrain_days=0))
    return bank.acks


def test_a_bank_takes_as_long_for_the_same_order_whatever_its_id() -> None:
    first, second = _acks(reverse=False), _acks(reverse=True)
    assert len(first) == len(DROPS) + 1
    assert first == second
    assert len(set(first.values())) > 1  # the delays do differ between orders (2-15 minutes)


def test_one_order_fewer_leaves_the_other_orders_delays_alone() -> None:
    every, fewer = _acks(reverse=False), _acks(reverse=False, skip=DROPS[3])
    assert {k: v for k, v in every.items() if k[1] != DROPS[3]} == fewer
