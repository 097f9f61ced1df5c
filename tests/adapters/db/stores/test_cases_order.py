"""Store reads that feed the drop ranking come back in one order, however the banks' batches arrived.

Transfers at the same microsecond are common in batches (salary runs, a drop's fan-out). Ordered by time alone, a
database may return them in any order (SQLite's ``(ts, transfer_id)`` index happens to give the id order; a
PostgreSQL sort need not), and the ranking numbers accounts in the order it first meets them, which breaks its ties:
the published list would depend on the plan and on the order the banks sent their batches in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from zaslon.adapters.db.stores.cases import SqlCaseStore
from zaslon.core.types import Channel, Transfer
from zaslon.flow.ingest import store_transfers
from zaslon.flow.orgs import create_org

TS = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_moves_at_one_moment_come_back_by_transfer_id_not_as_inserted(engine: Engine) -> None:
    org = create_org(engine, name="Bank A", kind="bank", bank_id="AKBBBY2X").org_id
    batch = [Transfer(f"T{i}", TS, "BY-PAYER", f"BY-PAYEE-{i}", 1_000 + i, "BYN", Channel.MOBILE,
                      payer_bank="AKBBBY2X", payee_bank="AKBBBY2X") for i in range(6)]
    store_transfers(engine, org, batch[3:][::-1])  # one bank's batch, then another's, each in its own order
    store_transfers(engine, org, batch[:3][::-1])
    moves = SqlCaseStore(engine).moves_before(TS + timedelta(seconds=1))
    assert [m.payee for m in moves] == [f"BY-PAYEE-{i}" for i in range(6)]
