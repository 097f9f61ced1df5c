"""Shadow rules on a fresh install: no version was ever activated (the packaged default decides), yet a
version put in shadow is evaluated and recorded beside every decision, and never decides."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from zaslon.core.types import Channel, Outcome, Transfer
from zaslon.flow import rules as pr
from zaslon.flow.exchange import Exchange
from zaslon.flow.orgs import create_org
from zaslon.settings import Settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHADOW = [{"rule_id": "every-new-payee", "expression": "first_time_payee", "action": "block",
           "reason": "shadow: block every new payee"}]


def test_shadow_works_from_a_fresh_install(engine: Engine, db_url: str) -> None:
    org = create_org(engine, name="Bank", kind="bank", bank_id="AKBBBY2X").org_id
    x = Exchange(engine, Settings(database_url=db_url))
    default_version = x.scoring.ruleset_version
    assert pr.deployment(engine).live is None  # nothing ever activated
    pr.create_draft(engine, SHADOW, actor="desk", version="try-1", now=NOW)
    pr.publish(engine, "try-1", actor="desk", now=NOW)
    pr.set_shadow(engine, "try-1", actor="desk", now=NOW)
    x.rules_watcher.notify()
    [rec] = x.score(org, [Transfer("t1", NOW, "BY10AKBB0001", "BY20AKBB0002", 5_000, "BYN", Channel.MOBILE,
                                  payer_bank="AKBBBY2X", payee_bank="AKBBBY2X")])
    assert rec.shadow_version == "try-1" and rec.shadow_outcome is Outcome.BLOCK
    assert rec.shadow_hits == ("every-new-payee",)
    assert rec.decision.outcome is not Outcome.BLOCK  # the shadow never decides
    assert x.scoring.ruleset_version == default_version  # the packaged default stays live
    x.close()
