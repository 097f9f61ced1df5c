"""camt.056 and pacs.004 quote the original payments and are valid ISO 20022; pacs.002 too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import defusedxml.ElementTree as SafeET
import pytest

from zaslon.adapters.iso20022.camt056 import NS as CAMT
from zaslon.adapters.iso20022.camt056 import render_camt056
from zaslon.adapters.iso20022.pacs002 import render_pacs002
from zaslon.adapters.iso20022.pacs004 import NS as PACS
from zaslon.adapters.iso20022.pacs004 import render_pacs004
from zaslon.adapters.iso20022.pacs008 import TxRef
from zaslon.core.recall import OrderOrigin, PaymentRef
from zaslon.core.types import Decision, FreezeOrder, OrderStatus, Outcome, Reason
from zaslon.errors import Conflict

Check = Callable[[bytes, str], list[str]]
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VICTIM = "BY19AKBB00003012000000000001"
DROP1 = "BY39PJCB00003012000000000002"
DROP2 = "BY12PJCB00003012000000000003"
UETR_V = "6a1b8e0e-3f0a-4c6e-9a51-0c1d2e3f4a5b"
UETR_R = "0f9e8d7c-6b5a-4948-8372-615049382716"
ORDER = FreezeOrder(
    order_id="FO-ABC123", incident_id="inc-42", bank_id="PJCBBY2X", account_id=DROP2,
    amount=123456, currency="BYN", legal_reference="Art. 164 CPC RB / incident inc-42", issued_at=NOW,
    deadline=NOW + timedelta(hours=72),
)
VICTIM_PAYMENT = PaymentRef(
    transfer_id=UETR_V, amount=200000, currency="BYN", ts=NOW - timedelta(hours=2), payer=VICTIM, payee=DROP1,
    payer_bank="AKBBBY2X", payee_bank="PJCBBY2X", end_to_end_id="NOTPROVIDED", tx_id=None, uetr=UETR_V,
    instr_id="AKBB-INS-7", msg_id="AKBB-MSG-1", settlement_date=date(2026, 3, 1),
)
RECALLED = PaymentRef(
    transfer_id="PJCB-TX-9", amount=150000, currency="BYN", ts=NOW - timedelta(hours=1), payer=DROP1, payee=DROP2,
    payer_bank="PJCBBY2X", payee_bank="PJCBBY2X", end_to_end_id="E2E-9", tx_id="PJCB-TX-9", uetr=UETR_R,
    instr_id="PJCB-INS-9", msg_id="PJCB-MSG-4", settlement_date=date(2026, 3, 1),
)
ORIGIN = OrderOrigin(recalled=RECALLED, victim=VICTIM_PAYMENT)
C = {"c": CAMT}
P = {"p": PACS}


def test_camt056_quotes_the_payment_into_the_frozen_account_and_is_valid(xsd_errors: Check) -> None:
    xml = render_camt056(ORDER, created_at=NOW, origin=ORIGIN)
    assert xsd_errors(xml, "camt.056.001.12") == []
    tx = SafeET.fromstring(xml).find("c:FIToFIPmtCxlReq/c:Undrlyg/c:TxInf", C)
    assert tx is not None
    got = {t: tx.findtext(f"c:{t}", namespaces=C)
           for t in ("CxlId", "OrgnlInstrId", "OrgnlEndToEndId", "OrgnlTxId", "OrgnlUETR", "OrgnlIntrBkSttlmDt")}
    assert got == {"CxlId": "FO-ABC123", "OrgnlInstrId": "PJCB-INS-9", "OrgnlEndToEndId": "E2E-9",
                   "OrgnlTxId": "PJCB-TX-9", "OrgnlUETR": UETR_R, "OrgnlIntrBkSttlmDt": "2026-03-01"}
    assert tx.findtext("c:OrgnlGrpInf/c:OrgnlMsgId", namespaces=C) == "PJCB-MSG-4"
    assert tx.findtext("c:OrgnlGrpInf/c:OrgnlMsgNmId", namespaces=C) == "pacs.008.001.08"
    amt = tx.find("c:OrgnlIntrBkSttlmAmt", C)
    assert amt is not None and (amt.text, amt.get("Ccy")) == ("1500.00", "BYN")  # the payment's, not the order's
    assert tx.findtext("c:CxlRsnInf/c:Rsn/c:Cd", namespaces=C) == "FRAD"
    infos = [e.text or "" for e in tx.findall("c:CxlRsnInf/c:AddtlInf", C)]
    assert infos[0] == ORDER.legal_reference and infos[1] == "Freeze 1234.56 BYN by 2026-03-04T12:00:00Z"
    assert any(UETR_V in i for i in infos)  # traced from the victim's payment
    assert tx.findtext("c:OrgnlTxRef/c:DbtrAcct/c:Id/c:IBAN", namespaces=C) == DROP1
    assert tx.findtext("c:OrgnlTxRef/c:CdtrAgt/c:FinInstnId/c:BICFI", namespaces=C) == "PJCBBY2X"
    assert tx.findtext("c:OrgnlTxRef/c:CdtrAcct/c:Id/c:IBAN", namespaces=C) == DROP2
    assert "FO-ABC123" not in (tx.findtext("c:OrgnlTxId", namespaces=C) or "")


def test_camt056_without_a_known_original_payment_is_still_valid(xsd_errors: Check) -> None:
    for order in (ORDER, replace(ORDER, account_id="WALLET-1")):
        xml = render_camt056(order, created_at=NOW)
        assert xsd_errors(xml, "camt.056.001.12") == []
        tx = SafeET.fromstring(xml).find("c:FIToFIPmtCxlReq/c:Undrlyg/c:TxInf", C)
        assert tx is not None and tx.find("c:OrgnlTxId", C) is None  # never our order id in its place
    doc = SafeET.fromstring(render_camt056(replace(ORDER, account_id="WALLET-1"), created_at=NOW))
    assert doc.findtext(".//c:CdtrAcct/c:Id/c:Othr/c:Id", namespaces=C) == "WALLET-1"


def test_an_id_longer_than_iso_allows_travels_as_information(xsd_errors: Check) -> None:
    long_id = "json-transfer-" + "x" * 40
    recalled = replace(RECALLED, transfer_id=long_id, end_to_end_id=long_id, tx_id=long_id, uetr=None,
                       instr_id=None, msg_id=None)
    xml = render_camt056(ORDER, created_at=NOW, origin=replace(ORIGIN, recalled=recalled))
    assert xsd_errors(xml, "camt.056.001.12") == []
    assert f"OrgnlTxId {long_id}" in xml.decode()


def test_the_official_xsd_refuses_what_it_should(xsd_errors: Check) -> None:
    xml = render_camt056(ORDER, created_at=NOW, origin=ORIGIN)
    assert xsd_errors(xml.replace(b"<Cd>FRAD</Cd>", b"<Cd>FRAUD</Cd>"), "camt.056.001.12")  # 4 letters max
    assert xsd_errors(xml.replace(UETR_R.encode(), b"not-a-uuid"), "camt.056.001.12")
    assert xsd_errors(xml.replace(b"<CxlId>", b"<Surprise/><CxlId>"), "camt.056.001.12")


def test_pacs004_returns_to_the_victims_account_quoting_the_victims_payment(binding_errors: Check) -> None:
    with pytest.raises(Conflict):
        render_pacs004(ORDER, created_at=NOW, origin=ORIGIN)
    done = replace(ORDER, status=OrderStatus.RETURNED, frozen_amount=100000, returned_amount=100000)
    xml = render_pacs004(done, created_at=NOW, origin=ORIGIN)
    assert binding_errors(xml, "pacs.004.001.09") == []
    doc = SafeET.fromstring(xml)
    assert doc.tag == f"{{{PACS}}}Document"
    tx = doc.find("p:PmtRtr/p:TxInf", P)
    assert tx is not None
    assert tx.findtext("p:OrgnlUETR", namespaces=P) == UETR_V
    assert tx.findtext("p:OrgnlInstrId", namespaces=P) == "AKBB-INS-7"
    assert tx.findtext("p:OrgnlEndToEndId", namespaces=P) == "NOTPROVIDED"
    assert tx.find("p:OrgnlTxId", P) is None  # the victim's bank sent none: none is made up
    assert tx.findtext("p:OrgnlGrpInf/p:OrgnlMsgId", namespaces=P) == "AKBB-MSG-1"
    amt = tx.find("p:RtrdIntrBkSttlmAmt", P)
    assert amt is not None and (amt.text, amt.get("Ccy")) == ("1000.00", "BYN")
    assert tx.findtext("p:RtrRsnInf/p:Rsn/p:Cd", namespaces=P) == "FR01"
    assert tx.findtext("p:InstgAgt/p:FinInstnId/p:BICFI", namespaces=P) == "PJCBBY2X"
    assert tx.findtext("p:InstdAgt/p:FinInstnId/p:BICFI", namespaces=P) == "AKBBBY2X"
    assert tx.findtext("p:OrgnlTxRef/p:DbtrAcct/p:Id/p:IBAN", namespaces=P) == VICTIM
    assert tx.findtext("p:OrgnlTxRef/p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=P) == "AKBBBY2X"
    infos = [e.text or "" for e in tx.findall("p:RtrRsnInf/p:AddtlInf", P)]
    assert any(DROP2 in i and "FO-ABC123" in i for i in infos)


def test_pacs004_of_a_partial_return_and_without_origin(binding_errors: Check) -> None:
    part = replace(ORDER, status=OrderStatus.FROZEN, frozen_amount=100000, returned_amount=40000)
    for origin in (ORIGIN, None):
        assert binding_errors(render_pacs004(part, created_at=NOW, origin=origin), "pacs.004.001.09") == []


def test_the_bindings_refuse_what_they_should(binding_errors: Check) -> None:
    done = replace(ORDER, returned_amount=100000)
    xml = render_pacs004(done, created_at=NOW, origin=ORIGIN)
    assert binding_errors(xml.replace(b"<RtrId>", b"<Surprise/><RtrId>"), "pacs.004.001.09")
    assert binding_errors(xml.replace(b"<NbOfTxs>1</NbOfTxs>", b""), "pacs.004.001.09")
    swapped = xml.replace(b"<OrgnlInstrId>AKBB-INS-7</OrgnlInstrId><OrgnlEndToEndId>NOTPROVIDED</OrgnlEndToEndId>",
                          b"<OrgnlEndToEndId>NOTPROVIDED</OrgnlEndToEndId><OrgnlInstrId>AKBB-INS-7</OrgnlInstrId>")
    assert swapped != xml and binding_errors(swapped, "pacs.004.001.09")


def test_pacs002_fits_its_definition(binding_errors: Check) -> None:
    decisions = [
        Decision("TX-1", Outcome.BLOCK, 0.97, (Reason("rule:drop", "payee is a drop"),), None, "v3", "m1"),
        Decision("TX-2", Outcome.HOLD, 0.81, (), NOW + timedelta(days=2), "v3", "m1"),
        Decision("TX-3", Outcome.ALLOW, 0.01, (), None, "v3", "m1"),
    ]
    refs = [TxRef("TX-1", "E-1", "TX-1", UETR_R, "I-1"), TxRef("TX-2", "NOTPROVIDED", None, UETR_V, None),
            TxRef("TX-3", "E-3", "TX-3", None, None)]
    xml = render_pacs002(decisions, refs, msg_id="R-1", original_msg_id="M-1", created_at=NOW)
    assert binding_errors(xml, "pacs.002.001.10") == []


@pytest.mark.parametrize(("stand_in", "path", "value"), [
    ("BIC:VEKTBY22XXX", "Pty/{ns}Id/{ns}OrgId/{ns}AnyBIC", "VEKTBY22XXX"),
    ("LEI:5299009QN8IU0K5YE931", "Pty/{ns}Id/{ns}OrgId/{ns}LEI", "5299009QN8IU0K5YE931"),
    ("ORG:UNP190000001", "Pty/{ns}Id/{ns}OrgId/{ns}Othr/{ns}Id", "UNP190000001"),
    ("PRVT:3010170A001PB1", "Pty/{ns}Id/{ns}PrvtId/{ns}Othr/{ns}Id", "3010170A001PB1"),
])
def test_a_party_that_stood_in_for_an_account_is_quoted_as_the_party(  # type: ignore[no-untyped-def]
        stand_in: str, path: str, value: str, xsd_errors: Check, binding_errors: Check) -> None:
    origin = OrderOrigin(recalled=replace(RECALLED, payer=stand_in), victim=replace(VICTIM_PAYMENT, payer=stand_in))
    camt = render_camt056(ORDER, created_at=NOW, origin=origin)
    assert xsd_errors(camt, "camt.056.001.12") == []
    ref = SafeET.fromstring(camt).find(".//c:OrgnlTxRef", C)
    assert ref is not None and ref.find("c:DbtrAcct", C) is None
    assert ref.findtext(f"{{{CAMT}}}Dbtr/{{{CAMT}}}" + path.format(ns=f"{{{CAMT}}}")) == value
    pacs = render_pacs004(replace(ORDER, returned_amount=100), created_at=NOW, origin=origin)
    assert binding_errors(pacs, "pacs.004.001.09") == []
    ref = SafeET.fromstring(pacs).find(".//p:OrgnlTxRef", P)
    assert ref is not None and ref.find("p:DbtrAcct", P) is None
    assert ref.findtext(f"{{{PACS}}}Dbtr/{{{PACS}}}" + path.format(ns=f"{{{PACS}}}")) == value


def test_an_accepted_transfer_read_with_an_assumption_says_so_in_pacs002(binding_errors: Check) -> None:
    note = Reason("iso:party-id-as-account", "no DbtrAcct: Dbtr identified by BIC VEKTBY22XXX")
    decisions = [Decision("TX-1", Outcome.ALLOW, 0.01, (note,), None, "v3", "m1"),
                 Decision("TX-2", Outcome.ALLOW, 0.01, (Reason("model", "low risk"),), None, "v3", "m1")]
    refs = [TxRef("TX-1", "NOTPROVIDED", None, UETR_R, None), TxRef("TX-2", "E-2", "TX-2", None, None)]
    xml = render_pacs002(decisions, refs, msg_id="R-1", original_msg_id="M-1", created_at=NOW)
    assert binding_errors(xml, "pacs.002.001.10") == []
    n = {"s": "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"}
    first, second = SafeET.fromstring(xml).findall(".//s:TxInfAndSts", n)
    assert "VEKTBY22XXX" in (first.findtext("s:StsRsnInf/s:AddtlInf", namespaces=n) or "")
    assert second.find("s:StsRsnInf", n) is None  # an ordinary acceptance stays as it was
