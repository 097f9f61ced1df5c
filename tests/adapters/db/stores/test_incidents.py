"""The SQL incident and appeal stores on both databases: one-transaction intake, reads, restores, appeals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.stores.incidents import SqlAppealStore, SqlIncidentStore
from zaslon.adapters.db.tables_incidents import fraud_numbers, incidents
from zaslon.core.types import Indicator, IndicatorKind, Scheme, Transfer
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow.ingest import store_transfers
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.ports.incidents import AppealStatus, AppealStore, IncidentStore, StoredIncident

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BANK = "bank-belarusbank"
VICTIM, DROP = "BY13NBRB3600900000002Z00AB00", "BY86AKBB10100000002966000000"
WALLET = Indicator(IndicatorKind.WALLET, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
PHONE = Indicator(IndicatorKind.PHONE, "+375447654321")


@pytest.fixture
def db(engine: Engine, make_org) -> Engine:  # type: ignore[no-untyped-def]
    make_org("bank", "Belarusbank", bank_id="AKBBBY2X")
    store_transfers(engine, BANK, [
        Transfer("t1", NOW - timedelta(hours=2), VICTIM, DROP, 100_000, payer_bank="NBRBBY2X", payee_bank="AKBBBY2X"),
        Transfer("t2", NOW - timedelta(hours=1), "BY00OTHER000000000000000000", DROP, 5_000),
    ], now=NOW)
    return engine


def report(at: datetime = NOW, **over: object) -> IncidentReport:
    base: dict[str, object] = {"reporter_org": BANK, "reporter_kind": "bank", "scheme": Scheme.VISHING,
                               "reported_at": at, "victim": Victim(party_id="p-1", name="Ivan"),
                               "transfer_ids": ("t1",), "text": "wallet and phone"}
    base.update(over)
    # As intake resolves them: the ids are the reporting bank's own.
    base.setdefault("transfer_keys", tuple((BANK, t) for t in base["transfer_ids"]))  # type: ignore[attr-defined]
    return IncidentReport(**base)  # type: ignore[arg-type]


def add(store: IncidentStore, rep: IncidentReport, incident_id: str | None = None, *, dedup: str | None = "k1",
        ref_hash: str = "h1", at: datetime = NOW) -> StoredIncident:
    return store.add(rep, (WALLET, PHONE), text=rep.text, body_hash=ref_hash, dedup_key=dedup,
                     phones=(PHONE.value,), now=at, incident_id=incident_id)


def test_add_then_repeats_return_the_first_incident(db: Engine) -> None:
    store: IncidentStore = SqlIncidentStore(db)
    first = add(store, report(external_ref="r1"), "inc-1")
    assert first.created and first.payees == {"t1": DROP}
    assert first.incident.indicators == (WALLET, PHONE) and first.incident.victim_party == "p-1"
    by_ref = add(store, report(external_ref="r1"), "inc-2")
    assert not by_ref.created and by_ref.incident.incident_id == "inc-1" and by_ref.payees == {}
    by_key = add(store, report(external_ref="r2"), "inc-3")
    assert not by_key.created and by_key.incident == first.incident
    with pytest.raises(Conflict):
        add(store, report(external_ref="r1"), ref_hash="other")
    details = store.details("inc-1")
    assert details.reporters == {BANK} and details.repeat_reports == 1
    assert details.banks == {"NBRBBY2X", "AKBBBY2X"} and details.victim["name"] == "Ivan"
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(incidents)).scalar_one() == 1
        assert conn.execute(select(fraud_numbers.c.source)).scalars().all() == ["incident"]


def test_a_failed_add_writes_nothing(db: Engine) -> None:
    store: IncidentStore = SqlIncidentStore(db)
    with pytest.raises(InvalidInput, match="unknown transfer ids: 'nope'"):
        add(store, report(transfer_ids=("t1", "nope")))
    add(store, report(), "inc-1")
    with pytest.raises(Conflict):
        add(store, report(victim=None), "inc-1", dedup=None)
    with pytest.raises(NotFound):
        store.details("inc-404")
    assert store.knowledge_sources().phones == {PHONE.value}


def test_knowledge_sources_and_disputed_before(db: Engine) -> None:
    store: IncidentStore = SqlIncidentStore(db)
    add(store, report(), "inc-1")
    add(store, report(NOW + timedelta(days=1), transfer_ids=("t2",), victim=None), "inc-2", dedup=None,
        at=NOW + timedelta(days=1))
    assert store.disputed_before(NOW) == set()
    # By submitter and id: ids are each organisation's own.
    assert store.disputed_before(NOW + timedelta(seconds=1)) == {f"{BANK}/t1"}
    assert store.disputed_before(NOW + timedelta(days=2)) == {f"{BANK}/t1", f"{BANK}/t2"}
    sources = store.knowledge_sources()
    assert sorted(sources.named) == sorted([(DROP, NOW), (WALLET.value, NOW), (DROP, NOW + timedelta(days=1)),
                                            (WALLET.value, NOW + timedelta(days=1))])
    assert sources.delisted == {} and sources.phones == {PHONE.value}
    assert store.distinct_payers([DROP, VICTIM], NOW) == {DROP: 2}
    assert store.distinct_payers([DROP], NOW - timedelta(hours=2)) == {DROP: 1}
    assert store.distinct_payers([], NOW) == {}


def test_appeals_are_filed_once_and_decided_once(db: Engine, make_org) -> None:  # type: ignore[no-untyped-def]
    police = make_org("police", "Desk").org_id
    add(SqlIncidentStore(db), report(), "inc-1")
    store: AppealStore = SqlAppealStore(db)
    assert store.names_listed_indicator(WALLET.value) and not store.names_listed_indicator(PHONE.value)
    store.add_appeal(appeal_id="apl-1", account_id=DROP, reason="r", contact="c", filed_by=BANK, filed_at=NOW,
                     flags_at_filing=1)
    with pytest.raises(Conflict, match="pending appeal 'apl-1'"):
        store.add_appeal(appeal_id="apl-2", account_id=DROP, reason="r", contact="c", filed_by=BANK,
                         filed_at=NOW, flags_at_filing=1)
    with pytest.raises(NotFound):
        store.decide_appeal("apl-404", status=AppealStatus.UPHELD, decided_by=police, decided_at=NOW, note="n",
                            flags_of=lambda _a: 1)
    seen: list[str] = []
    account = store.decide_appeal("apl-1", status=AppealStatus.UPHELD, decided_by=police,
                                  decided_at=NOW + timedelta(hours=1), note="ok",
                                  flags_of=lambda a: seen.append(a) or 3)  # type: ignore[func-returns-value]
    assert account == DROP and seen == [DROP]
    with pytest.raises(Conflict, match="already decided"):
        store.decide_appeal("apl-1", status=AppealStatus.REJECTED, decided_by=police, decided_at=NOW, note="n",
                            flags_of=lambda _a: 0)
    row = store.appeal("apl-1")
    assert row is not None and row["status"] == "upheld" and row["previous_flags"] == 3
    assert row["decided_at"] == NOW + timedelta(hours=1) and store.appeal("apl-2") is None
    assert store.upheld_appeals() == {DROP: NOW + timedelta(hours=1)}
    assert SqlIncidentStore(db).knowledge_sources().delisted == {DROP: NOW + timedelta(hours=1)}
    # a rejection stores no previous flags and never asks for them
    store.add_appeal(appeal_id="apl-3", account_id=WALLET.value, reason="r", contact="c", filed_by=BANK,
                     filed_at=NOW, flags_at_filing=1)
    store.decide_appeal("apl-3", status=AppealStatus.REJECTED, decided_by=police, decided_at=NOW, note="n",
                        flags_of=lambda _a: pytest.fail("asked"))
    assert (store.appeal("apl-3") or {})["previous_flags"] is None
