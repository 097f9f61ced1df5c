"""The tiny world: contract, validity of identifiers, distributions, and that truth matches the data."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import phonenumbers
import polars as pl
import pytest
from schwifty import IBAN

from zaslon.simulate import strs
from zaslon.simulate.world import generate

DATA_MODEL = {
    "parties": ["party_id", "kind", "name", "country", "birth_date", "region", "district", "lives_alone", "phone"],
    "banks": ["bank_id", "name", "country", "market_share"],
    "accounts": ["account_id", "bank_id", "party_id", "opened_at", "currency", "kind", "country"],
    "atms": ["atm_id", "bank_id", "lat", "lon", "city", "near_border"],
    "transfers": ["transfer_id", "ts", "payer", "payee", "amount", "currency", "channel", "device", "ip",
                  "payer_bank", "payee_bank", "payee_country", "atm_id"],
    "incidents": ["incident_id", "reported_at", "reporter_org", "reporter_kind", "victim_party", "scheme",
                  "transfer_ids", "text", "language"],
    "calls": ["call_id", "ts", "caller", "callee", "callee_party", "duration_s", "operator", "caller_verified"],
}
TRUTH_MODEL = {
    "transfers": ["transfer_id", "label", "hop", "scheme", "group_id", "victim_party"],
    "accounts": ["account_id", "role", "group_id"],
    "incidents": ["incident_id", "group_id", "is_false", "scheme"],
}


def test_manifest_contract(tiny: dict[str, Any]) -> None:
    m = tiny["manifest"]
    for key in ("persons", "accounts", "transfers", "fraud_transfers", "incidents", "calls"):
        assert isinstance(m["counts"][key], int) and m["counts"][key] > 0
    assert set(m["schemes"]) >= {"vishing", "phishing", "investment", "fake_director", "extortion", "courier"}
    assert all(isinstance(v, int) and v > 0 for v in m["schemes"].values())
    assert isinstance(m["max_hops"], int) and 1 <= m["max_hops"] <= 5
    w = tiny["world"]
    assert m["counts"]["transfers"] == w["transfers"].height
    assert m["counts"]["incidents"] == w["incidents"].height
    assert m["counts"]["calls"] == w["calls"].height
    assert m["counts"]["accounts"] == w["accounts"].height
    assert m["counts"]["persons"] == w["parties"].filter(pl.col("kind") == "person", pl.col("country") == "BY").height


def test_tables_follow_the_data_model(tiny: dict[str, Any]) -> None:
    for name, cols in DATA_MODEL.items():
        assert tiny["world"][name].columns[: len(cols)] == cols, name
    for name, cols in TRUTH_MODEL.items():
        assert tiny["truth"][name].columns[: len(cols)] == cols, name
    t = tiny["world"]["transfers"]
    assert t.schema["ts"] == pl.Datetime("us", "UTC") and t.schema["amount"] == pl.Int64
    assert tiny["world"]["incidents"].schema["transfer_ids"] == pl.List(pl.String)
    assert tiny["world"]["parties"].schema["birth_date"] == pl.Date


def test_transfers_sorted_unique_and_cash_has_an_atm(tiny: dict[str, Any]) -> None:
    t = tiny["world"]["transfers"]
    assert t["ts"].is_sorted()
    assert t["transfer_id"].n_unique() == t.height
    cash = t.filter(pl.col("payee") == "CASH")
    assert cash.height > 0 and cash["atm_id"].null_count() == 0
    assert t.filter(pl.col("payee") != "CASH")["atm_id"].null_count() == t.height - cash.height
    known = set(tiny["world"]["accounts"]["account_id"].to_list())
    assert set(t["payer"].unique().to_list()) <= known
    assert set(t["payee"].unique().to_list()) <= known | {"CASH"}


def test_ibans_and_phones_are_valid(tiny: dict[str, Any]) -> None:
    acc = tiny["world"]["accounts"]
    by = acc.filter(pl.col("country") == "BY", pl.col("kind") != "crypto_exchange")["account_id"].to_list()
    assert len(by) > 1000
    for s in by:
        assert len(s) == 28
        IBAN(s)
    for s in acc.filter(pl.col("country").is_in(["KZ", "PL", "LT"]))["account_id"].to_list():
        IBAN(s)
    phones = tiny["world"]["parties"]["phone"].drop_nulls().to_list()
    assert len(set(phones)) == len(phones)
    for p in phones[:2000]:
        num = phonenumbers.parse(p)
        assert phonenumbers.is_valid_number(num) and phonenumbers.region_code_for_number(num) == "BY"
        assert p[4:6] in {"25", "29", "33", "44"}
    cards = acc["card"].drop_nulls().to_list()
    assert cards and all(strs.luhn_ok(c) for c in cards)
    banks = tiny["world"]["banks"]
    assert banks.filter(pl.col("country") == "BY").height >= 20
    assert {"RU", "KZ", "UZ", "PL", "LT"} <= set(banks["country"].to_list())
    assert tiny["world"]["atms"]["near_border"].sum() > 0


def test_population_looks_like_belarus(tiny: dict[str, Any]) -> None:
    p = tiny["world"]["parties"].filter(pl.col("kind") == "person", pl.col("country") == "BY")
    age = (pl.date(2026, 3, 2) - pl.col("birth_date")).dt.total_days() / 365.25
    p = p.with_columns(age=age)
    elderly = (p["age"] >= 65).mean()
    assert 0.17 <= elderly <= 0.25  # ~21% aged 65+
    alone = p.filter(pl.col("age") >= 65)["lives_alone"].mean()
    assert 0.2 <= alone <= 0.5
    assert p["region"].n_unique() == 7
    assert p["district"].n_unique() >= 100
    assert (p["region"] == "Minsk").mean() > 0.15


def test_fraud_is_rare_and_chains_have_1_to_5_hops(tiny: dict[str, Any]) -> None:
    tt = tiny["truth"]["transfers"]
    fraud = tt.filter(pl.col("label") != "legit")
    assert 0 < fraud.height / tt.height < 0.01
    assert set(fraud["label"].unique().to_list()) == {"fraud_origin", "hop", "cash_out", "exit"}
    assert (tt.filter(pl.col("label") == "legit")["hop"] == -1).all()
    assert (fraud.filter(pl.col("label") == "fraud_origin")["hop"] == 0).all()
    finals = fraud.filter(pl.col("label").is_in(["cash_out", "exit"]))["hop"]
    assert finals.min() >= 1 and finals.max() <= 5
    assert fraud["group_id"].null_count() == 0 and fraud["victim_party"].null_count() == 0


def test_truth_aligns_with_transfers(tiny: dict[str, Any]) -> None:
    t, tt = tiny["world"]["transfers"], tiny["truth"]["transfers"]
    assert t["transfer_id"].to_list() == tt["transfer_id"].to_list()
    j = t.join(tt, on="transfer_id")
    cash = j.filter(pl.col("label") == "cash_out")
    assert (cash["payee"] == "CASH").all()
    roles = tiny["truth"]["accounts"]
    assert roles.height == tiny["world"]["accounts"].height
    origin_payees = j.filter(pl.col("label") == "fraud_origin").select(account_id="payee")
    r = origin_payees.join(roles, on="account_id")["role"]
    assert set(r.unique().to_list()) <= {"transit_drop", "cashout_drop"}
    exit_payees = j.filter(pl.col("label") == "exit").select(account_id="payee").join(roles, on="account_id")
    assert (exit_payees["role"] == "fraud_controlled").all()
    assert set(j.filter(pl.col("label") == "exit")["payee_country"].unique().to_list()) - {"BY"}


def test_cash_out_is_mostly_within_an_hour(tiny: dict[str, Any]) -> None:
    share = tiny["manifest"]["cash_out_within_1h_share"]
    assert share >= 0.6


def test_drops_are_shared_across_victims_of_a_group(tiny: dict[str, Any]) -> None:
    j = tiny["world"]["transfers"].join(tiny["truth"]["transfers"], on="transfer_id")
    origin = j.filter(pl.col("label") == "fraud_origin")
    shared = origin.group_by("payee").agg(pl.col("victim_party").n_unique().alias("v"),
                                          pl.col("group_id").n_unique().alias("g"))
    assert (shared["g"] == 1).all()  # a drop belongs to one group
    assert (shared["v"] >= 2).sum() >= 3  # and several of them took money from more than one victim


def test_incidents_point_at_real_fraud(tiny: dict[str, Any]) -> None:
    inc = tiny["world"]["incidents"].join(tiny["truth"]["incidents"], on="incident_id")
    labels = dict(zip(*tiny["truth"]["transfers"].select("transfer_id", "label"), strict=True))
    true_inc = inc.filter(~pl.col("is_false"))
    false_inc = inc.filter(pl.col("is_false"))
    assert false_inc.height >= 1 and false_inc["group_id"].null_count() == false_inc.height
    for ids in true_inc["transfer_ids"].to_list():
        assert all(labels[i] == "fraud_origin" for i in ids)
    for ids in false_inc["transfer_ids"].to_list():
        assert all(labels[i] == "legit" for i in ids)
    assert set(inc["language"].unique().to_list()) >= {"ru", "en"}
    assert set(inc["reporter_kind"].unique().to_list()) >= {"bank", "police"}
    text = " ".join(inc["text"].to_list())
    assert re.search(r"\+375\d{9}|\+79\d{9}", text) and "BY" in text and "https://" in text
    victims = tiny["truth"]["victims"]
    assert 0 < victims["reported"].mean() < 1  # some never report
    # Report delays run from minutes to days.
    d = tiny["manifest"]["report_delay"]["buckets"]
    assert d["<1h"] + d["1-6h"] > 0 and d["1-3d"] + d[">3d"] > 0


def test_calls_cover_victims_and_hang_ups(tiny: dict[str, Any]) -> None:
    c = tiny["world"]["calls"].join(tiny["truth"]["calls"], on="call_id")
    kinds = set(c["kind"].unique().to_list())
    assert kinds == {"victim", "hung_up", "legit"}
    assert c.filter(pl.col("kind") == "hung_up")["duration_s"].max() < 60
    assert c["ts"].is_sorted()


def test_number_verification_of_callers(tiny: dict[str, Any]) -> None:
    """Subscribers' calls verify; Russian fraud numbers come unattested; local-looking ones are spoofed or SIM-box."""
    c = tiny["world"]["calls"].join(tiny["truth"]["calls"], on="call_id")
    legit = c.filter(pl.col("kind") == "legit")
    home = legit.filter(pl.col("caller").str.starts_with("+375"))
    assert home["caller_verified"].to_list() == [True] * home.height
    abroad = legit.filter(~pl.col("caller").str.starts_with("+375"))  # relatives abroad: unattested, as fraud's
    assert abroad.height and abroad["caller_verified"].null_count() == abroad.height
    fraud = c.filter(pl.col("kind") != "legit")
    foreign = fraud.filter(~pl.col("caller").str.starts_with("+375"))
    assert foreign.height and foreign["caller_verified"].null_count() == foreign.height
    local = fraud.filter(pl.col("caller").str.starts_with("+375"))
    assert set(local["caller_verified"].to_list()) == {True, False}
    per_number = local.group_by("caller").agg(pl.col("caller_verified").n_unique().alias("n"))
    assert per_number["n"].max() == 1  # fixed per number


def test_the_elderly_get_ordinary_calls_long_ones_and_from_strangers_too(tiny: dict[str, Any]) -> None:
    """A long call, or one from a number never heard before, is not something only fraud produces."""
    w = tiny["world"]
    c = w["calls"].join(tiny["truth"]["calls"], on="call_id").filter(pl.col("kind") == "legit")
    born = w["parties"].select("party_id", "birth_date", "phone")
    old = born.filter(pl.col("birth_date") <= pl.date(1960, 1, 1))
    days = tiny["manifest"]["days"]
    to_old = c.filter(pl.col("callee_party").is_in(old["party_id"].to_list()))
    per_day = to_old.height / (old.filter(pl.col("phone").is_not_null()).height * days)
    assert 1.2 < per_day < 1.8
    assert (to_old["duration_s"] > 300).mean() > 0.15  # chats with family run long
    callers = set(born.filter(pl.col("phone").is_not_null())["phone"].to_list())
    assert to_old.filter(~pl.col("caller").is_in(list(callers))).height > 0  # company lines, relatives abroad


def test_everyone_now_and_then_pays_a_large_sum_to_a_new_payee(tiny: dict[str, Any]) -> None:
    w = tiny["world"]
    t = w["transfers"].join(tiny["truth"]["transfers"], on="transfer_id").filter(pl.col("label") == "legit")
    owners = w["accounts"].select("account_id", "party_id").join(w["parties"].select("party_id", "birth_date"),
                                                                  on="party_id")
    old = owners.filter(pl.col("birth_date") <= pl.date(1960, 1, 1))["account_id"].to_list()
    big = t.filter(pl.col("payer").is_in(old) & (pl.col("amount") >= 1_000_00) & (pl.col("currency") == "BYN")
                   & (pl.col("payee") != "CASH"))
    assert big.height >= 20
    assert big.select(pl.struct("payer", "payee").n_unique()).item() > 0.9 * big.height  # mostly new payees


def test_wallets_in_truth_have_valid_checksums(tiny: dict[str, Any]) -> None:
    wallets = tiny["truth"]["victims"]["wallet"].drop_nulls().to_list()
    assert wallets
    assert all(strs.b58decode_check(w) is not None for w in wallets)


def test_same_seed_same_bytes_other_seed_differs(tiny_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate("tiny", 7, again)
    names = sorted(p.name for p in tiny_dir.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:
        assert (tiny_dir / name).read_bytes() == (again / name).read_bytes(), name
    other = tmp_path / "other"
    generate("tiny", 8, other)
    assert (other / "transfers.parquet").read_bytes() != (tiny_dir / "transfers.parquet").read_bytes()


def test_drift_one_group_changes_pattern(tiny: dict[str, Any]) -> None:
    groups = tiny["manifest"]["groups"]
    changed = [g for g, v in groups.items() if v["pattern_change_at"]]
    assert changed
    j = tiny["world"]["transfers"].join(tiny["truth"]["transfers"], on="transfer_id")
    g = j.filter(pl.col("group_id") == changed[0], pl.col("label").is_in(["cash_out", "exit"]))
    cut = np.datetime64(groups[changed[0]]["pattern_change_at"].rstrip("Z"))
    before = g.filter(pl.col("ts").dt.replace_time_zone(None) < cut)
    after = g.filter(pl.col("ts").dt.replace_time_zone(None) >= cut)
    if before.height and after.height:
        assert (after["label"] == "exit").mean() >= (before["label"] == "exit").mean()


@pytest.mark.parametrize("bad", [-1])
def test_negative_seed_is_rejected(tmp_path: Path, bad: int) -> None:
    from zaslon.errors import InvalidInput

    with pytest.raises(InvalidInput):
        generate("tiny", bad, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_fraud_numbers_are_valid_e164(tiny: dict[str, Any]) -> None:
    callers = tiny["world"]["calls"].join(tiny["truth"]["calls"], on="call_id").filter(pl.col("kind") != "legit")
    for p in callers["caller"].unique().to_list():
        num = phonenumbers.parse(p)
        assert phonenumbers.is_valid_number(num), p
        assert phonenumbers.region_code_for_number(num) in {"BY", "RU"}


def test_drops_never_pay_out_before_money_arrives(tiny: dict[str, Any]) -> None:
    j = tiny["world"]["transfers"].join(tiny["truth"]["transfers"], on="transfer_id")
    fraud = j.filter(pl.col("label") != "legit")
    first_in = fraud.group_by("payee").agg(pl.col("ts").min().alias("first_in")).rename({"payee": "acct"})
    first_out = (fraud.filter(pl.col("label") != "fraud_origin").group_by("payer")
                 .agg(pl.col("ts").min().alias("first_out")).rename({"payer": "acct"}))
    both = first_out.join(first_in, on="acct", how="left")
    assert both["first_in"].null_count() == 0
    assert (both["first_out"] > both["first_in"]).all()
