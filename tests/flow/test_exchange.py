"""The Exchange end to end on a real store: what one report sets in motion, and what scoring learns from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine

from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.knowledge import AccountFlag
from zaslon.core.trace import ExitKind, trace
from zaslon.core.types import Channel, Scheme, Transfer
from zaslon.flow.customers import Customer
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.orgs import Principal, create_org
from zaslon.flow.telecom import CallReport

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
VICTIM, DROP1, DROP2, SHOP = "BY10AKBB0001", "BY20PJCB0002", "BY30PJCB0003", "BY40AKBB0004"


@pytest.fixture
def orgs(engine: Engine) -> dict[str, Principal]:
    out = {}
    for name, kind, bic in (("Belarusbank", "bank", "AKBBBY2X"), ("Priorbank", "bank", "PJCBBY2X"),
                            ("A1", "telecom", None), ("Desk", "police", None)):
        org = create_org(engine, name=name, kind=kind, bank_id=bic).org_id
        out[name] = Principal(org, OrgKind(kind), DEFAULT_SCOPES[OrgKind(kind)], bic)
    return out


def _t(tid: str, minutes: float, payer: str, payee: str, amount: int, *, payer_bank: str = "AKBBBY2X",
       payee_bank: str = "PJCBBY2X") -> Transfer:
    return Transfer(tid, T0 + timedelta(minutes=minutes), payer, payee, amount, "BYN", Channel.MOBILE,
                    payer_bank=payer_bank, payee_bank=payee_bank, payee_country="BY")


def _report(org: Principal, tids: tuple[str, ...], minutes: float, ref: str, text: str = "") -> IncidentReport:
    return IncidentReport(org.org_id, str(org.kind), Scheme.VISHING, T0 + timedelta(minutes=minutes),
                          Victim(party_id="p-victim"), tids, text, external_ref=ref)


def test_one_report_traces_orders_links_and_teaches_scoring(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    bb, prior = orgs["Belarusbank"], orgs["Priorbank"]
    exchange.score(bb.org_id, [_t("t1", 0, VICTIM, DROP1, 500_000)])
    exchange.score(prior.org_id, [_t("t2", 10, DROP1, DROP2, 480_000, payer_bank="PJCBBY2X")])
    out = exchange.report_incident(bb, _report(bb, ("t1",), 30, "r-1"))
    assert out.intake.created and not out.followup_errors
    assert {o.account_id for o in out.orders} == {DROP1, DROP2}  # what is still in each account, at its bank
    assert sum(o.amount for o in out.orders) == 500_000
    assert out.case is not None and out.case.incident_ids == (out.intake.incident.incident_id,)
    assert exchange.knowledge.flags(DROP2) & AccountFlag.TRACED
    assert not exchange.knowledge.flags(VICTIM) & AccountFlag.TRACED  # the victim's own account is not a drop
    # Scoring reads what the report taught: paying the traced drop is now stopped.
    [later] = exchange.score(bb.org_id, [_t("t3", 40, "BY11AKBB0005", DROP2, 20_000)])
    assert later.decision.outcome.value in ("hold", "block")
    # A repeat of the same report sets nothing in motion again.
    again = exchange.report_incident(bb, _report(bb, ("t1",), 31, "r-1"))
    assert not again.intake.created and again.orders == ()


def test_a_held_transfer_moved_no_money_and_a_freeze_stops_it(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    bb, prior = orgs["Belarusbank"], orgs["Priorbank"]
    exchange.score(bb.org_id, [_t("t1", 0, VICTIM, DROP1, 500_000)])
    exchange.knowledge.flag(DROP2, AccountFlag.REPORTED)
    [held] = exchange.score(prior.org_id, [_t("t2", 10, DROP1, DROP2, 480_000, payer_bank="PJCBBY2X")])
    assert held.decision.outcome.value in ("hold", "block")
    led = exchange.ledger.current()
    row_of = exchange.ledger.row_of  # keyed by submitter and id (ids are each bank's own)
    assert f"{bb.org_id}/t1" in row_of and f"{prior.org_id}/t2" not in row_of  # held: never executed
    out = exchange.report_incident(bb, _report(bb, ("t1",), 30, "r-1"))
    [order] = out.orders
    assert (order.account_id, order.amount) == (DROP1, 500_000)  # all of it still sits in the first drop
    exchange.acknowledge(prior, order.order_id, at=T0 + timedelta(minutes=35))
    exchange.frozen(prior, order.order_id, 500_000, at=T0 + timedelta(minutes=36))
    exchange.score(prior.org_id, [_t("t4", 50, DROP1, "BY50PJCB0006", 100_000, payer_bank="PJCBBY2X")])
    led = exchange.ledger.current()
    res = trace(led, [(exchange.ledger.row_of[f"{bb.org_id}/t1"], 500_000)], upto=led.n_rows, max_depth=6)
    assert [(e.kind, e.amount) for e in res.exits] == [(ExitKind.FROZEN, 500_000)]  # it no longer moves on


def test_a_call_from_a_flagged_number_marks_the_customers_transfer(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    bb, a1 = orgs["Belarusbank"], orgs["A1"]
    exchange.register_customers(bb, [Customer(VICTIM, "personal", "p-victim", phones=("+375291112233",))])
    exchange.report_fraud_numbers(a1, ["+375447654321"])
    exchange.report_calls(a1, [CallReport("c1", T0, "+375447654321", "+375291112233")])
    [on_call] = exchange.score(bb.org_id, [_t("t1", 20, VICTIM, DROP1, 50_000)])
    assert "rule:flagged-call" in [r.code for r in on_call.decision.reasons]
    [later] = exchange.score(bb.org_id, [_t("t2", 120, VICTIM, "BY60AKBB0007", 5_000)])  # the call was 2 h ago
    assert "rule:flagged-call" not in [r.code for r in later.decision.reasons]


def test_a_registered_merchant_is_not_listed_on_one_report(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    bb = orgs["Belarusbank"]
    exchange.register_customers(bb, [Customer(SHOP, "merchant")])
    exchange.score(bb.org_id, [_t(f"s{i}", i, f"BY7{i:02d}AKBB", SHOP, 1_000, payee_bank="AKBBBY2X")
                               for i in range(12)])
    out = exchange.report_incident(bb, _report(bb, ("s0",), 30, "r-shop"))
    assert SHOP in out.intake.flagged_accounts  # named, stored for the desk ...
    assert not exchange.knowledge.flags(SHOP) & AccountFlag.REPORTED  # ... but its customers are not held


def test_training_needs_reports_and_the_follower_stops(exchange: Exchange, orgs) -> None:  # type: ignore[no-untyped-def]
    bb = orgs["Belarusbank"]
    exchange.score(bb.org_id, [_t("t1", 0, VICTIM, DROP1, 500_000)])
    assert exchange.train_model(T0 + timedelta(days=1)) is None  # no report yet: nothing to learn from
    exchange.ledger.follow(lag_s=0, interval_s=0.01)
    exchange.ledger.stop()
    assert exchange.ledger._follower is None


def test_a_trace_protects_an_account_it_passed_through_for_a_window_an_order_for_longer(  # type: ignore[no-untyped-def]
        exchange: Exchange, orgs) -> None:
    from zaslon.core.types import CASH_SINK, Atm
    from zaslon.flow.tracing import PAYER_PROTECTION_S

    bb, prior = orgs["Belarusbank"], orgs["Priorbank"]
    exchange.register_customers(prior, [Customer(SHOP, "merchant")])
    exchange.score(bb.org_id, [_t("t1", 0, VICTIM, DROP1, 500_000)])
    exchange.score(prior.org_id, [_t("t2", 5, DROP1, DROP2, 200_000, payer_bank="PJCBBY2X")])  # DROP2 keeps it
    exchange.score(prior.org_id, [_t("t3", 10, DROP1, SHOP, 300_000, payer_bank="PJCBBY2X",
                                     payee_bank="AKBBBY2X")])  # DROP1 spent the rest at a shop: nothing left
    out = exchange.report_incident(bb, _report(bb, ("t1",), 30, "r-1"))
    assert {o.account_id for o in out.orders} == {DROP2}

    def cash(tid: str, account: str, minutes: float) -> str:
        t = Transfer(tid, T0 + timedelta(minutes=minutes), account, CASH_SINK, 10_000, "BYN", Channel.ATM,
                     payer_bank="PJCBBY2X", payee_bank=None, atm=Atm("ATM-1", 53.9, 27.56, "Minsk"))
        [r] = exchange.score(prior.org_id, [t])
        return r.decision.outcome.value

    window_min = PAYER_PROTECTION_S / 60
    assert cash("c1", DROP1, 60) == "block"  # within the window: the trace's account cannot cash out
    assert cash("c2", DROP2, 60) == "block"
    later = 30 + window_min + 60
    assert cash("c3", DROP1, later) != "block"  # passed through, no order, no corroboration: not held for ever
    assert cash("c4", DROP2, later) == "block"  # the order on it still protects it


def test_other_victims_are_the_money_that_fed_the_drop_in_its_active_period(  # type: ignore[no-untyped-def]
        exchange: Exchange, orgs) -> None:
    bb, prior = orgs["Belarusbank"], orgs["Priorbank"]
    exchange.score(bb.org_id, [_t("old", -80 * 60, "BY12AKBB0008", DROP1, 100_000)])  # 80 h before: its own income
    exchange.score(bb.org_id, [_t("other", -2 * 60, "BY13AKBB0009", DROP1, 200_000)])  # 2 h before: another victim
    exchange.score(bb.org_id, [_t("t1", 0, VICTIM, DROP1, 500_000)])
    exchange.score(prior.org_id, [_t("t2", 10, DROP1, DROP2, 800_000, payer_bank="PJCBBY2X")])
    out = exchange.report_incident(bb, _report(bb, ("t1",), 30, "r-1"))
    assert out.linked_transfers == 1
    [order] = out.orders
    assert (order.account_id, order.amount) == (DROP2, 700_000)  # the victim's and the other victim's money


def test_the_feature_log_keeps_rows_in_order_across_blocks_and_drops_the_oldest_block() -> None:
    import numpy as np

    from zaslon.core.features import FEATURE_NAMES
    from zaslon.flow.exchange import FeatureLog

    log = FeatureLog(max_rows=10, block=4)  # small blocks, so appends cross them
    width = len(FEATURE_NAMES)
    for lo, n in ((0, 1), (1, 6), (7, 2), (9, 5)):  # 14 rows in appends of 1, 6, 2, 5
        ids = [f"t{i}" for i in range(lo, lo + n)]
        log.append(ids, np.arange(lo, lo + n, dtype=np.int64),
                   np.repeat(np.arange(lo, lo + n, dtype=np.float32)[:, None], width, axis=1))
    ids, x = log.before(2**40)
    assert ids == [f"t{i}" for i in range(4, 14)] and log.rows == 10  # the oldest block (t0-t3) went
    assert x.shape == (10, width) and x[:, 0].tolist() == list(range(4, 14))
    ids, x = log.before(8)  # by time: rows dated before the cut-off only
    assert ids == ["t4", "t5", "t6", "t7"] and x[:, -1].tolist() == [4, 5, 6, 7]
    assert log.between(6, 13)[:, 0].tolist() == list(range(6, 13))  # written blocks and the one in memory
    assert log.between(20, 30).shape == (0, width)
    assert FeatureLog().before(2**40)[0] == []


def test_the_feature_log_keeps_only_its_last_block_in_memory() -> None:
    import numpy as np

    from zaslon.core.features import FEATURE_NAMES
    from zaslon.flow.exchange import FeatureLog

    log = FeatureLog(block=64)
    log.SEGMENT_BLOCKS = 3  # several temporary files
    width, n = len(FEATURE_NAMES), 1_000
    x = np.random.default_rng(7).random((n, width), dtype=np.float32)
    for i in range(0, n, 3):
        log.append([f"org/t{j}" for j in range(i, min(i + 3, n))], np.arange(i, min(i + 3, n), dtype=np.int64),
                   x[i : i + 3])
    assert log.rows == n and log._fill == n % 64 and len(log._ids) == n % 64  # the rest is in the files
    ids, got = log.before(2**40)
    assert ids == [f"org/t{j}" for j in range(n)] and np.array_equal(got, x)
    assert np.array_equal(log.between(100, 700), x[100:700])
    log.close()
