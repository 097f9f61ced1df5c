"""zaslon stix export (the bundle passes the OASIS validator's own command, strict, with our schemas) and
zaslon partners add / keys rotate / disclose, with bad input exiting 2 and writing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.db.tables_core import orgs
from zaslon.adapters.db.tables_sharing import partner_keys, partner_matches, partners, taxii_objects
from zaslon.cli import app
from zaslon.core.access import OrgKind
from zaslon.core.pseudonym import PairKey, keyed_hash
from zaslon.core.types import Scheme
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport
from zaslon.flow.orgs import Principal, create_org
from zaslon.settings import Settings

runner = CliRunner()
PHONE = "+375447654321"
ACCOUNT = "BY86AKBB10100000002966000000"
VALIDATOR = Path(sys.executable).parent / "stix2_validator"


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'z.db'}"
    monkeypatch.setenv("ZASLON_DATABASE_URL", url)
    upgrade(url)
    engine = make_engine(url)
    bank = create_org(engine, name="Belarusbank", kind="bank", bank_id="AKBBBY2X")
    ex = Exchange(engine, Settings(database_url=url))
    who = Principal(bank.org_id, OrgKind.BANK, frozenset({"incidents:write"}), "AKBBBY2X")
    for text in (f"Звонили с {PHONE}, перевод на {ACCOUNT}, карта 4276380012345679",
                 f"Сайт https://evil-bank.example/login, почта fraud@evil-bank.example, снова {PHONE}"):
        ex.report_incident(who, IncidentReport(bank.org_id, "bank", Scheme.VISHING, datetime.now(UTC), text=text))
    ex.close()
    return url


def count(url: str, table: object) -> int:
    with make_engine(url).connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def strict_validator(bundle: Path, schemas: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VALIDATOR), "--strict", "--schemas", str(schemas), str(bundle)],
                          capture_output=True, text=True, timeout=120)


def test_export_for_a_partner_passes_the_strict_validator_and_carries_no_clear_identifier(url: str,
                                                                                         tmp_path: Path) -> None:
    added = runner.invoke(app, ["partners", "add", "--country", "RU", "--name", "Zaslon RU", "--key-id", "by-ru-1",
                                "--secret", "22" * 32])
    assert added.exit_code == 0, added.output
    assert "pair key:" not in added.stdout  # a key the partner sent is not echoed back
    out, schemas = tmp_path / "ru.json", tmp_path / "schemas"
    result = runner.invoke(app, ["stix", "export", "--out", str(out), "--partner", "partner-zaslon-ru",
                                 "--schemas-out", str(schemas)])
    assert result.exit_code == 0, result.output
    checked = strict_validator(out, schemas)
    assert checked.returncode == 0 and "STIX JSON: Valid" in checked.stdout, checked.stdout + checked.stderr
    bundle = json.loads(out.read_text())
    types = {o["type"] for o in bundle["objects"]}
    assert {"indicator", "phone-number", "bank-account", "payment-card", "url", "email-addr",
            "extension-definition", "marking-definition"} <= types
    text = out.read_text()
    assert PHONE not in text and ACCOUNT not in text and "4276380012345679" not in text
    digest = keyed_hash(PairKey("by-ru-1", bytes.fromhex("22" * 32)), "phone", PHONE)
    assert digest in text  # what the partner can match with the same key
    assert "incident" not in types  # incidents are AMBER by default and this one names no partner
    ext_ids = {o["id"] for o in bundle["objects"] if o["type"] == "extension-definition"}
    used = {e for o in bundle["objects"] for e in (o.get("extensions") or {}) if e.startswith("extension-def")}
    assert used <= ext_ids | {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"}  # TLP 2.0's own


def test_export_green_without_a_partner_and_the_contract_flags(url: str, tmp_path: Path) -> None:
    out, schemas = tmp_path / "green.json", tmp_path / "schemas"
    result = runner.invoke(app, ["stix", "export", "--out", str(out), "--tlp", "green", "--schemas-out", str(schemas)])
    assert result.exit_code == 0, result.output
    assert strict_validator(out, schemas).returncode == 0
    bundle = json.loads(out.read_text())
    patterns = [o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"]
    assert "[url:value = 'https://evil-bank.example/login']" in patterns
    assert not any("payment-card" in p for p in patterns)  # no pair key: a card is left out, never in clear
    # Marked RED, the URL stays home; AMBER for a partner, it goes only to that partner
    assert runner.invoke(app, ["stix", "mark", "indicator:url:https://evil-bank.example/login", "--tlp", "red",
                               "--by", "analyst-7"]).exit_code == 0
    runner.invoke(app, ["stix", "export", "--out", str(out), "--tlp", "green"])
    assert "https://evil-bank.example/login" not in out.read_text()


def test_incidents_and_cases_go_to_a_named_partner(url: str, tmp_path: Path) -> None:
    assert runner.invoke(app, ["partners", "add", "--country", "RU", "--name", "Zaslon RU"]).exit_code == 0
    assert runner.invoke(app, ["partners", "add", "--country", "KZ", "--name", "Zaslon KZ"]).exit_code == 0
    from zaslon.adapters.db.tables_cases import cases

    with make_engine(url).connect() as conn:
        case_id = conn.execute(select(cases.c.case_id)).scalars().first()
        from zaslon.adapters.db.tables_incidents import incidents
        inc_ids = conn.execute(select(incidents.c.incident_id)).scalars().all()
    assert case_id is not None
    for ref in [f"case:{case_id}", *(f"incident:{i}" for i in inc_ids)]:
        r = runner.invoke(app, ["stix", "mark", ref, "--tlp", "amber", "--partner", "partner-zaslon-ru",
                                "--by", "analyst-7"])
        assert r.exit_code == 0, r.output
    ru, kz, schemas = tmp_path / "ru.json", tmp_path / "kz.json", tmp_path / "s"
    assert runner.invoke(app, ["stix", "export", "--out", str(ru), "--partner", "partner-zaslon-ru",
                               "--schemas-out", str(schemas)]).exit_code == 0
    assert runner.invoke(app, ["stix", "export", "--out", str(kz), "--partner", "partner-zaslon-kz"]).exit_code == 0
    assert strict_validator(ru, schemas).returncode == 0
    ru_types = [o["type"] for o in json.loads(ru.read_text())["objects"]]
    kz_types = [o["type"] for o in json.loads(kz.read_text())["objects"]]
    assert ru_types.count("incident") == 2 and "grouping" in ru_types and "relationship" in ru_types
    assert "incident" not in kz_types and "grouping" not in kz_types
    grouping = next(o for o in json.loads(ru.read_text())["objects"] if o["type"] == "grouping")
    assert sum(r.startswith("incident--") for r in grouping["object_refs"]) == 2
    incident = next(o for o in json.loads(ru.read_text())["objects"] if o["type"] == "incident")
    assert "Галина" not in ru.read_text() and incident["extensions"]


def test_partners_bad_input_exits_2_and_writes_nothing(url: str) -> None:
    before = count(url, orgs)
    for args in (["--country", "RUS", "--name", "Zaslon RU"],  # not alpha-2
                 ["--country", "RU", "--name", "Zaslon RU", "--secret", "abcd"],  # a key too short
                 ["--country", "RU", "--name", "Zaslon RU", "--secret", "zz" * 32],  # not hex
                 ["--country", "RU", "--name", "Zaslon RU", "--key-id", "no spaces"],
                 ["--country", "RU"],  # neither --name nor --org-id
                 ["--country", "RU", "--org-id", "bank-belarusbank"]):  # not a partner
        result = runner.invoke(app, ["partners", "add", *args])
        assert result.exit_code == 2, (args, result.output)
    assert count(url, orgs) == before and count(url, partners) == 0 and count(url, partner_keys) == 0
    assert runner.invoke(app, ["stix", "export", "--out", "/dev/null", "--partner", "nobody"]).exit_code == 2
    assert runner.invoke(app, ["stix", "export", "--out", "/dev/null", "--tlp", "purple"]).exit_code == 2
    assert runner.invoke(app, ["stix", "mark", "incident:x", "--tlp", "amber", "--partner", "nobody",
                               "--by", "a"]).exit_code == 2
    assert runner.invoke(app, ["partners", "keys", "rotate", "partner-nobody"]).exit_code == 2


def test_rotation_retires_the_old_key_and_both_still_match(url: str) -> None:
    from zaslon.flow.sharing import Sharing

    assert runner.invoke(app, ["partners", "add", "--country", "RU", "--name", "Zaslon RU", "--key-id", "old",
                               "--secret", "33" * 32]).exit_code == 0
    rotated = runner.invoke(app, ["partners", "keys", "rotate", "partner-zaslon-ru", "--key-id", "new"])
    assert rotated.exit_code == 0 and "pair key:" in rotated.stdout
    assert runner.invoke(app, ["partners", "keys", "rotate", "partner-zaslon-ru", "--key-id", "new"]).exit_code == 2
    sharing = Sharing(make_engine(url), Settings(database_url=url))
    assert sharing.current_key("partner-zaslon-ru").key_id == "new"  # type: ignore[union-attr]
    principal = Principal("partner-zaslon-ru", OrgKind.PARTNER, frozenset({"exchange:write"}))
    old_digest = keyed_hash(PairKey("old", bytes.fromhex("33" * 32)), "phone", PHONE)
    sharing.import_envelope(principal, sharing.inbox_id, {"objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--1d2c3b4a-5e6f-4a0b-9c8d-7e6f5a4b3c2d",
        "created": "2026-11-30T10:00:00.000Z", "modified": "2026-11-30T10:00:00.000Z", "name": "Fraud phone",
        "description": "hashed before the rotation", "indicator_types": ["malicious-activity"],
        "pattern": f"[phone-number:value_hmac = '{old_digest}' AND phone-number:hmac_key_id = 'old']",
        "pattern_type": "stix", "valid_from": "2026-11-30T10:00:00Z"}]})
    assert [m.value for m in sharing.matches()] == [PHONE]


def test_disclosure_is_explicit_audited_and_goes_to_that_partner_only(url: str) -> None:
    from zaslon.flow.sharing import Sharing

    runner.invoke(app, ["partners", "add", "--country", "RU", "--name", "Zaslon RU", "--key-id", "k",
                        "--secret", "44" * 32])
    runner.invoke(app, ["partners", "add", "--country", "KZ", "--name", "Zaslon KZ"])
    sharing = Sharing(make_engine(url), Settings(database_url=url))
    principal = Principal("partner-zaslon-ru", OrgKind.PARTNER, frozenset({"exchange:write"}))
    digest = keyed_hash(PairKey("k", bytes.fromhex("44" * 32)), "account", ACCOUNT)
    sharing.import_envelope(principal, sharing.inbox_id, {"objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--2d2c3b4a-5e6f-4a0b-9c8d-7e6f5a4b3c2d",
        "created": "2026-11-30T10:00:00.000Z", "modified": "2026-11-30T10:00:00.000Z", "name": "Drop account",
        "description": "hashed", "indicator_types": ["malicious-activity"],
        "pattern": f"[bank-account:value_hmac = '{digest}' AND bank-account:hmac_key_id = 'k']",
        "pattern_type": "stix", "valid_from": "2026-11-30T10:00:00Z"}]})
    [match] = sharing.matches()
    outbox_before = count(url, taxii_objects)
    assert ACCOUNT not in json.dumps([r.body for r in sharing.store.page(sharing.outbox_id("partner-zaslon-ru"),
                                                                         limit=1000).rows])
    no_reason = runner.invoke(app, ["partners", "disclose", str(match.match_id), "--by", "desk", "--reason", " "])
    assert no_reason.exit_code == 2 and count(url, taxii_objects) == outbox_before
    done = runner.invoke(app, ["partners", "disclose", str(match.match_id), "--by", "desk-officer-3",
                               "--reason", "MLA request 2026/114"])
    assert done.exit_code == 0, done.output
    with make_engine(url).connect() as conn:
        row = conn.execute(select(partner_matches)).one()
    assert row.disclosed_by == "desk-officer-3" and row.disclosure_reason == "MLA request 2026/114"
    ru_box = " ".join(r.body for r in sharing.store.page(sharing.outbox_id("partner-zaslon-ru"), limit=1000).rows)
    kz_box = " ".join(r.body for r in sharing.store.page(sharing.outbox_id("partner-zaslon-kz"), limit=1000).rows)
    assert ACCOUNT in ru_box and ACCOUNT not in kz_box
    assert "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003" in ru_box  # AMBER+STRICT
    again = runner.invoke(app, ["partners", "disclose", str(match.match_id), "--by", "x", "--reason", "y"])
    assert again.exit_code == 2  # disclosed already: a conflict, nothing sent twice
