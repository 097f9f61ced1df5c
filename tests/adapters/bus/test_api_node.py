"""An API node's side of the answers (no nats-server needed): one message may answer a round of requests."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

from zaslon.adapters.bus.api_node import BusScorer
from zaslon.adapters.bus.streams import decode_answer, encode_answer, encode_answers
from zaslon.adapters.db.engine import make_engine

from .helpers import decision


@dataclass
class FakeMsg:
    subject: str
    data: bytes


def test_one_message_answers_every_request_of_the_round_and_a_single_answer_still_works() -> None:
    node = BusScorer("nats://127.0.0.1:9", make_engine("sqlite://"), partitions=4)

    async def run() -> dict[str, object]:
        loop = asyncio.get_running_loop()
        futs = {t: loop.create_future() for t in ("1", "2", "3")}
        node._waiting.update(futs)
        prefix = node._prefix
        await node._on_answer(FakeMsg(f"{prefix}.answers", encode_answers({
            "1": encode_answer(decision("tx-1"), False, None), "2": encode_answer(decision("tx-2"), False, None),
            "99": encode_answer(decision("tx-99"), False, None)})))  # a request that gave up meanwhile
        await node._on_answer(FakeMsg(f"{prefix}.3", encode_answer(decision("tx-3"), True, None)))
        await node._on_answer(FakeMsg(f"{prefix}.answers", b"not json"))  # logged, nothing answered wrongly
        return {t: f.result() for t, f in futs.items()}

    got = asyncio.run(run())
    assert {t: decode_answer(a).decision.transfer_id for t, a in got.items()} == {"1": "tx-1", "2": "tx-2",
                                                                                  "3": "tx-3"}
    assert decode_answer(got["3"]).replayed
    assert node._waiting == {}
    assert json.loads(encode_answer(decision("tx-1"), False, None)) == got["1"]
