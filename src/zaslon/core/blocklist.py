"""Which phone numbers go on the block list operators enforce: corroborated reports only. Pure.

A victim who mishears one digit names an innocent subscriber's number; blocking it cuts that person off. So
one report is never enough: a number is listed after two *independent* reports (two different reporting
organisations, or incidents of two different victims) or a police confirmation (the police confirm it, or
report it themselves). An upheld appeal de-lists the number; only reports made after that decision can list
it again. Scoring may still use a number reported once, as a weaker signal (see docs/telecom.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

MIN_INDEPENDENT = 2


@dataclass(frozen=True, slots=True)
class NumberReport:
    """One report naming a number: an operator's, an incident's, or a police confirmation."""

    phone: str  # E.164
    reporter_org: str
    reported_at: datetime
    by_police: bool = False
    victim: str | None = None  # for an incident: who the victim is (party, phone), else the incident itself


def is_listed(reports: Iterable[NumberReport], cleared_at: datetime | None = None) -> bool:
    """Listed when the reports since ``cleared_at`` (an upheld appeal) are corroborated."""
    orgs: set[str] = set()
    victims: set[str] = set()
    for r in reports:
        if cleared_at is not None and r.reported_at <= cleared_at:
            continue
        if r.by_police:
            return True
        orgs.add(r.reporter_org)
        if r.victim is not None:
            victims.add(r.victim)
    return len(orgs) >= MIN_INDEPENDENT or len(victims) >= MIN_INDEPENDENT


def why_listed(reports: Iterable[NumberReport], cleared_at: datetime | None = None) -> str | None:
    """``police``, ``corroborated`` or None (not listed)."""
    live = [r for r in reports if cleared_at is None or r.reported_at > cleared_at]
    if any(r.by_police for r in live):
        return "police"
    return "corroborated" if is_listed(live) else None
