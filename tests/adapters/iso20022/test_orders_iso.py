from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as SafeET
import pytest

from zaslon.adapters.iso20022.camt056 import NS as CAMT
from zaslon.adapters.iso20022.camt056 import render_camt056
from zaslon.adapters.iso20022.pacs004 import NS as PACS
from zaslon.adapters.iso20022.pacs004 import render_pacs004
from zaslon.core.types import FreezeOrder, OrderStatus
from zaslon.errors import Conflict

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORDER = FreezeOrder(
    order_id="FO-ABC123", incident_id="inc-42", bank_id="PJCBBY2X", account_id="BY13NBRB3600900000002Z00AB00",
    amount=123456, currency="BYN", legal_reference="Art. 164 CPC RB / incident inc-42", issued_at=NOW,
    deadline=NOW + timedelta(hours=72),
)


def test_camt056_is_well_formed_with_namespace_and_fields() -> None:
    doc = SafeET.fromstring(render_camt056(ORDER, created_at=NOW))
    n = {"c": CAMT}
    assert doc.tag == f"{{{CAMT}}}Document"
    assert doc.findtext("c:FIToFIPmtCxlReq/c:Assgnmt/c:Id", namespaces=n) == "FO-ABC123"
    assert doc.findtext("c:FIToFIPmtCxlReq/c:Assgnmt/c:Assgne/c:Agt/c:FinInstnId/c:BICFI", namespaces=n) == "PJCBBY2X"
    assert doc.findtext("c:FIToFIPmtCxlReq/c:Assgnmt/c:CreDtTm", namespaces=n) == "2026-03-01T12:00:00Z"
    assert doc.findtext("c:FIToFIPmtCxlReq/c:Case/c:Id", namespaces=n) == "inc-42"
    tx = doc.find("c:FIToFIPmtCxlReq/c:Undrlyg/c:TxInf", namespaces=n)
    assert tx is not None
    amt = tx.find("c:OrgnlIntrBkSttlmAmt", namespaces=n)
    assert amt is not None and amt.text == "1234.56" and amt.get("Ccy") == "BYN"
    assert tx.findtext("c:CxlRsnInf/c:Rsn/c:Cd", namespaces=n) == "FRAD"
    infos = [e.text for e in tx.findall("c:CxlRsnInf/c:AddtlInf", namespaces=n)]
    assert infos[0] == "Art. 164 CPC RB / incident inc-42" and infos[1].startswith("Freeze 1234.56 BYN by 2026-03-04")
    assert tx.findtext("c:OrgnlTxRef/c:CdtrAcct/c:Id/c:IBAN", namespaces=n) == "BY13NBRB3600900000002Z00AB00"


def test_camt056_non_iban_account_goes_to_other_id() -> None:
    doc = SafeET.fromstring(render_camt056(replace(ORDER, account_id="WALLET-1"), created_at=NOW))
    n = {"c": CAMT}
    assert doc.findtext(".//c:CdtrAcct/c:Id/c:Othr/c:Id", namespaces=n) == "WALLET-1"


def test_pacs004_return_only_after_return() -> None:
    with pytest.raises(Conflict):
        render_pacs004(ORDER, created_at=NOW)
    done = replace(ORDER, status=OrderStatus.RETURNED, frozen_amount=100000, returned_amount=100000)
    doc = SafeET.fromstring(render_pacs004(done, created_at=NOW))
    n = {"p": PACS}
    assert doc.tag == f"{{{PACS}}}Document"
    assert doc.findtext("p:PmtRtr/p:GrpHdr/p:NbOfTxs", namespaces=n) == "1"
    tx = doc.find("p:PmtRtr/p:TxInf", namespaces=n)
    assert tx is not None
    assert tx.find("p:OrgnlTxId", namespaces=n) is None  # no original payment known: no id made up
    assert tx.findtext("p:OrgnlTxRef/p:CdtrAcct/p:Id/p:IBAN", namespaces=n) == ORDER.account_id
    amt = tx.find("p:RtrdIntrBkSttlmAmt", namespaces=n)
    assert amt is not None and (amt.text, amt.get("Ccy")) == ("1000.00", "BYN")
    assert tx.findtext("p:RtrRsnInf/p:Rsn/p:Cd", namespaces=n) == "FR01"
    assert tx.findtext("p:InstgAgt/p:FinInstnId/p:BICFI", namespaces=n) == "PJCBBY2X"
