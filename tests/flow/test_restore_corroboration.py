"""After a restart the exchange lists exactly what intake listed: an established business named in one report
(a shop many people pay) is not listed from that report alone, before the restart or after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.knowledge import AccountFlag
from zaslon.core.types import Channel, Scheme, Transfer
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.orgs import Principal, create_org
from zaslon.settings import Settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHOP, DROP, VICTIM = "BY40AKBB0004SHOP", "BY20PJCB0002DROP", "BY10AKBB0001VICT"


def _t(tid: str, minutes: float, payer: str, payee: str, amount: int = 5_000) -> Transfer:
    return Transfer(tid, T0 + timedelta(minutes=minutes), payer, payee, amount, "BYN", Channel.CARD,
                    payer_bank="AKBBBY2X", payee_bank="AKBBBY2X", payee_country="BY")


def test_a_shop_with_many_payers_stays_unlisted_after_a_restart(engine: Engine, db_url: str) -> None:
    org = create_org(engine, name="Belarusbank", kind="bank", bank_id="AKBBBY2X").org_id
    bank = Principal(org, OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], "AKBBBY2X")
    x = Exchange(engine, Settings(database_url=db_url, snapshot_interval_s=0))
    x.store_transfers(org, [_t(f"s{i}", i, f"BY99AKBB{i:08d}", SHOP) for i in range(160)])
    x.store_transfers(org, [_t("v-shop", 200, VICTIM, SHOP, 90_000), _t("v-drop", 201, VICTIM, DROP, 400_000)])
    report = IncidentReport(org, "bank", Scheme.VISHING, T0 + timedelta(minutes=300), Victim(party_id="p-1"),
                            ("v-shop", "v-drop"), "", external_ref="r-1")
    assert x.report_incident(bank, report, now=T0 + timedelta(minutes=301)).intake.created
    listed = {a: x.knowledge.flags(a) for a in (SHOP, DROP)}
    assert not listed[SHOP] & AccountFlag.REPORTED and listed[DROP] & AccountFlag.REPORTED
    probe = [_t("p1", 400, "BY98AKBB00000001", SHOP, 7_000), _t("p2", 401, "BY98AKBB00000002", DROP, 7_000)]
    before = x.scoring.clone().score_batch(probe)
    x.close()

    y = Exchange(engine, Settings(database_url=db_url, snapshot_interval_s=0))
    y.restore()
    assert {a: y.knowledge.flags(a) & AccountFlag.REPORTED for a in (SHOP, DROP)} == \
        {a: listed[a] & AccountFlag.REPORTED for a in (SHOP, DROP)}
    after = y.scoring.clone().score_batch(probe)
    assert [(d.outcome, d.score) for d in after] == [(d.outcome, d.score) for d in before]
    y.close()


def test_reloading_knowledge_leaves_the_feature_state_alone(engine: Engine, db_url: str) -> None:
    """A scoring worker's reload (every 30 s): what was learnt counts, the engine's state is not rebuilt from every
    decided transfer (a worker lends its partitions' states to the engine; a swap mid-round would lose a round)."""
    org = create_org(engine, name="Belarusbank", kind="bank", bank_id="AKBBBY2X").org_id
    bank = Principal(org, OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], "AKBBBY2X")
    x = Exchange(engine, Settings(database_url=db_url, snapshot_interval_s=0))
    x.store_transfers(org, [_t("v-drop", 1, VICTIM, DROP, 400_000)])
    report = IncidentReport(org, "bank", Scheme.VISHING, T0 + timedelta(minutes=30), Victim(party_id="p-1"),
                            ("v-drop",), "", external_ref="r-1")
    assert x.report_incident(bank, report, now=T0 + timedelta(minutes=31)).intake.created
    x.close()

    y = Exchange(engine, Settings(database_url=db_url, snapshot_interval_s=0))
    lent = y.scoring.state
    learnt = y.reload_knowledge()
    assert y.knowledge.flags(DROP) & AccountFlag.REPORTED
    assert y.scoring.state is lent and "features_replayed" not in learnt
    assert "features_replayed" in y.restore()  # a restart of the embedded default does rebuild it
    y.close()
