"""Telecom signals across a restart: the live calls, the block list and appeals' clearances come back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_telecom import block_list_changes
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.flow.appeals import Verdict
from zaslon.flow.exchange import Exchange
from zaslon.flow.orgs import Principal, create_org
from zaslon.flow.ports.telecom import CallEvent
from zaslon.settings import Settings

ME, CALLER, INNOCENT = "+375291112233", "+375447654321", "+375297776655"


def principal(engine: Engine, name: str, kind: str) -> Principal:
    org = create_org(engine, name=name, kind=kind).org_id
    return Principal(org, OrgKind(kind), DEFAULT_SCOPES[OrgKind(kind)], None)


def changes(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(block_list_changes)).scalar_one())


def test_a_restart_keeps_live_calls_the_block_list_and_cleared_numbers(engine: Engine, db_url: str) -> None:
    a1, mts, desk = principal(engine, "A1", "telecom"), principal(engine, "MTS", "telecom"), principal(
        engine, "Desk", "police")
    now = datetime.now(UTC).replace(microsecond=0)
    x = Exchange(engine, Settings(database_url=db_url))
    x.telecom.set_ranges(a1.org_id, ["+37529"])
    x.report_call_events(a1, [CallEvent("c1", "start", now - timedelta(minutes=5), CALLER, ME,
                                        caller_verified=False)])
    for op in (a1, mts):
        x.report_fraud_numbers(op, [CALLER, INNOCENT])
    [appeal] = [x.file_number_appeal(a1, phone=INNOCENT, reason="my number", contact="+375297776655")]
    x.decide_number_appeal(desk, appeal["appeal_id"], verdict=Verdict.UPHOLD, note="subscriber since 2009")
    before = changes(engine)
    assert INNOCENT not in x.knowledge.flagged_phones
    x.close()

    y = Exchange(engine, Settings(database_url=db_url))
    restored = y.restore()
    try:
        assert restored["call_events"] == 1
        assert y.telecom.signals([ME], now)[:2] == (1.0, 300.0)
        assert CALLER in y.knowledge.flagged_phones and INNOCENT not in y.knowledge.flagged_phones
        assert changes(engine) == before  # the log was already in step: nothing appended
        assert [n["phone"] for n in y.block_list()["numbers"]] == [CALLER]
    finally:
        y.close()


def test_the_model_trains_without_the_telecom_signals_and_scores_the_full_matrix() -> None:
    import numpy as np

    from zaslon.core.calls import SIGNAL_NAMES
    from zaslon.core.features import FEATURE_INDEX, FEATURE_NAMES, MODEL_FEATURES
    from zaslon.flow.model import train

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, len(FEATURE_NAMES))).astype(np.float32)
    y = x[:, FEATURE_INDEX["amount_rel_log"]] > 0.8
    x[:, FEATURE_INDEX["on_risky_call"]] = y  # a perfect signal the model must not see
    trained = train(x, y, cutoff=datetime(2026, 3, 2, tzinfo=UTC))
    assert trained.compiled.feature_names == MODEL_FEATURES and not set(SIGNAL_NAMES) & set(MODEL_FEATURES)
    p, contrib = trained.compiled.predict(x)  # the engine's matrix, every feature: mapped by name
    assert contrib.shape == x.shape and not contrib[:, FEATURE_INDEX["on_risky_call"]].any()
    assert p[y].mean() > p[~y].mean()


def test_a_restart_keeps_who_the_subscribers_contacts_are(engine: Engine, db_url: str) -> None:
    """A daughter who called ten days ago is still a contact after a restart; a stranger's long call still counts."""
    a1 = principal(engine, "A1", "telecom")
    now = datetime.now(UTC).replace(microsecond=0)
    daughter, stranger = "+375296665544", "+375293332211"
    x = Exchange(engine, Settings(database_url=db_url))
    x.telecom.set_ranges(a1.org_id, ["+37529"])
    x.report_call_events(a1, [
        CallEvent("d0", "start", now - timedelta(days=10), daughter, ME, caller_verified=True),
        CallEvent("d0", "end", now - timedelta(days=10) + timedelta(minutes=30), daughter, ME, duration_s=1800),
        CallEvent("d1", "start", now - timedelta(hours=2), daughter, ME, caller_verified=True),
        CallEvent("d1", "end", now - timedelta(hours=1), daughter, ME, duration_s=3600),
        CallEvent("s1", "start", now - timedelta(hours=3), stranger, ME, caller_verified=True),
        CallEvent("s1", "end", now - timedelta(hours=3) + timedelta(minutes=20), stranger, ME, duration_s=1200),
    ])
    assert x.telecom.signals([ME], now)[4:] == (1200.0, 1.0)
    x.close()

    y = Exchange(engine, Settings(database_url=db_url))
    y.restore()
    try:
        assert y.telecom.signals([ME], now)[4:] == (1200.0, 1.0)  # the daughter's hour-long call is no stranger's
        assert y.telecom.signals(["+375290000001"], now)[4:] == (0.0, 0.0)  # nobody reports this phone's calls
    finally:
        y.close()
