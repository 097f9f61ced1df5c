"""Schemathesis drives every operation in our OpenAPI document with generated requests: none may be a 5xx."""

from __future__ import annotations

import tempfile

import schemathesis
from hypothesis import HealthCheck, settings

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.http.app import create_app
from zaslon.flow.orgs import create_org
from zaslon.settings import Settings

_URL = f"sqlite:///{tempfile.mkdtemp(prefix='zaslon-schemathesis-')}/api.db"
upgrade(_URL)
_DB = make_engine(_URL)
_POLICE = create_org(_DB, name="Cyber desk", kind="police").api_key
_BANK = create_org(_DB, name="Belarusbank", kind="bank", bank_id="AKBBBY2X").api_key
_TELECOM = create_org(_DB, name="A1", kind="telecom").api_key
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(Settings(database_url=_URL), db=_DB))

_POLICE_PATHS = ("/v1/rules", "/v1/cases", "/v1/alerts", "/v1/signals/suspected-drops/refresh")


def _key(path: str, method: str) -> str:
    if path.startswith("/v1/telecom") and method != "GET":
        return _TELECOM
    if path.startswith(_POLICE_PATHS) or path.endswith("/decision"):
        return _POLICE
    return _BANK


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call(headers={"Authorization": f"Bearer {_key(case.path, case.method)}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.status_code, response.text[:400])
