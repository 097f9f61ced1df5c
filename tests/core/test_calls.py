"""RecentCalls: the "on a call with a flagged number" signal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from zaslon.core.calls import Call, RecentCalls
from zaslon.errors import InvalidInput

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VICTIM, FRAUD, MUM = "+375291112233", "+375447654321", "+375295550000"


def test_flagged_caller_within_window_counts_even_if_flagged_later() -> None:
    rc = RecentCalls(window=timedelta(hours=2))
    rc.record(Call(T0, FRAUD, VICTIM, 600))
    rc.record(Call(T0 + timedelta(minutes=5), MUM, VICTIM))
    assert rc.flagged_callers(VICTIM, T0 + timedelta(minutes=30), set()) == ()
    assert rc.flagged_callers(VICTIM, T0 + timedelta(minutes=30), {FRAUD}) == (FRAUD,)
    assert rc.on_call_with_flagged(VICTIM, T0 + timedelta(minutes=30), {FRAUD, MUM})
    assert rc.flagged_callers(VICTIM, T0 + timedelta(hours=3), {FRAUD}) == ()  # outside the window
    assert rc.flagged_callers("+375290000000", T0, {FRAUD}) == ()


def test_future_calls_are_not_seen_and_old_ones_are_pruned() -> None:
    rc = RecentCalls(window=timedelta(hours=1))
    rc.record(Call(T0, FRAUD, VICTIM))
    assert rc.flagged_callers(VICTIM, T0 - timedelta(minutes=1), {FRAUD}) == ()  # event-time order
    rc.record(Call(T0 + timedelta(hours=5), MUM, VICTIM))
    assert len(rc) == 1


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(InvalidInput):
        RecentCalls().record(Call(datetime(2026, 3, 1), FRAUD, VICTIM))
