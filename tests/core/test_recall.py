"""Which payments an order's recall and return quote: the heaviest carrier in, and the victim's at its root."""

from __future__ import annotations

from zaslon.core.recall import RecallPath, recall_paths
from zaslon.core.trace import Hop


def test_the_heaviest_hop_in_and_the_disputed_payment_it_came_from() -> None:
    hops = [
        Hop("v1", 100, "victim-a", "drop1", 5000, 1),
        Hop("v2", 110, "victim-b", "drop1", 7000, 1),  # the heavier of the victims' payments into drop1
        Hop("d1", 200, "drop1", "drop2", 6000, 2),
        Hop("d2", 210, "drop1", "drop2", 6000, 2),  # same amount, later: the earlier one is quoted
        Hop("d3", 300, "drop2", "drop3", 9000, 3),
        Hop("late", 50, "victim-c", "drop1", 9999, 2),  # depth 2 cannot be the root of depth 2
    ]
    paths = recall_paths(hops, ["drop1", "drop2", "drop3", "nowhere"])
    assert paths["drop1"] == RecallPath("late", "late")  # the heaviest carrier in; it is at depth 2 with no parent
    assert paths["drop2"] == RecallPath("d1", "v2")
    assert paths["drop3"] == RecallPath("d3", "v2")
    assert "nowhere" not in paths


def test_a_parent_must_come_before_its_child() -> None:
    hops = [Hop("v", 500, "victim", "drop1", 100, 1), Hop("d", 400, "drop1", "drop2", 100, 2)]
    assert recall_paths(hops, ["drop2"])["drop2"] == RecallPath("d", "d")  # no earlier parent: stays at d
