"""Over HTTP: banks send CBPR+ pacs.008, a victim's report traces the money through two drops, and the
orders' camt.056 and pacs.004 quote the banks' own payment ids and the victim's account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as SafeET
from fastapi.testclient import TestClient

from zaslon.adapters.iso20022.camt056 import NS as CAMT
from zaslon.adapters.iso20022.pacs004 import NS as PACS

Check = Callable[[bytes, str], list[str]]
VICTIM = "BY19AKBB00003012000000000001"
DROP1 = "BY39PJCB00003012000000000002"
DROP2 = "BY12PJCB00003012000000000003"
UETR_V = "6a1b8e0e-3f0a-4c6e-9a51-0c1d2e3f4a5b"
UETR_R = "0f9e8d7c-6b5a-4948-8372-615049382716"
XML = {"Content-Type": "application/xml"}


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def pacs008(msg_id: str, pmt_id: str, at: datetime, amount: str, payer: str, payee: str, payer_bic: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<BizMsg>
  <AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">
    <Fr><FIId><FinInstnId><BICFI>{payer_bic}</BICFI></FinInstnId></FIId></Fr>
    <To><FIId><FinInstnId><BICFI>PJCBBY2X</BICFI></FinInstnId></FIId></To>
    <BizMsgIdr>{msg_id}</BizMsgIdr><MsgDefIdr>pacs.008.001.08</MsgDefIdr><CreDt>{_ts(at)}</CreDt>
  </AppHdr>
  <Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>
    <GrpHdr><MsgId>{msg_id}</MsgId><CreDtTm>{_ts(at)}</CreDtTm><NbOfTxs>1</NbOfTxs>
      <SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>
    <CdtTrfTxInf>
      <PmtId>{pmt_id}</PmtId>
      <IntrBkSttlmAmt Ccy="BYN">{amount}</IntrBkSttlmAmt><IntrBkSttlmDt>{at.date().isoformat()}</IntrBkSttlmDt>
      <AccptncDtTm>{_ts(at)}</AccptncDtTm><ChrgBr>SLEV</ChrgBr>
      <Dbtr/><DbtrAcct><Id><IBAN>{payer}</IBAN></Id></DbtrAcct>
      <DbtrAgt><FinInstnId><BICFI>{payer_bic}</BICFI></FinInstnId></DbtrAgt>
      <CdtrAgt><FinInstnId><BICFI>PJCBBY2X</BICFI></FinInstnId></CdtrAgt>
      <Cdtr/><CdtrAcct><Id><IBAN>{payee}</IBAN></Id></CdtrAcct>
    </CdtTrfTxInf>
  </FIToFICstmrCdtTrf></Document>
</BizMsg>""".encode()


def test_orders_quote_the_original_payments_end_to_end(  # type: ignore[no-untyped-def]
        client: TestClient, bank, other_bank, xsd_errors: Check, binding_errors: Check) -> None:
    t0 = datetime.now(UTC) - timedelta(hours=3)
    victim_pays = pacs008("AKBB-MSG-1", f"<InstrId>AKBB-INS-7</InstrId><EndToEndId>NOTPROVIDED</EndToEndId>"
                          f"<UETR>{UETR_V}</UETR>", t0, "2000.00", VICTIM, DROP1, "AKBBBY2X")
    r = client.post("/v1/transfers/score", content=victim_pays, headers={**bank.headers, **XML})
    assert r.status_code == 200, r.text
    assert r.json()[0]["transfer_id"] == UETR_V
    drop_moves = pacs008("PJCB-MSG-4", f"<InstrId>PJCB-INS-9</InstrId><EndToEndId>E2E-9</EndToEndId>"
                         f"<TxId>PJCB-TX-9</TxId><UETR>{UETR_R}</UETR>", t0 + timedelta(minutes=20), "1500.00",
                         DROP1, DROP2, "PJCBBY2X")
    r = client.post("/v1/transfers/score", content=drop_moves, headers={**other_bank.headers, **XML})
    assert r.status_code == 200, r.text

    report = {"scheme": "vishing", "transfer_ids": [UETR_V], "text": "Звонили из «службы безопасности банка».",
              "victim": {"party_id": "p-1", "name": "Галина Петровна", "age": 78}}
    r = client.post("/v1/incidents", json=report, headers=bank.headers)
    assert r.status_code == 201, r.text
    orders = {o["account_id"]: o for o in client.get("/v1/orders", headers=other_bank.headers).json()["orders"]}
    assert set(orders) == {DROP1, DROP2}
    oid = orders[DROP2]["order_id"]

    camt = client.get(f"/v1/orders/{oid}/camt056", headers=other_bank.headers)
    assert camt.status_code == 200
    assert xsd_errors(camt.content, "camt.056.001.12") == []
    tx = SafeET.fromstring(camt.content).find("c:FIToFIPmtCxlReq/c:Undrlyg/c:TxInf", {"c": CAMT})
    assert tx is not None
    quoted = {t: tx.findtext(f"c:{t}", namespaces={"c": CAMT})
              for t in ("OrgnlInstrId", "OrgnlEndToEndId", "OrgnlTxId", "OrgnlUETR", "OrgnlIntrBkSttlmAmt")}
    assert quoted == {"OrgnlInstrId": "PJCB-INS-9", "OrgnlEndToEndId": "E2E-9", "OrgnlTxId": "PJCB-TX-9",
                      "OrgnlUETR": UETR_R, "OrgnlIntrBkSttlmAmt": "1500.00"}
    assert tx.findtext("c:CxlRsnInf/c:Rsn/c:Cd", namespaces={"c": CAMT}) == "FRAD"
    # The drop paid by the victim directly: its recall quotes the victim's own payment.
    first = client.get(f"/v1/orders/{orders[DROP1]['order_id']}/camt056", headers=other_bank.headers)
    assert SafeET.fromstring(first.content).findtext(".//c:OrgnlUETR", namespaces={"c": CAMT}) == UETR_V

    for step, body in (("ack", None), ("frozen", {"amount": 150000}), ("returned", {"amount": 150000})):
        assert client.post(f"/v1/orders/{oid}/{step}", json=body, headers=other_bank.headers).status_code == 200
    pacs = client.get(f"/v1/orders/{oid}/pacs004", headers=other_bank.headers)
    assert pacs.status_code == 200
    assert binding_errors(pacs.content, "pacs.004.001.09") == []
    p = {"p": PACS}
    rtx = SafeET.fromstring(pacs.content).find("p:PmtRtr/p:TxInf", p)
    assert rtx is not None
    assert rtx.findtext("p:OrgnlUETR", namespaces=p) == UETR_V
    assert rtx.findtext("p:OrgnlTxRef/p:DbtrAcct/p:Id/p:IBAN", namespaces=p) == VICTIM
    assert rtx.findtext("p:InstdAgt/p:FinInstnId/p:BICFI", namespaces=p) == "AKBBBY2X"
    # Another bank learns nothing of it.
    assert client.get(f"/v1/orders/{oid}/camt056", headers=bank.headers).status_code == 404


def test_a_refused_message_keeps_no_payment_ids(client: TestClient, bank, engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from zaslon.adapters.db.tables_iso import payment_refs

    bad = pacs008("M-1", "<EndToEndId>NOTPROVIDED</EndToEndId>", datetime.now(UTC), "10.00", VICTIM, DROP1,
                  "AKBBBY2X")
    r = client.post("/v1/transfers/score", content=bad, headers={**bank.headers, **XML})
    assert r.status_code == 422 and r.json()["field"] == "CdtTrfTxInf[0].PmtId"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payment_refs)).scalar_one() == 0
