"""Rule-set versions in the database, hot swap through the watcher, the default set, and backtests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_rules import rule_events, rule_sets, rule_slots
from zaslon.core.rules import RuleSet
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow import rules as pr
from zaslon.flow.backtest import History, backtest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
A = [{"rule_id": "a", "expression": "payee_reported", "action": "hold", "reason": "reported"}]
B = [{"rule_id": "b", "expression": "first_time_payee and amount_rel_log > log(5)", "action": "review",
      "reason": "big to a new payee"}]


@pytest.fixture
def db(engine: Engine) -> Engine:
    return engine


def test_draft_publish_activate_and_immutability(db: Engine) -> None:
    d = pr.create_draft(db, A, actor="police-1", description="first", now=NOW)
    assert (d.version, d.status, d.live) == ("v1", "draft", False)
    d = pr.update_draft(db, "v1", A + B, actor="police-1")
    assert [r["rule_id"] for r in d.rules] == ["a", "b"]
    with pytest.raises(Conflict, match="draft"):
        pr.activate(db, "v1", actor="police-1")
    p = pr.publish(db, "v1", actor="police-2", now=NOW)
    assert p.status == "published" and p.published_by == "police-2"
    with pytest.raises(Conflict, match="published"):
        pr.update_draft(db, "v1", A, actor="x")
    with pytest.raises(Conflict, match="already published"):
        pr.publish(db, "v1", actor="x")
    dep = pr.activate(db, "v1", actor="police-2")
    assert dep.live == "v1" and dep.generation >= 1
    v2 = pr.create_draft(db, B, actor="police-1", parent_version="v1")
    assert v2.version == "v2" and v2.parent_version == "v1"
    pr.publish(db, "v2", actor="p")
    dep2 = pr.activate(db, "v2", actor="p")
    assert dep2.live == "v2" and dep2.generation > dep.generation
    with db.connect() as conn:  # exactly one live version, whatever happened before
        live = select(func.count()).select_from(rule_slots).where(rule_slots.c.slot == "live")
        assert conn.execute(live).scalar_one() == 1
        actions = [r.action for r in conn.execute(select(rule_events.c.action).order_by(rule_events.c.event_id))]
    assert actions == ["draft", "update", "publish", "activate", "draft", "publish", "activate"]
    infos = {i.version: i for i in pr.list_versions(db)}
    assert infos["v2"].live and not infos["v1"].live


def test_bad_drafts_store_nothing(db: Engine) -> None:
    bad = [{"rule_id": "x", "expression": "payee_reported and", "action": "hold", "reason": "r"}]
    with pytest.raises(InvalidInput, match="position 18"):
        pr.create_draft(db, bad, actor="p")
    with pytest.raises(InvalidInput, match="unknown rule field"):
        pr.create_draft(db, [{**A[0], "when": "now"}], actor="p")
    with pytest.raises(InvalidInput, match="version"):
        pr.create_draft(db, A, actor="p", version="has space")
    with pytest.raises(NotFound):
        pr.create_draft(db, A, actor="p", parent_version="nope")
    pr.create_draft(db, A, actor="p", version="same")
    with pytest.raises(Conflict):
        pr.create_draft(db, A, actor="p", version="same")
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(rule_sets)).scalar_one() == 1


def test_shadow_rules(db: Engine) -> None:
    for v, rules in (("live", A), ("cand", B)):
        pr.create_draft(db, rules, actor="p", version=v)
        pr.publish(db, v, actor="p")
    pr.activate(db, "live", actor="p")
    with pytest.raises(Conflict, match="is live"):
        pr.set_shadow(db, "live", actor="p")
    assert pr.set_shadow(db, "cand", actor="p").shadow == "cand"
    assert pr.activate(db, "cand", actor="p").shadow is None  # promoted: no longer shadowed
    assert pr.set_shadow(db, "live", actor="p").shadow == "live"
    assert pr.set_shadow(db, None, actor="p").shadow is None


def test_watcher_swaps_rules_without_restart(db: Engine) -> None:
    applied: list[tuple[str, str | None]] = []
    watcher = pr.RulesWatcher(db, lambda live, shadow: applied.append((live.version, shadow and shadow.version)))
    assert watcher.refresh() is False  # nothing live yet
    pr.ensure_default(db, now=NOW)
    assert watcher.refresh() is True and applied == [("default-2", None)]
    assert watcher.refresh() is False  # unchanged generation: nothing reloaded
    pr.create_draft(db, B, actor="p", version="v9")
    pr.publish(db, "v9", actor="p")
    pr.set_shadow(db, "v9", actor="p")
    assert watcher.refresh() is True and applied[-1] == ("default-2", "v9")
    pr.activate(db, "v9", actor="p")
    watcher.notify()
    assert applied[-1] == ("v9", None)
    assert pr.ensure_default(db).live == "v9"  # never overrides an analyst's choice


def test_watcher_polls_in_the_background(db: Engine) -> None:
    import threading

    seen = threading.Event()
    watcher = pr.RulesWatcher(db, lambda live, shadow: seen.set(), interval_s=0.05)
    watcher.start()
    try:
        pr.ensure_default(db)
        assert seen.wait(5.0)
    finally:
        watcher.stop()


def test_rules_file_formats(tmp_path: Any) -> None:
    f = tmp_path / "r.json"
    f.write_text('{"version": "x1", "description": "d", "rules": ' + __import__("json").dumps(A) + "}")
    assert pr.load_rules_file(f)[0] == "x1"
    f.write_text("[1, 2")
    with pytest.raises(InvalidInput, match="not JSON: line 1"):
        pr.load_rules_file(f)
    with pytest.raises(InvalidInput, match="cannot read"):
        pr.load_rules_file(tmp_path / "missing.json")
    with pytest.raises(InvalidInput, match="unknown field"):
        pr.parse_rules_document({"rules": [], "owner": "me"})


def test_default_rule_set_compiles_and_covers_the_analysts_cases() -> None:
    rs = pr.default_ruleset()
    assert isinstance(rs, RuleSet)
    by_id = {r.rule_id: r for r in rs.rules}
    assert by_id["payee-reported"].action.value == "hold"
    assert by_id["flagged-call"].action.value == "hold"
    assert "payer_elderly_alone" in by_id["elderly-alone-new-payee-large"].expression
    assert "passthrough_1h" in by_id["pass-through-drop"].expression


def _history() -> History:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [  # (id, minutes, payer, payee, amount): M is a drop that receives and passes money on at once
        ("t1", 0, "V1", "M", 90_000), ("t2", 5, "M", "X", 88_000), ("t3", 60, "P", "Q", 1_000),
        ("t4", 120, "P", "R", 1_200), ("t5", 2000, "V2", "M", 50_000), ("t6", 2001, "P", "Q", 1_100),
    ]
    t = pl.DataFrame(
        {
            "transfer_id": [r[0] for r in rows],
            "ts": [t0 + timedelta(minutes=r[1]) for r in rows],
            "payer": [r[2] for r in rows],
            "payee": [r[3] for r in rows],
            "amount": [r[4] for r in rows],
            "currency": ["BYN"] * len(rows),
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    reports = pl.DataFrame(
        {"transfer_id": ["t1"], "reported_at": [t0 + timedelta(hours=3)]},
        schema_overrides={"reported_at": pl.Datetime("us", "UTC")},
    )
    return History(t, reports, {}, None, "test")


def test_backtest_respects_report_time_and_counts_money_and_friction() -> None:
    new_payee = {"rule_id": "all-to-q", "expression": "first_time_payee", "action": "review", "reason": "new payee"}
    rs = RuleSet.from_dicts("t", [*A, new_payee])
    rep = backtest(rs, _history())
    rules = {r["rule_id"]: r for r in rep["rules"]}
    # t1 (to M) was before the report: not held; t5 (to M) came after it: held.
    assert rules["a"]["hits"] == 1
    assert rep["held"] == 1 and rep["positives"] == 1
    assert rep["precision_held"] == 0.0 and rep["recall_held"] == 0.0  # t5 itself was never reported
    assert rep["friction"]["legit_held"] == 1
    assert rep["friction"]["legit_amount_delayed"] == {"BYN": 500.0}
    assert rep["fraud_money"] == {"BYN": 900.0}
    assert rules["all-to-q"]["hits"] == 5  # every first payment to a payee; t6 repeats P -> Q
    assert rep["judged_against"] == "reported incidents"
    later = backtest(rs, _history(), since=datetime(2026, 3, 2, tzinfo=UTC))
    assert later["transfers"] == 2 and later["positives"] == 0
