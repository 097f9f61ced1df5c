"""The live call book behind scoring's call features, and the block list's corroboration rule (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from zaslon.core.blocklist import NumberReport, is_listed, why_listed
from zaslon.core.calls import KNOWN_AFTER, MAX_CALL, NO_SIGNALS, STRANGER_WINDOW, CallBook, LineState, LiveCall

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ME = "+375291112233"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_a_call_in_progress_and_just_after_it_ended() -> None:
    book = CallBook()
    book.start(ME, LiveCall("c1", T0, "+375447654321", caller_verified=False))
    assert book.signals([ME], at(-1), set())[:5] == NO_SIGNALS[:5]  # not started yet
    assert book.signals([ME], at(12), set())[:2] == (1.0, 720.0)
    book.end(ME, "c1", T0, "+375447654321", at(15))
    assert book.signals([ME], at(20), set())[:2] == (1.0, 900.0)  # hung up 5 min ago: still counts, full length
    assert book.signals([ME], at(26), set())[:4] == NO_SIGNALS[:4]  # more than 10 min after it ended


def test_what_makes_a_call_risky() -> None:
    book = CallBook()
    book.start(ME, LiveCall("ok", T0, "+375447000000", caller_verified=True))
    assert book.signals([ME], at(1), set())[0] == 0.0
    assert book.signals([ME], at(1), {"+375447000000"})[0] == 1.0  # flagged by the exchange
    other = "+375291110000"
    book.start(other, LiveCall("ru", T0, "+79161234567"))  # international, not verified
    book.start(other, LiveCall("reg", T0, "+375447000001", caller_verified=True, caller_in_registry=True))
    assert book.signals([other], at(1), set())[0] == 1.0
    verified_abroad = CallBook()
    verified_abroad.start(ME, LiveCall("de", T0, "+4915112345678", caller_verified=True))
    assert verified_abroad.signals([ME], at(1), set())[0] == 0.0


def test_an_end_arriving_first_and_a_call_that_never_ends() -> None:
    book = CallBook()
    book.end(ME, "c1", T0, "+79161234567", at(30))
    book.start(ME, LiveCall("c1", T0, "+79161234567"))
    assert book.signals([ME], at(45), set())[:4] == NO_SIGNALS[:4]  # the end, which came first, still counts
    book.start(ME, LiveCall("c2", at(60), "+79161234567"))
    lost = at(60) + MAX_CALL
    assert book.signals([ME], lost, set())[1] == MAX_CALL.total_seconds()


def test_line_signals_as_of_the_transfer() -> None:
    book = CallBook()
    book.line(ME, LineState(at(0), forwarding_active=True, latest_sim_change=T0 - timedelta(days=3)))
    book.line(ME, LineState(at(60), forwarding_active=False, latest_sim_change=T0 - timedelta(days=3)))
    book.start(ME, LiveCall("c1", T0, "+375447000000", caller_verified=True))
    assert book.signals([ME], at(30), set())[2:4] == (1.0, 3.0 + 30 / 1440)
    assert book.signals([ME], at(90), set())[2] == 0.0  # forwarding switched off since


def test_a_long_call_from_a_stranger_counts_for_hours_one_from_a_contact_never() -> None:
    book = CallBook()
    scammer, daughter, clinic = "+375291234567", "+375297654321", "+375173334455"
    book.start(ME, LiveCall("d0", T0 - KNOWN_AFTER - timedelta(hours=1), daughter, caller_verified=True))
    book.start(clinic, LiveCall("c0", T0 - timedelta(days=3), ME, caller_verified=True))  # she called the clinic
    book.start(ME, LiveCall("s1", T0, scammer, caller_verified=True))  # a SIM box: a verified local number
    book.end(ME, "s1", T0, scammer, at(20))
    book.start(ME, LiveCall("s2", at(30), scammer, caller_verified=True))  # calling back does not make a contact
    book.end(ME, "s2", at(30), scammer, at(35))
    two_hours_on = book.signals([ME], at(120), set())
    assert two_hours_on[0] == 0.0 and two_hours_on[4] == 1200.0  # not risky, but a 20-minute stranger's call
    assert book.signals([ME], at(10), set())[4] == 600.0  # so far
    assert book.signals([ME], T0 + STRANGER_WINDOW + timedelta(minutes=1), set())[4] == 300.0  # s1 is too old
    book.start(ME, LiveCall("d1", at(300), daughter, caller_verified=True))
    book.end(ME, "d1", at(300), daughter, at(340))
    book.start(ME, LiveCall("c1", at(300), clinic, caller_verified=True))
    book.end(ME, "c1", at(300), clinic, at(330))
    assert book.signals([ME], at(345), set())[4:] == (0.0, 1.0)  # long calls, but with her daughter and clinic
    assert book.signals(["+375290000009"], at(345), set())[5] == 0.0  # no operator reports this phone's calls


def test_contacts_not_heard_from_for_long_are_forgotten() -> None:
    book = CallBook(sweep_every=1)
    friend = "+375297654321"
    book.start(ME, LiveCall("f0", T0, friend, caller_verified=True))
    book.start(ME, LiveCall("f1", T0 + timedelta(days=2), friend, caller_verified=True))
    assert book.is_contact(ME, friend, T0 + timedelta(days=2))
    book.start("+375290000000", LiveCall("x", T0 + timedelta(days=400), "+375290000001"))
    assert not book.is_contact(ME, friend, T0 + timedelta(days=400))


def report(org: str, minutes: float = 0, **kw: object) -> NumberReport:
    return NumberReport("+375447654321", org, at(minutes), **kw)  # type: ignore[arg-type]


def test_one_report_never_lists_two_independent_ones_or_the_police_do() -> None:
    assert not is_listed([report("bank-a", victim="party:p1")])
    assert not is_listed([report("bank-a", victim="party:p1"), report("bank-a", 5, victim="party:p1")])
    assert is_listed([report("bank-a", victim="party:p1"), report("bank-a", 5, victim="party:p2")])
    assert is_listed([report("telecom-a1"), report("telecom-mts")])
    assert why_listed([report("police", by_police=True)]) == "police"
    assert why_listed([report("telecom-a1")]) is None


def test_an_upheld_appeal_counts_only_later_reports() -> None:
    two = [report("telecom-a1"), report("telecom-mts", 5)]
    assert not is_listed(two, cleared_at=at(10))
    assert is_listed([*two, report("telecom-life", 20), report("bank-a", 30)], cleared_at=at(10))


def test_a_sweep_drops_calls_too_old_to_count() -> None:
    book = CallBook(sweep_every=3)
    book.start("+375291000001", LiveCall("old", T0, "+79161234567"))
    book.start("+375291000002", LiveCall("mid", at(60), "+79161234567"))
    assert len(book) == 2 and not book.empty
    book.start("+375291000003", LiveCall("new", at(60 * 24), "+79161234567"))  # a day later: the third start
    assert len(book) == 1
