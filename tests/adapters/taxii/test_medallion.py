"""medallion, the OASIS TAXII 2.1 server, as a third-party peer: we push our outbox to it and pull from it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from zaslon.flow.orgs import create_org

from .conftest import country

COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
THEIRS = {
    "type": "indicator", "spec_version": "2.1", "id": "indicator--6f1d8c2e-9a3b-4c5d-8e7f-0a1b2c3d4e5f",
    "created": "2026-11-29T08:00:00.000Z", "modified": "2026-11-29T08:00:00.000Z", "name": "Phishing URL",
    "description": "Seen by a CERT that runs medallion", "indicator_types": ["malicious-activity"],
    "pattern": "[url:value = 'https://evil-bank.example/login']", "pattern_type": "stix",
    "valid_from": "2026-11-29T08:00:00Z",
    "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
}


@pytest.fixture(scope="module")
def medallion(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    """medallion's memory backend on a loopback port, seeded with one indicator; (API root URL, backend).
    Once per module: medallion's Flask app is a process-wide singleton that can be set up only once."""
    import medallion as m

    tmp_path = tmp_path_factory.mktemp("medallion")
    data = {
        "/discovery": {"title": "CERT TAXII", "description": "medallion", "default": "", "api_roots": []},
        "cert": {
            "information": {"title": "CERT", "description": "cert", "versions": ["application/taxii+json;version=2.1"],
                            "max_content_length": 10_000_000},
            "status": [],
            "collections": [{
                "id": COLLECTION, "title": "Shared", "description": "read and write", "can_read": True,
                "can_write": True, "media_types": ["application/stix+json;version=2.1"], "objects": [THEIRS],
                "manifest": [{"id": THEIRS["id"], "date_added": "2026-11-29T08:00:01.000000Z",
                              "version": THEIRS["modified"], "media_type": "application/stix+json;version=2.1"}],
            }],
        },
    }
    (tmp_path / "data.json").write_text(json.dumps(data))
    config = {"backend": {"module": "medallion.backends.memory_backend", "module_class": "MemoryBackend",
                          "filename": str(tmp_path / "data.json")},
              "users": {"zaslon-by": "s3cret"}, "taxii": {"max_page_size": 100}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    app = m.load_app(str(tmp_path / "config.json"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/cert/", app.medallion_backend
    finally:
        server.shutdown()


def test_we_push_to_medallion_and_pull_from_it(tmp_path: Path, medallion: tuple[str, Any]) -> None:
    root, backend = medallion
    by = country(tmp_path, "BY")
    cert = create_org(by.engine, name="CERT", kind="partner")
    by.report("Ссылка https://evil-bank.example/login пришла в SMS, звонили с +375447654321")
    by.exchange.sharing.add_partner(cert.org_id, country="LT", taxii_url=root, remote_read=COLLECTION,
                                    remote_write=COLLECTION, remote_token="basic:zaslon-by:s3cret")
    out = by.exchange.sharing.sync(cert.org_id, timeout_s=5)[cert.org_id]
    assert "error" not in out, out
    assert out["pushed"] > 0 and out["pulled"] >= 1
    held = {o["id"] for o in backend._get("cert")["collections"][0]["objects"]}
    ours = {r.stix_id for r in by.exchange.sharing.store.page(by.exchange.sharing.outbox_id(cert.org_id),
                                                              limit=1000).rows}
    assert ours <= held  # everything we published for it reached medallion
    # what we pulled went through our validation and matching: the CERT's URL is one we hold
    assert "https://evil-bank.example/login" in {m.value for m in by.exchange.sharing.matches(cert.org_id)}
    # (Not pulled again: medallion 3.0.0 cannot list a collection once it holds an extension-definition, whose
    # own "version" property its filters read as a timestamp; see docs/sharing.md.)
    by.exchange.close()


def test_wrong_credentials_at_medallion_are_a_recorded_sync_error(tmp_path: Path, medallion: tuple[str, Any]) -> None:
    root, _ = medallion
    by = country(tmp_path, "BY")
    cert = create_org(by.engine, name="CERT", kind="partner")
    by.exchange.sharing.add_partner(cert.org_id, country="LT", taxii_url=root, remote_read=COLLECTION,
                                    remote_token="basic:zaslon-by:wrong")
    out = by.exchange.sharing.sync(cert.org_id, timeout_s=5, attempts=1)[cert.org_id]
    assert "401" in out["error"]
    by.exchange.close()
