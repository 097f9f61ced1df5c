"""Strict validation with our schemas; the memoised schema loading and pattern shapes change no verdict."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from zaslon.adapters.stix import validate
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


# ---------------------------------------------------------------- the Rust pre-check decides nothing on its own


def corpus() -> list[dict[str, Any]]:
    """One of every object we send or accept: indicators and observables of each kind, hashed and clear, an
    incident with its relationship, a case, a sighting, a signed freeze request and its answer, and what a
    bundle ships with them (identity, extension definitions, markings)."""
    from zaslon.adapters.stix import content as stix
    from zaslon.adapters.stix import signing
    from zaslon.core.pseudonym import PairKey

    author = stix.Author("Zaslon BY", "BY", {})
    key = PairKey("by-ru-1", bytes.fromhex("11" * 32))
    at = datetime(2026, 11, 30, 10, tzinfo=UTC)
    values = [("phone", "+375291234567"), ("account", "BY20OLMP31350000001000000933"), ("account", "40817810"),
              ("card", "4111111111111111"), ("wallet", "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh"),
              ("url", "https://pay.example/x?a=1"), ("domain", "bank-help.example"), ("email", "a.b@evil.example"),
              ("ip", "203.0.113.7"), ("ip", "2001:db8::7")]
    objs: list[dict[str, Any]] = []
    ids: dict[tuple[str, str], str] = {}
    for kind, value in values:  # sensitive kinds as keyed hashes (as a partner gets them), the others clear
        built = stix.build_indicator(author, stix.ShareIndicator(kind, value, at, "4111 **** 1111"),
                                     key if kind in stix.SENSITIVE_KINDS else None)
        objs += [b.obj for b in built]
        ids[(kind, value)] = built[1].obj["id"]
    objs += [b.obj for b in stix.build_incident(author, stix.ShareIncident("inc-1", "vishing", at,
                                                                            tuple(ids)), ids)]
    case = stix.build_case(author, stix.ShareCase("case-1", "open", at, at, ("inc-1",), "A case"), list(ids.values()))
    assert case is not None
    objs.append(case.obj)
    objs.append(stix.build_sighting(author, "indicator--5b4c3a2e-1f0d-4c9b-8a7f-6e5d4c3b2a19", local_ref="x",
                                    first_seen=at, last_seen=at, count=1, partner="ru").obj)
    ask = stix.FreezeAsk("p-1", at, 150_000, "BYN", "RU0204452560040702810412345678901", "SABRRUMM", "Art. 1",
                         at + timedelta(days=3), case_ref="inc-1")
    seed = "22" * 32
    objs.append(signing.sign(stix.build_freeze_request(author, ask, partner="ru", at=at), seed, "sig-1"))
    objs.append(signing.sign(stix.build_freeze_response(author, objs[-1]["id"], status="frozen", at=at,
                                                        orders=1, frozen_amount=100, currency="BYN"), seed, "sig-1"))
    return stix.bundle(author, objs)["objects"]


def mutations(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Broken (and some still valid) variants of ``obj``: each property removed, of the wrong type, emptied,
    with a trailing newline, upper-cased, with a non-ASCII digit, cut short; the same one level down."""
    out: list[dict[str, Any]] = []

    def variants(value: Any) -> list[Any]:
        got: list[Any] = [1, True, "", [], {}]
        if isinstance(value, str) and value:
            got += [value + "\n", value.upper(), value[:-1], value.replace("1", "\u0661")]
        if isinstance(value, list) and value:
            got += [value[:1] * 2, ["x"]]
        return got

    for k, v in obj.items():
        out.append({x: y for x, y in obj.items() if x != k})
        out += [{**obj, k: w} for w in variants(v)]
        if isinstance(v, dict):
            for k2, v2 in v.items():
                out.append({**obj, k: {x: y for x, y in v.items() if x != k2}})
                out += [{**obj, k: {**v, k2: w}} for w in variants(v2)]
    return out


def test_the_rust_pre_check_changes_no_verdict_and_no_message() -> None:
    """Every object of the corpus and every mutation of it gets the same messages (in the same order) with the
    Rust pre-check as from the validator's Python ``jsonschema`` alone."""
    objects = corpus()
    assert {"indicator", "bank-account", "phone-number", "payment-card", "cryptocurrency-wallet", "url",
            "domain-name", "email-addr", "ipv4-addr", "ipv6-addr", "incident", "relationship", "grouping",
            "sighting", "freeze-request", "freeze-response", "identity", "extension-definition",
            "marking-definition"} <= {o["type"] for o in objects}
    assert problems(objects) == []
    checked = rejected = 0
    shapes: set[tuple[str, ...]] = set()
    for obj in objects:
        shape = (obj["type"], *sorted(obj))
        if shape in shapes:  # another indicator like the last: its mutations check nothing new
            continue
        shapes.add(shape)
        for variant in [obj, *mutations(obj)]:
            if not isinstance(variant.get("id"), str) or not isinstance(variant.get("type"), str):
                continue  # refused before the validator runs
            fast = problems([variant])
            validate.SCREEN["on"] = False
            try:
                slow = problems([variant])
            finally:
                validate.SCREEN["on"] = True
            assert fast == slow, (variant, fast, slow)
            checked += 1
            rejected += bool(slow)
    assert checked > 1_000 and rejected > 800, (checked, rejected)
