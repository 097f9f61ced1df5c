"""`zaslon model train --from-store | list | promote | rollback` on a SQLite file: versions in the database, an
unknown version exits 2 and changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.cli import app
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.types import Channel, Scheme, Transfer
from zaslon.flow import models as mv
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.orgs import Principal, create_org
from zaslon.settings import Settings

runner = CliRunner()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_model_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'z.db'}"
    upgrade(url)
    eng = make_engine(url)
    x = Exchange(eng, Settings(database_url=url, snapshot_interval_s=0))
    org = create_org(eng, name="Belarusbank", kind="bank", bank_id="AKBBBY2X").org_id
    bank = Principal(org, OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], "AKBBBY2X")
    batch = [Transfer(f"t{i}", T0 + timedelta(minutes=i), f"BY10AKBBPAY{i % 29:05d}",
                      f"BY20AKBBDROP{i % 2}" if i % 30 == 1 else f"BY30AKBBSHOP{i % 41:04d}",
                      700_000 if i % 30 == 1 else 2_000 + i, "BYN", Channel.WEB, payer_bank="AKBBBY2X",
                      payee_bank="AKBBBY2X") for i in range(300)]
    x.score(org, batch)
    for j, t in enumerate(t for t in batch if int(t.transfer_id[1:]) % 30 == 1):
        x.report_incident(bank, IncidentReport(org, "bank", Scheme.VISHING, T0 + timedelta(days=1, minutes=j),
                                               Victim(party_id=f"p{j}"), (t.transfer_id,), "", external_ref=f"r{j}"),
                          now=T0 + timedelta(days=1, minutes=j))
    x.close()
    cutoff = (T0 + timedelta(days=2)).isoformat()

    r = runner.invoke(app, ["model", "train", "--from-store", "--db", url, "--cutoff", cutoff])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output.strip().splitlines()[-1])
    assert out["rows"] == 300 and out["positives"] == 10 and out["live"] is False
    version = out["model_id"]
    listed = runner.invoke(app, ["model", "list", "--db", url, "--json"])
    assert listed.exit_code == 0 and [v["model_id"] for v in json.loads(listed.output)] == [version]

    bad = runner.invoke(app, ["model", "promote", "no-such-model", "--db", url])
    assert bad.exit_code == 2 and "no-such-model" in bad.output
    assert mv.deployment(eng).live is None  # nothing changed
    assert runner.invoke(app, ["model", "train", "--db", url, "--cutoff", cutoff, "--promote"]).exit_code == 2
    early = runner.invoke(app, ["model", "train", "--from-store", "--db", url, "--cutoff", T0.isoformat()])
    assert early.exit_code == 2 and "nothing to learn" in early.output

    ok = runner.invoke(app, ["model", "promote", version, "--db", url])
    assert ok.exit_code == 0 and json.loads(ok.output) == {"live": version, "generation": 1}
    shown = runner.invoke(app, ["model", "list", "--db", url])
    assert shown.output.startswith(f"LIVE {version}")
    assert runner.invoke(app, ["model", "rollback", "--db", url]).exit_code == 2  # nothing before it
    assert mv.deployment(eng).live == version
    eng.dispose()
