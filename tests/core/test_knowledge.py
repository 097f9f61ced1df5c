"""What the exchange knows about an account, and how long a trace protects it as a payer."""

from __future__ import annotations

import numpy as np

from zaslon.core.features import lapse_traced
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.policy import is_protected_payer, protected_payers


def test_a_trace_protects_a_payer_until_its_window_ends() -> None:
    k = Knowledge()
    k.mark_traced("A", until_s=1_000)
    assert is_protected_payer(int(k.at("A", 1_000)))
    later = k.at("A", 1_001)
    assert not is_protected_payer(int(later))
    assert later == AccountFlag.TRACE_LAPSED  # still "known": features and the prior see a flagged payer
    assert k.flags("A") == AccountFlag.TRACED  # what is stored does not change


def test_an_order_protects_past_the_trace_window() -> None:
    k = Knowledge()
    k.mark_traced("A", until_s=1_000)
    k.flag("A", AccountFlag.UNDER_ORDER)
    assert is_protected_payer(int(k.at("A", 5_000)))


def test_a_later_trace_extends_the_window_and_an_earlier_one_does_not_shorten_it() -> None:
    k = Knowledge()
    k.mark_traced("A", until_s=1_000)
    k.mark_traced("A", until_s=3_000)
    k.mark_traced("A", until_s=2_000)
    assert k.traced_until["A"] == 3_000


def test_without_a_window_traced_protects_for_as_long_as_it_is_flagged() -> None:
    k = Knowledge()
    k.flag("A", AccountFlag.TRACED)
    assert is_protected_payer(int(k.at("A", 10**10)))


def test_unflagging_traced_forgets_its_window() -> None:
    k = Knowledge()
    k.mark_traced("A", until_s=1_000)
    k.unflag("A", AccountFlag.TRACED)
    assert "A" not in k.traced_until
    k.mark_traced("B", until_s=1_000)
    k.unflag("B")
    assert "B" not in k.traced_until


def test_the_batch_lapse_agrees_with_the_row_one() -> None:
    k = Knowledge()
    k.mark_traced("A", until_s=1_000)
    k.flag("B", AccountFlag.TRACED | AccountFlag.UNDER_ORDER)
    k.traced_until["B"] = 500
    k.flag("C", AccountFlag.REPORTED)
    payers = ["A", "A", "B", "C", "D"]
    ts = np.array([999, 1_001, 2_000, 2_000, 2_000], dtype=np.int64)
    flags = np.array([int(k.flags(p)) for p in payers], dtype=np.int64)
    out = lapse_traced(flags, payers, ts, k.traced_until)
    assert out.tolist() == [int(k.at(p, int(t))) for p, t in zip(payers, ts.tolist(), strict=True)]
    assert protected_payers(out).tolist() == [True, False, True, False, False]
    assert flags.tolist() == [int(k.flags(p)) for p in payers]  # the input is not changed in place


def test_reported_transfers_are_counted_per_payer_and_payee() -> None:
    k = Knowledge()
    k.count_report("V1", "DROP")
    k.count_report("V2", "DROP")
    k.count_report("V1", None)  # a cash withdrawal: no payee account
    assert k.reported_in == {"DROP": 2} and k.reported_out == {"V1": 2, "V2": 1}
    assert k.flags("DROP") == AccountFlag.NONE  # counting is not listing
