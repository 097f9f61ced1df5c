"""Fuzz POST /v1/transfers: arbitrary JSON never causes a 500 and never stores anything invalid."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.http.app import create_app
from zaslon.flow.orgs import create_org
from zaslon.settings import Settings

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
_json = st.recursive(_scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids,
                                                                                           max_size=5), max_leaves=12)
_field_values = {
    "transfer_id": st.text(max_size=70) | st.integers(),
    "ts": st.sampled_from(["2026-11-02T10:15:00+03:00", "2026-11-02T10:15:00", "", "2026-13-45T99:00:00Z"])
    | st.text(max_size=25),
    "payer": st.text(max_size=70),
    "payee": st.sampled_from(["CASH", "BY86AKBB10100000002966000000"]) | st.text(max_size=70),
    "amount": st.integers(min_value=-(10**16), max_value=10**16) | st.floats() | st.text(max_size=5),
    "currency": st.sampled_from(["BYN", "EUR", "XYZ", "byn", ""]) | st.text(max_size=4),
    "channel": st.sampled_from(["mobile", "atm", "telepathy"]),
    "ip": st.sampled_from(["10.0.0.1", "::1", "1.2.3.999"]) | st.text(max_size=10),
    "atm": _json,
}
_transfers = st.fixed_dictionaries({}, optional=_field_values)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_transfers | st.lists(_transfers, max_size=3) | _json)
def test_random_bodies_never_500(body, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    client, key = _client(tmp_path_factory.getbasetemp())
    r = client.post("/v1/transfers", content=json.dumps(body), headers={"Authorization": f"Bearer {key}",
                                                                         "content-type": "application/json"})
    assert r.status_code in (200, 201, 409, 413, 422), (body, r.status_code, r.text)
    if r.status_code >= 400:
        assert r.json()["message"]


_CACHE: dict[str, tuple[TestClient, str]] = {}


def _client(base: Path) -> tuple[TestClient, str]:
    if "c" not in _CACHE:
        url = f"sqlite:///{base / 'fuzz.db'}"
        upgrade(url)
        engine = make_engine(url)
        key = create_org(engine, name="Fuzz bank", kind="bank").api_key
        _CACHE["c"] = (TestClient(create_app(Settings(database_url=url), db=engine)), key)
    return _CACHE["c"]
