"""One scoring call for a round of several partitions gives what each partition's own call gives."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from zaslon.adapters.db.engine import make_engine, upgrade
from zaslon.core.features import TransferColumns
from zaslon.core.knowledge import AccountFlag
from zaslon.core.types import Transfer
from zaslon.flow.exchange import Exchange
from zaslon.flow.partition import BatchOutcome, Incoming, PartitionScorer, message_key, partition_of, score_round
from zaslon.flow.scoring import columns_of, join_columns

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ORG = "org-1"
PARTS = 4


@pytest.fixture
def exchanges(tmp_path: Path) -> Iterator[tuple[Exchange, Exchange]]:
    """Two exchanges alike: one scores partition by partition, the other a round at a time."""
    out = []
    for name in ("alone", "round"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        ex = Exchange(make_engine(url))
        ex.knowledge.flag("MULE", AccountFlag.REPORTED)  # a held transfer among the allowed ones
        out.append(ex)
    yield out[0], out[1]
    for ex in out:
        ex.close()


def incoming(i: int, *, payee: str | None = None, amount: int | None = None) -> Incoming:
    t = Transfer(f"tx-{i}", T0 + timedelta(seconds=41 * i), f"PAYER{i % 9}", payee or f"PAYEE{(i * 7) % 5}",
                 amount or 1_000 + 373 * (i % 17))
    key, h = message_key(ORG, t)
    return Incoming(i, ORG, t, False, key, h)


def by_partition(msgs: list[Incoming]) -> dict[int, list[Incoming]]:
    out: dict[int, list[Incoming]] = {}
    for m in msgs:
        out.setdefault(partition_of(m.transfer.payer, PARTS), []).append(m)
    return out


def summary(out: BatchOutcome) -> list[tuple[str, str | None, float | None, tuple[str, ...]]]:
    rows = []
    for h in out.handled:
        d = h.recorded.decision if h.recorded is not None else None
        rows.append((h.status, None if d is None else d.outcome.value, None if d is None else round(d.score, 9),
                     () if d is None else tuple(r.code for r in d.reasons)))
    return rows


def test_a_round_scored_in_one_call_decides_and_folds_as_each_partition_alone(
        exchanges: tuple[Exchange, Exchange]) -> None:
    alone_ex, round_ex = exchanges
    alone = {p: PartitionScorer(alone_ex, p) for p in range(PARTS)}
    together = {p: PartitionScorer(round_ex, p) for p in range(PARTS)}
    seen = 0
    outcomes: set[str | None] = set()
    for _ in range(6):
        msgs = [incoming(seen + j, payee="MULE" if (seen + j) % 11 == 0 else None) for j in range(13)]
        seen += len(msgs)
        batches = by_partition(msgs)
        assert len(batches) > 1  # the round spans partitions
        one = {p: alone[p].score(b, {}, {}, now=T0) for p, b in batches.items()}
        outs = score_round(round_ex, [(together[p], b) for p, b in batches.items()], {}, {}, now=T0)
        for (p, _), out in zip(batches.items(), outs, strict=True):
            assert summary(out) == summary(one[p])
            assert out.decision_rows == one[p].decision_rows
            assert out.inbox_rows == one[p].inbox_rows
            assert together[p].batch_no == alone[p].batch_no
            outcomes |= {s[1] for s in summary(out)}
    assert {"allow", "hold"} <= outcomes  # the reported payee's transfers held, the others not
    assert {p: s.fingerprint() for p, s in together.items()} == {p: s.fingerprint() for p, s in alone.items()}


def test_a_round_answers_replays_and_conflicts_as_each_partition_alone(exchanges: tuple[Exchange, Exchange]) -> None:
    alone_ex, round_ex = exchanges
    first = [incoming(i) for i in range(8)]
    stored = {(ORG, r["transfer_id"]): r for p, b in by_partition(first).items()
              for r in PartitionScorer(alone_ex, p).score(b, {}, {}, now=T0).decision_rows}
    again = [*first[:3], incoming(2, amount=99_999), incoming(50), incoming(51)]  # replays, a conflict, fresh
    alone = {p: PartitionScorer(alone_ex, p) for p in range(PARTS)}
    together = {p: PartitionScorer(round_ex, p) for p in range(PARTS)}
    batches = by_partition(again)
    one = {p: alone[p].score(b, {}, stored, now=T0) for p, b in batches.items()}
    outs = score_round(round_ex, [(together[p], b) for p, b in batches.items()], {}, stored, now=T0)
    statuses = []
    for (p, _), out in zip(batches.items(), outs, strict=True):
        assert summary(out) == summary(one[p])
        assert out.inbox_rows == one[p].inbox_rows
        statuses += [h.status for h in out.handled]
    assert sorted(statuses) == ["conflict", "replayed", "replayed", "replayed", "scored", "scored"]


def test_joined_columns_keep_each_batch_in_order() -> None:
    a = columns_of([incoming(1).transfer, incoming(2).transfer], [True, False])
    b = columns_of([incoming(3).transfer], None)
    j = join_columns([a, b])
    assert isinstance(j, TransferColumns)
    assert list(j.payer) == [*a.payer, *b.payer]
    assert j.ts.tolist() == [*a.ts.tolist(), *b.ts.tolist()]
    assert j.on_flagged_call is not None
    assert j.on_flagged_call.tolist() == [True, False, False]  # the batch without call flags: False
    assert j.call_signals is None
    assert np.array_equal(j.amount, np.concatenate([a.amount, b.amount]))
