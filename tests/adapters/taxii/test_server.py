"""The TAXII 2.1 server over HTTP: media type, permissions, paging and filters, idempotent import, bad input."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from zaslon.adapters.db.tables_sharing import partner_matches, taxii_objects, taxii_status
from zaslon.flow.orgs import create_org

from .conftest import Country, country

MT = "application/taxii+json;version=2.1"
PHONE = "+375447654321"
PHONE_EXT = "extension-definition--e1191eb9-f704-45f7-9796-b1a8947a49d0"


@pytest.fixture
def by(tmp_path: Path) -> Iterator[Country]:
    c = country(tmp_path, "BY", taxii_requests_per_minute=40)
    yield c
    c.exchange.close()


@pytest.fixture
def ru_key(by: Country) -> str:
    org = create_org(by.engine, name="Zaslon RU", kind="partner")
    by.exchange.sharing.add_partner(org.org_id, country="RU", key_id="by-ru-1", secret_hex="11" * 32)
    return org.api_key


@pytest.fixture
def client(by: Country) -> Iterator[TestClient]:
    with TestClient(by.app, raise_server_exceptions=False) as c:
        yield c


def h(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept": MT, **extra}


def count(by: Country, table: Any) -> int:
    with by.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def collections(client: TestClient, key: str) -> tuple[str, str]:
    got = client.get("/taxii2/zaslon/collections/", headers=h(key)).json()["collections"]
    outbox = next(c["id"] for c in got if c["can_read"])
    inbox = next(c["id"] for c in got if c["can_write"])
    return outbox, inbox


def indicator(n: int = 1, modified: str = "2026-11-30T10:00:00.000Z", **over: Any) -> dict[str, Any]:
    obj = {
        "type": "indicator", "spec_version": "2.1", "id": f"indicator--0b6a2f4e-93a5-4d0e-9c1b-00000000000{n}",
        "created": "2026-11-30T10:00:00.000Z", "modified": modified, "name": "Fraud domain",
        "description": "A domain named in a fraud report", "indicator_types": ["malicious-activity"],
        "pattern": f"[domain-name:value = 'evil{n}.example']", "pattern_type": "stix",
        "valid_from": "2026-11-30T10:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    }
    obj.update(over)
    return obj


def post(client: TestClient, key: str, inbox: str, objects: list[dict[str, Any]], **headers: str) -> Any:
    return client.post(f"/taxii2/zaslon/collections/{inbox}/objects/", json={"objects": objects},
                       headers=h(key, **{"Content-Type": MT, **headers}))


def test_discovery_answers_the_taxii_media_type(client: TestClient) -> None:
    r = client.get("/taxii2/")
    assert r.status_code == 200
    assert r.headers["content-type"] == MT
    body = r.json()
    assert body["default"].endswith("/taxii2/zaslon/") and body["api_roots"] == [body["default"]]


def test_api_root_and_collections_need_a_partner_key(client: TestClient, by: Country, ru_key: str) -> None:
    assert client.get("/taxii2/zaslon/").status_code == 401
    assert client.get("/taxii2/zaslon/", headers=h("zsl_aaaaaaaaaaaa_" + "x" * 30)).status_code == 401
    bank = create_org(by.engine, name="Some bank", kind="bank", scopes=frozenset({"exchange:read"}))
    r = client.get("/taxii2/zaslon/collections/", headers=h(bank.api_key))
    assert r.status_code == 403 and r.headers["content-type"] == MT and r.json()["http_status"] == "403"
    root = client.get("/taxii2/zaslon/", headers=h(ru_key)).json()
    assert root["versions"] == [MT]
    outbox, inbox = collections(client, ru_key)
    assert outbox != inbox
    assert client.get(f"/taxii2/zaslon/collections/{inbox}/objects/", headers=h(ru_key)).status_code == 403


def test_basic_auth_with_the_key_as_password_is_accepted(client: TestClient, ru_key: str) -> None:
    r = client.get("/taxii2/zaslon/collections/", auth=("partner-zaslon-ru", ru_key), headers={"Accept": MT})
    assert r.status_code == 200


def test_unknown_collection_and_another_partners_outbox_are_404(client: TestClient, by: Country,
                                                                ru_key: str) -> None:
    kz = create_org(by.engine, name="Zaslon KZ", kind="partner")
    by.exchange.sharing.add_partner(kz.org_id, country="KZ")
    ru_outbox, _ = collections(client, ru_key)
    for cid in ("no-such-collection", by.exchange.sharing.outbox_id(kz.org_id)):
        r = client.get(f"/taxii2/zaslon/collections/{cid}/objects/", headers=h(ru_key))
        assert r.status_code == 404, cid
    r = client.get(f"/taxii2/zaslon/collections/{ru_outbox}/objects/", headers=h(kz.api_key))
    assert r.status_code == 404
    assert client.get("/taxii2/other-root/collections/", headers=h(ru_key)).status_code == 404


def test_media_types_other_than_taxii_are_refused(client: TestClient, ru_key: str) -> None:
    assert client.get("/taxii2/zaslon/", headers=h(ru_key, Accept="text/html")).status_code == 406
    _, inbox = collections(client, ru_key)
    r = client.post(f"/taxii2/zaslon/collections/{inbox}/objects/", json={"objects": [indicator()]},
                    headers={"Authorization": f"Bearer {ru_key}", "Content-Type": "application/json"})
    assert r.status_code == 415


def test_import_is_idempotent_and_a_newer_version_supersedes(client: TestClient, by: Country, ru_key: str) -> None:
    _, inbox = collections(client, ru_key)
    first = post(client, ru_key, inbox, [indicator()])
    assert first.status_code == 202 and first.headers["content-type"] == MT
    status = first.json()
    assert status["status"] == "complete" and status["success_count"] == 1
    assert count(by, taxii_objects) == 1
    assert post(client, ru_key, inbox, [indicator()]).status_code == 202  # same id and modified: a no-op
    assert count(by, taxii_objects) == 1
    newer = indicator(modified="2026-12-01T08:00:00.000Z", description="Seen again")
    assert post(client, ru_key, inbox, [newer]).status_code == 202
    with by.engine.connect() as conn:
        versions = sorted(r.version for r in conn.execute(select(taxii_objects.c.version)))
    assert versions == ["2026-11-30T10:00:00.000000Z", "2026-12-01T08:00:00.000000Z"]
    got = client.get(f"/taxii2/zaslon/status/{status['id']}/", headers=h(ru_key))
    assert got.status_code == 200 and got.json()["successes"][0]["id"] == indicator()["id"]


def test_a_status_is_only_its_senders(client: TestClient, by: Country, ru_key: str) -> None:
    _, inbox = collections(client, ru_key)
    status_id = post(client, ru_key, inbox, [indicator()]).json()["id"]
    kz = create_org(by.engine, name="Zaslon KZ", kind="partner")
    by.exchange.sharing.add_partner(kz.org_id, country="KZ")
    assert client.get(f"/taxii2/zaslon/status/{status_id}/", headers=h(kz.api_key)).status_code == 404


@pytest.mark.parametrize("broken, needle", [
    (lambda o: o.update(pattern="[domain-name:value = "), "Pattern failed to validate"),  # not a STIX pattern
    (lambda o: o.pop("valid_from"), "valid_from"),  # a required property missing
    (lambda o: o.update(id="indicator--not-a-uuid"), "id"),
    (lambda o: o.pop("description"), "description"),  # a SHOULD, an error in strict mode
    (lambda o: o.update(type="phone-number", id="phone-number--0b6a2f4e-93a5-4d0e-9c1b-000000000001",
                        value="not a phone", extensions={PHONE_EXT: {"extension_type": "new-sco"}}),
     "value"),  # our own extension's schema
])
def test_a_bundle_that_fails_validation_gets_422_with_the_validators_message_and_nothing_is_stored(
        client: TestClient, by: Country, ru_key: str, broken: Any, needle: str) -> None:
    _, inbox = collections(client, ru_key)
    good, bad = indicator(1), indicator(2)
    broken(bad)
    if bad["type"] == "phone-number":
        for k in ("created", "modified", "name", "description", "indicator_types", "pattern", "pattern_type",
                  "valid_from"):
            bad.pop(k)
    r = post(client, ru_key, inbox, [good, bad])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == MT
    assert needle in r.json()["description"]
    assert count(by, taxii_objects) == 0 and count(by, taxii_status) == 0


def test_an_empty_or_shapeless_envelope_is_422(client: TestClient, by: Country, ru_key: str) -> None:
    _, inbox = collections(client, ru_key)
    for body in ({"objects": []}, {"nothing": 1}, [1, 2]):
        r = client.post(f"/taxii2/zaslon/collections/{inbox}/objects/", json=body,
                        headers=h(ru_key, **{"Content-Type": MT}))
        assert r.status_code == 422, body
    assert count(by, taxii_objects) == 0


def test_a_partner_over_its_quota_gets_429(client: TestClient, ru_key: str) -> None:
    codes = [client.get("/taxii2/zaslon/", headers=h(ru_key)).status_code for _ in range(45)]
    assert codes[:40] == [200] * 40
    assert set(codes[40:]) == {429}
    r = client.get("/taxii2/zaslon/", headers=h(ru_key))
    assert 1 <= int(r.headers["retry-after"]) <= 60 and r.json()["http_status"] == "429"


def test_objects_page_with_next_and_filter_by_type_id_and_added_after(client: TestClient, by: Country,
                                                                      ru_key: str) -> None:
    by.report(f"Звонили с {PHONE}, сайт https://evil-bank.example/login, почта fraud@evil-bank.example")
    added = by.exchange.sharing.publish()
    outbox, _ = collections(client, ru_key)
    url = f"/taxii2/zaslon/collections/{outbox}/objects/"
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        r = client.get(url, params=params, headers=h(ru_key))
        assert r.status_code == 200
        body = r.json()
        seen += [o["id"] for o in body.get("objects", [])]
        assert "X-TAXII-Date-Added-First" in r.headers or not body.get("objects")
        if not body["more"]:
            break
        params = {"limit": 3, "next": body["next"]}
    assert len(seen) == len(set(seen)) == added["partner-zaslon-ru"]
    only = client.get(url, params={"match[type]": "indicator"}, headers=h(ru_key)).json()["objects"]
    assert only and {o["type"] for o in only} == {"indicator"}
    one = client.get(url, params={"match[id]": only[0]["id"]}, headers=h(ru_key)).json()["objects"]
    assert [o["id"] for o in one] == [only[0]["id"]]
    later = client.get(url, params={"added_after": "2999-01-01T00:00:00Z"}, headers=h(ru_key)).json()
    assert later == {"more": False}
    manifest = client.get(f"/taxii2/zaslon/collections/{outbox}/manifest/", params={"match[type]": "indicator"},
                          headers=h(ru_key)).json()["objects"]
    assert {m["id"] for m in manifest} == {o["id"] for o in only}
    versions = client.get(f"{url}{only[0]['id']}/versions/", headers=h(ru_key)).json()
    assert versions["versions"] == [manifest[0]["version"]] or len(versions["versions"]) == 1
    assert client.get(f"{url}indicator--00000000-0000-4000-8000-000000000000/", headers=h(ru_key)).status_code == 404
    assert client.get(url, params={"next": "garbage"}, headers=h(ru_key)).status_code == 422
    assert client.get(url, params={"added_after": "yesterday"}, headers=h(ru_key)).status_code == 422


def test_a_keyed_hash_of_our_phone_matches_and_a_sighting_goes_back(client: TestClient, by: Country,
                                                                     ru_key: str) -> None:
    from zaslon.core.pseudonym import PairKey, keyed_hash

    by.report(f"Звонили с {PHONE}, просили перевести деньги")
    outbox, inbox = collections(client, ru_key)
    digest = keyed_hash(PairKey("by-ru-1", bytes.fromhex("11" * 32)), "phone", PHONE)
    theirs = indicator(7, name="Fraud phone number (keyed hash)", pattern=(
        f"[phone-number:value_hmac = '{digest}' AND phone-number:hmac_key_id = 'by-ru-1']"))
    other = indicator(8, pattern="[phone-number:value_hmac = '" + "0" * 64 + "' AND phone-number:hmac_key_id = "
                                 "'by-ru-1']", name="Fraud phone number (keyed hash)")
    assert post(client, ru_key, inbox, [theirs, other]).status_code == 202
    matches = by.exchange.sharing.matches("partner-zaslon-ru")
    assert [(m.partner_object, m.kind, m.value) for m in matches] == [(theirs["id"], "phone", PHONE)]
    got = client.get(f"/taxii2/zaslon/collections/{outbox}/objects/", params={"match[type]": "sighting"},
                     headers=h(ru_key)).json()["objects"]
    assert [s["sighting_of_ref"] for s in got] == [theirs["id"]]
    assert PHONE not in str(got)  # the sighting says "we hold it", never the value
    assert post(client, ru_key, inbox, [theirs]).status_code == 202  # again: no second match
    assert count(by, partner_matches) == 1


def test_red_or_amber_for_another_partner_never_reaches_the_outbox(client: TestClient, by: Country,
                                                                   ru_key: str) -> None:
    kz = create_org(by.engine, name="Zaslon KZ", kind="partner")
    by.exchange.sharing.add_partner(kz.org_id, country="KZ")
    by.report("Перевод через сайт https://red-only.example/pay")
    by.report("Перевод через сайт https://amber-kz.example/pay")
    sharing = by.exchange.sharing
    sharing.mark("indicator:url:https://red-only.example/pay", "red", by="analyst")
    sharing.mark("indicator:url:https://amber-kz.example/pay", "amber", [kz.org_id], by="analyst")
    sharing.publish()
    outbox, _ = collections(client, ru_key)
    every = client.get(f"/taxii2/zaslon/collections/{outbox}/objects/", params={"match[version]": "all"},
                       headers=h(ru_key)).json()["objects"]
    text = str(every)
    # (the bare domains are indicators of their own, unmarked: GREEN by default, so they do go)
    assert "https://red-only.example/pay" not in text and "https://amber-kz.example/pay" not in text
    assert "https://evil" not in text and "red-only.example" in text
    kz_box = client.get(f"/taxii2/zaslon/collections/{sharing.outbox_id(kz.org_id)}/objects/",
                        headers=h(kz.api_key)).json()["objects"]
    assert "https://amber-kz.example/pay" in str(kz_box) and "https://red-only.example/pay" not in str(kz_box)


def test_copying_objects_changes_nothing(by: Country) -> None:
    # The content builders must not share state between builds (a later mark must not leak into the cache).
    a = by.exchange.sharing.build(None)
    b = by.exchange.sharing.build(None)
    assert [copy.deepcopy(x.obj) for x in a] == [x.obj for x in b]


def test_one_invalid_object_in_a_large_envelope_gets_422_with_the_validators_message_and_nothing_is_stored(
        client: TestClient, by: Country, ru_key: str) -> None:
    """2,000 valid indicators and one whose timestamp is impossible: the answer is the message the validator's
    Python checks alone give (the Rust pre-check decides nothing), and not one object is stored."""
    from zaslon.adapters.stix import validate

    _, inbox = collections(client, ru_key)
    many = [indicator(1, id=f"indicator--0b6a2f4e-93a5-4d0e-9c1b-{n:012d}",
                      pattern=f"[domain-name:value = 'evil{n}.example']") for n in range(2_000)]
    bad = indicator(1, id="indicator--0b6a2f4e-93a5-4d0e-9c1b-999999999999", created="2026-02-30T10:00:00.000Z")
    validate.SCREEN["on"] = False
    try:
        expected = validate.problems([*many, bad])
    finally:
        validate.SCREEN["on"] = True
    assert expected and all("999999999999" in m for m in expected)
    r = post(client, ru_key, inbox, [*many, bad])
    assert r.status_code == 422, r.text
    assert r.json()["description"] == "; ".join(expected[:5])
    assert count(by, taxii_objects) == 0 and count(by, taxii_status) == 0 and count(by, partner_matches) == 0


def test_an_object_the_validator_cannot_cope_with_is_422_not_500(client: TestClient, by: Country,
                                                                 ru_key: str) -> None:
    _, inbox = collections(client, ru_key)
    # each answer names the object at fault (the validator raised on it rather than answering)
    for broken in (indicator(2, created=1), indicator(3, pattern=""), indicator(4, extensions=1)):
        r = post(client, ru_key, inbox, [indicator(1), broken])
        assert r.status_code == 422, r.text
        assert broken["id"] in r.json()["description"] and indicator(1)["id"] not in r.json()["description"]
    assert count(by, taxii_objects) == 0 and count(by, taxii_status) == 0
