"""Strict validation with our schemas; the memoised schema loading and pattern shapes change no verdict."""

from __future__ import annotations

from typing import Any

from zaslon.adapters.stix.validate import problems


def indicator(pattern: str, n: int = 1) -> dict[str, Any]:
    return {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--0b6a2f4e-93a5-4d0e-9c1b-00000000000{n}",
        "created": "2026-11-30T10:00:00.000Z", "modified": "2026-11-30T10:00:00.000Z", "name": "Fraud URL",
        "description": "A URL", "indicator_types": ["malicious-activity"], "pattern": pattern,
        "pattern_type": "stix", "valid_from": "2026-11-30T10:00:00Z",
    }


def test_a_valid_pattern_shape_does_not_let_a_broken_pattern_through() -> None:
    assert problems([indicator("[url:value = 'https://a.example/']")]) == []
    assert problems([indicator("[url:value = 'https://b.example/']", 2)]) == []  # the same shape: remembered
    for broken in ("[url:value = 'https://c.example/]", "[url:value = 'x' AND]",
                   "[url:value = 'x'] AND"):
        found = problems([indicator(broken, 3)])
        assert found, broken
    # a literal whose content the validator inspects is never taken from memory
    assert problems([indicator("[file:created = t'2026-13-45T00:00:00Z']", 4)])


def test_the_same_objects_get_the_same_messages_every_time() -> None:
    bad = indicator("[url:value = 'x']")
    bad.pop("description")
    first, second = problems([bad]), problems([bad])
    assert first == second and first
