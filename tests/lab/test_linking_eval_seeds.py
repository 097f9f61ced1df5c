"""What the drop ranking of `eval linking` takes as known: the corroboration rule of intake and the trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from zaslon.core.corroborate import MIN_PAYERS_ANY, MIN_PAYERS_ENTITY
from zaslon.lab.linking_eval import _us, listable

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _tx(rows: list[tuple[str, str, datetime]]) -> pl.DataFrame:
    payer, payee, ts = zip(*rows, strict=True)
    return pl.DataFrame({"payer": payer, "payee": payee, "ts": ts},
                        schema={"payer": pl.Utf8, "payee": pl.Utf8, "ts": pl.Datetime("us", "UTC")})


def test_an_established_business_or_much_paid_account_is_not_known_on_one_report() -> None:
    shop_payers = [(f"c{i}", "shop", T0 + timedelta(hours=i)) for i in range(MIN_PAYERS_ENTITY)]
    busy_payers = [(f"p{i}", "busy", T0 + timedelta(hours=i)) for i in range(MIN_PAYERS_ANY)]
    drop_payers = [("v1", "drop", T0), ("v2", "drop", T0 + timedelta(hours=1))]
    late_shop = [(f"d{i}", "late_shop", T0 + timedelta(days=40 + i)) for i in range(MIN_PAYERS_ENTITY)]
    tx = _tx(shop_payers + busy_payers + drop_payers + late_shop)
    kinds = pl.DataFrame({"account_id": ["shop", "busy", "drop", "late_shop"],
                          "kind": ["merchant", "personal", "personal", "merchant"]})
    at = int(_us(pl.Series([T0 + timedelta(days=30)]))[0])
    named = {("shop", at), ("busy", at), ("drop", at), ("late_shop", at), ("unknown", at)}
    # The shop and the much-paid account need the desk's confirmation; the drop, a business that was
    # paid by few before the report, and an account with no history are taken as known.
    assert listable(tx, kinds, named) == {"drop", "late_shop", "unknown"}
