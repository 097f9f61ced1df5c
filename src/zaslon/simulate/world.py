"""``generate`` builds a world and writes it; ``load_world`` / ``load_truth`` read one back.

Order: population -> banks and accounts -> fraud (victims, origin transfers, laundering) -> legitimate
traffic a day at a time, merged with that day's fraud transfers, sorted by time and streamed to Parquet
-> incidents and calls (which name transfer ids) -> truth tables -> manifest.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zaslon.simulate import banks, fraud, legit, population, reports, writer
from zaslon.simulate.laundering import LABELS, ROLES
from zaslon.simulate.presets import Preset, get_preset
from zaslon.simulate.registry import ACCOUNT_KINDS, COUNTRIES, CURRENCIES, PERSONAL

WORLD_TABLES = ("parties", "banks", "accounts", "atms", "transfers", "incidents", "calls")
TRUTH_TABLES = ("truth_transfers", "truth_accounts", "truth_incidents", "truth_victims", "truth_calls")
Progress = Callable[[str, float], None]


def load_world(path: str | Path) -> dict[str, Any]:
    """The tables the exchange may read, as polars DataFrames keyed by table name."""
    import polars as pl

    return {t: pl.read_parquet(Path(path) / f"{t}.parquet") for t in WORLD_TABLES}


def load_truth(path: str | Path) -> dict[str, Any]:
    """Ground-truth tables (for scoring only), as polars DataFrames keyed by name without ``truth_``."""
    import polars as pl

    return {t.removeprefix("truth_"): pl.read_parquet(Path(path) / f"{t}.parquet") for t in TRUTH_TABLES}


def load_manifest(path: str | Path) -> dict[str, Any]:
    return json.loads((Path(path) / "manifest.json").read_text())  # type: ignore[no-any-return]


def generate(preset: str | Preset, seed: int, out: str | Path, force: bool = False,
             progress: Progress | None = None, history_years: int = 0) -> dict[str, Any]:
    """``history_years``: also write that many years of reported incidents before the window
    (``zaslon.simulate.history``); 0 writes none and leaves the world byte-identical to one without."""
    from zaslon.simulate import history

    pre = get_preset(preset) if isinstance(preset, str) else preset
    if seed < 0:
        from zaslon.errors import InvalidInput

        raise InvalidInput("seed must be a non-negative integer", field="seed")
    if not 0 <= history_years <= history.MAX_YEARS:
        from zaslon.errors import InvalidInput

        raise InvalidInput(f"history_years is 0 to {history.MAX_YEARS}", field="history_years")
    out = Path(out)
    writer.check_target(out, force)
    # The world is a few large arrays plus many small objects that live to the end; the cyclic
    # collector would rescan them again and again for nothing.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with writer.atomic_dir(out, force) as tmp:
            manifest = _generate(pre, seed, tmp, progress or (lambda _s, _f: None))
            if history_years:
                from datetime import datetime

                start = datetime.fromisoformat(manifest["start"].replace("Z", "+00:00"))
                manifest["history"] = history.write_history(tmp, years=history_years, seed=seed, start=start,
                                                            days=int(manifest["days"]), preset=pre.name)
            (tmp / "manifest.json").write_text(
                json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    finally:
        if was_enabled:
            gc.enable()
    return manifest


def _generate(pre: Preset, seed: int, out: Path, progress: Progress) -> dict[str, Any]:
    # Independent streams per stage, so a change in one stage does not reshuffle the others.
    ss = np.random.SeedSequence([seed, sum(map(ord, pre.name))])
    # (Spawned children are numbered: adding a sixth stream left the first five, and their worlds, unchanged.)
    r_pop, r_fin, r_fraud, r_legit, r_rep, r_large = (np.random.default_rng(s) for s in ss.spawn(6))
    progress("people", 0.0)
    pop = population.build(pre, r_pop)
    fin = banks.build(pre, pop, r_fin)
    progress("fraud", 0.05)
    fw = fraud.FraudWorld(pre, pop, fin, r_fraud)
    fw.build()
    model = legit.build(pre, pop, fin, r_legit)
    acc = fin.accounts
    account_ids = acc.ids(fin.bank_codes())
    with_cash = pa.concat_arrays([account_ids, pa.array(["CASH"])])
    bank_ids = pa.array(fin.bank_ids)
    group_names = pa.array([g.name for g in fw.groups])
    schemes = pa.array(fraud.SCHEMES)
    party_ids = writer.ids("P", np.arange(pop.n), 8)
    atm_ids = writer.ids("ATM", np.arange(fin.atm_bank.size), 5)

    # ---- transfers, a day at a time --------------------------------------------------------------
    fb = fw.book.arrays()
    order = np.argsort(fb["ts"], kind="stable")
    fb = {k: v[order] for k, v in fb.items()}
    fraud_tid = np.full(order.size, -1, np.int64)
    t_schema = pa.schema([("transfer_id", pa.string()), ("ts", writer.TS), ("payer", pa.string()),
                          ("payee", pa.string()), ("amount", pa.int64()), ("currency", pa.string()),
                          ("channel", pa.string()), ("device", pa.string()), ("ip", pa.string()),
                          ("payer_bank", pa.string()), ("payee_bank", pa.string()),
                          ("payee_country", pa.string()), ("atm_id", pa.string())])
    tt_schema = pa.schema([("transfer_id", pa.string()), ("label", pa.string()), ("hop", pa.int8()),
                           ("scheme", pa.string()), ("group_id", pa.string()), ("victim_party", pa.string())])
    tw = writer.writer(out / "transfers.parquet", t_schema)
    ttw = writer.writer(out / "truth_transfers.parquet", tt_schema)
    countries = pa.array(COUNTRIES)
    acc_bank = np.append(acc.bank, -1).astype(np.int64)  # the extra slot stands for CASH
    acc_country = np.append(acc.country, 0).astype(np.int64)  # cash stays in Belarus
    next_id = 0
    false_pool: list[tuple[int, int, int, int, int]] = []
    per_day_false = max(2, pre.victims // (pre.days * 6))
    n_legit = 0
    for d in range(pre.days):
        lo, hi = population.day_start_us(pre, d), population.day_start_us(pre, d + 1)
        day = legit.day(model, d, r_legit)
        large = legit.large_payments(model, d, r_large)
        day = {k: np.concatenate([day[k], large[k]]) for k in legit.COLS}
        n_leg = day["ts"].size
        n_legit += n_leg
        f_lo, f_hi = np.searchsorted(fb["ts"], [lo, hi])
        cols = {k: np.concatenate([day[k], fb[k][f_lo:f_hi].astype(day[k].dtype)]) for k in legit.COLS}
        src = np.concatenate([np.full(n_leg, -1, np.int64), np.arange(f_lo, f_hi)])
        o = np.argsort(cols["ts"], kind="stable")
        cols = {k: v[o] for k, v in cols.items()}
        src = src[o]
        k = o.size
        numbers = np.arange(next_id, next_id + k)
        is_f = src >= 0
        fraud_tid[src[is_f]] = numbers[is_f]
        # Some ordinary payments will later be disputed by confused customers (false reports).
        cand = np.flatnonzero(~is_f & (cols["payer"] < acc.n) & (cols["payee"] >= 0))
        cand = cand[acc.kind[cols["payer"][cand]] == PERSONAL]
        for j in r_rep.choice(cand, size=min(per_day_false, cand.size), replace=False):
            false_pool.append((int(numbers[j]), int(acc.party[cols["payer"][j]]), int(cols["ts"][j]),
                               int(cols["payee"][j]), int(cols["amount"][j])))
        next_id += k
        tid = writer.ids("T", numbers, 10)
        payee_idx = np.where(cols["payee"] < 0, acc.n, cols["payee"])
        tw.write_table(pa.table({
            "transfer_id": tid, "ts": writer.timestamps(cols["ts"]),
            "payer": pc.take(account_ids, pa.array(cols["payer"])),
            "payee": pc.take(with_cash, pa.array(payee_idx)),
            "amount": pa.array(cols["amount"], pa.int64()),
            "currency": pc.take(pa.array(CURRENCIES), pa.array(cols["currency"])),
            "channel": pc.take(pa.array(legit.CHANNELS), pa.array(cols["channel"])),
            "device": writer.nullable_ids("D", cols["device"], 10),
            "ip": writer.ipv4(cols["ip"]),
            # Small lookup tables indexed by number: far cheaper than gathering 700k-entry string columns.
            "payer_bank": pc.take(bank_ids, pa.array(acc_bank[cols["payer"]])),
            "payee_bank": writer.take_str(bank_ids, acc_bank[payee_idx]),
            "payee_country": pc.take(countries, pa.array(acc_country[payee_idx])),
            "atm_id": writer.take_str(atm_ids, cols["atm"].astype(np.int64)),
        }, schema=t_schema))
        fsrc = np.where(is_f, src, 0)
        label = np.where(is_f, fb["label"][fsrc], 0)
        ttw.write_table(pa.table({
            "transfer_id": tid,
            "label": pc.take(pa.array(LABELS), pa.array(label)),
            "hop": pa.array(np.where(is_f, fb["hop"][fsrc], -1).astype(np.int8)),
            "scheme": writer.take_str(schemes, np.where(is_f, fb["scheme"][fsrc], -1)),
            "group_id": writer.take_str(group_names, np.where(is_f, fb["group"][fsrc], -1)),
            "victim_party": writer.take_str(party_ids, np.where(is_f, fb["victim"][fsrc], -1)),
        }, schema=tt_schema))
        progress("transfers", 0.1 + 0.8 * (d + 1) / pre.days)
    tw.close()
    ttw.close()
    n_transfers = next_id
    by_book_order = np.empty_like(fraud_tid)
    by_book_order[order] = fraud_tid  # victims refer to fraud transfers in the order they were made
    fraud_tid = by_book_order

    # ---- incidents and calls -----------------------------------------------------------------------
    progress("reports", 0.92)
    r_rep.shuffle(false_pool)  # type: ignore[arg-type,unused-ignore]

    def account_id_of(i: int) -> str:
        return str(account_ids[int(i)].as_py())

    rep = reports.build(fw, fraud_tid, false_pool, account_id_of, r_rep)
    inc = rep.incidents
    n_inc = len(inc["text"])
    io = np.argsort(np.asarray(inc["reported_at"], np.int64), kind="stable")
    inc_ids = writer.ids("I", np.arange(n_inc), 7)
    tid_lists = [[f"T{t:010d}" for t in inc["transfer_ids"][i]] for i in io]
    writer.write_table(pa.table({
        "incident_id": inc_ids,
        "reported_at": writer.timestamps(np.asarray(inc["reported_at"], np.int64)[io]),
        "reporter_org": pa.array([inc["reporter_org"][i] for i in io], pa.string()),
        "reporter_kind": pa.array([inc["reporter_kind"][i] for i in io], pa.string()),
        "victim_party": pc.take(party_ids, pa.array(np.asarray(inc["victim_party"], np.int64)[io])),
        "scheme": pc.take(schemes, pa.array(np.asarray(inc["scheme"], np.int64)[io])),
        "transfer_ids": pa.array(tid_lists, pa.list_(pa.string())),
        "text": pa.array([inc["text"][i] for i in io], pa.string()),
        "language": pa.array([inc["language"][i] for i in io], pa.string()),
    }), out / "incidents.parquet")
    writer.write_table(pa.table({
        "incident_id": inc_ids,
        "group_id": writer.take_str(group_names, np.asarray(inc["group_id"], np.int64)[io]),
        "is_false": pa.array(np.asarray(inc["is_false"], bool)[io]),
        "scheme": pc.take(schemes, pa.array(np.asarray(inc["true_scheme"], np.int64)[io])),
    }), out / "truth_incidents.parquet")
    calls = rep.calls
    n_calls = calls["ts"].size
    call_ids = writer.ids("C", np.arange(n_calls), 9)
    c = calls["caller"]
    fraud_callers = pa.array(list(calls["caller_text"]) or [""], pa.string())
    caller = pc.if_else(pa.array(c >= 0), pc.take(fraud_callers, pa.array(np.where(c >= 0, c, 0))),
                        pc.take(pop.phone, pa.array(np.where(c <= -2, -2 - c, 0))))
    writer.write_table(pa.table({
        "call_id": call_ids, "ts": writer.timestamps(calls["ts"]), "caller": caller,
        "callee": pc.take(pop.phone, pa.array(calls["callee"])),
        "callee_party": pc.take(party_ids, pa.array(calls["callee"])),
        "duration_s": pa.array(calls["duration"], pa.int32()),
        "operator": pc.take(pa.array(population.OPERATORS), pa.array(pop.operator[calls["callee"]])),
        "caller_verified": pa.array([reports.caller_verified(n, bool(k < 0)) for n, k in
                                     zip(caller.to_pylist(), c.tolist(), strict=True)], pa.bool_()),
    }), out / "calls.parquet")
    writer.write_table(pa.table({
        "call_id": call_ids,
        "group_id": writer.take_str(group_names, calls["group"].astype(np.int64)),
        "kind": pc.take(pa.array(["victim", "hung_up", "legit"]), pa.array(calls["kind"])),
    }), out / "truth_calls.parquet")

    # ---- static tables -----------------------------------------------------------------------------
    progress("tables", 0.96)
    _static_tables(out, pre, pop, fin, account_ids, party_ids, bank_ids)
    role = np.zeros(acc.n, np.int8)
    rgroup = np.full(acc.n, -1, np.int64)
    for a, (r, g) in fw.book.role.items():
        role[a], rgroup[a] = r, g
    writer.write_table(pa.table({
        "account_id": account_ids, "role": pc.take(pa.array(ROLES), pa.array(role)),
        "group_id": writer.take_str(group_names, rgroup),
    }), out / "truth_accounts.parquet")
    _victims_table(out, fw, party_ids, group_names, schemes, inc)
    from zaslon.simulate.stats import manifest

    return manifest(pre, seed, pop, fw, fb, inc, n_transfers, acc.n, n_calls, int(pop.n_persons), n_legit)


def _static_tables(out: Path, pre: Preset, pop: population.Population, fin: banks.Finance, account_ids: pa.Array,
                   party_ids: pa.Array, bank_ids: pa.Array) -> None:
    n = pop.n_persons
    dist = pop.district.astype(np.int64)
    birth = np.zeros(pop.n, np.int32)
    birth[:n] = pop.birth_days  # days since 1970, negative before it
    no_birth = np.arange(pop.n) >= n
    writer.write_table(pa.table({
        "party_id": party_ids,
        "kind": pc.take(pa.array(["person", "legal_entity"]), pa.array(pop.kind)),
        "name": pop.names,
        "country": pc.take(pa.array(COUNTRIES), pa.array(pop.country)),
        "birth_date": pa.array(birth, pa.date32(), mask=no_birth),
        "region": writer.take_str(pa.array(pop.district_regions), dist),
        "district": writer.take_str(pa.array(pop.district_names), dist),
        "lives_alone": pa.array(pop.lives_alone),
        "phone": pc.if_else(pa.array(pop.has_phone), pop.phone, pa.scalar(None, pa.string())),
    }), out / "parties.parquet")
    writer.write_table(pa.table({
        "bank_id": bank_ids, "name": pa.array(fin.bank_names), "country": pa.array(fin.bank_country),
        "market_share": pa.array(np.round(np.array(fin.bank_share, float), 4)),
    }), out / "banks.parquet")
    acc = fin.accounts
    personal = (acc.kind == PERSONAL) & (acc.country == 0)
    cards = reports.card_numbers(np.flatnonzero(personal), acc.bank[personal])
    card_idx = np.full(acc.n, -1, np.int64)
    card_idx[personal] = np.arange(int(personal.sum()))
    writer.write_table(pa.table({
        "account_id": account_ids,
        "bank_id": pc.take(bank_ids, pa.array(acc.bank)),
        "party_id": pc.take(party_ids, pa.array(acc.party)),
        "opened_at": writer.timestamps(acc.opened),
        "currency": pc.take(pa.array(CURRENCIES), pa.array(acc.currency)),
        "kind": pc.take(pa.array(ACCOUNT_KINDS), pa.array(acc.kind)),
        "country": pc.take(pa.array(COUNTRIES), pa.array(acc.country)),
        "card": writer.take_str(cards, card_idx),
    }), out / "accounts.parquet")
    writer.write_table(pa.table({
        "atm_id": writer.ids("ATM", np.arange(fin.atm_bank.size), 5),
        "bank_id": pc.take(bank_ids, pa.array(fin.atm_bank)),
        "lat": pa.array(np.round(fin.atm_lat, 5)), "lon": pa.array(np.round(fin.atm_lon, 5)),
        "city": pa.array(fin.atm_city), "near_border": pa.array(fin.atm_near_border),
        "district": pc.take(pa.array(pop.district_names), pa.array(fin.atm_district)),
    }), out / "atms.parquet")
    del pre


def _victims_table(out: Path, fw: fraud.FraudWorld, party_ids: pa.Array, group_names: pa.Array,
                   schemes: pa.Array, inc: dict[str, list]) -> None:  # type: ignore[type-arg]
    reported = {p for p, f in zip(inc["victim_party"], inc["is_false"], strict=True) if not f}
    vs = fw.victims
    stolen = [sum(fw.book.cols["amount"][i] for i in v.origin) for v in vs]
    writer.write_table(pa.table({
        "victim_party": pc.take(party_ids, pa.array([v.party for v in vs], pa.int64())),
        "scheme": pc.take(schemes, pa.array([v.scheme for v in vs], pa.int64())),
        "group_id": pc.take(group_names, pa.array([v.group for v in vs], pa.int64())),
        "first_contact": writer.timestamps(np.array([v.first for v in vs], np.int64)),
        "transferred": pa.array(stolen, pa.int64()),
        "cash_to_courier": pa.array([v.cash for v in vs], pa.int64()),
        # When the courier collects the cash at the door (1-4 h after the first call): the demo counts the
        # scheme as prevented when an at-door courier risk reached the district officer before it.
        "courier_pickup": pa.array([v.last if v.cash else None for v in vs], writer.TS),
        "currency": pa.array(["BYN" if fw.fin.accounts.currency[fw.fin.primary[v.party]] == 0 else "RUB"
                              for v in vs]),
        "reported": pa.array([v.party in reported for v in vs]),
        "caller_phone": pa.array([v.phone for v in vs], pa.string()),
        "url": pa.array([v.url for v in vs], pa.string()),
        "wallet": pa.array([v.wallet for v in vs], pa.string()),
        "email": pa.array([v.email for v in vs], pa.string()),
    }), out / "truth_victims.parquet")
