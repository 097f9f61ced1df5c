from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from zaslon.core.ledger import Dest
from zaslon.core.trace import ExitKind, trace
from zaslon.flow.ledger import build_ledger

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_build_ledger_classifies_sinks_converts_currency_and_traces() -> None:
    accounts = pl.DataFrame({
        "account_id": ["V", "D1", "D2", "SHOP", "XCH"],
        "bank_id": ["AKBBBY2X", "PJCBBY2X", "AKBBBY2X", "BPSBBY2X", "XCHGBY2X"],
        "party_id": ["pv", "p1", "p2", "ps", "px"],
        "kind": ["personal", "personal", "personal", "merchant", "crypto_exchange"],
        "country": ["BY"] * 5,
    })
    rows = [
        ("t1", 0, "V", "D1", 100_000, "BYN", "BY", None),
        ("t2", 1, "D1", "D2", 60_000, "BYN", "BY", None),
        ("t3", 2, "D2", "CASH", 20_000, "BYN", "BY", "ATM-1"),
        ("t4", 3, "D2", "RU01", 280_000, "RUB", "RU", None),  # 10,000 kopecks at 28 RUB per BYN
        ("t5", 4, "D1", "XCH", 5_000, "BYN", "BY", None),
        ("t6", 5, "D2", "SHOP", 1_000, "BYN", "BY", None),
    ]
    t = pl.DataFrame(
        [{"transfer_id": a, "ts": T0 + timedelta(minutes=m), "payer": p, "payee": q, "amount": x, "currency": c,
          "payee_country": pc, "atm_id": atm, "payer_bank": None, "payee_bank": "SABRRUMM" if q == "RU01" else None}
         for a, m, p, q, x, c, pc, atm in rows],
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    led = build_ledger(t, accounts)
    assert [Dest(int(d)) for d in led.dest] == [
        Dest.ACCOUNT, Dest.ACCOUNT, Dest.CASH, Dest.ABROAD, Dest.CRYPTO, Dest.MERCHANT]
    assert int(led.amount[3]) == 10_000
    assert led.atm_id(2) == "ATM-1" and led.payee_country(3) == "RU" and led.payee_bank(3) == "SABRRUMM"
    assert led.account_bank[led.account_index["D1"]] == "PJCBBY2X"
    res = trace(led, [(0, 100_000)], upto=led.n_rows)
    assert {h.account_id: h.amount for h in res.holdings} == {"D1": 35_000, "D2": 29_000}
    kinds = {e.kind: e.amount for e in res.exits}
    assert kinds == {ExitKind.CASH_OUT: 20_000, ExitKind.ABROAD: 10_000, ExitKind.CRYPTO: 5_000,
                     ExitKind.SPENT: 1_000}
