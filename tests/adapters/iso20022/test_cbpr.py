"""Real bank traffic: SWIFT CBPR+ pacs.008.001.08 in its AppHdr (head.001.001.02) envelope, as translated from
an MT103: UETR mandatory, TxId absent, EndToEndId NOTPROVIDED, the ordering customer identified by BIC."""

from __future__ import annotations

import pytest

from zaslon.adapters.iso20022.pacs008 import PARTY_AS_ACCOUNT, parse_pacs008
from zaslon.errors import InvalidInput

UETR = "8a562c67-ca16-48ba-b074-65581be6f011"
CDTR_IBAN = "BY39PJCB00003012000000000002"

PMT_ID = f"<InstrId>MT103REF20260302</InstrId><EndToEndId>NOTPROVIDED</EndToEndId><UETR>{UETR}</UETR>"
DEBTOR = "<Dbtr><Nm>OOO VEKTOR</Nm><Id><OrgId><AnyBIC>VEKTBY22XXX</AnyBIC></OrgId></Id></Dbtr>"
HEADER = """<AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">
    <Fr><FIId><FinInstnId><BICFI>DEUTDEFFXXX</BICFI></FinInstnId></FIId></Fr>
    <To><FIId><FinInstnId><BICFI>PJCBBY2XXXX</BICFI></FinInstnId></FIId></To>
    <BizMsgIdr>DEUT-20260302-77</BizMsgIdr>
    <MsgDefIdr>pacs.008.001.08</MsgDefIdr>
    <BizSvc>swift.cbprplus.02</BizSvc>
    <CreDt>2026-03-02T09:15:00Z</CreDt>
  </AppHdr>"""


def cbpr(pmt_id: str = PMT_ID, debtor: str = DEBTOR, header: str = HEADER, dbtr_acct: str = "",
         envelope: str = "Envelope") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<{envelope}>
  {header}
  <Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">
    <FIToFICstmrCdtTrf>
      <GrpHdr>
        <MsgId>DEUT-20260302-77</MsgId>
        <CreDtTm>2026-03-02T09:15:00+00:00</CreDtTm>
        <NbOfTxs>1</NbOfTxs>
        <SttlmInf><SttlmMtd>INDA</SttlmMtd></SttlmInf>
      </GrpHdr>
      <CdtTrfTxInf>
        <PmtId>{pmt_id}</PmtId>
        <IntrBkSttlmAmt Ccy="EUR">2500.00</IntrBkSttlmAmt>
        <IntrBkSttlmDt>2026-03-02</IntrBkSttlmDt>
        <ChrgBr>SHAR</ChrgBr>
        <InstgAgt><FinInstnId><BICFI>DEUTDEFFXXX</BICFI></FinInstnId></InstgAgt>
        <InstdAgt><FinInstnId><BICFI>PJCBBY2XXXX</BICFI></FinInstnId></InstdAgt>
        {debtor}{dbtr_acct}
        <DbtrAgt><FinInstnId><BICFI>DEUTDEFFXXX</BICFI></FinInstnId></DbtrAgt>
        <CdtrAgt><FinInstnId><BICFI>PJCBBY2XXXX</BICFI></FinInstnId></CdtrAgt>
        <Cdtr><Nm>IVAN PETROV</Nm></Cdtr>
        <CdtrAcct><Id><IBAN>{CDTR_IBAN}</IBAN></Id></CdtrAcct>
      </CdtTrfTxInf>
    </FIToFICstmrCdtTrf>
  </Document>
</{envelope}>""".encode()


def test_cbpr_message_from_an_mt103_is_accepted() -> None:
    msg = parse_pacs008(cbpr())
    [t] = msg.transfers
    assert t.transfer_id == UETR  # EndToEndId NOTPROVIDED and no TxId: the UETR identifies it
    assert (t.payer, t.payee, t.amount, t.currency) == ("BIC:VEKTBY22XXX", CDTR_IBAN, 250000, "EUR")
    assert (t.payer_bank, t.payee_bank) == ("DEUTDEFFXXX", "PJCBBY2XXXX")
    [note] = msg.notes[UETR]
    assert note.code == PARTY_AS_ACCOUNT and "VEKTBY22XXX" in note.detail and "DbtrAcct" in note.detail
    [ref] = msg.refs
    assert (ref.uetr, ref.instr_id, ref.end_to_end_id, ref.tx_id) == (UETR, "MT103REF20260302", "NOTPROVIDED", None)
    assert ref.settlement_date is not None and ref.settlement_date.isoformat() == "2026-03-02"
    assert msg.business_msg_id == "DEUT-20260302-77"


def test_instr_id_serves_when_there_is_no_uetr_and_the_account_wins_over_the_party() -> None:
    msg = parse_pacs008(cbpr(pmt_id="<InstrId>MT103REF1</InstrId><EndToEndId>NOTPROVIDED</EndToEndId>",
                             dbtr_acct="<DbtrAcct><Id><Othr><Id>40702810900000001</Id></Othr></Id></DbtrAcct>"))
    [t] = msg.transfers
    assert (t.transfer_id, t.payer) == ("MT103REF1", "40702810900000001")
    assert msg.notes == {}  # a real account: nothing assumed


@pytest.mark.parametrize(("debtor", "payer"), [
    ("<Dbtr><Id><OrgId><LEI>5299009QN8IU0K5YE931</LEI></OrgId></Id></Dbtr>", "LEI:5299009QN8IU0K5YE931"),
    ("<Dbtr><Id><OrgId><Othr><Id>UNP190000001</Id></Othr></OrgId></Id></Dbtr>", "ORG:UNP190000001"),
    ("<Dbtr><Id><PrvtId><Othr><Id>3010170A001PB1</Id></Othr></PrvtId></Id></Dbtr>", "PRVT:3010170A001PB1"),
])
def test_other_party_identifiers_stand_in_too(debtor: str, payer: str) -> None:
    msg = parse_pacs008(cbpr(debtor=debtor))
    assert msg.transfers[0].payer == payer and msg.notes[UETR][0].code == PARTY_AS_ACCOUNT


def test_the_document_alone_still_works() -> None:
    xml = cbpr().decode()
    start, end = xml.index("<Document"), xml.index("</Document>") + len("</Document>")
    msg = parse_pacs008(xml[start:end])
    assert msg.transfers[0].transfer_id == UETR and msg.business_msg_id is None


@pytest.mark.parametrize(("xml", "field", "fragment"), [
    (cbpr(pmt_id="<EndToEndId>NOTPROVIDED</EndToEndId>"), "CdtTrfTxInf[0].PmtId", "TxId, UETR or InstrId"),
    (cbpr(debtor="<Dbtr><Nm>OOO VEKTOR</Nm></Dbtr>"), "CdtTrfTxInf[0].DbtrAcct", "no identifier"),
    (cbpr(debtor="<Dbtr><Id><OrgId><AnyBIC>VEKTXX22</AnyBIC></OrgId></Id></Dbtr>"),
     "CdtTrfTxInf[0].Dbtr.Id.OrgId.AnyBIC", "not a valid BIC"),
    (cbpr(header=HEADER.replace("<MsgDefIdr>pacs.008.001.08", "<MsgDefIdr>pacs.009.001.08")),
     "AppHdr.MsgDefIdr", "pacs.009.001.08"),
    (cbpr(header=HEADER.replace("<BizMsgIdr>DEUT-20260302-77</BizMsgIdr>", "")), "AppHdr", "BizMsgIdr"),
    (cbpr(header=HEADER.replace("<CreDt>2026-03-02T09:15:00Z</CreDt>", "<CreDt>yesterday</CreDt>")),
     "AppHdr", "CreDt"),
    (cbpr(header=HEADER + HEADER), "AppHdr", "at most one"),
])
def test_bad_cbpr_input_is_refused_precisely(xml: bytes, field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_pacs008(xml)
    assert exc.value.field == field
    assert fragment in exc.value.message


def test_an_envelope_without_the_document_is_refused_as_xml() -> None:
    xml = cbpr().decode()
    start, end = xml.index("  <Document"), xml.index("</Document>") + len("</Document>")
    with pytest.raises(InvalidInput, match="expected a Document") as exc:
        parse_pacs008(xml[:start] + xml[end:])
    assert exc.value.field == "xml"
