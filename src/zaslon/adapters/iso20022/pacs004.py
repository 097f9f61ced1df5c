"""Render a freeze order's return to the victim as ISO 20022 pacs.004.001.09 (PaymentReturn).

The holding bank returns ``returned_amount`` of the frozen money, reason FR01 (returned following
fraud), referring to the freeze order; element order follows the pacs.004.001.09 schema.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from zaslon.adapters.iso20022.camt056 import account_id, amount_text, iso_time
from zaslon.core.types import FreezeOrder, OrderStatus
from zaslon.errors import Conflict

NS = "urn:iso:std:iso:20022:tech:xsd:pacs.004.001.09"


def render_pacs004(order: FreezeOrder, *, created_at: datetime) -> bytes:
    if order.status is not OrderStatus.RETURNED or order.returned_amount <= 0:
        raise Conflict(f"order {order.order_id} has returned nothing yet", field="status")
    root = Element("Document", xmlns=NS)
    rtr = SubElement(root, "PmtRtr")
    hdr = SubElement(rtr, "GrpHdr")
    SubElement(hdr, "MsgId").text = f"{order.order_id}-R"[:35]
    SubElement(hdr, "CreDtTm").text = iso_time(created_at)
    SubElement(hdr, "NbOfTxs").text = "1"
    SubElement(SubElement(hdr, "SttlmInf"), "SttlmMtd").text = "CLRG"
    tx = SubElement(rtr, "TxInf")
    SubElement(tx, "RtrId").text = f"{order.order_id}-R"[:35]
    SubElement(tx, "OrgnlTxId").text = order.order_id
    amt = SubElement(tx, "RtrdIntrBkSttlmAmt", Ccy=order.currency)
    amt.text = amount_text(order.returned_amount, order.currency)
    SubElement(tx, "IntrBkSttlmDt").text = created_at.date().isoformat()
    SubElement(SubElement(SubElement(tx, "InstgAgt"), "FinInstnId"), "BICFI").text = order.bank_id
    rsn = SubElement(tx, "RtrRsnInf")
    SubElement(SubElement(rsn, "Rsn"), "Cd").text = "FR01"
    SubElement(rsn, "AddtlInf").text = order.legal_reference[:105]
    ref = SubElement(tx, "OrgnlTxRef")
    account_id(SubElement(ref, "DbtrAcct"), order.account_id)
    body: bytes = tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
