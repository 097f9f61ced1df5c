"""Read a simulated world's tables (only those the exchange may read), generating the world if asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from zaslon.errors import InvalidInput

REQUIRED = ("accounts", "banks", "atms", "transfers", "incidents")
TRANSFER_COLUMNS = (
    "transfer_id", "ts", "payer", "payee", "amount", "currency", "channel", "device", "ip",
    "payer_bank", "payee_bank", "payee_country", "atm_id",
)


@dataclass(frozen=True)
class World:
    path: Path
    accounts: pl.DataFrame
    banks: pl.DataFrame
    atms: pl.DataFrame
    transfers: pl.DataFrame  # sorted by ts
    incidents: pl.DataFrame
    calls: pl.DataFrame | None
    parties: pl.DataFrame | None = None
    history: pl.DataFrame | None = None  # incidents_history.parquet (``zaslon simulate --history-years``)


def load_world(path: Path) -> World:
    missing = [t for t in REQUIRED if not (path / f"{t}.parquet").is_file()]
    if missing:
        raise InvalidInput(f"{path} is not a world: missing {', '.join(f'{m}.parquet' for m in missing)}",
                           field="world")
    transfers = pl.read_parquet(path / "transfers.parquet")
    absent = [c for c in TRANSFER_COLUMNS if c not in transfers.columns]
    if absent:
        raise InvalidInput(f"transfers.parquet lacks columns {absent}", field="world")
    calls = pl.read_parquet(path / "calls.parquet") if (path / "calls.parquet").is_file() else None
    return World(
        path=path,
        accounts=pl.read_parquet(path / "accounts.parquet"),
        banks=pl.read_parquet(path / "banks.parquet"),
        atms=pl.read_parquet(path / "atms.parquet"),
        transfers=transfers.select(TRANSFER_COLUMNS).sort("ts", maintain_order=True),
        incidents=pl.read_parquet(path / "incidents.parquet"),
        calls=calls,
        parties=pl.read_parquet(path / "parties.parquet") if (path / "parties.parquet").is_file() else None,
        history=pl.read_parquet(path / "incidents_history.parquet")
        if (path / "incidents_history.parquet").is_file() else None,
    )


def ensure_world(path: Path, *, preset: str, seed: int, history_years: int = 0) -> Path:
    """Reuse the world at ``path`` or generate it there (in this process, as ``zaslon simulate`` does), with
    ``history_years`` of reported incidents before it (``zaslon simulate --history-years``) when generated."""
    from zaslon.simulate.world import generate

    if (path / "transfers.parquet").is_file() and (path / "manifest.json").is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # A directory without the manifest is a half-written world from an interrupted run: replace it.
        generate(preset, seed, path, force=path.exists(), history_years=history_years)
    except (InvalidInput, OSError) as exc:
        reason = exc.message if isinstance(exc, InvalidInput) else str(exc)
        raise InvalidInput(f"could not generate the {preset} world at {path}: {reason}", field="world") from exc
    if not (path / "transfers.parquet").is_file():
        raise InvalidInput(f"could not generate the {preset} world at {path}", field="world")
    return path


def profiles(world: World) -> dict[str, object]:
    """What the exchange knows of each account's owner (age, living alone) for the scoring engine."""
    from zaslon.core.features import AccountProfile

    acc = world.accounts.select("account_id", "party_id", "opened_at")
    if world.parties is not None and {"birth_date", "lives_alone"} <= set(world.parties.columns):
        acc = acc.join(world.parties.select("party_id", "birth_date", "lives_alone"), on="party_id", how="left")
    else:
        acc = acc.with_columns(pl.lit(None).alias("birth_date"), pl.lit(False).alias("lives_alone"))
    return {
        a: AccountProfile(opened_at=o, birth_date=b, lives_alone=bool(alone))
        for a, _p, o, b, alone in acc.iter_rows()
    }
