"""``zaslon model ...``: train (on the store, or on files), list versions, promote one, roll back.

Versions live in the database: ``train --from-store`` stores one (not live), ``promote VERSION`` puts it
live and ``rollback`` goes back to the one before; running servers pick the change up within seconds
(``zaslon.flow.models.ModelWatcher``). Training on files (``--world`` or ``--transfers`` and
``--incidents``) writes to a model directory instead, as `zaslon replay` and the evaluations use.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from zaslon.errors import InvalidInput

ACTOR = "cli"


def _db(url: str | None) -> Any:
    from zaslon.adapters.db.engine import make_engine
    from zaslon.settings import Settings

    return make_engine(url or Settings().database_url)


def _utc(cutoff: datetime) -> datetime:
    if cutoff.tzinfo is None:
        print(f"cutoff read as UTC: {cutoff.replace(tzinfo=UTC).isoformat()}", file=sys.stderr)
        return cutoff.replace(tzinfo=UTC)  # typer parses without a zone: read it as UTC, say so
    return cutoff


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    del bench, evaluate
    model = typer.Typer(no_args_is_help=True, help="The fraud model: train, list versions, promote, roll back.")
    app.add_typer(model, name="model")
    db_opt = typer.Option(None, "--db", help="database URL (default ZASLON_DATABASE_URL)")

    @model.command("train")
    def model_train(
        cutoff: datetime = typer.Option(..., help="train only on transfers before it and reports made before it"),
        from_store: bool = typer.Option(False, "--from-store", help="train on the incidents the exchange received "
                                        "and the transfers it decided (the database); stores a version"),
        db: str = db_opt,
        promote: bool = typer.Option(False, "--promote", help="with --from-store: put the new version live"),
        min_positives: int = typer.Option(5, min=1, help="with --from-store: fewer reported transfers, no model"),
        store: Path = typer.Option(Path("data/models"), help="files: model store directory"),
        world: Path | None = typer.Option(None, help="files: a simulated world directory (reads no truth_* table)"),
        transfers: Path | None = typer.Option(None, help="files: transfers Parquet (as for replay)"),
        incidents: Path | None = typer.Option(None, help="files: incidents Parquet (transfer_id, reported_at)"),
    ) -> None:
        """Train a LightGBM model on reports known by CUTOFF."""
        cutoff = _utc(cutoff)
        if from_store:
            if world is not None or transfers is not None or incidents is not None:
                raise InvalidInput("--from-store trains on the database: give no --world/--transfers/--incidents",
                                   field="from_store")
            _train_from_store(_db(db), cutoff, promote=promote, min_positives=min_positives)
            return
        if promote:
            raise InvalidInput("--promote needs --from-store (a model trained on files is not a stored version)",
                               field="promote")
        _train_on_files(cutoff, store, world, transfers, incidents)

    @model.command("list")
    def model_list(db: str = db_opt, as_json: bool = typer.Option(False, "--json"),
                   store: Path | None = typer.Option(None, help="list a model directory instead")) -> None:
        """Stored versions (newest first) with their cut-off, metrics and which one is live."""
        if store is not None:
            from zaslon.flow.model import ModelStore

            s = ModelStore(store)
            for mid in s.ids():
                m = s.meta(mid)
                print(f"{mid}  cutoff={m['cutoff']}  rows={m['rows']}  positives={m['positives']}")
            return
        from zaslon.flow.models import list_models

        infos = list_models(_db(db))
        if as_json:
            print(json.dumps([i.to_dict() for i in infos], indent=2))
            return
        for i in infos:
            m = i.metrics
            print(f"{'LIVE ' if i.live else '     '}{i.model_id}  cutoff={i.cutoff.isoformat()}  rows={m.get('rows')}  "
                  f"positives={m.get('positives')}  auc_train={m.get('auc_train')}  source={i.source}  "
                  f"created={i.created_at.isoformat()} by {i.created_by}")

    @model.command("promote")
    def model_promote(version: str, db: str = db_opt) -> None:
        """Put VERSION live (running servers switch within seconds)."""
        from zaslon.flow.models import promote as do_promote

        dep = do_promote(_db(db), version, actor=ACTOR)
        print(json.dumps({"live": dep.live, "generation": dep.generation}))

    @model.command("rollback")
    def model_rollback(db: str = db_opt) -> None:
        """Back to the version that was live before the current one was promoted."""
        from zaslon.flow.models import rollback as do_rollback

        dep = do_rollback(_db(db), actor=ACTOR)
        print(json.dumps({"live": dep.live, "generation": dep.generation}))


def _train_from_store(db: Any, cutoff: datetime, *, promote: bool, min_positives: int) -> None:
    from zaslon.flow.customers import load_customers
    from zaslon.flow.models import train_from_store

    profiles = {c.account_id: c.profile() for c in load_customers(db)}
    trained = train_from_store(db, cutoff, actor=ACTOR, profiles=profiles, min_positives=min_positives,
                               promote_it=promote)
    if trained is None:
        raise InvalidInput(f"fewer than {min_positives} reported transfers (or no unreported ones) were decided "
                           "before the cut-off: nothing to learn from", field="cutoff")
    print(json.dumps({"model_id": trained.model_id, "cutoff": cutoff.isoformat(), "live": promote,
                      **trained.meta.get("metrics", {})}))


def _train_on_files(cutoff: datetime, store: Path, world: Path | None, transfers: Path | None,
                    incidents: Path | None) -> None:
    import numpy as np

    from zaslon.cli.scoring import _bar
    from zaslon.flow.model import ModelStore, labels_known_by, train
    from zaslon.flow.replay import read_parquet, stream_pass, validate_incidents, validate_transfers
    from zaslon.flow.scoring import ScoringEngine
    from zaslon.lab.scoring_eval import profiles_of, reports_of

    profiles = None
    if world is not None:
        t_raw = read_parquet(world / "transfers.parquet", "transfers")
        i_raw = reports_of(world)
        profiles = profiles_of(world)
    elif transfers is not None and incidents is not None:
        t_raw, i_raw = read_parquet(transfers, "transfers"), read_parquet(incidents, "incidents")
    else:
        raise InvalidInput("give --from-store, or --world, or both --transfers and --incidents", field="world")
    t = validate_transfers(t_raw)
    t = t.filter(t["ts"] < cutoff)
    reports = validate_incidents(i_raw.filter(i_raw["reported_at"] < cutoff), t)
    engine = ScoringEngine(profiles=profiles)
    with _bar(len(t), "features") as advance:
        st = stream_pass(engine, t, reports, progress=advance)
    named = [(at, [tid]) for tid, at in reports.iter_rows()]
    y = labels_known_by(st.frame["transfer_id"].to_list(), named, cutoff)
    trained = train(st.x, y, cutoff=cutoff)
    mid = ModelStore(store).save(trained)
    print(json.dumps({"model_id": mid, "store": str(store), "rows": int(st.x.shape[0]),
                      "positives": int(np.sum(y)), "cutoff": cutoff.isoformat()}))
