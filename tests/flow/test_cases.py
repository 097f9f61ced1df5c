"""CaseService on both databases: linking, analysts' changes, 404 / 409, and that nothing is ever lost."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from zaslon.adapters.db.tables_cases import case_incidents
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow.cases import CaseService

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def service(engine: Engine) -> CaseService:
    return CaseService(engine)


def all_incidents(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {r.incident_id: r.case_id for r in conn.execute(select(case_incidents))}


def test_linking_builds_cases_and_merges_with_history(service: CaseService) -> None:
    a = service.link("i1", ["phone:+375291111111"], NOW)
    b = service.link("i2", ["account:BY01"], NOW)
    assert a != b
    c = service.link("i3", ["phone:+375291111111", "account:BY01"], NOW)
    assert c == a
    view = service.get(a)
    assert view.incident_ids == ("i1", "i2", "i3")
    assert view.version > 1
    gone = service.get(b)
    assert gone.status == "merged" and gone.merged_into == a and gone.incident_ids == ()
    kinds = [(h["kind"], h["reason"]) for h in service.history(a)]
    # i3 joined one case through one key and merged the other into it through the other key.
    assert any(k == "merge" and r in ("account:BY01", "phone:+375291111111") for k, r in kinds)
    assert any(k in ("join", "merge") and h["incident_id"] == "i3" for h in service.history(b)
               for k in [h["kind"]])


def test_unknown_case_gets_not_found(service: CaseService) -> None:
    service.link("i1", ["phone:1"], NOW)
    with pytest.raises(NotFound):
        service.split("case-999", ["i1"], 1, "police")
    with pytest.raises(NotFound):
        service.merge("case-1", "case-999", 1, 1, "police")
    with pytest.raises(NotFound):
        service.merge("nonsense", "case-1", 1, 1, "police")
    with pytest.raises(NotFound):
        service.confirm("case-42", 1, "police")
    with pytest.raises(NotFound):
        service.get("case-42")


def test_stale_version_after_an_incremental_link_is_refused_and_nothing_is_lost(
    service: CaseService, engine: Engine
) -> None:
    case = service.link("i1", ["phone:1"], NOW)
    service.link("i2", ["phone:1"], NOW)
    seen = service.get(case)  # the analyst reads the case ...
    service.link("i3", ["phone:1"], NOW)  # ... an incident links in meanwhile ...
    before = all_incidents(engine)
    with pytest.raises(Conflict) as err:  # ... and the analyst's split, made on what they saw, is refused
        service.split(case, ["i2"], seen.version, "police")
    assert "version" in err.value.message
    assert all_incidents(engine) == before == {"i1": case, "i2": case, "i3": case}
    with pytest.raises(Conflict):
        service.merge(case, case.replace("1", "3"), seen.version, 1, "police")
    # Reloaded, the same split goes through and keeps every incident.
    fresh = service.get(case)
    kept, new = service.split(case, ["i2"], fresh.version, "police")
    after = all_incidents(engine)
    assert set(after) == {"i1", "i2", "i3"} and after["i2"] == new != kept
    assert service.get(new).incident_ids == ("i2",)


def test_split_merge_confirm_round_trip(service: CaseService, engine: Engine) -> None:
    c1 = service.link("i1", ["phone:1"], NOW)
    service.link("i2", ["phone:1"], NOW)
    c3 = service.link("i3", ["wallet:T1"], NOW)
    kept, new = service.split(c1, ["i2"], service.get(c1).version, "police", "different group")
    assert service.get(kept).incident_ids == ("i1",)
    merged = service.merge(new, c3, service.get(new).version, service.get(c3).version, "police")
    assert set(service.get(merged).incident_ids) == {"i2", "i3"}
    confirmed = service.confirm(merged, service.get(merged).version, "police")
    assert confirmed.status == "confirmed"
    with pytest.raises(Conflict):
        service.confirm(merged, 1, "police")
    with pytest.raises(InvalidInput):
        service.split(kept, ["i1"], service.get(kept).version, "police")  # would empty the case
    with pytest.raises(InvalidInput):
        service.split(merged, ["i1"], service.get(merged).version, "police")  # not in that case
    with pytest.raises(Conflict):
        service.link("i1", ["phone:9"], NOW)  # already linked
    assert len(all_incidents(engine)) == 3


def test_a_restarted_service_replays_the_log(service: CaseService, engine: Engine) -> None:
    c = service.link("i1", ["phone:1"], NOW)
    service.link("i2", ["phone:1"], NOW)
    service.split(c, ["i2"], service.get(c).version, "police")
    again = CaseService(engine)
    assert again.link("i4", ["phone:1"], NOW) in {c, service.get("case-" + str(again.linker.case_of("i2"))).case_id}
    assert set(all_incidents(engine)) == {"i1", "i2", "i4"}
    # The analyst's split survives the restart: the new incident did not glue the parts together.
    assert again.linker.case_of("i1") != again.linker.case_of("i2")


def test_concurrent_links_and_analyst_changes_lose_nothing(service: CaseService, engine: Engine) -> None:
    case = service.link("i0", ["phone:hot"], NOW)
    errors: list[Exception] = []

    def linker() -> None:
        for k in range(1, 40):
            service.link(f"i{k}", ["phone:hot", f"account:A{k % 5}"], NOW)

    def analyst() -> None:
        for _ in range(40):
            try:
                v = service.get(case)
                if len(v.incident_ids) > 2:
                    service.split(case, [v.incident_ids[-1]], v.version, "police")
            except (Conflict, InvalidInput) as exc:
                errors.append(exc)

    threads = [threading.Thread(target=linker), threading.Thread(target=analyst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    placed = all_incidents(engine)
    assert set(placed) == {f"i{k}" for k in range(40)}  # every incident in exactly one case
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(case_incidents)).scalar_one() == 40
    for cid in set(placed.values()):
        assert service.get(cid).status != "merged"


def test_keys_from_indicators_add_the_sender_domain() -> None:
    from zaslon.core.types import Indicator, IndicatorKind
    from zaslon.flow.case_keys import keys_from_indicators

    keys = keys_from_indicators([Indicator(IndicatorKind.EMAIL, "director.831@gmaii.com"),
                                 Indicator(IndicatorKind.PHONE, "+375291111111")])
    assert keys == ["email:director.831@gmaii.com", "email_domain:gmaii.com", "phone:+375291111111"]
