"""Operating commands: serve the API, migrate the database, create organisations and keys."""

from __future__ import annotations

import sys

import typer

from zaslon.errors import InvalidInput


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    db = typer.Typer(no_args_is_help=True, help="Database schema.")
    orgs = typer.Typer(no_args_is_help=True, help="Organisations and their API keys.")
    app.add_typer(db, name="db")
    app.add_typer(orgs, name="orgs")

    @app.command()
    def serve(
        host: str = typer.Option(None, help="listen address (default ZASLON_HOST or 127.0.0.1)"),
        port: int = typer.Option(None, help="port (default ZASLON_PORT or 8000)"),
        workers: int = typer.Option(
            1, min=1, help="uvicorn worker processes (embedded default: keep 1, each holds its own scoring "
            "feature state; an API node of the scale-out shape holds none and may run several)"
        ),
        role: str = typer.Option("all", help="api, worker or all. The scale-out shape (ZASLON_BUS_URL=nats://…): "
                                 "api = a stateless API node, worker = a scoring worker, all = both here. "
                                 "The embedded default is always all."),
        partitions: str = typer.Option("all", help="with --role worker or all: the partitions to own"),
    ) -> None:
        """Serve the HTTP API (migrates the database first)."""
        import subprocess

        import uvicorn

        from zaslon.adapters import allocator
        from zaslon.adapters.db.engine import upgrade
        from zaslon.adapters.logging import configure
        from zaslon.settings import Settings

        settings = Settings()
        if role not in ("api", "worker", "all"):
            raise InvalidInput(f"role {role!r}: choose api, worker or all", field="role")
        scale_out = settings.bus_url.startswith("nats://")
        if role != "all" and not scale_out:
            raise InvalidInput(f"--role {role} needs the scale-out shape: set ZASLON_BUS_URL=nats://host:port "
                               "and a PostgreSQL ZASLON_DATABASE_URL", field="role")
        if scale_out and not settings.database_url.startswith("postgresql"):
            raise InvalidInput("the scale-out shape needs PostgreSQL (ZASLON_DATABASE_URL=postgresql+psycopg://…)",
                               field="database_url")
        if role == "worker":
            from zaslon.cli.cluster import run_worker

            run_worker(partitions)
            return
        if not scale_out and workers > 1:
            raise InvalidInput("--workers > 1 would split the embedded default's feature state between "
                               "processes: use the scale-out shape (docs/deployment.md)", field="workers")
        configure(settings.log_json)
        allocator.tune(settings.malloc_mmap_threshold, settings.malloc_arena_max)
        upgrade(settings.database_url)
        child = None
        if scale_out and role == "all":
            child = subprocess.Popen([sys.executable, "-m", "zaslon", "worker", "--partitions", partitions])
        try:
            uvicorn.run(
                "zaslon.adapters.http.app:serve_app", factory=True, host=host or settings.host,
                port=port or settings.port, workers=workers, log_level="warning", access_log=False,
                timeout_graceful_shutdown=5,  # the desk's open event streams must not hold a shutdown up
            )
        finally:
            if child is not None:
                child.terminate()
                child.wait(timeout=30)

    @db.command("upgrade")
    def db_upgrade(revision: str = typer.Argument("head")) -> None:
        """Apply Alembic migrations to ZASLON_DATABASE_URL."""
        from zaslon.adapters.db.engine import upgrade
        from zaslon.settings import Settings

        url = Settings().database_url
        try:
            upgrade(url, revision)
        except Exception as exc:  # alembic raises plain exceptions for unknown revisions or bad URLs
            raise InvalidInput(f"migration failed: {exc}", field="revision") from None
        print(f"database at {url} is at {revision}")

    @orgs.command("create")
    def orgs_create(
        kind: str = typer.Option(..., help="bank, telecom, police or partner"),
        name: str = typer.Option(..., help="the organisation's name"),
        bank_id: str = typer.Option(None, help="a bank's BIC (orders for it are addressed there)"),
        scopes: str = typer.Option(None, help="space-separated scopes (default: the kind's defaults)"),
        person: str = typer.Option(None, help="the person the first key is issued to (named in the audit log)"),
    ) -> None:
        """Create an organisation and print its first API key (shown once, stored only hashed)."""
        from zaslon.adapters.db.engine import make_engine, upgrade
        from zaslon.cli.audit import record_cli
        from zaslon.flow.orgs import create_org
        from zaslon.settings import Settings

        settings = Settings()
        upgrade(settings.database_url)
        created = create_org(
            make_engine(settings.database_url), name=name, kind=kind, bank_id=bank_id,
            scopes=frozenset(scopes.split()) if scopes else None, person=person,
        )
        record_cli(settings.database_url, "cli orgs create", f"org_id={created.org_id}",
                   {"kind": kind, "name": name, "bank_id": bank_id, "key_id": created.key_id, "person": person},
                   org_id=created.org_id)
        print(f"org_id:  {created.org_id}")
        print(f"api_key: {created.api_key}")
        print("Store the key now: it is not shown again.", file=sys.stderr)

    @orgs.command("revoke-key")
    def orgs_revoke_key(
        key_id: str = typer.Argument(..., help="the key's id: the 12 characters after 'zsl_'"),
    ) -> None:
        """Revoke an API key; a running server stops accepting it within seconds."""
        from zaslon.adapters.db.engine import make_engine, upgrade
        from zaslon.cli.audit import record_cli
        from zaslon.flow.orgs import revoke_key
        from zaslon.settings import Settings

        settings = Settings()
        upgrade(settings.database_url)
        org_id = revoke_key(make_engine(settings.database_url), key_id)
        record_cli(settings.database_url, "cli orgs revoke-key", f"key_id={key_id}", {}, org_id=org_id)
        print(f"revoked API key {key_id} of {org_id}")

    @orgs.command("add-key")
    def orgs_add_key(
        org_id: str = typer.Argument(..., help="the organisation"),
        person: str = typer.Option(..., help="the person the key is issued to (named in the audit log)"),
        scopes: str = typer.Option(None, help="space-separated scopes (default: the organisation kind's)"),
    ) -> None:
        """Issue another API key, one per person, so the audit log names who acted; print it (shown once)."""
        from sqlalchemy import select

        from zaslon.adapters.db.engine import make_engine, upgrade
        from zaslon.adapters.db.tables_core import orgs as orgs_table
        from zaslon.cli.audit import record_cli
        from zaslon.core.access import DEFAULT_SCOPES, OrgKind
        from zaslon.flow.orgs import create_key
        from zaslon.settings import Settings

        settings = Settings()
        upgrade(settings.database_url)
        engine = make_engine(settings.database_url)
        if scopes:
            chosen = frozenset(scopes.split())
        else:
            with engine.connect() as conn:
                kind = conn.execute(select(orgs_table.c.kind).where(orgs_table.c.org_id == org_id)).scalar()
            if kind is None:
                raise InvalidInput(f"no organisation {org_id!r}", field="org_id")
            chosen = DEFAULT_SCOPES[OrgKind(kind)]
        created = create_key(engine, org_id, chosen, person=person)
        record_cli(settings.database_url, "cli orgs add-key", f"key_id={created.key_id}",
                   {"person": person, "scopes": sorted(chosen)}, org_id=org_id)
        print(f"key_id:  {created.key_id}")
        print(f"api_key: {created.api_key}")
        print("Store the key now: it is not shown again.", file=sys.stderr)

    @orgs.command("ranges")
    def orgs_ranges(
        org_id: str = typer.Argument(..., help="the telecom operator"),
        add: list[str] = typer.Option([], "--add", help="an E.164 prefix of its subscribers' numbers (+37529…); "
                                      "repeat it. A ported number: the whole number"),
        remove: list[str] = typer.Option([], "--remove", help="a prefix to drop; repeat it"),
    ) -> None:
        """Register the number ranges an operator serves: it reports call events to those callees only."""
        from zaslon.adapters.db.engine import make_engine, upgrade
        from zaslon.cli.audit import record_cli
        from zaslon.core.calls import RecentCalls
        from zaslon.core.knowledge import Knowledge
        from zaslon.flow.telecom import TelecomSignals
        from zaslon.settings import Settings

        settings = Settings()
        upgrade(settings.database_url)
        signals = TelecomSignals(make_engine(settings.database_url), Knowledge(), RecentCalls())
        prefixes = signals.set_ranges(org_id, add, remove)
        if add or remove:
            record_cli(settings.database_url, "cli orgs ranges", f"org_id={org_id}",
                       {"add": list(add), "remove": list(remove)}, org_id=org_id)
        for p in prefixes:
            print(p)

    @orgs.command("list")
    def orgs_list() -> None:
        """List organisations (never their keys)."""
        from rich.console import Console
        from rich.table import Table
        from sqlalchemy import select

        from zaslon.adapters.db.engine import make_engine, upgrade
        from zaslon.adapters.db.tables_core import orgs as orgs_table
        from zaslon.settings import Settings

        settings = Settings()
        upgrade(settings.database_url)
        table = Table("org_id", "kind", "name", "bank_id")
        with make_engine(settings.database_url).connect() as conn:
            for row in conn.execute(select(orgs_table).order_by(orgs_table.c.org_id)):
                table.add_row(row.org_id, row.kind, row.name, row.bank_id or "")
        Console().print(table)
