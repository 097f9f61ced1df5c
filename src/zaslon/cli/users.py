"""Desk users: ``zaslon users create|disable|reset-password``; and ``zaslon bench desk``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from zaslon.errors import InvalidInput

if TYPE_CHECKING:
    from zaslon.flow.desk import Desk


def _desk() -> Desk:
    from zaslon.adapters.db.engine import make_engine, upgrade
    from zaslon.flow.desk import Desk
    from zaslon.settings import Settings

    settings = Settings()
    upgrade(settings.database_url)
    return Desk(make_engine(settings.database_url))


def _read_password() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise InvalidInput("no password on standard input", field="password")
    return line


def _piped_password() -> str | None:
    """A password piped in (``echo ... | zaslon users create ...``), or None: a terminal, or nothing piped."""
    if sys.stdin is None or sys.stdin.isatty():
        return None
    line = sys.stdin.readline().rstrip("\r\n")
    return line or None


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    users = typer.Typer(no_args_is_help=True, help="People of the police desk (web sign-in).")
    app.add_typer(users, name="users")

    @users.command("create")
    def create(
        org: str = typer.Option(..., help="the police organisation's id (zaslon orgs list)"),
        role: str = typer.Option(..., help="analyst, supervisor, district_officer or admin"),
        name: str = typer.Option(..., help="the sign-in name"),
        district: str = typer.Option(None, help="a district officer's district (as banks register customers')"),
        password_stdin: bool = typer.Option(False, "--password-stdin",
                                            help="read the password from standard input (a piped one is read anyway)"),
    ) -> None:
        """Create a desk user with a password piped in on standard input, or print a generated one-time password
        (shown once); either is stored only as an argon2 hash."""
        given = _read_password() if password_stdin else _piped_password()
        desk = _desk()
        user, password = desk.create_user(org_id=org, role=role, login=name, password=given, district=district)
        print(f"user:     {user.login} ({user.role.value}, {user.org_id}"
              + (f", district {user.district})" if user.district else ")"))
        if given is None:
            print(f"password: {password}")
            print("Hand the password over now: it is not shown again.", file=sys.stderr)

    @users.command("disable")
    def disable(name: str = typer.Argument(..., help="the sign-in name")) -> None:
        """Disable a desk user: their sessions end at once and they cannot sign in again."""
        desk = _desk()
        user = desk.disable_user(name)
        print(f"disabled {user.login}")

    @users.command("reset-password")
    def reset_password(
        name: str = typer.Argument(..., help="the sign-in name"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read the new password from stdin"),
    ) -> None:
        """Set a new password (printed once unless read from stdin); the lock and every session are cleared."""
        desk = _desk()
        password = desk.reset_password(name, _read_password() if password_stdin else None)
        if not password_stdin:
            print(f"password: {password}")

    @bench.command("desk")
    def bench_desk(
        json_path: Path = typer.Option(None, "--json", help="write the figures here"),
        requests: int = typer.Option(40, min=5, max=10_000, help="requests per page"),
    ) -> None:
        """Time every desk page (p50, p95) on ZASLON_DATABASE_URL's data, signed in as a temporary supervisor."""
        from zaslon.lab.desk_bench import run_desk_bench
        from zaslon.settings import Settings

        out = run_desk_bench(Settings(), requests=requests)
        for page, fig in out["pages"].items():
            print(f"{page:<12} p50 {fig['p50_ms']:7.1f} ms   p95 {fig['p95_ms']:7.1f} ms")
        print(f"p95 max {out['p95_ms_max']:.1f} ms")
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(out, indent=2, sort_keys=True))
