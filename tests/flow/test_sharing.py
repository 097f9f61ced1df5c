"""Cross-border case links (``Sharing.case_links``): two exchanges, BY and RU, on loopback. A fake-director group
writes to Belarusian and Russian companies from the same mailbox and has them pay the same Belarusian account;
each country's companies report at home. Each side's case goes to the other only once the other is known to hold
one of its identifiers, and each side then links the other's case with its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.http.app import create_app
from zaslon.adapters.http.state import app_state
from zaslon.core.access import OrgKind
from zaslon.core.types import Scheme
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport
from zaslon.flow.orgs import Principal, create_org
from zaslon.lab.loopback import served
from zaslon.settings import Settings

MAILBOX = "director.821@gmaii.com"
DROP = "BY87MTBK30143365301743269764"
T0 = datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


class Side:
    def __init__(self, tmp_path: Path, code: str) -> None:
        url = f"sqlite:///{tmp_path / f'{code.lower()}.db'}"
        upgrade(url)
        self.engine = make_engine(url)
        self.app = create_app(Settings(database_url=url, exchange_name=f"Zaslon {code}", country=code),
                              db=self.engine)
        self.bank = create_org(self.engine, name=f"Bank of {code}", kind="bank")

    @property
    def x(self) -> Exchange:
        return app_state(self.app).exchange

    def report(self, text: str, hours: float) -> str:
        who = Principal(self.bank.org_id, OrgKind.BANK, frozenset({"incidents:write"}), None)
        out = self.x.report_incident(who, IncidentReport(
            self.bank.org_id, "bank", Scheme.FAKE_DIRECTOR, T0 + timedelta(hours=hours), text=text))
        return out.intake.incident.incident_id

    def case_of(self, incident_id: str) -> str:
        return f"case-{self.x.cases.linker.case_of(incident_id)}"


@contextmanager
def partners(by: Side, ru: Side, key_id: str, secret: str) -> Iterator[tuple[Any, Any]]:
    """Both exchanges served on loopback and linked as partners with one pair key: (RU at BY, BY at RU)."""
    ru_at_by = create_org(by.engine, name="Zaslon RU", kind="partner")
    by_at_ru = create_org(ru.engine, name="Zaslon BY", kind="partner")
    with served(by.app) as by_url, served(ru.app) as ru_url:
        by.x.sharing.add_partner(
            ru_at_by.org_id, country="RU", key_id=key_id, secret_hex=secret, taxii_url=f"{ru_url}/taxii2/zaslon/",
            remote_read=ru.x.sharing.outbox_id(by_at_ru.org_id), remote_write=ru.x.sharing.inbox_id,
            remote_token=by_at_ru.api_key)
        ru.x.sharing.add_partner(
            by_at_ru.org_id, country="BY", key_id=key_id, secret_hex=secret, taxii_url=f"{by_url}/taxii2/zaslon/",
            remote_read=by.x.sharing.outbox_id(ru_at_by.org_id), remote_write=by.x.sharing.inbox_id,
            remote_token=ru_at_by.api_key)
        yield ru_at_by, by_at_ru


def letter(company: str, amount: str) -> str:
    return (f"{company}: получено письмо от имени директора с адреса {MAILBOX} с просьбой срочно оплатить счёт. "
            f"Бухгалтер перечислила {amount} BYN на счёт {DROP}.")


def test_a_group_s_belarusian_and_russian_companies_are_one_case_on_both_sides(tmp_path: Path) -> None:
    by, ru = Side(tmp_path, "BY"), Side(tmp_path, "RU")
    by_1 = by.report(letter("ChUP Stroitrest", "90575.55"), 0)
    by_2 = by.report(letter("UP Dnepr", "30375.50"), 30)
    other = by.report("Позвонили с номера +375291112233, представились банком, перевод на BY20OLMP31350000001000000933",
                      40)
    ru_1 = ru.report(letter("OOO Mebel", "25455.45"), 50)
    assert by.case_of(by_1) == by.case_of(by_2) != by.case_of(other)
    with partners(by, ru, "by-ru-1", "3c" * 32) as (ru_at_by, by_at_ru):
        # Before either side knows the other holds anything, no case leaves (cases are AMBER, named to no one).
        assert not [b for b in by.x.sharing.build(ru_at_by.org_id) if b.obj["type"] == "grouping"]
        by.x.sharing.sync()  # BY's indicators (the beneficiary account as a keyed hash) reach RU; RU matches
        for _ in range(2):
            ru.x.sharing.sync()
            by.x.sharing.sync()
        [at_by] = by.x.sharing.case_links()
        [at_ru] = ru.x.sharing.case_links()
        # BY: Russia's case of its company is linked with BY's one case of its two companies, and with no other
        assert (at_by["partner"], at_by["partner_country"], at_by["our_cases"]) == (
            ru_at_by.org_id, "RU", [by.case_of(by_1)])
        assert {"kind": "account", "value": DROP} in at_by["shared"]
        # RU: the same, the other way round
        assert (at_ru["partner"], at_ru["partner_country"], at_ru["our_cases"]) == (
            by_at_ru.org_id, "BY", [ru.case_of(ru_1)])
        # The unrelated case never went to RU: only the case RU holds identifiers of is shared with it
        sent = [b.obj["name"] for b in by.x.sharing.build(ru_at_by.org_id) if b.obj["type"] == "grouping"]
        assert len(sent) == 1
        assert ru.x.sharing.case_links(partner="partner-nobody") == []
    # The desk reads BY's links over HTTP
    desk = create_org(by.engine, name="Desk", kind="police")
    with TestClient(by.app) as client:
        got = client.get("/v1/case-links", headers={"Authorization": f"Bearer {desk.api_key}"})
    assert got.status_code == 200 and got.json()["case_links"] == [at_by]
    by.x.close()
    ru.x.close()


def test_an_identifier_shared_before_the_partner_s_own_report_matches_when_the_report_comes(tmp_path: Path) -> None:
    by, ru = Side(tmp_path, "BY"), Side(tmp_path, "RU")
    by_1 = by.report(letter("ChUP Stroitrest", "90575.55"), 0)
    with partners(by, ru, "by-ru-2", "5d" * 32) as (ru_at_by, _):
        by.x.sharing.sync()  # BY's indicators reach RU while RU holds none of them: nothing matches
        ru.x.sharing.sync()  # and RU has pulled everything BY has for it: neither sends them again
        by.x.sharing.sync()
        assert ru.x.sharing.matches() == []
        ru_1 = ru.report(letter("OOO Mebel", "25455.45"), 50)  # later, a Russian company reports at home
        ru.x.sharing.publish()  # RU's next scheduled round, before BY has sent or sighted anything since
        assert {(m.kind, m.value) for m in ru.x.sharing.matches()} >= {("account", DROP)}
        for _ in range(2):
            ru.x.sharing.sync()
            by.x.sharing.sync()
        # RU's next round matched the indicators it already held from BY, and told BY (a sighting)
        assert {(m.kind, m.value) for m in ru.x.sharing.matches()} >= {("account", DROP)}
        assert {(m.kind, m.value) for m in by.x.sharing.matches(ru_at_by.org_id)} >= {("account", DROP)}
        [at_by] = by.x.sharing.case_links()
        [at_ru] = ru.x.sharing.case_links()
        assert at_by["our_cases"] == [by.case_of(by_1)] and at_ru["our_cases"] == [ru.case_of(ru_1)]
        assert ru.x.sharing.rematch() == 0  # nothing new held since: no second look, nothing twice
    by.x.close()
    ru.x.close()
