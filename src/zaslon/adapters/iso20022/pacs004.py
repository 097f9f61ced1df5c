"""Render a freeze order's return to the victim as ISO 20022 pacs.004.001.09 (PaymentReturn).

The holding bank (instructing agent) returns ``returned_amount`` of the frozen money, reason FR01
(returned following fraud), to the victim's bank (instructed agent). The return quotes the *victim's own
payment*, the disputed transfer the traced money came from (``zaslon.core.recall``): its ids, amount and
date, and in ``OrgnlTxRef`` the victim's account and bank as its debtor, so the money is credited back to
the victim even when it was traced through several drops. The account it was recovered from, the freeze
order and the legal reference travel as additional information. Element order follows pacs.004.001.09.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from zaslon.adapters.iso20022.camt056 import account_id, amount_text, fin, iso_time, original_ids, party_or_account
from zaslon.core.recall import OrderOrigin
from zaslon.core.types import FreezeOrder
from zaslon.errors import Conflict

MSG_NAME = "pacs.004.001.09"
NS = f"urn:iso:std:iso:20022:tech:xsd:{MSG_NAME}"


def render_pacs004(order: FreezeOrder, *, created_at: datetime, origin: OrderOrigin | None = None) -> bytes:
    if order.returned_amount <= 0:
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
    victim = origin.victim if origin else None
    notes = original_ids(tx, victim) if victim is not None else []
    amt = SubElement(tx, "RtrdIntrBkSttlmAmt", Ccy=order.currency)
    amt.text = amount_text(order.returned_amount, order.currency)
    SubElement(tx, "IntrBkSttlmDt").text = created_at.date().isoformat()
    fin(tx, "InstgAgt", order.bank_id)
    if victim is not None and victim.payer_bank:
        fin(tx, "InstdAgt", victim.payer_bank)
    rsn = SubElement(tx, "RtrRsnInf")
    SubElement(SubElement(rsn, "Rsn"), "Cd").text = "FR01"
    for info in (order.legal_reference, f"Recovered from {order.account_id} under freeze order {order.order_id}",
                 *notes):
        SubElement(rsn, "AddtlInf").text = info[:105]
    ref = SubElement(tx, "OrgnlTxRef")
    if victim is not None:  # the victim paid: the original debtor, to whom the money goes back
        party_or_account(ref, "Dbtr", "DbtrAcct", victim.payer)
        fin(ref, "DbtrAgt", victim.payer_bank)
        fin(ref, "CdtrAgt", victim.payee_bank)
        party_or_account(ref, "Cdtr", "CdtrAcct", victim.payee)
    else:
        fin(ref, "CdtrAgt", order.bank_id)
        account_id(SubElement(ref, "CdtrAcct"), order.account_id)
    body: bytes = tostring(root, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body
