"""Create engines for the embedded default (SQLite in WAL mode) and for PostgreSQL."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

from zaslon.adapters.db.base import metadata
from zaslon.adapters.db.wal_checkpoint import AUTOCHECKPOINT_PAGES


def load_table_modules() -> None:
    """Import every ``tables_*`` module so all tables are registered on the shared metadata."""
    package = importlib.import_module("zaslon.adapters.db")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("tables_"):
            importlib.import_module(f"zaslon.adapters.db.{info.name}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            if ":memory:" not in url and url not in ("sqlite://", "sqlite:///"):
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    here = Path(__file__).parent
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision`` with Alembic."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


__all__ = ["load_table_modules", "make_engine", "metadata", "upgrade"]
