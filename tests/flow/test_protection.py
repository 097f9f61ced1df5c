"""Protection profiles through the Exchange (what the demo calls): the trusted person in force at each transfer's
time, a restart keeps everything, and scoring's hold for the trusted person on both of its paths."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import Engine

from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.core.policy import CODE
from zaslon.core.protection import Confirm, Profile, TrustedPerson
from zaslon.core.rules import ROW_WISE_MAX
from zaslon.core.types import Outcome, Transfer
from zaslon.flow.exchange import Exchange
from zaslon.flow.orgs import Principal, create_org
from zaslon.flow.protection import Matcher, ProtectionRequest
from zaslon.flow.scoring import BatchResult, ScoringEngine
from zaslon.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
ACC, PAYEE = "BY86AKBB10100000002966000000", "BY13NBRB3600900000002Z00AB00"
OLGA = TrustedPerson("Olga", "+375297778899", "daughter")
PAVEL = TrustedPerson("Pavel", "+375334445566", "son")


@pytest.fixture
def bank(engine: Engine) -> Principal:
    org = create_org(engine, name="Belarusbank", kind="bank", bank_id="AKBBBY2X").org_id
    return Principal(org, OrgKind.BANK, DEFAULT_SCOPES[OrgKind.BANK], "AKBBBY2X")


def req(trusted: TrustedPerson | None = OLGA, **over: object) -> ProtectionRequest:
    base: dict[str, object] = {"account_id": ACC, "consent_at": NOW, "age_band": "75-84", "lives_alone": True,
                               "phones": ("+375291112233",), "trusted": trusted,
                               "confirm": Confirm(new_payee=True)}
    return ProtectionRequest(**{**base, **over})  # type: ignore[arg-type]


def t(tid: str, at: datetime, payee: str = PAYEE) -> Transfer:
    return Transfer(tid, at, ACC, payee, 10_000, payer_bank="AKBBBY2X")


def test_the_trusted_person_in_force_at_the_transfers_time_is_asked(exchange: Exchange, bank: Principal) -> None:
    exchange.set_protection(bank, req(), now=NOW)
    view = exchange.set_protection(bank, req(PAVEL), now=NOW)
    assert view["trusted_person"]["name"] == "Olga" and view["pending_change"]["kind"] == "replacement"
    assert view["age_band"] == "75-84" and view["birth_date"] is None  # the bank gave a band, not a date
    # A band alone: scoring's elderly features count the customer as elderly and living alone.
    prof = exchange.profiles[ACC]
    assert prof.lives_alone and prof.birth_date is not None and NOW.year - prof.birth_date.year >= 75
    [early] = exchange.score(bank.org_id, [t("t-1", NOW + timedelta(hours=1))])
    [late] = exchange.score(bank.org_id, [t("t-2", NOW + timedelta(hours=25), payee="BY13NBRB3600900000002Z00AB01")])
    assert early.decision.reasons[0].code == late.decision.reasons[0].code == "awaiting_trusted_person"
    assert exchange.trusted_person(bank, "t-1")["trusted_person"]["name"] == "Olga"
    assert exchange.trusted_person(bank, "t-2")["trusted_person"]["name"] == "Pavel"
    # A removal: after its cooling-off nothing is held for a trusted person any more.
    exchange.set_protection(bank, req(None), now=NOW + timedelta(hours=26))
    [kept] = exchange.score(bank.org_id, [t("t-3", NOW + timedelta(hours=27), payee="BY13NBRB3600900000002Z00AB02")])
    [free] = exchange.score(bank.org_id, [t("t-4", NOW + timedelta(hours=51), payee="BY13NBRB3600900000002Z00AB03")])
    assert kept.decision.reasons[0].code == "awaiting_trusted_person"
    assert all(r.code != "awaiting_trusted_person" for r in free.decision.reasons)


def test_a_restart_keeps_profiles_and_pending_confirmations(engine: Engine, db_url: str, exchange: Exchange,
                                                            bank: Principal) -> None:
    exchange.set_protection(bank, req(), now=NOW)
    exchange.score(bank.org_id, [t("t-1", NOW)])
    again = Exchange(engine, Settings(database_url=db_url))
    try:
        assert again.restore()["protected"] == 1
        assert again.protection(bank, ACC, now=NOW)["trusted_person"]["phone"] == OLGA.phone
        assert again.phones_of[ACC] == ("+375291112233",) and again.profiles[ACC].lives_alone
        [d] = again.score(bank.org_id, [t("t-2", NOW, payee="BY13NBRB3600900000002Z00AB09")])
        assert d.decision.reasons[0].code == "awaiting_trusted_person"
        assert again.answer_trusted_person(bank, "t-1", confirm=False, at=NOW)["status"] == "declined"
    finally:
        again.close()


def _engine(profiles: dict[str, Profile]) -> ScoringEngine:
    engine = ScoringEngine()  # no rules, no model: only the trusted person can hold
    engine.protection = Matcher(profiles)
    return engine


@pytest.mark.parametrize("n", [1, 2 * ROW_WISE_MAX])
def test_scoring_holds_for_the_trusted_person_on_both_paths(n: int) -> None:
    prof = Profile(ACC, "AKBBBY2X", "75-84", True, (), Confirm(during_call=True), OLGA, NOW, NOW)
    engine = _engine({ACC: prof})
    batch = [Transfer(f"t{i}", NOW + timedelta(seconds=i), ACC if i % 2 == 0 else "BY00OTHER", PAYEE, 1_000)
             for i in range(n)]
    calls = [True] * n
    decisions = engine.score_batch(batch, on_flagged_call=calls)
    for i, d in enumerate(decisions):
        if i % 2 == 0:
            assert d.outcome is Outcome.HOLD and d.reasons[0].code == "awaiting_trusted_person"
            assert d.reasons[0].detail == "during_call" and d.hold_until == batch[i].ts + timedelta(hours=12)
        else:
            assert all(r.code != "awaiting_trusted_person" for r in d.reasons)
    # Not on a call: nothing to confirm.
    assert all(d.outcome is Outcome.ALLOW for d in _engine({ACC: prof}).score_batch(batch))


def test_a_block_stays_a_block_and_a_hold_stays_the_banks() -> None:
    codes = [CODE[o] for o in (Outcome.ALLOW, Outcome.REVIEW, Outcome.HOLD, Outcome.BLOCK)]
    res = BatchResult(np.zeros((4, 1), dtype=np.float32), np.zeros(4), np.array(codes, dtype=np.int8),
                      np.zeros(4, dtype=np.int8), None, None, None, None)
    ScoringEngine._hold_for_trusted_person(res, {i: ("new_payee",) for i in range(4)})
    assert res.outcome.tolist() == [CODE[Outcome.HOLD]] * 3 + [CODE[Outcome.BLOCK]]
    assert res.trusted == {0: ("new_payee",), 1: ("new_payee",)}


def test_the_housekeeping_loop_declines_what_waited_past_its_deadline(exchange: Exchange, bank: Principal) -> None:
    exchange.set_protection(bank, req(), now=NOW)
    exchange.score(bank.org_id, [t("t-old", NOW - timedelta(hours=13))])  # its 12 h ran out an hour ago
    assert exchange.trusted_person(bank, "t-old")["status"] == "pending"
    exchange.start_housekeeping(0.02)
    deadline = time.monotonic() + 10
    while exchange.trusted_person(bank, "t-old")["status"] == "pending" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert exchange.trusted_person(bank, "t-old")["status"] == "expired", exchange.housekeeping_error
