"""Rules at the desk: a draft edited with inline errors naming the feature, a stale edit refused, a backtest in
money required before activation, and activation reaching the running engine."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from zaslon.adapters.http.state import app_state
from zaslon.flow import rules as rulebook

PASSWORD = "correct horse battery staple"


def _sign_in(app) -> TestClient:  # type: ignore[no-untyped-def]
    c = TestClient(app, raise_server_exceptions=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/desk/login").text).group(1)  # type: ignore[union-attr]
    assert c.post("/desk/login", data={"login": "anna", "password": PASSWORD, "csrf_token": token}).status_code == 200
    return c


def _field(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]*)"', html).group(1)  # type: ignore[union-attr]


def test_edit_backtest_and_activate_a_draft(desk_world) -> None:  # type: ignore[no-untyped-def]
    db = desk_world.engine
    anna = _sign_in(desk_world.app)
    index = anna.get("/desk/rules")
    assert index.status_code == 200
    r = anna.post("/desk/rules/draft", data={"csrf_token": _field(index.text, "csrf_token"), "base": ""})
    assert r.status_code == 200 and r.url.path.startswith("/desk/rules/")
    version = r.url.path.rsplit("/", 1)[1]
    page = r.text
    token, content_hash = _field(page, "csrf_token"), _field(page, "content_hash")
    rules = rulebook.get_version(db, version).rules

    # An unknown feature: 422, the error names it and the field, the draft is unchanged.
    bad = [*rules, {"rule_id": "big", "expression": "amount_zzz > 5", "action": "hold", "reason": "big"}]
    r = anna.post(f"/desk/rules/{version}/edit", data={"csrf_token": token, "content_hash": content_hash,
                                                       "rules": json.dumps(bad)})
    assert r.status_code == 422 and "amount_zzz" in r.text and "rules[" in r.text
    assert rulebook.get_version(db, version).content_hash == content_hash
    assert anna.post(f"/desk/rules/{version}/edit", data={"csrf_token": token, "content_hash": content_hash,
                                                          "rules": "[{"}).status_code == 422

    # A good edit, then a stale one (made on the hash before it): 409, nothing written.
    good = [{**rules[0], "reason": rules[0]["reason"] + " (edited at the desk)"}, *rules[1:]]
    r = anna.post(f"/desk/rules/{version}/edit", data={"csrf_token": token, "content_hash": content_hash,
                                                       "rules": json.dumps(good)})
    assert r.status_code == 200 and "edited at the desk" in r.text
    edited = rulebook.get_version(db, version).content_hash
    r = anna.post(f"/desk/rules/{version}/edit", data={"csrf_token": token, "content_hash": content_hash,
                                                       "rules": json.dumps(rules)})
    assert r.status_code == 409 and "changed by someone else" in r.text
    assert rulebook.get_version(db, version).content_hash == edited

    # Activation before a backtest is refused; after one it goes live and the running engine switches.
    r = anna.post(f"/desk/rules/{version}/activate", data={"csrf_token": token})
    assert r.status_code == 409 and rulebook.deployment(db).live != version
    r = anna.post(f"/desk/rules/{version}/backtest", data={"csrf_token": token})
    assert r.status_code == 200 and 'class="backtest current"' in r.text and 'class="saved"' in r.text
    r = anna.post(f"/desk/rules/{version}/activate", data={"csrf_token": token})
    assert r.status_code == 200
    assert rulebook.deployment(db).live == version
    assert app_state(desk_world.app).exchange.scoring.ruleset_version == version
    # Side by side: the diff shows the edit.
    diff = anna.get(f"/desk/rules?a={version}&b={version}")
    assert diff.status_code == 200
    assert anna.get("/desk/rules/no-such-version").status_code == 404
