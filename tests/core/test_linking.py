from __future__ import annotations

import random

import pytest

from zaslon.core.linking import Linker, link_batch
from zaslon.errors import InvalidInput, NotFound


def partition(cases: dict[int, list[str]] | list[set[str]]) -> list[list[str]]:
    groups = cases.values() if isinstance(cases, dict) else cases
    return sorted(sorted(g) for g in groups)


def test_shared_identifiers_link_incidents_into_one_case() -> None:
    lk = Linker()
    lk.add("a", ["phone:+375291111111"])
    events = lk.add("b", ["phone:+375291111111", "account:BY01"])
    lk.add("c", ["account:BY01"])
    lk.add("d", ["phone:+375292222222"])
    assert partition(lk.cases()) == [["a", "b", "c"], ["d"]]
    assert lk.case_of("a") == lk.case_of("c") != lk.case_of("d")
    join = [e for e in events if e.kind == "join"]
    assert join and join[0].reason == "phone:+375291111111" and join[0].incident == "b"


def test_a_new_incident_bridging_two_cases_merges_them_with_the_reason() -> None:
    lk = Linker()
    lk.add("a", ["wallet:TXa"])
    lk.add("b", ["domain:evil.by"])
    first = lk.case_of("a")
    events = lk.add("c", ["wallet:TXa", "domain:evil.by"])
    assert partition(lk.cases()) == [["a", "b", "c"]]
    merges = [e for e in events if e.kind == "merge"]
    assert len(merges) == 1 and merges[0].reason == "domain:evil.by"
    assert lk.case_of("b") == first  # the older case keeps its number


def test_hub_suppression_prevents_a_mega_case() -> None:
    # 30 unrelated groups of 3 incidents; every incident also names the marketplace and the bank hotline.
    lk = Linker({"domain": 10, "phone": 10, "account": 10})
    for g in range(30):
        for k in range(3):
            lk.add(f"g{g}-{k}", [f"account:DROP{g}", "domain:kufar.by", "phone:+375172000000"])
    cases = partition(lk.cases())
    assert len(cases) == 30
    assert all(len(c) == 3 and len({x.split('-')[0] for x in c}) == 1 for c in cases)
    assert {k for k, _ in lk.hubs()} == {"domain:kufar.by", "phone:+375172000000"}
    splits = [e for e in lk.events if e.kind == "split"]
    assert splits and all(e.reason.startswith("hub:") for e in splits)


def test_incremental_linking_equals_batch_linking() -> None:
    rnd = random.Random(5)
    for _ in range(60):
        caps = {"phone": rnd.randint(1, 8), "account": rnd.randint(1, 8), "domain": rnd.randint(1, 8)}
        incidents = [
            (f"i{i}", [f"{rnd.choice(['phone', 'account', 'domain'])}:{rnd.randint(0, 25)}"
                       for _ in range(rnd.randint(0, 4))])
            for i in range(rnd.randint(1, 70))
        ]
        lk = Linker(caps)
        for n, (iid, keys) in enumerate(incidents):
            lk.add(iid, keys)
            if n % 7 == 0:
                assert partition(lk.cases()) == partition(link_batch(incidents[: n + 1], caps))
        assert partition(lk.cases()) == partition(link_batch(incidents, caps))


def test_manual_split_is_recorded_and_respected_by_later_linking() -> None:
    lk = Linker()
    for iid in "abc":
        lk.add(iid, ["phone:1"])
    lk.add("d", ["phone:1", "email:x@y.by"])
    old = lk.case_of("a")
    new = lk.split(["c", "d"], "different victims' bank, same spoofed number")
    assert new != old
    assert partition(lk.cases()) == [["a", "b"], ["c", "d"]]
    assert lk.case_of("a") == old and lk.case_of("d") == new
    # A later incident sharing the number joins one side; it must not undo the analyst's split.
    lk.add("e", ["phone:1"])
    assert lk.case_of("a") != lk.case_of("c")
    lk.add("f", ["email:x@y.by"])
    assert lk.case_of("f") == lk.case_of("d")
    kinds = [e.kind for e in lk.events]
    assert "manual_split" in kinds
    assert lk.events[-1].seq == len(lk.events)


def test_manual_merge_joins_unrelated_cases_and_history_keeps_both() -> None:
    lk = Linker()
    lk.add("a", ["phone:1"])
    lk.add("b", ["phone:2"])
    ca, cb = lk.case_of("a"), lk.case_of("b")
    kept = lk.merge(ca, cb, "same handwriting")
    assert kept == ca and lk.case_of("b") == ca
    ev = [e for e in lk.events if e.kind == "manual_merge"]
    assert ev and ev[0].other == cb and ev[0].reason == "same handwriting"
    # A split followed by a merge of the same parts: the merge wins.
    new = lk.split(["b"])
    assert lk.case_of("b") == new
    lk.merge(ca, new)
    assert lk.case_of("a") == lk.case_of("b")


def test_bad_input() -> None:
    lk = Linker()
    lk.add("a", ["phone:1"])
    with pytest.raises(InvalidInput):
        lk.add("a", ["phone:2"])
    with pytest.raises(NotFound):
        lk.merge(99, lk.case_of("a"))
    with pytest.raises(NotFound):
        lk.split(["nope"])
    with pytest.raises(InvalidInput):
        lk.split(["a"])  # nothing would stay behind
