"""A partner country for the demo (``zaslon demo --partners ru``): its own exchange, its own banks, on loopback.

The partner is a second, complete Zaslon (its own database, its own API) served on a loopback port, linked to
ours as a partner country is in production (``zaslon partners add``): each side knows the other's Ed25519
public key, ours pushes to and pulls from its TAXII collections with the key it issued us. When a trace here
finds money that left for an account at one of its banks, our exchange signs a freeze request and pushes it at
once (``flow/partner_sync.py``); the partner verifies it and issues a freeze order at its bank; its bank
acknowledges and freezes after a delay, as ours do; the partner answers, and our next sync shows the frozen
amount on our order board. The demo reads that figure from our exchange, as the desk would.

What the world does not simulate: the foreign banks' own ledgers. The partner's bank freezes what of the
money that arrived in the account is still there when it acts; the lab assumes (``ABROAD_DWELL_S``) that a
foreign drop moves each arrival on 1 to 24 hours after it came (one hop further from the victim than a domestic
drop, often the last before cash), drawn per payment from a generator seeded by the payment, the same in every
run. That assumption, not the exchange, decides how much of what
reached the partner in time is still there; the time it takes to get there is measured.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import SecretStr
from sqlalchemy import Engine

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.http.app import create_app
from zaslon.adapters.http.state import app_state
from zaslon.adapters.stix.signing import public_key
from zaslon.core.access import OrgKind
from zaslon.errors import InvalidInput
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport
from zaslon.flow.orgs import Principal, create_org
from zaslon.flow.sharing import Sharing
from zaslon.lab.loopback import served
from zaslon.settings import Settings

ABROAD_DWELL_S = (3600.0, 24 * 3600.0)
# How long the demo waits for the partner to have a request our exchange created (pushed in the background).
ACCEPT_TIMEOUT_S = 30.0


@dataclass
class PartnerCountry:
    country: str
    exchange: Exchange  # the partner's own exchange
    banks: dict[str, Principal]  # BIC -> the partner's bank principal
    url: str
    org_here: str  # the partner's organisation at our exchange
    seed: int
    # The demo's side of the partner's banks: arrivals per foreign account (event time µs, amount, payment id).
    arrivals: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    frozen_in: dict[str, int] = field(default_factory=dict)
    seen_requests: set[str] = field(default_factory=set)
    accept_s: list[float] = field(default_factory=list)  # wall time: report -> the partner issued its orders
    frozen_event_s: list[float] = field(default_factory=list)  # event time: report -> the partner's bank froze
    requests: int = 0
    refused: int = 0
    us_there: str = ""  # our exchange's organisation at the partner's
    home_name: str = "Zaslon BY"  # our exchange's name in what it shares
    # Reports its banks made at home too (the partner's incident id -> the world's), for its own cases.
    incident_ids: dict[str, str] = field(default_factory=dict)

    def report_at_home(self, bic: str, report: IncidentReport, world_id: str) -> None:
        """The partner's bank reports its customer's fraud to its own country's exchange as well (the partner
        links it into its own cases; it cannot trace our ledger)."""
        bank = self.banks.get(bic)
        if bank is None:
            return
        # Without the disputed payments: they are our banks' records, which the partner's exchange does not hold.
        try:
            out = self.exchange.report_incident(bank, replace(report, reporter_org=bank.org_id, transfer_ids=()),
                                                now=report.reported_at)
        except InvalidInput:
            return
        if out.intake.created:
            self.incident_ids[out.intake.incident.incident_id] = world_id

    def arrived(self, account: str, ts_us: int, amount: int, payment_id: str) -> None:
        self.arrivals.setdefault(account, []).append((ts_us, amount, payment_id))

    def still_there(self, account: str, at_us: int) -> int:
        """What of the money that reached ``account`` abroad has not moved on by ``at_us`` (the lab's dwell
        assumption), less what the partner's bank already froze there."""
        lo, hi = ABROAD_DWELL_S
        left = 0
        for ts, amount, pid in self.arrivals.get(account, ()):
            dwell = random.Random(f"{self.seed}\x1fabroad\x1f{pid}").uniform(lo, hi)
            if ts <= at_us < ts + int(dwell * 1e6):
                left += amount
        return max(0, left - self.frozen_in.get(account, 0))

    def new_requests(self, ours: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh = [r for r in ours if r["request_id"] not in self.seen_requests]
        self.seen_requests.update(r["request_id"] for r in fresh)
        self.requests += len(fresh)
        return fresh

    def wait_accepted(self, request_ids: list[str], started: float) -> list[dict[str, Any]]:
        """Block until the partner holds each request (verified, orders issued or refused); the wall time from
        ``started`` (just before the report was sent) is the measured report -> partner figure."""
        want = set(request_ids)
        deadline = time.monotonic() + ACCEPT_TIMEOUT_S
        while True:
            got = [r for r in self.exchange.sharing.freeze_requests("in") if r["request_id"] in want]
            if len(got) == len(want) or time.monotonic() > deadline:
                break
            time.sleep(0.002)
        took = time.perf_counter() - started
        for r in got:
            self.accept_s.append(took)
            if r["status"] == "refused":
                self.refused += 1
        return got

    def orders_for(self, request_id: str) -> list[Any]:
        ref = Sharing._incident_ref(request_id)
        return [o for bic in sorted(self.banks) for o in self.exchange.list_orders(bic, incident_id=ref, limit=100)]

    def bank_acts(self, order: Any, at: datetime, at_us: int) -> int:
        """The partner's bank acknowledges, freezes what is still in the account (at most the order's amount);
        the partner answers on its next publish. Returns the amount frozen."""
        bank = self.banks[order.bank_id]
        self.exchange.acknowledge(bank, order.order_id, at=at)
        take = max(0, min(int(order.amount), self.still_there(order.account_id, at_us)))
        self.exchange.frozen(bank, order.order_id, take, at=at)
        if take:
            self.frozen_in[order.account_id] = self.frozen_in.get(order.account_id, 0) + take
        self.exchange.sharing.refresh_freeze_answers(now=at)
        return take


@contextmanager
def partner_country(country: str, world_banks: pl.DataFrame, home_engine: Engine, home_settings: Settings,
                    workdir: Path, seed: int) -> Iterator[PartnerCountry]:
    """The partner country's exchange served on loopback and linked with ours, until the block ends."""
    cc = country.strip().upper()
    bics = sorted(str(b) for b, c in world_banks.select("bank_id", "country").iter_rows() if c == cc)
    if not bics:
        raise InvalidInput(f"the world has no banks in {cc!r} to be a partner country", field="partners")
    url = f"sqlite:///{workdir / f'partner-{cc.lower()}.db'}"
    for extra in ("", "-wal", "-shm"):
        Path(f"{workdir / f'partner-{cc.lower()}.db'}{extra}").unlink(missing_ok=True)
    upgrade(url)
    engine = make_engine(url)
    partner_seed = f"{random.Random(f'{seed}{cc}').getrandbits(256):064x}"
    # The pair key both sides hash sensitive identifiers with, agreed out of band as `zaslon partners add` does.
    pair_key_id, pair_secret = f"{home_settings.country.lower()}-{cc.lower()}-1", \
        f"{random.Random(f'{seed}{cc}pair').getrandbits(256):064x}"
    settings = Settings(database_url=url, exchange_name=f"Zaslon {cc}", country=cc,
                        signing_key=SecretStr(partner_seed), signing_key_id=f"{cc.lower()}-sig-1",
                        partner_sync_interval_s=0)
    names = dict(world_banks.select("bank_id", "name").iter_rows())
    banks = {}
    for bic in bics:
        org = create_org(engine, name=f"{names.get(bic, bic)} ({bic})", kind="bank", bank_id=bic)
        banks[bic] = Principal(org.org_id, OrgKind.BANK, frozenset({"orders:read", "orders:write"}), bic)
    home_code = home_settings.country
    us_there = create_org(engine, name=f"Zaslon {home_code}", kind="partner")
    app = create_app(settings, db=engine)
    exchange = app_state(app).exchange
    exchange.sharing.add_partner(us_there.org_id, country=home_code, key_id=pair_key_id, secret_hex=pair_secret,
                                 verify_key=public_key(home_settings.signing_key.get_secret_value()))
    try:
        with served(app, name=f"zaslon-partner-{cc.lower()}") as base:
            here = create_org(home_engine, name=f"Zaslon {cc}", kind="partner")
            Sharing(home_engine, home_settings).add_partner(
                here.org_id, country=cc, taxii_url=f"{base}/taxii2/zaslon/",
                remote_read=exchange.sharing.outbox_id(us_there.org_id), remote_write=exchange.sharing.inbox_id,
                remote_token=us_there.api_key, key_id=pair_key_id, secret_hex=pair_secret,
                verify_key=public_key(partner_seed))
            yield PartnerCountry(cc, exchange, banks, base, here.org_id, seed, us_there=us_there.org_id,
                                 home_name=home_settings.exchange_name)
    finally:
        exchange.close()


def p99(values: list[float]) -> float | None:
    return None if not values else float(np.quantile(np.asarray(values), 0.99))
