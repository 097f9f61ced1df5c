"""Corroboration before listing: one report is not enough to list an established business.

A victim's report names the payee of the disputed transfer, and a trace names every account the money
passed through. Drops are personal accounts with a handful of counterparties; a merchant or company
that hundreds of people pay is far more often a victim of a mistaken (or malicious) report, and listing
it would hold every one of its customers' payments. Such an account is therefore not listed
automatically: its freeze order still goes out and the desk confirms or clears it, but scoring does not
hold its customers on one report's word. Pure.
"""

from __future__ import annotations

ESTABLISHED_KINDS = frozenset({"merchant", "business"})
MIN_PAYERS_ENTITY = 10  # a company or merchant paid by this many distinct payers before the report
MIN_PAYERS_ANY = 50  # any account paid by this many distinct payers (no drop in the simulated worlds is)


def is_established(kind: str | None, distinct_payers: int) -> bool:
    """True when one report must not list the account without an analyst's confirmation."""
    if kind in ESTABLISHED_KINDS and distinct_payers >= MIN_PAYERS_ENTITY:
        return True
    return distinct_payers >= MIN_PAYERS_ANY
