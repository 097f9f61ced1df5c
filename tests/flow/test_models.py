"""Model versions: trained on what the exchange was told (from its feature log, or rebuilt from the store
after a restart: the same rows, the same model), stored not live, promoted and rolled back explicitly, and
picked up by a running exchange without a restart. An unknown version changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine

from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.types import Channel, Scheme, Transfer
from zaslon.errors import Conflict, NotFound
from zaslon.flow import models as mv
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.orgs import Principal, create_org
from zaslon.settings import Settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CUTOFF = T0 + timedelta(days=2)


def populate(x: Exchange, engine: Engine) -> Principal:
    """600 transfers, 10 of them to drops and disputed by their victims' bank a day later."""
    org = create_org(engine, name="Belarusbank", kind="bank", bank_id="AKBBBY2X").org_id
    bank = Principal(org, OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], "AKBBBY2X")
    rng = np.random.default_rng(5)
    batch, bad = [], []
    for i in range(600):
        fraud = i % 60 == 7
        payee = f"BY20AKBBDROP{i % 3:04d}" if fraud else f"BY30AKBBSHOP{int(rng.integers(60)):04d}"
        amount = 900_000 if fraud else int(rng.integers(500, 20_000))
        batch.append(Transfer(f"t{i}", T0 + timedelta(minutes=i), f"BY10AKBBPAY{int(rng.integers(40)):05d}", payee,
                              amount, "BYN", Channel.WEB if fraud else Channel.CARD, payer_bank="AKBBBY2X",
                              payee_bank="AKBBBY2X", payee_country="BY"))
        if fraud:
            bad.append(f"t{i}")
    for lo in range(0, len(batch), 50):
        x.score(org, batch[lo:lo + 50])
    for j, tid in enumerate(bad):
        x.report_incident(bank, IncidentReport(org, "bank", Scheme.VISHING, T0 + timedelta(days=1, minutes=j),
                                               Victim(party_id=f"p-{j}"), (tid,), "", external_ref=f"r-{j}"),
                          now=T0 + timedelta(days=1, minutes=j))
    return bank


def _exchange(engine: Engine, db_url: str) -> Exchange:
    return Exchange(engine, Settings(database_url=db_url, snapshot_interval_s=0, model_poll_s=0.01))


def test_train_promote_rollback_and_hot_reload(engine: Engine, db_url: str) -> None:
    x = _exchange(engine, db_url)
    bank = populate(x, engine)
    a = x.train_model(CUTOFF, from_store=False, actor="desk")
    assert a is not None and x.scoring.model_version is None  # stored, not live
    [info] = mv.list_models(engine)
    assert (info.model_id, info.live, info.source) == (a.model_id, False, "log")
    assert info.metrics["rows"] == 600 and info.metrics["positives"] == 10 and info.cutoff == CUTOFF

    # After a restart the feature log is empty: the same rows are rebuilt from the store, the same model.
    x.close()
    y = _exchange(engine, db_url)
    y.restore()
    assert not y.log_covers_store
    again = y.train_model(CUTOFF, actor="desk")
    assert again is not None and again.model_id == a.model_id
    assert len(mv.list_models(engine)) == 1  # the same version is stored once

    with pytest.raises(NotFound):
        y.promote_model("no-such-version", actor="desk")
    assert mv.deployment(engine).live is None and y.scoring.model_version is None  # nothing changed

    other = _exchange(engine, db_url)  # the server restarted beside: it picks up promotions by polling
    other.restore()
    y.promote_model(a.model_id, actor="desk")
    assert y.scoring.model_version == a.model_id  # this process at once
    probe = Transfer("probe-1", T0 + timedelta(days=3), "BY10AKBBPAY00001", "BY30AKBBSHOP0001", 5_000, "BYN",
                     payer_bank="AKBBBY2X", payee_bank="AKBBBY2X")
    [rec] = other.score(bank.org_id, [probe])  # the other at its next poll: no restart
    assert rec.decision.model_version == a.model_id
    with pytest.raises(Conflict):
        y.promote_model(a.model_id, actor="desk")

    with pytest.raises(Conflict):  # the same rows give the same version, live already
        y.train_model(CUTOFF, from_store=True, actor="desk", promote=True)
    # Fewer reports known by an earlier cut-off: another version, promoted live.
    c = y.train_model(T0 + timedelta(days=1, minutes=5), min_positives=1, actor="desk", promote=True)
    assert c is not None and c.model_id != a.model_id and y.scoring.model_version == c.model_id
    assert c.meta["metrics"]["positives"] == 5
    dep = y.rollback_model(actor="desk")
    assert dep.live == a.model_id and y.scoring.model_version == a.model_id
    with pytest.raises(Conflict):  # a was the first promoted: nothing before it
        y.rollback_model(actor="desk")
    assert mv.deployment(engine).live == a.model_id
    for e in (y, other):
        e.close()


def test_the_feature_rows_rebuilt_from_the_store_equal_the_log(engine: Engine, db_url: str) -> None:
    x = _exchange(engine, db_url)
    populate(x, engine)
    log = mv.rows_from_log(engine, x.feature_log, CUTOFF)
    store = mv.rows_from_store(engine, CUTOFF)
    assert log.ids == store.ids and np.array_equal(log.y, store.y)
    assert np.array_equal(log.x, store.x)
    x.close()


def test_auc() -> None:
    y = np.array([False, False, True, True])
    assert mv.auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert mv.auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    assert mv.auc(np.array([True, True]), np.array([0.1, 0.2])) is None


def test_the_drift_rule_on_the_live_model_retrains_when_new_reports_slip_through(engine: Engine,
                                                                                   db_url: str) -> None:
    x = _exchange(engine, db_url)
    bank = populate(x, engine)
    assert x.check_drift(now=CUTOFF) is None  # no live model: nothing to drift from
    a = x.train_model(CUTOFF, from_store=False, actor="desk", promote=True)
    assert a is not None
    quiet = x.check_drift(now=CUTOFF + timedelta(hours=1))
    assert quiet is not None and quiet["reason"] is None and quiet["new_reports"] == 0
    # A new scheme: small card payments to fresh accounts, which the live model lets through.
    day3 = T0 + timedelta(days=3)
    new = [Transfer(f"n{i}", day3 + timedelta(minutes=i), f"BY10AKBBPAY{i:05d}", f"BY20AKBBNEWD{i:04d}", 12_000,
                    "BYN", Channel.CARD, payer_bank="AKBBBY2X", payee_bank="AKBBBY2X", payee_country="BY")
           for i in range(12)]
    decided = x.score(bank.org_id, new)
    assert all(r.decision.outcome.value == "allow" for r in decided)
    for i in range(12):
        at = day3 + timedelta(hours=2, minutes=i)
        x.report_incident(bank, IncidentReport(bank.org_id, "bank", Scheme.PHISHING, at, Victim(party_id=f"q-{i}"),
                                               (f"n{i}",), "", external_ref=f"n-{i}"), now=at)
    seen = x.retrain_on_drift(now=day3 + timedelta(hours=3))
    assert seen is not None and seen["new_reports"] == 12 and seen["missed_share"] == 1.0
    assert seen["reason"] is not None and seen["reason"].startswith("missed reports")
    assert seen["trained"] not in (None, a.model_id) and seen["promoted"] is False
    assert x.scoring.model_version == a.model_id  # stored for analysts, not live
    assert {i.model_id for i in mv.list_models(engine)} == {a.model_id, seen["trained"]}
    x.close()


def test_housekeeping_checks_drift_once_an_interval(engine: Engine, db_url: str) -> None:
    x = Exchange(engine, Settings(database_url=db_url, snapshot_interval_s=0, drift_check_s=3600))
    calls: list[datetime | None] = []
    x.retrain_on_drift = lambda **kw: calls.append(kw["now"]) or {"reason": None}  # type: ignore[method-assign]
    start = datetime(2026, 6, 1, tzinfo=UTC)
    for minutes in (0, 30, 61, 90, 122):
        x._drift_round(start + timedelta(minutes=minutes))
    assert calls == [start + timedelta(minutes=61), start + timedelta(minutes=122)]
    assert x.last_drift == {"reason": None}
    x.close()
