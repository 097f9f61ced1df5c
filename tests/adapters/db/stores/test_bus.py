"""A worker's round in the store: one commit (all of its rows or none), and the look-up that finds them again, the
same through the worker's own connection (PostgreSQL) as through SQLAlchemy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.stores.bus import SqlBusStore
from zaslon.adapters.db.tables_bus import bus_outbox
from zaslon.adapters.db.tables_decisions import decisions
from zaslon.flow.orgs import create_org
from zaslon.flow.ports.transfers import AlreadyStored

AT = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


def round_rows(org: str, ids: list[str], *, batch: int = 1) -> tuple[list[dict[str, Any]], ...]:
    t_rows = [{"transfer_id": i, "org_id": org, "ts": AT + timedelta(seconds=n), "payer": "PAYER1",
               "payee": "PAYEE2", "amount": 1_000 + n, "currency": "BYN", "channel": "mobile", "device": None,
               "ip": "10.0.0.1" if n % 2 else None, "payer_bank": "AKBBBY2X", "payee_bank": None,
               "payee_country": None, "atm_id": None, "atm_lat": None, "atm_lon": None, "atm_city": None,
               "body_hash": f"h-{i}", "received_at": AT} for n, i in enumerate(ids)]
    d_rows = [{"transfer_id": i, "org_id": org, "body_hash": f"h-{i}", "transfer_ts": AT + timedelta(seconds=n),
               "decided_at": AT, "outcome": "hold" if n % 2 else "allow", "score": 0.125 + n,
               "hold_until": AT + timedelta(days=2) if n % 2 else None, "reasons": '[{"code": "x"}]',
               "ruleset_version": "r1", "model_version": None, "shadow_version": None, "shadow_outcome": None,
               "shadow_hits": None, "source": "bus", "message_id": None, "feature_seq": 10 + n}
              for n, i in enumerate(ids)]
    inbox = [{"consumer": "score", "msg_key": f"{org}:{i}:h", "partition": 3, "stream_seq": 100 + n,
              "batch_seq": batch, "status": "scored", "on_call": bool(n % 2), "transfer_id": i, "handled_at": AT}
             for n, i in enumerate(ids)]
    outbox = [{"subject": "zaslon.events.cashout", "payload": "{}", "created_at": AT}]
    return t_rows, d_rows, inbox, outbox


def test_a_round_commits_all_its_rows_and_the_look_up_finds_them_as_sqlalchemy_reads_them(engine: Engine) -> None:
    org = create_org(engine, name="Bank", kind="bank", bank_id="AKBBBY2X").org_id
    store = SqlBusStore(engine)
    ids = ["tx-1", "tx-2", "tx-3"]
    keys = [f"{org}:{i}:h" for i in ids]
    wanted = [(org, i) for i in [*ids, "tx-none"]]

    async def run() -> tuple[Any, ...]:
        try:
            assert await store.lookup_round("score", keys, wanted) == ({}, {}, {})
            await store.commit_round(*round_rows(org, ids))
            found = await store.lookup_round("score", [*keys, "nobody"], wanted)
            with pytest.raises(AlreadyStored):  # tx-3 again, beside a new one: nothing of the round is stored
                await store.commit_round(*round_rows(org, ["tx-4", "tx-3"], batch=2))
            again = await store.lookup_round("score", [f"{org}:tx-4:h"], [(org, "tx-4")])
            await store.commit_round([], [], [], [])  # nothing to write
            return found, again
        finally:
            await store.close_rounds()

    found, again = asyncio.run(run())
    handled, bodies, stored = found
    assert (handled, bodies, stored) == store.lookup("score", [*keys, "nobody"], wanted)  # as SQLAlchemy reads them
    assert sorted(handled) == sorted(keys)
    assert bodies == {(org, i): f"h-{i}" for i in ids}
    assert stored[(org, "tx-2")]["hold_until"] == AT + timedelta(days=2)
    assert stored[(org, "tx-2")]["transfer_ts"].tzinfo is not None
    assert handled[keys[1]]["on_call"] is True and handled[keys[1]]["handled_at"] == AT
    assert again == ({}, {}, {})
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decisions)).scalar() == 3
        assert conn.execute(select(func.count()).select_from(bus_outbox)).scalar() == 1
