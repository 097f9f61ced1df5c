"""The audit log's hash chain holds only untouched: any change, removal or insertion names its entry."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from zaslon.core.audit import GENESIS, AuditEntry, canonical_json, chained, entry_hash, verify_chain

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def chain(n: int = 5) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    for i in range(n):
        out.append(chained(out[-1] if out else None, at=T0 + timedelta(seconds=i), org_id=f"bank-{i % 2}",
                           actor=f"key:k{i}", person="Анна Иванова" if i == 2 else None,
                           action="POST /v1/orders/{order_id}/ack", subject=f"order_id=FO-{i}",
                           detail={"status": 200, "n": i}))
    return out


def test_an_untouched_chain_holds() -> None:
    entries = chain()
    assert entries[0].prev_hash == GENESIS and entries[0].seq == 1
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    assert verify_chain(entries) == (5, entries[-1].hash, None)
    assert verify_chain([]) == (0, GENESIS, None)


def test_the_serialisation_is_canonical() -> None:
    assert canonical_json({"b": 1, "a": "ж"}) == '{"a":"ж","b":1}'
    e = chain(1)[0]
    assert entry_hash(e) == e.hash == entry_hash(replace(e, at=e.at.astimezone()))  # the same instant


@pytest.mark.parametrize(("field", "value"), [
    ("org_id", "bank-9"), ("actor", "key:other"), ("person", "someone else"), ("action", "DELETE /v1/rules-shadow"),
    ("subject", "order_id=FO-X"), ("detail", '{"n":2,"status":409}'), ("at", T0 + timedelta(days=1)),
])
def test_changing_any_field_breaks_the_chain_at_that_entry(field: str, value: object) -> None:
    entries = chain()
    entries[2] = replace(entries[2], **{field: value})
    good, head, broken = verify_chain(entries)
    assert (good, head) == (2, entries[1].hash)
    assert broken is not None and broken.seq == 3 and "changed" in broken.reason


def test_rehashing_a_changed_entry_breaks_the_next_link() -> None:
    entries = chain()
    forged = replace(entries[2], person="someone else")
    entries[2] = replace(forged, hash=entry_hash(forged))
    _, _, broken = verify_chain(entries)
    assert broken is not None and broken.seq == 4 and "prev_hash" in broken.reason


def test_removing_or_inserting_an_entry_is_named() -> None:
    entries = chain()
    _, _, broken = verify_chain(entries[:2] + entries[3:])
    assert broken is not None and broken.seq == 4 and "removed" in broken.reason
    _, _, broken = verify_chain([*entries[:2], replace(entries[3], seq=3), *entries[3:]])
    assert broken is not None and broken.seq == 3
