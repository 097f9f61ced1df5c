"""The one place the CLI turns errors into exit codes.

Commands raise the project's errors (``zaslon.errors``) and never pick an exit code themselves;
``ZaslonGroup``, the class of the top-level ``zaslon`` command, catches whatever a command lets out and
prints ``error: <message>`` to stderr:

* exit 2: the input was wrong (``InvalidInput``; click's own usage errors exit 2 as well), and by default
  any other ``ZaslonError`` too: a missing or conflicting object is something the caller named;
* exit 1: ``audit verify`` on a tampered log (a ``Conflict`` naming the first broken entry);
  the ``rules`` commands tell a refused state change (a missing version, a draft that cannot go
  live, a version that exists) apart from bad input, as scripts driving a deployment rely on; and a
  database that is not ready (its schema not migrated, or unreachable) under any command.

Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import typer
import typer.core

from zaslon.errors import InvalidInput, ZaslonError

INPUT = 2  # the command's input was wrong
STATE = 1  # the stored state refused the command, or the database is not ready


@dataclass(frozen=True)
class Policy:
    refused: int = INPUT  # the exit code for a ZaslonError other than InvalidInput
    field: bool = False  # prefix an InvalidInput's message with the field it names (e.g. rules[0].action)


DEFAULT = Policy()
# By the first word of the command line (``zaslon rules ...``); everything else follows DEFAULT.
POLICIES: dict[str, Policy] = {"rules": Policy(refused=STATE, field=True),
                               "audit": Policy(refused=STATE)}  # a broken chain is 1, bad input 2


def exit_code(exc: ZaslonError, policy: Policy = DEFAULT) -> int:
    return INPUT if isinstance(exc, InvalidInput) else policy.refused


def message(exc: ZaslonError, policy: Policy = DEFAULT) -> str:
    if policy.field and isinstance(exc, InvalidInput) and exc.field:
        return f"{exc.field}: {exc.message}"
    return exc.message


def _database_not_ready(exc: BaseException) -> str | None:
    """The message for SQLAlchemy's schema/connection errors, without importing SQLAlchemy otherwise."""
    if not type(exc).__module__.startswith("sqlalchemy"):
        return None
    from sqlalchemy.exc import OperationalError, ProgrammingError

    if isinstance(exc, OperationalError | ProgrammingError):
        return f"database not ready ({type(exc.orig).__name__}); run `zaslon db upgrade` first"
    return None


def to_exit(exc: Exception, policy: Policy = DEFAULT) -> typer.Exit | None:
    """Print the error and return the Exit to raise, or None if ``exc`` is not an error we map."""
    if isinstance(exc, ZaslonError):
        typer.echo(f"error: {message(exc, policy)}", err=True)
        return typer.Exit(exit_code(exc, policy))
    db = _database_not_ready(exc)
    if db is not None:
        typer.echo(f"error: {db}", err=True)
        return typer.Exit(STATE)
    return None


class ZaslonGroup(typer.core.TyperGroup):
    """The top-level command: maps what any subcommand raises to an exit code (see the module docstring)."""

    def invoke(self, ctx: Any) -> Any:  # the click Context typer vendors (typer._click, not public)
        try:
            return super().invoke(ctx)
        except Exception as exc:  # typer's own Exit, Abort and usage errors are not mapped: they pass on
            mapped = to_exit(exc, POLICIES.get(ctx.invoked_subcommand or "", DEFAULT))
            if mapped is None:
                raise
            raise mapped from None
