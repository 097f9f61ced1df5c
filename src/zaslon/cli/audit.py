"""``zaslon audit``: check the hash-chained audit log of who changed what, and read it."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

import typer

from zaslon.errors import Conflict, InvalidInput


def _engine(url: str) -> Any:
    from sqlalchemy.exc import ArgumentError

    from zaslon.adapters.db.engine import make_engine

    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():  # connecting would create an empty file and call it an empty, intact log
            raise InvalidInput(f"no SQLite database at {path}", field="db")
    try:
        return make_engine(url)
    except (ArgumentError, ValueError) as exc:
        raise InvalidInput(f"not a database URL: {exc}", field="db") from None
    except ModuleNotFoundError as exc:  # a dialect whose driver is not installed
        raise InvalidInput(f"no driver for this database URL: {exc.name}", field="db") from None


def record_cli(url: str | None, action: str, subject: str | None, detail: dict[str, Any], *,
               org_id: str | None = None) -> None:
    """Append an operator's CLI state change to the audit log as ``cli:<os user>`` (``url`` None: the
    configured database)."""
    from zaslon.adapters.db.engine import make_engine
    from zaslon.flow.audit import AuditLog
    from zaslon.settings import Settings

    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = "unknown"
    log = AuditLog(make_engine(url or Settings().database_url))
    log.record(org_id=org_id, actor=f"cli:{user}"[:64], person=None, action=action, subject=subject, detail=detail)


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    audit = typer.Typer(no_args_is_help=True, help="The audit log: who changed what, hash-chained.")
    app.add_typer(audit, name="audit")

    @audit.command("verify")
    def verify(db: str = typer.Option(None, "--db", help="database URL (default ZASLON_DATABASE_URL)")) -> None:
        """Check every entry's hash and its link to the one before. Exit 0: intact; 1: tampered (the first
        broken entry is named); 2: bad input."""
        from zaslon.flow.audit import AuditLog
        from zaslon.settings import Settings

        log = AuditLog(_engine(db or Settings().database_url))
        good, head, broken = log.verify()
        if broken is not None:
            raise Conflict(f"audit log broken at entry {broken.seq}: {broken.reason}; the {good} entries before "
                           f"it hold (last good hash {head})", field="seq")
        print(f"audit log intact: {good} entries, head hash {head}")

    @audit.command("list")
    def list_entries(
        db: str = typer.Option(None, "--db", help="database URL (default ZASLON_DATABASE_URL)"),
        after: int = typer.Option(0, min=0, help="entries after this seq"),
        limit: int = typer.Option(100, min=1, max=100_000, help="at most this many"),
    ) -> None:
        """Print entries as JSON lines, oldest first."""
        from zaslon.flow.audit import AuditLog
        from zaslon.settings import Settings

        for e in AuditLog(_engine(db or Settings().database_url)).entries(after_seq=after, limit=limit):
            print(json.dumps({"seq": e.seq, "at": e.at.isoformat(), "org_id": e.org_id, "actor": e.actor,
                              "person": e.person, "action": e.action, "subject": e.subject,
                              "detail": json.loads(e.detail), "hash": e.hash}, ensure_ascii=False))
