"""Freeze requests across borders: BY asks, RU verifies the signature, freezes at its own bank, BY sees the
frozen amount; forged or copied signatures are 401 with nothing stored; a replayed request is idempotent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from zaslon.adapters.db.tables_orders import freeze_orders
from zaslon.adapters.db.tables_sharing import freeze_requests, taxii_objects
from zaslon.adapters.stix import content as stix
from zaslon.adapters.stix.signing import public_key, sign
from zaslon.core.access import OrgKind
from zaslon.flow.orgs import Principal, create_org
from zaslon.lab.loopback import served

from .conftest import Country, country

BY_SEED, RU_SEED = "b1" * 32, "a7" * 32
RU_BANK = "SABRRUMM"
ACCOUNT_RU = "40817810099910004312"
MT = "application/taxii+json;version=2.1"


def ask(**over: object) -> stix.FreezeAsk:
    now = datetime.now(UTC)
    fields: dict[str, object] = dict(
        original_payment_id="tx-by-0042", original_payment_date=now - timedelta(hours=1), amount=250_000,
        currency="RUB", creditor_account=ACCOUNT_RU, creditor_agent=RU_BANK,
        legal_basis="Minsk Convention 1993, art. 8; criminal case 2026/0815", deadline=now + timedelta(days=3))
    fields.update(over)
    return stix.FreezeAsk(**fields)  # type: ignore[arg-type]


def pair(tmp_path: Path) -> tuple[Country, Country, str, str]:
    by = country(tmp_path, "BY", signing_key=BY_SEED, signing_key_id="by-sig-1")
    ru = country(tmp_path, "RU", signing_key=RU_SEED, signing_key_id="ru-sig-1")
    create_org(ru.engine, name="Sberbank", kind="bank", bank_id=RU_BANK)
    ru_at_by = create_org(by.engine, name="Zaslon RU", kind="partner").org_id
    by_at_ru = create_org(ru.engine, name="Zaslon BY", kind="partner")
    by.exchange.sharing.add_partner(ru_at_by, country="RU", verify_key=public_key(RU_SEED))
    ru.exchange.sharing.add_partner(by_at_ru.org_id, country="BY", verify_key=public_key(BY_SEED))
    return by, ru, ru_at_by, by_at_ru.api_key


def test_by_asks_ru_freezes_at_its_bank_and_by_sees_the_frozen_amount(tmp_path: Path) -> None:
    by, ru, ru_at_by, by_key_at_ru = pair(tmp_path)
    by_at_ru = "partner-zaslon-by"
    with served(ru.app) as ru_url:
        p = next(x for x in by.exchange.sharing.partners() if x.org_id == ru_at_by)
        assert p.verify_key == public_key(RU_SEED)
        # BY's side of the link: RU's server, its collections for BY, the key RU issued BY
        from zaslon.adapters.db.tables_sharing import partners
        with by.engine.begin() as conn:
            conn.execute(partners.update().where(partners.c.org_id == ru_at_by).values(
                taxii_url=f"{ru_url}/taxii2/zaslon/", remote_read=ru.exchange.sharing.outbox_id(by_at_ru),
                remote_write=ru.exchange.sharing.inbox_id, remote_token=by_key_at_ru))
        request_id = by.exchange.sharing.request_freeze(ru_at_by, ask(), by="desk-officer-3")
        assert by.exchange.sharing.request_freeze(ru_at_by, ask(), by="desk-officer-3") == request_id  # same ask
        out = by.exchange.sharing.sync(ru_at_by)[ru_at_by]
        assert "error" not in out, out
        # RU verified it and issued a freeze order at its own bank
        [order] = ru.exchange.list_orders(RU_BANK)
        assert (order.account_id, order.amount, order.currency) == (ACCOUNT_RU, 250_000, "RUB")
        assert "Minsk Convention" in order.legal_reference and request_id in order.legal_reference
        [incoming] = ru.exchange.sharing.freeze_requests("in")
        assert incoming["status"] == "orders_issued"
        # As binding at RU as an order of its own reports: the account is protected (its cash-outs blocked)
        from zaslon.core.knowledge import AccountFlag
        assert ru.exchange.knowledge.flags(ACCOUNT_RU) & AccountFlag.UNDER_ORDER
        # BY learns "orders issued" on its next pull, then the bank freezes and BY learns the amount
        by.exchange.sharing.sync(ru_at_by)
        [mine] = by.exchange.sharing.freeze_requests("out")
        assert (mine["status"], mine["orders_issued"]) == ("orders_issued", 1)
        bank = Principal("bank-sberbank", OrgKind.BANK, frozenset({"orders:write"}), RU_BANK)
        ru.exchange.acknowledge(bank, order.order_id)
        ru.exchange.frozen(bank, order.order_id, 180_000)
        ru.exchange.sharing.publish()  # RU answers again: its orders moved
        by.exchange.sharing.sync(ru_at_by)
        [mine] = by.exchange.sharing.freeze_requests("out")
        assert (mine["status"], mine["frozen_amount"]) == ("frozen", 180_000)
    # on BY's order board over HTTP
    police = create_org(by.engine, name="Desk", kind="police")
    with TestClient(by.app) as client:
        board = client.get("/v1/freeze-requests", headers={"Authorization": f"Bearer {police.api_key}"}).json()
    assert [(r["status"], r["frozen_amount"]) for r in board["freeze_requests"]] == [("frozen", 180_000)]
    by.exchange.close()
    ru.exchange.close()


def test_a_freeze_dated_behind_the_first_answer_still_reaches_the_requesting_board(tmp_path: Path) -> None:
    """RU's bank acts at a time behind RU's first answer (a node whose clock is behind, an action recorded
    back-dated, a run in event time): its new answer is still a newer version than the first one, BY's next
    pull still gets it, and BY's board shows the frozen amount."""
    by, ru, ru_at_by, by_key_at_ru = pair(tmp_path)
    by_at_ru = next(p.org_id for p in ru.exchange.sharing.partners())
    with served(ru.app) as ru_url:
        from zaslon.adapters.db.tables_sharing import partners
        with by.engine.begin() as conn:
            conn.execute(partners.update().where(partners.c.org_id == ru_at_by).values(
                taxii_url=f"{ru_url}/taxii2/zaslon/", remote_read=ru.exchange.sharing.outbox_id(by_at_ru),
                remote_write=ru.exchange.sharing.inbox_id, remote_token=by_key_at_ru))
        request_id = by.exchange.sharing.request_freeze(ru_at_by, ask(), by="desk")
        by.exchange.sharing.sync(ru_at_by)  # pushes the request; RU answers "orders issued" at its clock
        by.exchange.sharing.sync(ru_at_by)  # BY pulls that answer
        [mine] = by.exchange.sharing.freeze_requests("out")
        assert (mine["status"], mine["frozen_amount"]) == ("orders_issued", 0)
        [order] = ru.exchange.list_orders(RU_BANK)
        bank = Principal("bank-sberbank", OrgKind.BANK, frozenset({"orders:write"}), RU_BANK)
        behind = datetime.now(UTC) - timedelta(hours=2)
        ru.exchange.acknowledge(bank, order.order_id, at=behind)
        ru.exchange.frozen(bank, order.order_id, 180_000, at=behind)
        assert ru.exchange.sharing.refresh_freeze_answers(now=behind) == 1
        sharing = ru.exchange.sharing
        answer_id = stix.derived_id("freeze-response", sharing.author.name, request_id)
        answers = [json.loads(r.body) for r in sharing.store.versions_of(sharing.outbox_id(by_at_ru), answer_id)]
        assert [a["status"] for a in answers] == ["orders_issued", "frozen"]
        assert answers[0]["created"] == answers[1]["created"] and answers[1]["modified"] > answers[0]["modified"]
        by.exchange.sharing.sync(ru_at_by)
        [mine] = by.exchange.sharing.freeze_requests("out")
        assert (mine["status"], mine["frozen_amount"]) == ("frozen", 180_000)
    by.exchange.close()
    ru.exchange.close()


def test_a_request_for_a_bank_not_connected_there_is_refused_with_a_reason(tmp_path: Path) -> None:
    by, ru, ru_at_by, by_key_at_ru = pair(tmp_path)
    request_id = by.exchange.sharing.request_freeze(ru_at_by, ask(creditor_agent="TINFRUMM"), by="desk")
    obj = json.loads(by.exchange.sharing.store.freeze_request(request_id)["body"])  # type: ignore[index]
    with TestClient(ru.app) as client:
        r = client.post(f"/taxii2/zaslon/collections/{ru.exchange.sharing.inbox_id}/objects/",
                        json={"objects": [obj]},
                        headers={"Authorization": f"Bearer {by_key_at_ru}", "Content-Type": MT, "Accept": MT})
    assert r.status_code == 202
    [incoming] = ru.exchange.sharing.freeze_requests("in")
    assert incoming["status"] == "refused" and "TINFRUMM" in incoming["reason"]
    assert ru.exchange.list_orders(None) == []
    by.exchange.close()
    ru.exchange.close()


def count(c: Country, table: object) -> int:
    with c.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_forged_or_copied_signatures_get_401_and_a_replay_is_idempotent(tmp_path: Path) -> None:
    by, ru, ru_at_by, by_key_at_ru = pair(tmp_path)
    good = by.exchange.sharing.request_freeze(ru_at_by, ask(), by="desk")
    signed = json.loads(by.exchange.sharing.store.freeze_request(good)["body"])  # type: ignore[index]
    inbox = f"/taxii2/zaslon/collections/{ru.exchange.sharing.inbox_id}/objects/"
    headers = {"Authorization": f"Bearer {by_key_at_ru}", "Content-Type": MT, "Accept": MT}
    tampered = {**signed, "amount": 9_999_999}  # the amount changed after signing
    other = stix.build_freeze_request(by.exchange.sharing.author, ask(original_payment_id="tx-by-0043"),
                                      partner=ru_at_by, at=datetime.now(UTC))
    copied = {**other, "signature": signed["signature"]}  # a signature lifted from another request
    forged = sign(signed, "cc" * 32, "by-sig-1")  # signed with a key that is not BY's
    unsigned = {k: v for k, v in signed.items() if k != "signature"}
    with TestClient(ru.app) as client:
        for bad in (tampered, copied, forged, unsigned):
            r = client.post(inbox, json={"objects": [bad]}, headers=headers)
            assert r.status_code in (401, 422), r.text  # unsigned fails our schema first (signature required)
            assert r.status_code == 401 or bad is unsigned
        assert count(ru, taxii_objects) == 0 and count(ru, freeze_requests) == 0 and count(ru, freeze_orders) == 0
        for _ in range(2):  # the genuine request, then its replay
            assert client.post(inbox, json={"objects": [signed]}, headers=headers).status_code == 202
    assert count(ru, freeze_orders) == 1 and count(ru, freeze_requests) == 1
    by.exchange.close()
    ru.exchange.close()


def test_bad_freeze_requests_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    by, ru, ru_at_by, _ = pair(tmp_path)
    sharing = by.exchange.sharing
    import pytest

    from zaslon.errors import InvalidInput
    for bad in (ask(amount=0), ask(currency="rub"), ask(creditor_agent="nope"), ask(creditor_account="x"),
                ask(legal_basis=" "), ask(deadline=datetime.now(UTC) - timedelta(minutes=1))):
        with pytest.raises(InvalidInput):
            sharing.request_freeze(ru_at_by, bad, by="desk")
    with pytest.raises(InvalidInput):
        sharing.request_freeze("partner-nobody", ask(), by="desk")
    assert count(by, freeze_requests) == 0 and count(by, taxii_objects) == 0
    by.exchange.close()
    ru.exchange.close()


def test_a_report_whose_money_went_to_a_russian_account_yields_a_freeze_request(tmp_path: Path) -> None:
    from zaslon.core.types import Channel, Scheme, Transfer
    from zaslon.flow.intake import IncidentReport, Victim

    by, ru, _, by_key_at_ru = pair(tmp_path)
    t0 = datetime.now(UTC) - timedelta(hours=2)
    victim, drop = "BY13NBRB3600900000002Z00AB00", "BY86AKBB10100000002966000000"
    by.exchange.score(by.bank.org_id, [
        Transfer("t1", t0, victim, drop, 500_000, "BYN", Channel.MOBILE, payer_bank="NBRBBY2X",
                 payee_bank="AKBBBY2X", payee_country="BY"),
        Transfer("t2", t0 + timedelta(minutes=20), drop, ACCOUNT_RU, 450_000, "BYN", Channel.MOBILE,
                 payer_bank="AKBBBY2X", payee_bank=RU_BANK, payee_country="RU"),
    ])
    who = Principal(by.bank.org_id, OrgKind.BANK, frozenset({"incidents:write"}), None)
    out = by.exchange.report_incident(who, IncidentReport(
        by.bank.org_id, "bank", Scheme.VISHING, t0 + timedelta(hours=1), Victim(party_id="p-1"), ("t1",)))
    assert not out.followup_errors, out.followup_errors
    [request] = by.exchange.sharing.freeze_requests("out")
    assert (request["creditor_account"], request["creditor_agent"], request["amount"], request["status"]) == (
        ACCOUNT_RU, RU_BANK, 450_000, "sent")
    assert request["original_payment_id"] == "t2" and out.intake.incident.incident_id in request["legal_basis"]
    # it reaches RU as any push does, and RU freezes at its bank
    obj = json.loads(by.exchange.sharing.store.freeze_request(request["request_id"])["body"])  # type: ignore[index]
    with TestClient(ru.app) as client:
        r = client.post(f"/taxii2/zaslon/collections/{ru.exchange.sharing.inbox_id}/objects/",
                        json={"objects": [obj]},
                        headers={"Authorization": f"Bearer {by_key_at_ru}", "Content-Type": MT, "Accept": MT})
    assert r.status_code == 202
    [order] = ru.exchange.list_orders(RU_BANK)
    assert (order.account_id, order.amount) == (ACCOUNT_RU, 450_000)
    by.exchange.close()
    ru.exchange.close()


@pytest.mark.parametrize("flag_abroad", [False, True])
def test_the_next_payment_to_an_account_abroad_the_trace_found_is_held_here(tmp_path: Path,
                                                                             flag_abroad: bool) -> None:
    """With ``TraceSettings.flag_abroad_payees`` (off by default) the account abroad that the victim's money reached
    is a drop as those at home are: the freeze request goes, and what another drop pays to that account after the
    report is held here, not sent after the first. Off, the account is not flagged."""
    from dataclasses import replace

    from zaslon.core.knowledge import AccountFlag
    from zaslon.core.types import Channel, Scheme, Transfer
    from zaslon.flow.intake import IncidentReport, Victim

    by, _, _, _ = pair(tmp_path)
    by.exchange.tracer.settings = replace(by.exchange.tracer.settings, flag_abroad_payees=flag_abroad)
    t0 = datetime.now(UTC) - timedelta(hours=3)
    victim, drop, other_drop = ("BY13NBRB3600900000002Z00AB00", "BY86AKBB10100000002966000000",
                                "BY27AKBB10100000002966000111")
    by.exchange.score(by.bank.org_id, [
        Transfer("t1", t0, victim, drop, 500_000, "BYN", Channel.MOBILE, payer_bank="NBRBBY2X",
                 payee_bank="AKBBBY2X", payee_country="BY"),
        Transfer("t2", t0 + timedelta(minutes=20), drop, ACCOUNT_RU, 450_000, "BYN", Channel.MOBILE,
                 payer_bank="AKBBBY2X", payee_bank=RU_BANK, payee_country="RU"),
    ])
    assert not by.exchange.knowledge.flags(ACCOUNT_RU) & AccountFlag.TRACED
    who = Principal(by.bank.org_id, OrgKind.BANK, frozenset({"incidents:write"}), None)
    out = by.exchange.report_incident(who, IncidentReport(
        by.bank.org_id, "bank", Scheme.VISHING, t0 + timedelta(hours=1), Victim(party_id="p-1"), ("t1",)))
    assert not out.followup_errors, out.followup_errors
    assert len(by.exchange.sharing.freeze_requests("out")) == 1
    if not flag_abroad:
        assert not by.exchange.knowledge.flags(ACCOUNT_RU) & AccountFlag.TRACED
        by.exchange.close()
        return
    assert by.exchange.knowledge.flags(ACCOUNT_RU) & AccountFlag.TRACED
    [later] = by.exchange.score(by.bank.org_id, [
        Transfer("t3", t0 + timedelta(hours=2), other_drop, ACCOUNT_RU, 300_000, "BYN", Channel.MOBILE,
                 payer_bank="AKBBBY2X", payee_bank=RU_BANK, payee_country="RU")])
    assert later.decision.outcome.value in ("hold", "block")
    by.exchange.close()
