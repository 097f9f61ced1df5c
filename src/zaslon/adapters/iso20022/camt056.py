"""Render a freeze order as ISO 20022 camt.056.001.08 (FIToFIPaymentCancellationRequest).

The recall names the exchange as assigner, the holding bank as assignee, the incident as the case,
the account holding the traced money (creditor account) and the amount, with reason FRAD and the legal
reference and deadline as additional information. Built with ``xml.etree``; element order follows the
camt.056.001.08 schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from xml.etree.ElementTree import Element, SubElement, tostring

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from zaslon.core.money import minor_exponent
from zaslon.core.types import FreezeOrder

NS = "urn:iso:std:iso:20022:tech:xsd:camt.056.001.08"
EXCHANGE_BIC = "ZSLNBY2M"  # the exchange's own identifier in messages it sends (configurable per call)
_ADDTL_MAX = 105  # Max105Text


def amount_text(amount: int, currency: str) -> str:
    exp = minor_exponent(currency)
    return f"{Decimal(amount).scaleb(-exp):.{exp}f}"


def iso_time(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _agent(parent: Element, tag: str, bic: str) -> None:
    SubElement(SubElement(SubElement(SubElement(parent, tag), "Agt"), "FinInstnId"), "BICFI").text = bic


def _fin(parent: Element, tag: str, bic: str) -> None:
    SubElement(SubElement(SubElement(parent, tag), "FinInstnId"), "BICFI").text = bic


def account_id(parent: Element, account: str) -> None:
    ident = SubElement(parent, "Id")
    try:
        SubElement(ident, "IBAN").text = str(IBAN(account))
    except SchwiftyException:
        SubElement(SubElement(ident, "Othr"), "Id").text = account[:34]


def render_camt056(order: FreezeOrder, *, created_at: datetime, assigner_bic: str = EXCHANGE_BIC) -> bytes:
    root = Element("Document", xmlns=NS)
    req = SubElement(root, "FIToFIPmtCxlReq")
    asg = SubElement(req, "Assgnmt")
    SubElement(asg, "Id").text = order.order_id
    _agent(asg, "Assgnr", assigner_bic)
    _agent(asg, "Assgne", order.bank_id)
    SubElement(asg, "CreDtTm").text = iso_time(created_at)
    case = SubElement(req, "Case")
    SubElement(case, "Id").text = order.incident_id[:35]
    SubElement(SubElement(SubElement(SubElement(case, "Cretr"), "Agt"), "FinInstnId"), "BICFI").text = assigner_bic
    SubElement(SubElement(req, "CtrlData"), "NbOfTxs").text = "1"
    tx = SubElement(SubElement(req, "Undrlyg"), "TxInf")
    SubElement(tx, "CxlId").text = order.order_id
    SubElement(tx, "OrgnlTxId").text = order.order_id
    amt = SubElement(tx, "OrgnlIntrBkSttlmAmt", Ccy=order.currency)
    amt.text = amount_text(order.amount, order.currency)
    rsn = SubElement(tx, "CxlRsnInf")
    SubElement(SubElement(rsn, "Orgtr"), "Nm").text = "Zaslon national anti-fraud exchange"
    SubElement(SubElement(rsn, "Rsn"), "Cd").text = "FRAD"
    SubElement(rsn, "AddtlInf").text = order.legal_reference[:_ADDTL_MAX]
    SubElement(rsn, "AddtlInf").text = f"Freeze by {iso_time(order.deadline)}"[:_ADDTL_MAX]
    ref = SubElement(tx, "OrgnlTxRef")
    _fin(ref, "CdtrAgt", order.bank_id)
    account_id(SubElement(ref, "CdtrAcct"), order.account_id)
    body: bytes = tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
