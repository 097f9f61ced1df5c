"""Real peers over real sockets: the OASIS taxii2-client against our server, and two exchanges (BY, RU) that
sync with each other on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from taxii2client.v21 import ApiRoot, Server, as_pages

from zaslon.adapters.stix.validate import problems
from zaslon.flow.orgs import create_org
from zaslon.lab.loopback import served

from .conftest import country

PHONE_RU = "+79161234567"


def test_taxii2_client_runs_the_full_flow(tmp_path: Path) -> None:
    by = country(tmp_path, "BY")
    ru = create_org(by.engine, name="Zaslon RU", kind="partner")
    by.exchange.sharing.add_partner(ru.org_id, country="RU")
    for i in range(12):
        by.report(f"Перевод по ссылке https://shop{i}.example/pay, звонили с +37529{i:07d}")
    by.exchange.sharing.publish()
    with served(by.app) as base:
        # as a TAXII client usually authenticates: HTTP Basic, here with the API key as the password
        server = Server(f"{base}/taxii2/", user=ru.org_id, password=ru.api_key)
        assert server.title == "Zaslon BY TAXII server"
        root: ApiRoot = server.default
        assert root.versions == ["application/taxii+json;version=2.1"]
        readable = next(c for c in root.collections if c.can_read)
        writable = next(c for c in root.collections if c.can_write)
        pages = list(as_pages(readable.get_objects, per_request=10))
        assert len(pages) > 2 and all(len(p["objects"]) == 10 for p in pages[:-1])
        objects = [o for p in pages for o in p["objects"]]
        assert len({o["id"] for o in objects}) == len(objects)
        assert problems(objects) == []  # what the client got back validates (strict, our schemas)
        assert {"indicator", "phone-number", "url", "extension-definition"} <= {o["type"] for o in objects}
        assert "+37529" not in str(objects)  # phones go to a partner as keyed hashes
        theirs = {
            "type": "indicator", "spec_version": "2.1", "id": "indicator--5b4c3a2e-1f0d-4c9b-8a7f-6e5d4c3b2a19",
            "created": "2026-11-30T10:00:00.000Z", "modified": "2026-11-30T10:00:00.000Z",
            "name": "Fraud URL", "description": "A URL named in a fraud report in RU",
            "indicator_types": ["malicious-activity"], "pattern": "[url:value = 'https://shop3.example/pay']",
            "pattern_type": "stix", "valid_from": "2026-11-30T10:00:00Z",
            "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
        }
        status = writable.add_objects({"objects": [theirs]}, wait_for_completion=False)
        assert status.status == "complete" and status.success_count == 1
        again = root.get_status(status.id)
        assert again.successes[0]["id"] == theirs["id"]
        with pytest.raises(requests.HTTPError) as bad:
            writable.add_objects({"objects": [{**theirs, "pattern": "[url:value = "}]}, wait_for_completion=False)
        assert bad.value.response.status_code == 422
    # The clear URL it sent matched one of ours: a match is recorded and a sighting waits in its outbox.
    assert [m.value for m in by.exchange.sharing.matches(ru.org_id)] == ["https://shop3.example/pay"]
    by.exchange.close()


def test_two_exchanges_match_a_hashed_phone_and_both_record_a_sighting(tmp_path: Path) -> None:
    by, ru = country(tmp_path, "BY"), country(tmp_path, "RU")
    # Each exchange registers the other as a partner organisation and issues it an API key.
    ru_at_by = create_org(by.engine, name="Zaslon RU", kind="partner")
    by_at_ru = create_org(ru.engine, name="Zaslon BY", kind="partner")
    secret = "5a" * 32  # the pair key, agreed out of band
    by.report(f"Звонили с {PHONE_RU}, представились службой безопасности банка")
    ru.report(f"Мошенник звонил с номера {PHONE_RU}, перевод на безопасный счёт")
    with served(by.app) as by_url, served(ru.app) as ru_url:
        by.exchange.sharing.add_partner(
            ru_at_by.org_id, country="RU", key_id="by-ru-2026", secret_hex=secret, taxii_url=f"{ru_url}/taxii2/zaslon/",
            remote_read=ru.exchange.sharing.outbox_id(by_at_ru.org_id), remote_write=ru.exchange.sharing.inbox_id,
            remote_token=by_at_ru.api_key)
        ru.exchange.sharing.add_partner(
            by_at_ru.org_id, country="BY", key_id="by-ru-2026", secret_hex=secret, taxii_url=f"{by_url}/taxii2/zaslon/",
            remote_read=by.exchange.sharing.outbox_id(ru_at_by.org_id), remote_write=by.exchange.sharing.inbox_id,
            remote_token=ru_at_by.api_key)
        first = by.exchange.sharing.sync()  # BY publishes and pushes its hashed phone to RU
        assert first[ru_at_by.org_id]["pushed"] > 0 and "error" not in first[ru_at_by.org_id]
        # RU matched BY's keyed hash with its own incident's phone, and answers with a sighting
        ru_matches = ru.exchange.sharing.matches(by_at_ru.org_id)
        assert [(m.kind, m.value, m.key_id) for m in ru_matches] == [("phone", PHONE_RU, "by-ru-2026")]
        second = ru.exchange.sharing.sync()  # RU pushes its own (hashed) phone and the sighting back to BY
        assert "error" not in second[by_at_ru.org_id]
        by_matches = by.exchange.sharing.matches(ru_at_by.org_id)
        # BY records both: RU sighted BY's indicator, and RU's own hashed indicator matches BY's phone
        assert sorted(m.partner_object.split("--")[0] for m in by_matches) == ["indicator", "sighting"]
        assert {m.value for m in by_matches} == {PHONE_RU}
        third = by.exchange.sharing.sync()  # and BY's sighting of RU's indicator reaches RU
        assert "error" not in third[ru_at_by.org_id]
        kinds = sorted(m.partner_object.split("--")[0] for m in ru.exchange.sharing.matches(by_at_ru.org_id))
        assert kinds == ["indicator", "sighting"]
    # Nowhere did the clear number cross: neither inbox holds it
    for side in (by, ru):
        inbox = side.exchange.sharing.store.page(side.exchange.sharing.inbox_id, limit=10_000).rows
        assert inbox and PHONE_RU not in " ".join(r.body for r in inbox)
    by.exchange.close()
    ru.exchange.close()


def test_a_partner_that_is_down_delays_nothing_else(tmp_path: Path) -> None:
    by = country(tmp_path, "BY")
    down = create_org(by.engine, name="Zaslon KZ", kind="partner")
    by.exchange.sharing.add_partner(down.org_id, country="KZ", taxii_url="http://127.0.0.1:9/taxii2/zaslon/",
                                    remote_read="x", remote_write="y", remote_token="t")
    up = create_org(by.engine, name="Zaslon UZ", kind="partner")
    uz = country(tmp_path, "UZ")
    by_at_uz = create_org(uz.engine, name="Zaslon BY", kind="partner")
    uz.exchange.sharing.add_partner(by_at_uz.org_id, country="BY")
    with served(uz.app) as uz_url:
        by.exchange.sharing.add_partner(up.org_id, country="UZ", taxii_url=f"{uz_url}/taxii2/zaslon/",
                                        remote_write=uz.exchange.sharing.inbox_id, remote_token=by_at_uz.api_key)
        by.report("Перевод через сайт https://fake-invest.example/")
        out = by.exchange.sharing.sync(timeout_s=10, attempts=2, backoff_s=0.05)  # refused at once: no wait
    assert "ConnectionError" in out[down.org_id]["error"]
    assert out[up.org_id].get("pushed", 0) > 0, out
    kz = next(p for p in by.exchange.sharing.partners() if p.org_id == down.org_id)
    assert kz.last_sync_error and "ConnectionError" in kz.last_sync_error
    by.exchange.close()
    uz.exchange.close()
