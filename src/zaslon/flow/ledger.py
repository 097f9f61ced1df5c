"""Build the trace ledger from a world's Parquet tables (bulk) or register its accounts for appends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from zaslon.core.fx import to_byn_minor
from zaslon.core.ledger import Ledger
from zaslon.core.types import CASH_SINK


def register_accounts(ledger: Ledger, accounts: pl.DataFrame) -> None:
    """Add every known account with its bank, owner, kind and country."""
    cols = accounts.select("account_id", "bank_id", "party_id", "kind", "country")
    for acc, bank, party, kind, country in cols.iter_rows():
        ledger.add_account(acc, bank_id=bank, party_id=party, crypto_exchange=kind == "crypto_exchange",
                           country=country, merchant=kind == "merchant")


def _codes(values: pl.Series, table: dict[str, int], out: list[str]) -> np.ndarray:
    """Encode a string column against a ledger code table (null -> -1), extending the table."""
    values = values.cast(pl.String)
    for v in values.drop_nulls().unique().to_list():
        if v not in table:
            table[v] = len(out)
            out.append(v)
    lookup = pl.DataFrame({"v": list(table), "c": np.fromiter(table.values(), dtype=np.int32, count=len(table))},
                          schema={"v": pl.String, "c": pl.Int32})
    joined = pl.DataFrame({"v": values}).join(lookup, on="v", how="left", maintain_order="left")
    return joined["c"].fill_null(-1).to_numpy().astype(np.int32)


def _account_codes(ledger: Ledger, ids: pl.Series, banks: pl.Series) -> np.ndarray:
    """Account index per row, adding accounts the accounts table did not list (e.g. foreign payees)."""
    uniq = pl.DataFrame({"a": ids, "b": banks}).unique(subset="a", keep="first", maintain_order=True)
    for acc, bank in uniq.iter_rows():
        if acc not in ledger.account_index:
            ledger.add_account(acc, bank_id=bank)
    index = ledger.account_index
    lookup = pl.DataFrame({"a": list(index), "i": np.fromiter(index.values(), dtype=np.int32, count=len(index))})
    return pl.DataFrame({"a": ids}).join(lookup, on="a", how="left", maintain_order="left")["i"].to_numpy()


def build_ledger(
    transfers: pl.DataFrame, accounts: pl.DataFrame | None = None, *, home_country: str = "BY"
) -> Ledger:
    """A ledger of every row of ``transfers`` (sorted by ts), for benchmarks and offline traces."""
    ledger = Ledger(home_country=home_country)
    if accounts is not None:
        register_accounts(ledger, accounts)
    ledger.add_account(CASH_SINK, bank_id=None)
    t = transfers.sort("ts", maintain_order=True)
    payer = _account_codes(ledger, t["payer"], t["payer_bank"])
    payee = _account_codes(ledger, t["payee"], t["payee_bank"])
    ts = t["ts"].dt.epoch("us").to_numpy().astype(np.int64)
    atm = t["atm_id"] if "atm_id" in t.columns else pl.Series([None] * len(t), dtype=pl.String)
    ledger.load(
        t["transfer_id"].to_list(), ts, payer.astype(np.int32), payee.astype(np.int32),
        to_byn_minor(t["amount"].to_numpy().astype(np.int64), t["currency"].to_list())
        if "currency" in t.columns else t["amount"].to_numpy().astype(np.int64),
        payee_bank=_codes(t["payee_bank"], ledger.banks.index, ledger.banks.values),
        payee_country=_codes(t["payee_country"], ledger.countries.index, ledger.countries.values),
        atm=_codes(atm, ledger.atms.index, ledger.atms.values),
    )
    return ledger


def load_ledger(world: Path, *, home_country: str = "BY") -> Ledger:
    cols = ["transfer_id", "ts", "payer", "payee", "amount", "currency", "payer_bank", "payee_bank",
            "payee_country", "atm_id"]
    transfers = pl.read_parquet(world / "transfers.parquet", columns=cols)
    accounts = pl.read_parquet(world / "accounts.parquet")
    return build_ledger(transfers, accounts, home_country=home_country)
