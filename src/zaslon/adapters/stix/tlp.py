"""TLP 2.0 as STIX 2.1 marking definitions, and the one egress rule every shared object passes.

STIX 2.1 predefines only TLP 1.0 (WHITE/GREEN/AMBER/RED). TLP 2.0 markings are the objects OASIS published
with the TLP 2.0 extension (cti-stix-common-objects, extension-definition-specifications/tlp-2.0): fixed ids,
a fixed ``created`` and the level in ``extensions.<TLP_EXTENSION>.tlp_2_0``. Their ids are copied here
verbatim; a different id would be a different (unknown) marking to every peer.
"""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import Any

from zaslon.errors import Forbidden, InvalidInput

TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
_CREATED = "2022-10-01T00:00:00.000Z"


class Tlp(StrEnum):
    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


MARKING_IDS: dict[Tlp, str] = {
    Tlp.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    Tlp.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    Tlp.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    Tlp.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    Tlp.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
LEVEL_OF_MARKING = {v: k for k, v in MARKING_IDS.items()}
# Named partners only: the object says who may receive it.
NAMED_ONLY = frozenset({Tlp.AMBER, Tlp.AMBER_STRICT})


def parse_tlp(raw: str, field: str = "tlp") -> Tlp:
    try:
        return Tlp(raw.strip().lower())
    except ValueError:
        raise InvalidInput(f"tlp must be one of {[t.value for t in Tlp]}, not {raw!r}", field=field) from None


def marking_object(level: Tlp) -> dict[str, Any]:
    """The published TLP 2.0 marking-definition for ``level``, as OASIS defines it."""
    name = "TLP:" + level.value.upper()
    return {
        "type": "marking-definition", "spec_version": "2.1", "id": MARKING_IDS[level], "created": _CREATED,
        "name": name,
        "extensions": {TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level.value}},
    }


def may_leave(level: Tlp, partner: str | None, named: Collection[str]) -> bool:
    """RED never leaves the exchange; AMBER and AMBER+STRICT go only to a partner named on the object;
    CLEAR and GREEN go to any partner (and into an export with no partner)."""
    if level is Tlp.RED:
        return False
    if level in NAMED_ONLY:
        return partner is not None and partner in named
    return True


def check_may_leave(object_id: str, level: Tlp, partner: str | None, named: Collection[str]) -> None:
    """``Forbidden`` (nothing is sent) for an object its marking keeps from ``partner``."""
    if not may_leave(level, partner, named):
        whom = f"partner {partner!r}" if partner else "an export with no partner"
        raise Forbidden(f"{object_id} is marked TLP:{level.value.upper()} and may not go to {whom}")
