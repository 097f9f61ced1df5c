"""Isolation of organisations: a bank submits and disputes only its own customers' transfers.

* **Submitting.** A bank may submit (to be scored or stored) only a transfer its own customer makes or receives:
  the payer's or the payee's side must be the bank's, judged by the IBAN's bank code (``zaslon.core.banks``), else
  by the bank the transfer names for that side. A transfer between two other banks' customers is refused with 422
  (field ``payer``) and nothing of the request is stored; an organisation without a BIC submits nothing (403).
* **Disputing.** An incident names transfers by the ids their submitters gave them (ids are each submitter's own).
  A bank names the transfers it submitted, or one another bank submitted that it is the payer's or payee's bank
  of; the police name any (``<org_id>/<transfer_id>`` picks one where two submitters used the same id). Any other
  id is "unknown" (422), exactly as one never stored: a dispute never reveals another bank's transfer.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from zaslon.adapters.db.stores.orgs import SqlOrgStore
from zaslon.adapters.db.stores.transfers import SqlTransferStore
from zaslon.core.access import OrgKind
from zaslon.core.banks import is_party, side_is
from zaslon.core.types import Transfer
from zaslon.errors import Forbidden, InvalidInput
from zaslon.flow.ports.orgs import OrgStore
from zaslon.flow.ports.transfers import Submitted, TransferStore

if TYPE_CHECKING:
    from sqlalchemy import Engine


class Submitters:
    """Checks that an organisation may submit transfers, and only its own customers' (organisations' BICs are
    read once and remembered: an organisation's BIC never changes)."""

    def __init__(self, db: Engine) -> None:
        self._store: OrgStore = SqlOrgStore(db)
        self._bic: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def bic_of(self, org_id: str) -> str | None:
        bic = self._bic.get(org_id, "")
        if bic != "":
            return bic
        found = self._store.org(org_id)
        with self._lock:
            self._bic[org_id] = bic = None if found is None else found[1]
        return bic

    def check(self, org_id: str, transfers: Sequence[Transfer]) -> None:
        """``Forbidden`` for an organisation without a BIC; ``InvalidInput`` naming the first transfer that is not
        its customer's (nothing of the request is taken)."""
        bic = self.bic_of(org_id)
        if bic is None:
            raise Forbidden("only a bank (an organisation with a BIC) submits transfers")
        for i, t in enumerate(transfers):
            if not is_party(bic, t):
                where = "" if len(transfers) == 1 else f"{i}."
                raise InvalidInput(
                    f"transfer {t.transfer_id!r} is between two other banks' customers: neither its payer nor its "
                    f"payee is held at {bic} (by the IBAN's bank code, else payer_bank / payee_bank); a bank "
                    "submits only its own customers' transfers", field=f"{where}payer")


def _party(bic: str | None, s: Submitted) -> bool:
    return bic is not None and (side_is(s.payer, s.payer_bank, bic) or side_is(s.payee, s.payee_bank, bic))


def resolve_disputed(db: Engine, reporter_org: str, reporter_kind: str, reporter_bic: str | None,
                     refs: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Each of ``refs`` (ids as their submitters gave them) as ``(submitting org, transfer id)`` the reporter may
    name; ``InvalidInput`` listing those it may not, as unknown, or those that are ambiguous."""
    if not refs:
        return {}
    police = reporter_kind == OrgKind.POLICE
    wanted = list(refs)
    if police:  # "<org>/<id>": the police pick one where two submitters used the same id
        wanted += [r.partition("/")[2] for r in refs if "/" in r]
    store: TransferStore = SqlTransferStore(db)
    by_id: dict[str, list[Submitted]] = {}
    for s in store.submitted_under(list(dict.fromkeys(wanted))):
        by_id.setdefault(s.transfer_id, []).append(s)
    out: dict[str, tuple[str, str]] = {}
    unknown: list[str] = []
    ambiguous: list[str] = []
    for ref in refs:
        rows = by_id.get(ref, [])
        if police:
            if not rows and "/" in ref:
                org, _, tid = ref.partition("/")
                rows = [s for s in by_id.get(tid, []) if s.org_id == org]
        else:
            own = [s for s in rows if s.org_id == reporter_org]
            rows = own or ([s for s in rows if _party(reporter_bic, s)] if reporter_kind == OrgKind.BANK else [])
        if not rows:
            unknown.append(ref)
        elif len(rows) > 1:
            ambiguous.append(ref)
        else:
            out[ref] = (rows[0].org_id, rows[0].transfer_id)
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:20]) + (" ..." if len(unknown) > 20 else "")
        who = "" if police else (" (a bank names the transfers it submitted or is the payer's or payee's bank of)"
                                 if reporter_kind == OrgKind.BANK else " (only banks and the police name transfers)")
        raise InvalidInput(f"unknown transfer ids: {shown}{who}", field="transfer_ids")
    if ambiguous:
        shown = ", ".join(repr(t) for t in ambiguous[:20])
        raise InvalidInput(f"transfer ids submitted by more than one organisation: {shown}; name each as "
                           "'<org_id>/<transfer_id>'" if police else
                           f"transfer ids submitted by more than one other bank: {shown}", field="transfer_ids")
    return out
