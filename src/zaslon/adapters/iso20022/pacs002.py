"""Write decisions as ISO 20022 pacs.002.001.10 (FIToFIPaymentStatusReport), and build pacs.008 messages.

Status codes (ExternalPaymentTransactionStatus1Code): allow -> ACCP (accepted: the customer-profile and
fraud check passed), review/hold -> PDNG (pending), block -> RJCT with reason code FRAD (fraudulent
origin, ExternalStatusReason1Code). Our own reasons travel as ``AddtlInf`` (Max105Text each).

The pacs.008 builder is small on purpose: it writes what ``parse_pacs008`` reads, valid against the
official XSD, for tests, benches and the demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from zaslon.adapters.iso20022.pacs008 import MSG_NAME, NS, TxRef
from zaslon.core.money import minor_exponent
from zaslon.core.types import Decision, Outcome, Transfer

NS_002 = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"

STATUS = {Outcome.ALLOW: "ACCP", Outcome.REVIEW: "PDNG", Outcome.HOLD: "PDNG", Outcome.BLOCK: "RJCT"}


def _ts(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _e(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _max(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def render_pacs002(
    decisions: Sequence[Decision],
    refs: Sequence[TxRef],
    *,
    msg_id: str,
    original_msg_id: str,
    created_at: datetime,
) -> bytes:
    """One status report for one pacs.008: a TxInfAndSts per decision, in the message's order."""
    by_id = {r.transfer_id: r for r in refs}
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Document xmlns="{NS_002}"><FIToFIPmtStsRpt>',
        f"<GrpHdr><MsgId>{_e(_max(msg_id, 35))}</MsgId><CreDtTm>{_ts(created_at)}</CreDtTm></GrpHdr>",
        "<OrgnlGrpInfAndSts>",
        f"<OrgnlMsgId>{_e(original_msg_id)}</OrgnlMsgId><OrgnlMsgNmId>{MSG_NAME}</OrgnlMsgNmId>",
        f"<OrgnlNbOfTxs>{len(decisions)}</OrgnlNbOfTxs>",
        *_model_versions(decisions),
        "</OrgnlGrpInfAndSts>",
    ]
    for d in decisions:
        ref = by_id.get(d.transfer_id) or TxRef(d.transfer_id, d.transfer_id, d.transfer_id, None, None)
        parts.append("<TxInfAndSts>")
        if ref.instr_id:
            parts.append(f"<OrgnlInstrId>{_e(ref.instr_id)}</OrgnlInstrId>")
        parts.append(f"<OrgnlEndToEndId>{_e(ref.end_to_end_id)}</OrgnlEndToEndId>")
        if ref.tx_id:
            parts.append(f"<OrgnlTxId>{_e(ref.tx_id)}</OrgnlTxId>")
        if ref.uetr:
            parts.append(f"<OrgnlUETR>{_e(ref.uetr)}</OrgnlUETR>")
        parts.append(f"<TxSts>{STATUS[d.outcome]}</TxSts>")
        if d.outcome is not Outcome.ALLOW:
            parts.append(_reason(d))
        elif notes := [r for r in d.reasons if r.code.startswith("iso:")]:
            # accepted, but read with an assumption (a party id for an account): the bank should know
            addtl = "".join(f"<AddtlInf>{_e(_max(f'{r.code}: {r.detail}', 105))}</AddtlInf>" for r in notes[:4])
            parts.append(f"<StsRsnInf>{addtl}</StsRsnInf>")
        parts.append("</TxInfAndSts>")
    parts.append("</FIToFIPmtStsRpt></Document>")
    return "".join(parts).encode()


def _model_versions(decisions: Sequence[Decision]) -> list[str]:
    """The model version(s) that decided the message, once for the group (an accepted payment has no reason)."""
    versions = sorted({d.model_version for d in decisions if d.model_version})
    if not versions:
        return []
    return ["<StsRsnInf>" + "".join(f"<AddtlInf>{_e(_max(f'model={v}', 105))}</AddtlInf>" for v in versions[:5])
            + "</StsRsnInf>"]


def _reason(d: Decision) -> str:
    code = "<Cd>FRAD</Cd>" if d.outcome is Outcome.BLOCK else f"<Prtry>{d.outcome.value.upper()}</Prtry>"
    info = [f"score={d.score:.4f}"]
    if d.hold_until is not None:
        info.append(f"hold_until={_ts(d.hold_until)}")
    if d.ruleset_version:
        info.append(f"rules={d.ruleset_version}")
    lines = [" ".join(info)]
    if d.model_version:  # its own line: a version id must never be cut off at Max105Text
        lines.append(f"model={d.model_version}")
    lines += [f"{r.code}: {r.detail}" for r in d.reasons[:4]]
    addtl = "".join(f"<AddtlInf>{_e(_max(line, 105))}</AddtlInf>" for line in lines)
    return f"<StsRsnInf><Rsn>{code}</Rsn>{addtl}</StsRsnInf>"


def _amount_text(amount: int, currency: str) -> str:
    exp = minor_exponent(currency)
    return f"{Decimal(amount).scaleb(-exp):.{exp}f}"


def _account(account_id: str) -> str:
    try:
        iban = IBAN(account_id)
    except SchwiftyException:
        return f"<Id><Othr><Id>{_e(account_id)}</Id></Othr></Id>"
    return f"<Id><IBAN>{iban.compact}</IBAN></Id>"


def _agent(bic: str | None) -> str:
    return f"<FinInstnId><BICFI>{bic}</BICFI></FinInstnId>" if bic else "<FinInstnId/>"


def build_pacs008(
    transfers: Sequence[Transfer],
    *,
    msg_id: str,
    created_at: datetime,
    with_ctrl_sum: bool = True,
) -> bytes:
    """A pacs.008.001.08 message carrying ``transfers`` (one CdtTrfTxInf each), valid against the XSD."""
    ctrl = ""
    if with_ctrl_sum and transfers:
        total = sum(Decimal(t.amount).scaleb(-minor_exponent(t.currency)) for t in transfers)
        ctrl = f"<CtrlSum>{total}</CtrlSum>"
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<Document xmlns="{NS}"><FIToFICstmrCdtTrf><GrpHdr>',
        f"<MsgId>{_e(msg_id)}</MsgId><CreDtTm>{_ts(created_at)}</CreDtTm>",
        f"<NbOfTxs>{len(transfers)}</NbOfTxs>{ctrl}",
        "<SttlmInf><SttlmMtd>CLRG</SttlmMtd></SttlmInf></GrpHdr>",
    ]
    for t in transfers:
        parts += [
            "<CdtTrfTxInf><PmtId>",
            f"<EndToEndId>{_e(t.transfer_id)}</EndToEndId><TxId>{_e(t.transfer_id)}</TxId></PmtId>",
            f'<IntrBkSttlmAmt Ccy="{t.currency}">{_amount_text(t.amount, t.currency)}</IntrBkSttlmAmt>',
            f"<AccptncDtTm>{_ts(t.ts)}</AccptncDtTm>",
            "<ChrgBr>SLEV</ChrgBr>",
            f"<Dbtr/><DbtrAcct>{_account(t.payer)}</DbtrAcct><DbtrAgt>{_agent(t.payer_bank)}</DbtrAgt>",
            f"<CdtrAgt>{_agent(t.payee_bank)}</CdtrAgt><Cdtr/><CdtrAcct>{_account(t.payee)}</CdtrAcct>",
            "</CdtTrfTxInf>",
        ]
    parts.append("</FIToFICstmrCdtTrf></Document>")
    return "".join(parts).encode()
