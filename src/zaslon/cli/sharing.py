"""Sharing with partner countries: ``zaslon stix ...`` (what goes out) and ``zaslon partners ...`` (who, keys,
sync, matches, disclosure). Every command works through ``zaslon.flow.sharing.Sharing``."""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from zaslon.flow.sharing import Sharing


def _sharing() -> Sharing:
    from zaslon.adapters.db.engine import make_engine, upgrade
    from zaslon.flow.sharing import Sharing
    from zaslon.settings import Settings

    settings = Settings()
    upgrade(settings.database_url)
    return Sharing(make_engine(settings.database_url), settings)


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    stix = typer.Typer(no_args_is_help=True, help="STIX 2.1 content this exchange shares.")
    partners = typer.Typer(no_args_is_help=True, help="Partner countries' exchanges: keys, sync, matches.")
    keys = typer.Typer(no_args_is_help=True, help="A partner's pair keys (keyed-hash matching).")
    app.add_typer(stix, name="stix")
    app.add_typer(partners, name="partners")
    partners.add_typer(keys, name="keys")

    @stix.command("export")
    def stix_export(
        out: Path = typer.Option(..., help="where to write the bundle (JSON)"),
        tlp: str = typer.Option(None, help="the most restrictive marking to include (default: green without a "
                                           "partner, amber+strict for one)"),
        partner: str = typer.Option(None, help="the partner's org id: the bundle exactly as it would get it"),
        schemas_out: Path = typer.Option(None, help="also copy the extension schemas here (for stix2_validator "
                                                    "--schemas)"),
    ) -> None:
        """Write the bundle that would be shared; it passes `stix2_validator --strict --schemas <the schemas>`."""
        from zaslon.adapters.stix.tlp import Tlp, parse_tlp
        from zaslon.adapters.stix.validate import SCHEMA_DIR

        ceiling = parse_tlp(tlp) if tlp else (Tlp.AMBER_STRICT if partner else Tlp.GREEN)
        bundle = _sharing().export_bundle(partner, max_tlp=ceiling)
        out.write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n")
        if schemas_out is not None:
            schemas_out.mkdir(parents=True, exist_ok=True)
            for f in SCHEMA_DIR.glob("*.json"):
                shutil.copy(f, schemas_out / f.name)
        counts: dict[str, int] = {}
        for o in bundle["objects"]:
            counts[o["type"]] = counts.get(o["type"], 0) + 1
        listed = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"wrote {len(bundle['objects'])} objects to {out}: {listed}")
        print(f"extension schemas: {schemas_out or SCHEMA_DIR}", file=sys.stderr)

    @stix.command("publish")
    def stix_publish() -> None:
        """Refresh every partner's outbox collection with what may go to it now."""
        for org_id, n in _sharing().publish().items():
            print(f"{org_id}: {n} object versions added")

    @stix.command("mark")
    def stix_mark(
        ref: str = typer.Argument(..., help="incident:<id>, case:<id> or indicator:<kind>:<value>"),
        tlp: str = typer.Option(..., help="clear, green, amber, amber+strict or red"),
        partner: list[str] = typer.Option([], help="a partner an AMBER object may go to (repeatable)"),
        by: str = typer.Option(..., help="who marks it (recorded)"),
    ) -> None:
        """Mark one of our objects: its TLP and, for AMBER, the partners named on it."""
        _sharing().mark(ref, tlp, partner, by=by)
        print(f"{ref}: TLP:{tlp.upper()}" + (f" for {', '.join(partner)}" if partner else ""))

    @partners.command("add")
    def partners_add(
        country: str = typer.Option(..., help="the partner's country (ISO 3166 alpha-2)"),
        name: str = typer.Option(None, help="create the partner organisation (and its API key) with this name"),
        org_id: str = typer.Option(None, help="or register an existing organisation of kind partner"),
        key_id: str = typer.Option(None, help="the pair key's id, if the partner sent one"),
        secret: str = typer.Option(None, help="the pair key (hex, 32+ bytes), if the partner sent one"),
        taxii_url: str = typer.Option(None, help="the partner's TAXII API root, for sync"),
        remote_read: str = typer.Option(None, help="its collection we pull from"),
        remote_write: str = typer.Option(None, help="its collection we push to"),
        remote_token: str = typer.Option(None, help="the API key its server issued to us"),
        verify_key: str = typer.Option(None, help="its Ed25519 public key (hex) for signed freeze requests"),
        read: bool = typer.Option(True, help="it may read its outbox collection here"),
        write: bool = typer.Option(True, help="it may add objects to our inbox"),
    ) -> None:
        """Register a partner exchange and its first pair key (printed once: give it to the partner out of band)."""
        from zaslon.errors import InvalidInput
        from zaslon.flow.orgs import create_org

        if (name is None) == (org_id is None):
            raise InvalidInput("give --name (a new partner organisation) or --org-id (an existing one)", field="name")
        sharing = _sharing()
        sharing.check_new_partner(country, key_id, secret, verify_key)
        api_key = None
        if name is not None:
            created = create_org(sharing.db, name=name, kind="partner")
            org_id, api_key = created.org_id, created.api_key
        assert org_id is not None
        new = sharing.add_partner(org_id, country=country, may_read=read, may_write=write, taxii_url=taxii_url,
                                  remote_read=remote_read, remote_write=remote_write, remote_token=remote_token,
                                  key_id=key_id, secret_hex=secret, verify_key=verify_key)
        print(f"partner:       {org_id}")
        print(f"outbox:        {sharing.outbox_id(org_id)}")
        print(f"inbox:         {sharing.inbox_id}")
        print(f"pair key id:   {new.key_id}")
        if secret is None:
            print(f"pair key:      {new.secret_hex}")
        if api_key is not None:
            print(f"api_key:       {api_key}")
        print("Store the keys now: they are not shown again.", file=sys.stderr)

    @partners.command("list")
    def partners_list() -> None:
        """Partners, their collections and sync state (never keys)."""
        from rich.console import Console
        from rich.table import Table

        sharing = _sharing()
        table = Table("partner", "country", "read", "write", "outbox", "taxii_url", "last sync error")
        for p in sharing.partners():
            table.add_row(p.org_id, p.country, str(p.may_read), str(p.may_write), sharing.outbox_id(p.org_id),
                          p.taxii_url or "", p.last_sync_error or "")
        Console(width=200).print(table)

    @keys.command("rotate")
    def keys_rotate(
        partner: str = typer.Argument(..., help="the partner's org id"),
        key_id: str = typer.Option(None, help="the new key's id, if the partner sent one"),
        secret: str = typer.Option(None, help="the new key (hex), if the partner sent one"),
    ) -> None:
        """A new pair key for the partner; the old one is retired (still matches what was hashed with it)."""
        kid, secret_hex = _sharing().rotate_key(partner, key_id=key_id, secret_hex=secret)
        print(f"pair key id:   {kid}")
        if secret is None:
            print(f"pair key:      {secret_hex}")

    @partners.command("sync")
    def partners_sync(
        partner: str = typer.Option(None, help="only this partner"),
        every: float = typer.Option(0, min=0, help="repeat every this many seconds (0: once)"),
        timeout: float = typer.Option(10.0, min=0.1, help="seconds per request to a partner"),
    ) -> None:
        """Publish, pull each partner's collection for us, push ours to it."""
        sharing = _sharing()
        while True:
            for org_id, result in sharing.sync(partner, timeout_s=timeout).items():
                print(f"{org_id}: {json.dumps(result)}", flush=True)
            if not every:
                return
            time.sleep(every)

    @partners.command("matches")
    def partners_matches(partner: str = typer.Option(None, help="only this partner")) -> None:
        """Identifiers a partner holds too (keyed-hash or clear matches, and its sightings of ours)."""
        from rich.console import Console
        from rich.table import Table

        table = Table("match", "partner", "partner object", "kind", "ours", "key", "disclosed")
        for m in _sharing().matches(partner):
            disclosed = f"{m.disclosed_at:%Y-%m-%d %H:%M} by {m.disclosed_by}" if m.disclosed_at else ""
            table.add_row(str(m.match_id), m.partner_org, m.partner_object, m.kind, m.value, m.key_id or "",
                          disclosed)
        Console(width=220).print(table)

    @partners.command("disclose")
    def partners_disclose(
        match_id: int = typer.Argument(..., help="the match to disclose the clear value of"),
        by: str = typer.Option(..., help="who decides it (recorded)"),
        reason: str = typer.Option(..., help="why, e.g. the legal basis (recorded)"),
    ) -> None:
        """Disclose our clear value behind a match to that partner only (audited; TLP:AMBER+STRICT)."""
        print(json.dumps(_sharing().disclose(match_id, by=by, reason=reason)))

    @partners.command("signing-key")
    def partners_signing_key() -> None:
        """Print this exchange's Ed25519 public key and its id, for partners to verify our freeze requests by."""
        from zaslon.settings import Settings

        print(f"key id:      {Settings().signing_key_id}")
        print(f"public key:  {_sharing().signing_public_key()}")

    @partners.command("verify-key")
    def partners_verify_key(
        partner: str = typer.Argument(..., help="the partner's org id"),
        public_key: str = typer.Argument(..., help="its Ed25519 public key (hex)"),
    ) -> None:
        """Register (or replace) the key a partner's signed objects must verify by."""
        _sharing().set_verify_key(partner, public_key)
        print(f"{partner}: verify key set")

    @partners.command("freeze-request")
    def partners_freeze_request(
        partner: str = typer.Option(..., help="the partner's org id"),
        payment: str = typer.Option(..., help="the original payment's id"),
        payment_date: datetime = typer.Option(..., help="when it was made (ISO 8601, UTC if no zone)"),
        amount: int = typer.Option(..., help="amount to freeze, minor units"),
        currency: str = typer.Option(..., help="ISO 4217"),
        account: str = typer.Option(..., help="the account abroad (IBAN or national number)"),
        bank: str = typer.Option(..., help="the BIC of the bank abroad"),
        legal_basis: str = typer.Option(..., help="the legal basis of the request"),
        hours: float = typer.Option(72, min=1, help="deadline, hours from now"),
        by: str = typer.Option(..., help="who asks (recorded)"),
    ) -> None:
        """Ask a partner to freeze money at one of its banks (a signed freeze request, sent on the next sync)."""
        from datetime import UTC, timedelta

        from zaslon.adapters.stix.content import FreezeAsk

        when = payment_date if payment_date.tzinfo else payment_date.replace(tzinfo=UTC)
        ask = FreezeAsk(payment, when, amount, currency.upper(), account, bank.upper(), legal_basis,
                        datetime.now(UTC) + timedelta(hours=hours))
        print(_sharing().request_freeze(partner, ask, by=by))

    @partners.command("freezes")
    def partners_freezes(direction: str = typer.Option(None, help="out (ours) or in (partners')")) -> None:
        """Freeze requests across borders and what the requested side reported."""
        from rich.console import Console
        from rich.table import Table

        table = Table("request", "dir", "partner", "account", "amount", "status", "orders", "frozen", "returned",
                      "reason")
        for r in _sharing().freeze_requests(direction):
            table.add_row(r["request_id"], r["direction"], r["partner_org"], r["creditor_account"],
                          f"{r['amount']} {r['currency']}", r["status"], str(r["orders_issued"]),
                          str(r["frozen_amount"]), str(r["returned_amount"]), r["reason"] or "")
        Console(width=240).print(table)

    @bench.command("sync")
    def bench_sync(
        indicators: int = typer.Option(10_000, min=1, help="how many indicators the partner's collection holds"),
        json_path: Path = typer.Option(None, "--json", help="write the figures here as JSON"),
    ) -> None:
        """Time a partner sync of N indicators end to end: two exchanges on loopback, taxii2-client paging over
        HTTP, strict validation, store and matching (lab/sync_bench.py)."""
        from zaslon.lab.sync_bench import run_sync_bench, write

        print(write(run_sync_bench(indicators), json_path))
