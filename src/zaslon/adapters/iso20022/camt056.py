"""Render a freeze order as ISO 20022 camt.056.001.12 (FIToFIPaymentCancellationRequest), with reason FRAD.

A bank can act on a recall only if it finds the payment it received: the request quotes the *original
payment* that brought the traced money into the account under the order (``zaslon.core.recall``) by the
ids the bank received it under (the pacs.008's InstrId, EndToEndId, TxId and UETR, and the message id),
its amount and settlement date, and in ``OrgnlTxRef`` its debtor's and creditor's accounts and agents.
The exchange is the assigner, the holding bank the assignee, the incident the case; the legal reference,
the amount to freeze and the deadline travel as additional information. An order issued without its
original payment (before the exchange kept them) names only the account and the amount to freeze.

Version: camt.056.001.12, whose official XSD ships in ``schemas/`` (see its README); element order follows it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from xml.etree.ElementTree import Element, SubElement, tostring

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from zaslon.core.money import minor_exponent
from zaslon.core.recall import OrderOrigin, PaymentRef
from zaslon.core.types import FreezeOrder

MSG_NAME = "camt.056.001.12"
NS = f"urn:iso:std:iso:20022:tech:xsd:{MSG_NAME}"
PACS008 = "pacs.008.001.08"  # the message the original payments came in
EXCHANGE_BIC = "ZSLNBY2M"  # the exchange's own identifier in messages it sends (configurable per call)
_ADDTL_MAX = 105  # Max105Text
_ID_MAX = 35  # Max35Text


def amount_text(amount: int, currency: str) -> str:
    exp = minor_exponent(currency)
    return f"{Decimal(amount).scaleb(-exp):.{exp}f}"


def iso_time(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _agent(parent: Element, tag: str, bic: str) -> None:
    SubElement(SubElement(SubElement(SubElement(parent, tag), "Agt"), "FinInstnId"), "BICFI").text = bic


def fin(parent: Element, tag: str, bic: str | None) -> None:
    """``<tag><FinInstnId><BICFI>`` (an empty FinInstnId when the BIC is unknown)."""
    inst = SubElement(SubElement(parent, tag), "FinInstnId")
    if bic:
        SubElement(inst, "BICFI").text = bic


def account_id(parent: Element, account: str) -> None:
    ident = SubElement(parent, "Id")
    try:
        SubElement(ident, "IBAN").text = str(IBAN(account))
    except SchwiftyException:
        SubElement(SubElement(ident, "Othr"), "Id").text = account[:34]


# A party identifier that stood in for a missing account when the pacs.008 was read (``parse_pacs008``) goes
# back where it came from: the party's Id, not an account.
_STAND_INS = {"BIC": ("OrgId", "AnyBIC"), "LEI": ("OrgId", "LEI"), "ORG": ("OrgId", "Othr"), "PRVT": ("PrvtId", "Othr")}


def party_or_account(parent: Element, party: str, account_tag: str, account: str) -> None:
    """``<DbtrAcct>`` for an account, or ``<Dbtr><Pty><Id>...`` for a party identifier standing in for one."""
    prefix, _, ident = account.partition(":")
    if prefix not in _STAND_INS or not ident:
        account_id(SubElement(parent, account_tag), account)
        return
    kind, tag = _STAND_INS[prefix]
    ids = SubElement(SubElement(SubElement(SubElement(parent, party), "Pty"), "Id"), kind)
    if tag == "Othr":
        SubElement(SubElement(ids, "Othr"), "Id").text = ident[:35]
    else:
        SubElement(ids, tag).text = ident


def fits(text: str | None) -> bool:
    return text is not None and 0 < len(text) <= _ID_MAX


def original_ids(tx: Element, p: PaymentRef, *, msg_name: str = PACS008) -> list[str]:
    """``OrgnlGrpInf`` and the ``Orgnl*Id`` elements of ``p``, in schema order. Returns the notes for ids too
    long for ISO's 35 characters (a JSON transfer id may be longer), which the caller adds as information."""
    if p.msg_id:
        grp = SubElement(tx, "OrgnlGrpInf")
        SubElement(grp, "OrgnlMsgId").text = p.msg_id
        SubElement(grp, "OrgnlMsgNmId").text = msg_name
    notes = []
    for tag, value in (("OrgnlInstrId", p.instr_id), ("OrgnlEndToEndId", p.end_to_end_id),
                       ("OrgnlTxId", p.tx_id)):
        if fits(value):
            SubElement(tx, tag).text = value
        elif value:
            notes.append(f"{tag} {value}"[:_ADDTL_MAX])
    if p.uetr:
        SubElement(tx, "OrgnlUETR").text = p.uetr
    amt = SubElement(tx, "OrgnlIntrBkSttlmAmt", Ccy=p.currency)
    amt.text = amount_text(p.amount, p.currency)
    SubElement(tx, "OrgnlIntrBkSttlmDt").text = p.settlement_date.isoformat()
    return notes


def render_camt056(order: FreezeOrder, *, created_at: datetime, origin: OrderOrigin | None = None,
                   assigner_bic: str = EXCHANGE_BIC) -> bytes:
    root = Element("Document", xmlns=NS)
    req = SubElement(root, "FIToFIPmtCxlReq")
    asg = SubElement(req, "Assgnmt")
    SubElement(asg, "Id").text = order.order_id
    _agent(asg, "Assgnr", assigner_bic)
    _agent(asg, "Assgne", order.bank_id)
    SubElement(asg, "CreDtTm").text = iso_time(created_at)
    case = SubElement(req, "Case")
    SubElement(case, "Id").text = order.incident_id[:_ID_MAX]
    _agent(case, "Cretr", assigner_bic)
    SubElement(SubElement(req, "CtrlData"), "NbOfTxs").text = "1"
    tx = SubElement(SubElement(req, "Undrlyg"), "TxInf")
    SubElement(tx, "CxlId").text = order.order_id
    recalled = origin.recalled if origin else None
    notes: list[str] = []
    if recalled is not None:
        notes = original_ids(tx, recalled)
    else:  # no original payment kept: the amount to freeze is all there is to quote
        amt = SubElement(tx, "OrgnlIntrBkSttlmAmt", Ccy=order.currency)
        amt.text = amount_text(order.amount, order.currency)
    rsn = SubElement(tx, "CxlRsnInf")
    SubElement(SubElement(rsn, "Orgtr"), "Nm").text = "Zaslon national anti-fraud exchange"
    SubElement(SubElement(rsn, "Rsn"), "Cd").text = "FRAD"
    infos = [order.legal_reference,
             f"Freeze {amount_text(order.amount, order.currency)} {order.currency} by {iso_time(order.deadline)}",
             *notes]
    if origin is not None and origin.victim.transfer_id != origin.recalled.transfer_id:
        infos.append(f"Traced from the victim's payment {origin.victim.transfer_id} of {origin.victim.payer}")
    for info in infos:
        SubElement(rsn, "AddtlInf").text = info[:_ADDTL_MAX]
    ref = SubElement(tx, "OrgnlTxRef")
    if recalled is not None:
        party_or_account(ref, "Dbtr", "DbtrAcct", recalled.payer)
        fin(ref, "DbtrAgt", recalled.payer_bank)
    fin(ref, "CdtrAgt", order.bank_id)
    account_id(SubElement(ref, "CdtrAcct"), order.account_id)
    body: bytes = tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
