"""Who may do what: organisation kinds and the scopes their API keys get by default."""

from __future__ import annotations

from enum import StrEnum


class OrgKind(StrEnum):
    BANK = "bank"
    TELECOM = "telecom"
    POLICE = "police"
    PARTNER = "partner"


# Every scope the API knows. A key may carry any subset; these are the defaults per kind.
ALL_SCOPES = frozenset(
    {
        "transfers:write", "transfers:read", "transfers:score",
        "incidents:write", "incidents:read",
        "orders:read", "orders:write", "orders:read_all", "orders:control", "customers:write",
        "signals:read",
        "telecom:write", "telecom:read",
        "cases:read", "cases:write",
        "rules:read", "rules:write",
        "appeals:decide",
        "exchange:read", "exchange:write",
        "stats:read",
        "metrics:read",
    }
)

DEFAULT_SCOPES: dict[OrgKind, frozenset[str]] = {
    OrgKind.BANK: frozenset(
        {"transfers:write", "transfers:read", "transfers:score", "incidents:write", "incidents:read",
         "orders:read", "orders:write", "signals:read", "customers:write"}
    ),
    OrgKind.TELECOM: frozenset({"incidents:write", "incidents:read", "telecom:write", "telecom:read"}),
    OrgKind.POLICE: frozenset(
        {"transfers:read", "incidents:write", "incidents:read", "orders:read", "orders:read_all", "orders:control",
         "cases:read", "cases:write", "rules:read", "rules:write", "appeals:decide", "telecom:read",
         "stats:read", "signals:read", "metrics:read"}
    ),
    OrgKind.PARTNER: frozenset({"exchange:read", "exchange:write"}),
}


def sees_everything(kind: OrgKind | str) -> bool:
    """Police see every organisation's data; a bank sees only its own customers and orders."""
    return kind == OrgKind.POLICE
