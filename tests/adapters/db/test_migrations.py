"""The Alembic migrations build exactly the schema the table modules declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from zaslon.adapters.db.engine import alembic_config, load_table_modules, metadata


def test_one_head() -> None:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    load_table_modules()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"a table module changed without a migration: {diff[:5]}"


TRANSFER = ("INSERT INTO transfers (transfer_id, org_id, ts, payer, payee, amount, currency, channel, body_hash, "
            "received_at) VALUES ('tx-1', :o, :t, 'p', 'q', :a, 'BYN', 'mobile', 'h', :t)")


def test_0006_keeps_stored_transfers_and_their_disputes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Upgrading a store from the single id namespace: each disputed transfer is tied to its submitter, and two
    organisations may then store the same id."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from zaslon.adapters.db.engine import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0003")
    eng = make_engine(url)
    now = datetime(2026, 3, 1, tzinfo=UTC).isoformat()
    with eng.begin() as conn:
        for org in ("bank-a", "bank-b"):
            conn.execute(text("INSERT INTO orgs (org_id, name, kind, country, created_at) "
                              "VALUES (:o, :o, 'bank', 'BY', :t)"), {"o": org, "t": now})
        conn.execute(text(TRANSFER), {"o": "bank-a", "t": now, "a": 5})
        conn.execute(text("INSERT INTO incidents (incident_id, reporter_org, reporter_kind, scheme, text, reported_at, "
                          "received_at) VALUES ('inc-1', 'bank-a', 'bank', 'vishing', '', :t, :t)"), {"t": now})
        conn.execute(text("INSERT INTO incident_transfers (incident_id, transfer_id) VALUES ('inc-1', 'tx-1')"))
    eng.dispose()
    upgrade(url)
    eng = make_engine(url)
    with eng.begin() as conn:
        assert conn.execute(text("SELECT transfer_org FROM incident_transfers")).scalar_one() == "bank-a"
        conn.execute(text(TRANSFER), {"o": "bank-b", "t": now, "a": 7})
        assert conn.execute(text("SELECT count(*) FROM transfers WHERE transfer_id = 'tx-1'")).scalar_one() == 2
    eng.dispose()
