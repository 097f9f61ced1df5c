"""The simulated world's organisations as the exchange knows them: one organisation and API key each.

Every bank of the world, every organisation that reports incidents (banks, police departments, telecoms), every
telecom operator whose calls are reported, and the police cyber unit's 24/7 desk, which trains the model and
reads cases. The keys are what the simulated parties use over HTTP; in-process they act as the same principals.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, text

from zaslon.adapters.db.tables_core import orgs
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.calls import RecentCalls
from zaslon.core.knowledge import Knowledge
from zaslon.flow.orgs import Principal, create_key
from zaslon.flow.telecom import TelecomSignals
from zaslon.simulate.load import World
from zaslon.simulate.population import PHONE_CODES

DESK = "police-cyber-unit-24-7-desk"


@dataclass
class Parties:
    banks: dict[str, str]  # BIC -> org id
    telecoms: dict[str, str]  # the world's operator name -> org id
    desk: str
    principals: dict[str, Principal]
    keys: dict[str, str]
    engine: Engine

    @classmethod
    def create(cls, engine: Engine, world: World) -> Parties:
        wanted: dict[str, tuple[OrgKind, str | None]] = {}
        for bank in world.banks["bank_id"].to_list():
            wanted[bank] = (OrgKind.BANK, bank)
        for org, kind in world.incidents.select("reporter_org", "reporter_kind").unique().sort("reporter_org").rows():
            wanted.setdefault(org, (OrgKind(kind), org if kind == "bank" else None))
        if world.calls is not None and "operator" in world.calls.columns:
            for op in sorted(world.calls["operator"].drop_nulls().unique().to_list()):
                wanted.setdefault(op, (OrgKind.TELECOM, None))
        wanted[DESK] = (OrgKind.POLICE, None)
        now = datetime.now(UTC)
        with engine.begin() as conn:
            have = set(conn.execute(select(orgs.c.org_id)).scalars())
            rows = [{"org_id": o, "name": f"{o} ({k.value})", "kind": k.value,
                     "bank_id": b if b and len(b) <= 11 else None, "created_at": now}
                    for o, (k, b) in wanted.items() if o not in have]
            if rows:
                conn.execute(insert(orgs), rows)
        principals, keys = {}, {}
        for org, (kind, bic) in wanted.items():
            bank_id = bic if bic and len(bic) <= 11 else None
            principals[org] = Principal(org, kind, DEFAULT_SCOPES[kind], bank_id)
            keys[org] = create_key(engine, org, DEFAULT_SCOPES[kind]).api_key
        banks = {b: o for o, (k, b) in wanted.items() if k is OrgKind.BANK and b}
        telecoms = {o: o for o, (k, _) in wanted.items() if k is OrgKind.TELECOM}
        # Each operator serves the mobile codes the numbering plan gives it (its call events are checked there).
        signals = TelecomSignals(engine, Knowledge(), RecentCalls())
        for op in telecoms:
            prefixes = [f"+375{code}" for code, owner, _ in PHONE_CODES if owner == op]
            if prefixes:
                signals.set_ranges(op, prefixes)
        return cls(banks, telecoms, DESK, principals, keys, engine)

    def busiest_bank(self) -> str | None:
        """The bank with most freeze orders: the one worth showing a key for."""
        with self.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT o.org_id, count(*) AS n FROM freeze_orders f JOIN orgs o ON o.bank_id = f.bank_id "
                "GROUP BY o.org_id ORDER BY n DESC LIMIT 1")).first()
        return None if row is None or row.org_id not in self.keys else str(row.org_id)
