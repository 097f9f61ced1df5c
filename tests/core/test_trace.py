from __future__ import annotations

import pytest

from zaslon.core.ledger import FROZEN_SINK, Ledger
from zaslon.core.trace import ExitKind, Method, TraceResult, trace

MIN = 60_000_000  # one minute in microseconds


def make(*rows: tuple[str, int, str, str, int] | tuple[str, int, str, str, int, dict[str, str]]) -> Ledger:
    led = Ledger(compact_every=3)  # compact often, so the tests cover CSR + tail together
    led.add_account("XCHG", bank_id="CRYPTOBANK", crypto_exchange=True)
    for r in rows:
        tid, minute, payer, payee, amount = r[:5]
        extra: dict[str, str] = r[5] if len(r) > 5 else {}  # type: ignore[misc]
        led.append(tid, minute * MIN, payer, payee, amount, payer_bank="B1", payee_bank=extra.get("bank", "B1"),
                   payee_country=extra.get("country", "BY"), atm_id=extra.get("atm"))
    return led


def seeds(led: Ledger, *tids: str) -> list[tuple[int, int]]:
    return [(led.transfer_ids.index(t), int(led.amount[led.transfer_ids.index(t)])) for t in tids]


def held(res: TraceResult) -> dict[str, int]:
    return {h.account_id: h.amount for h in res.holdings}


def balanced(res: TraceResult, total: int) -> None:
    assert res.traced == total
    assert res.held + sum(e.amount for e in res.exits) == total


def test_fifo_merge_victim_lot_behind_other_money() -> None:
    led = make(
        ("x", 1, "X", "D", 1000),
        ("v", 2, "V", "D", 500),
        ("o1", 3, "D", "E", 700),   # all from X's earlier 1000
        ("o2", 4, "D", "F", 600),   # 300 of X, then 300 of the victim's
    )
    res = trace(led, seeds(led, "v"), upto=led.n_rows)
    assert held(res) == {"D": 200, "F": 300}
    assert {h.transfer_id: h.amount for h in res.hops} == {"v": 500, "o2": 300}
    assert res.accounts == {"D", "F"}
    balanced(res, 500)


def test_money_leaves_only_after_it_arrived() -> None:
    led = make(
        ("early", 1, "D", "E", 400),  # paid from untracked funds, before the victim's money came
        ("v", 2, "V", "D", 500),
    )
    res = trace(led, seeds(led, "v"), upto=led.n_rows)
    assert held(res) == {"D": 500}
    assert [h.transfer_id for h in res.hops] == ["v"]


def test_overdraft_part_of_outflow_is_untracked() -> None:
    led = make(
        ("v", 1, "V", "D", 300),
        ("o", 2, "D", "E", 1000),  # only 300 were ever received: the other 700 are untracked funds
        ("o2", 3, "D", "F", 100),
    )
    res = trace(led, seeds(led, "v"), upto=led.n_rows)
    assert held(res) == {"E": 300}


def test_split_to_cash_abroad_and_crypto() -> None:
    led = make(
        ("v", 1, "V", "D", 1000),
        ("a", 2, "D", "E", 400),
        ("b", 3, "D", "F", 600),
        ("atm", 10, "E", "CASH", 400, {"atm": "ATM-7", "bank": "B2"}),
        ("ab", 11, "F", "KZ01", 250, {"country": "KZ", "bank": "KZBANK"}),
        ("cr", 12, "F", "XCHG", 350, {"bank": "CRYPTOBANK"}),
    )
    res = trace(led, seeds(led, "v"), upto=led.n_rows)
    assert res.holdings == ()
    by_kind = {e.kind: e for e in res.exits}
    assert by_kind[ExitKind.CASH_OUT].amount == 400
    assert by_kind[ExitKind.CASH_OUT].atm_id == "ATM-7"
    assert by_kind[ExitKind.CASH_OUT].from_account == "E"
    assert by_kind[ExitKind.CASH_OUT].ts_us == 10 * MIN
    assert (by_kind[ExitKind.ABROAD].amount, by_kind[ExitKind.ABROAD].country) == (250, "KZ")
    assert by_kind[ExitKind.ABROAD].bank_id == "KZBANK"
    assert by_kind[ExitKind.CRYPTO].amount == 350
    balanced(res, 1000)


def test_merge_of_two_victim_lots_in_one_outflow() -> None:
    led = make(
        ("v1", 1, "V", "D1", 300),
        ("v2", 2, "V", "D2", 200),
        ("m1", 3, "D1", "H", 300),
        ("m2", 4, "D2", "H", 200),
        ("out", 5, "H", "Z", 450),
    )
    res = trace(led, seeds(led, "v1", "v2"), upto=led.n_rows)
    assert held(res) == {"Z": 450, "H": 50}
    balanced(res, 500)


def test_report_time_hides_later_transfers() -> None:
    led = make(
        ("v", 1, "V", "D", 1000),
        ("o", 5, "D", "E", 1000),
    )
    res = trace(led, seeds(led, "v"), upto=led.upto(3 * MIN))
    assert held(res) == {"D": 1000}
    res = trace(led, seeds(led, "v"), upto=led.upto(6 * MIN))
    assert held(res) == {"E": 1000}


def test_depth_limit_stops_and_reports_where_it_stopped() -> None:
    led = make(
        ("v", 1, "V", "A", 100),
        ("h2", 2, "A", "B", 100),
        ("h3", 3, "B", "C", 60),
        ("h4", 4, "C", "D", 60),
    )
    res = trace(led, seeds(led, "v"), upto=led.n_rows, max_depth=2)
    assert held(res) == {"B": 40}
    [stop] = [e for e in res.exits if e.kind is ExitKind.DEPTH_LIMIT]
    assert (stop.from_account, stop.amount) == ("B", 60)
    res = trace(led, seeds(led, "v"), upto=led.n_rows)
    assert held(res) == {"B": 40, "D": 60}
    assert max(h.depth for h in res.hops) == 4


def test_partial_lot_is_shared_pro_rata_and_conserved() -> None:
    led = make(
        ("v", 1, "V", "D", 1000),
        ("o1", 2, "D", "E", 333),
        ("o2", 3, "D", "F", 333),
    )
    res = trace(led, [(0, 500)], upto=led.n_rows)  # only half of the transfer was disputed
    assert held(res) == {"E": 166, "F": 167, "D": 167}
    balanced(res, 500)


def test_cycle_back_into_the_same_account_is_followed_in_time_order() -> None:
    led = make(
        ("v", 1, "V", "A", 100),
        ("ab", 2, "A", "B", 100),
        ("ba", 3, "B", "A", 100),
        ("out", 4, "A", "CASH", 100, {"atm": "ATM-1"}),
    )
    res = trace(led, seeds(led, "v"), upto=led.n_rows)
    assert res.holdings == ()
    assert res.exited(ExitKind.CASH_OUT) == 100


def test_a_seed_the_trace_also_reaches_carries_no_more_than_its_amount() -> None:
    # A feeder linked as a seed (B -> A, money from outside the first trace) that the other victim's money
    # also reaches (A -> B -> A): the same 40 would be counted twice, and the exit abroad asked for 80.
    led = make(
        ("w", 1, "W", "A", 100),
        ("ab", 2, "A", "B", 100),
        ("ba", 3, "B", "A", 40),
        ("ru", 4, "A", "RU1", 40, {"bank": "SABRRUMM", "country": "RU"}),
    )
    res = trace(led, seeds(led, "w", "ba"), upto=led.n_rows)
    abroad = [e for e in res.exits if e.kind is ExitKind.ABROAD]
    assert [(e.transfer_id, e.amount) for e in abroad] == [("ru", 40)]
    assert next(h for h in res.hops if h.transfer_id == "ba").amount == 40
    assert res.held + sum(e.amount for e in res.exits) == res.traced == 100


def test_frozen_money_is_a_sink() -> None:
    led = make(
        ("v", 1, "V", "D", 500),
        ("fz", 2, "D", FROZEN_SINK, 500),
    )
    res = trace(led, seeds(led, "v"), upto=led.n_rows)
    assert res.exited(ExitKind.FROZEN) == 500


def test_backwards_finds_other_victims_feeding_the_same_drops() -> None:
    led = make(
        ("w", 1, "W", "D", 700),      # another victim, same drop
        ("v", 2, "V", "D", 500),
        ("o", 3, "D", "E", 1200),
        ("u", 4, "U", "E", 50),       # fed the second drop
        ("late", 9, "Q", "D", 10),    # after the report: not seen
    )
    res = trace(led, seeds(led, "v"), upto=led.upto(5 * MIN))
    assert [(f.payer, f.into_account, f.amount) for f in res.feeders] == [("W", "D", 700), ("U", "E", 50)]


def test_min_amount_prunes_dust_as_dispersed() -> None:
    led = make(
        ("v", 1, "V", "D", 1000),
        ("a", 2, "D", "E", 995),
        ("b", 3, "D", "F", 5),
    )
    res = trace(led, seeds(led, "v"), upto=led.n_rows, min_amount=10)
    assert held(res) == {"E": 995}
    assert res.exited(ExitKind.DISPERSED) == 5
    balanced(res, 1000)


def test_haircut_takes_the_tagged_share_of_the_balance() -> None:
    led = make(
        ("x", 1, "X", "D", 1000),
        ("v", 2, "V", "D", 1000),
        ("o", 3, "D", "E", 1000),  # half the balance leaves: half of it is the victim's
        ("o2", 4, "D", "F", 250),  # a quarter of the rest
    )
    res = trace(led, seeds(led, "v"), upto=led.n_rows, method=Method.HAIRCUT)
    assert held(res) == {"E": 500, "F": 125, "D": 375}
    balanced(res, 1000)
    fifo = trace(led, seeds(led, "v"), upto=led.n_rows)
    assert held(fifo) == {"D": 750, "F": 250}


def test_seed_after_report_time_carries_nothing_and_depth_must_be_positive() -> None:
    led = make(("v", 5, "V", "D", 100))
    assert trace(led, seeds(led, "v"), upto=0).traced == 0
    with pytest.raises(ValueError):
        trace(led, seeds(led, "v"), upto=1, max_depth=0)


def test_appends_must_be_in_time_order() -> None:
    led = make(("v", 5, "V", "D", 100))
    with pytest.raises(ValueError):
        led.append("w", 1, "V", "D", 1)
