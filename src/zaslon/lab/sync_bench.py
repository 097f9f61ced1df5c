"""How long a partner sync of N indicators takes, end to end over the real path (``zaslon bench sync``).

Two exchanges on loopback, as ``zaslon demo --partners`` runs them: the partner (RU) holds N indicators (a mix
of phones, bank accounts, wallets, URLs, domains and e-mail addresses; the sensitive ones shared as keyed hashes
under the pair key) and has published them to its outbox for us; its app is served by uvicorn on a loopback
port. Ours (BY) holds a tenth of the same identifiers, so matches and sightings happen as they would. Timed:
``Sharing.sync`` of that partner, i.e. the pages fetched with ``taxii2-client`` over HTTP, each validated
(stix2-validator, strict, our schemas), checked, stored in our inbox and matched. The partner's publish, which
builds the objects, is timed apart (setup). The indicators are written straight into the partner's
``indicators`` table: how they got there (reports) is not what is measured.

Then the same pull is started again in the background (``PartnerSync``'s bulk lane), and while it runs five
freeze requests are made one after another: each one's wall time to the partner holding it is reported, and
how many got there before that bulk round was over (a freeze request must not wait behind bulk sync).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.adapters.db.tables_incidents import indicators
from zaslon.adapters.db.tables_sharing import partner_matches, taxii_objects
from zaslon.adapters.http.app import create_app
from zaslon.adapters.http.state import app_state
from zaslon.flow.orgs import create_org
from zaslon.flow.sharing import Sharing
from zaslon.lab.loopback import served
from zaslon.settings import Settings

_PAIR_SECRET = "5a" * 32
_RU_BANK = "SABRRUMM"


def identifiers(n: int) -> list[tuple[str, str]]:
    """``n`` distinct normalised identifiers of the kinds that are shared, in a fixed mix."""
    kinds = ["phone", "account", "url", "domain", "email", "wallet"]

    def value(kind: str, i: int) -> str:
        return {"phone": f"+7916{i:07d}", "account": f"RU{i % 97:02d}04452{i:014d}"[:22],
                "url": f"https://pay-{i}.example/checkout", "domain": f"bank-secure-{i}.example",
                "email": f"support{i}@bank-help.example", "wallet": f"bc1q{i:038d}"}[kind]

    return [(kinds[i % len(kinds)], value(kinds[i % len(kinds)], i)) for i in range(n)]


def _hold(engine: Engine, values: list[tuple[str, str]], at: datetime) -> None:
    """Each identifier first seen at its own moment over the past year (as reports arrive), so no two
    indicators share their timestamps."""
    with engine.begin() as conn:
        conn.execute(insert(indicators), [
            {"kind": k, "value": v, "display": None, "first_seen_at": at - timedelta(seconds=3_137 * i + 1)}
            for i, (k, v) in enumerate(values)])


def _count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def run_sync_bench(n: int = 10_000, *, workdir: Path | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zaslon-sync-bench-") as tmp:
        return _run(n, Path(workdir or tmp))


def _run(n: int, workdir: Path) -> dict[str, Any]:
    at = datetime.now(UTC) - timedelta(days=1)
    sides: dict[str, tuple[Settings, Engine]] = {}
    for cc in ("BY", "RU"):
        url = f"sqlite:///{workdir / f'{cc.lower()}.db'}"
        for extra in ("", "-wal", "-shm"):
            Path(f"{workdir / f'{cc.lower()}.db'}{extra}").unlink(missing_ok=True)
        upgrade(url)
        settings = Settings(database_url=url, exchange_name=f"Zaslon {cc}", country=cc, partner_sync_interval_s=0,
                            taxii_requests_per_minute=10_000)
        sides[cc] = (settings, make_engine(url))
    (by_settings, by_engine), (ru_settings, ru_engine) = sides["BY"], sides["RU"]
    values = identifiers(n)
    _hold(ru_engine, values, at)
    _hold(by_engine, values[::10], at)

    by_at_ru = create_org(ru_engine, name="Zaslon BY", kind="partner")
    app = create_app(ru_settings, db=ru_engine)
    ru = app_state(app).exchange
    ru.sharing.add_partner(by_at_ru.org_id, country="BY", key_id="by-ru-bench", secret_hex=_PAIR_SECRET)
    t0 = time.perf_counter()
    ru.sharing.publish()
    publish_s = time.perf_counter() - t0
    outbox = ru.sharing.outbox_id(by_at_ru.org_id)
    offered = _count(ru_engine, taxii_objects, taxii_objects.c.collection_id == outbox)
    offered_indicators = _count(ru_engine, taxii_objects, taxii_objects.c.collection_id == outbox,
                                taxii_objects.c.stix_type == "indicator")

    by = Sharing(by_engine, by_settings)
    by.warm_up()  # as `zaslon serve` does at start: the validator's schemas are loaded before the first sync
    ru_at_by = create_org(by_engine, name="Zaslon RU", kind="partner")
    ru.sharing.set_verify_key(by_at_ru.org_id, by.signing_public_key())
    create_org(ru_engine, name="Sberbank", kind="bank", bank_id=_RU_BANK)
    try:
        with served(app, name="zaslon-bench-partner") as base:
            by.add_partner(ru_at_by.org_id, country="RU", key_id="by-ru-bench", secret_hex=_PAIR_SECRET,
                           taxii_url=f"{base}/taxii2/zaslon/", remote_read=outbox, remote_write=ru.sharing.inbox_id,
                           remote_token=by_at_ru.api_key, verify_key=ru.sharing.signing_public_key())
            t0 = time.perf_counter()
            result = by.sync(ru_at_by.org_id, timeout_s=120.0, publish=False)[ru_at_by.org_id]
            sync_s = time.perf_counter() - t0
            if "error" in result:
                raise RuntimeError(f"the sync failed: {result['error']}")
            stored = _count(by_engine, taxii_objects, taxii_objects.c.collection_id == by.inbox_id)
            matched = _count(by_engine, partner_matches)
            during = _freezes_during_a_bulk_round(by, ru.sharing, ru_at_by.org_id, by_engine)
    finally:
        ru.close()
    return {
        "indicators": n,
        "indicators_offered": offered_indicators,
        "objects_offered": offered,
        "objects_pulled": int(result["pulled"]),
        "objects_stored": stored,
        "matches": matched,
        "partner_publish_s": round(publish_s, 2),
        "sync_s": round(sync_s, 2),
        "objects_per_s": round(result["pulled"] / sync_s, 1) if sync_s else None,
        "page_size": ru_settings.taxii_page_size,
        **during,
        "cpus": os.cpu_count(),
    }


def _freezes_during_a_bulk_round(by: Sharing, ru: Sharing, ru_at_by: str, by_engine: Engine,
                                 requests: int = 5) -> dict[str, Any]:
    """Freeze requests made while the partner sync's bulk lane pulls the whole collection again (as a round
    with thousands of new indicators would): the wall time from each request to the partner holding it,
    verified with its order issued, and how many arrived while that round was still under way."""
    from zaslon.adapters.db.tables_sharing import partners
    from zaslon.adapters.stix.content import FreezeAsk
    from zaslon.flow.partner_sync import PartnerSync

    with by_engine.begin() as conn:  # pull everything again: ~20,000 objects validated once more
        conn.execute(partners.update().where(partners.c.org_id == ru_at_by).values(pulled_until=None))
    sync = PartnerSync(by, interval_s=0, timeout_s=120.0)
    sync.start()
    took: list[float] = []
    under_way = 0
    try:
        sync.wake()
        time.sleep(1.0)  # the bulk round is pulling
        for k in range(requests):
            now = datetime.now(UTC)
            ask = FreezeAsk(f"tx-bench-{k}", now - timedelta(hours=1), 250_000 + k, "RUB", f"4081781009991000{k:04d}",
                            _RU_BANK, "Minsk Convention 1993, art. 8 (bench)", now + timedelta(days=3))
            t0 = time.perf_counter()
            request_id = by.request_freeze(ru_at_by, ask, by="bench")
            sync.wake()
            deadline = time.monotonic() + 120
            while not any(r["request_id"] == request_id for r in ru.freeze_requests("in")):
                if time.monotonic() > deadline:
                    raise RuntimeError("the partner did not get the freeze request within 120 s")
                time.sleep(0.005)
            took.append(time.perf_counter() - t0)
            under_way += sync.rounds == 0
            time.sleep(0.5)
        sync.wait_round(0, timeout_s=120)
    finally:
        sync.stop()
    return {"freeze_during_bulk_s": [round(t, 3) for t in took], "freeze_during_bulk_max_s": round(max(took), 3),
            "freeze_during_bulk_p50_s": round(sorted(took)[len(took) // 2], 3),
            "freeze_arrived_while_bulk_round_under_way": under_way}


def write(out: dict[str, Any], path: Path | None) -> str:
    text = json.dumps(out, indent=2)
    if path is not None:
        path.write_text(text + "\n")
    return text
