"""A worker's answers of one round (no nats-server needed): one message per API node, any other reply alone."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from zaslon.adapters.bus.streams import encode_answer
from zaslon.adapters.bus.worker import _Answers

from .helpers import decision


class FakeNats:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, data: bytes) -> None:
        self.sent.append((subject, data))


def test_a_rounds_answers_go_one_message_per_api_node() -> None:
    answers = _Answers()
    a = [encode_answer(decision(f"tx-{i}"), False, None) for i in range(4)]
    answers.add("_ZR.nodeA.1", a[0])
    answers.add("_ZR.nodeB.7", a[1])
    answers.add("_ZR.nodeA.2", a[2])
    answers.add("_INBOX.client.x", a[3])  # someone's own reply subject: answered alone, as sent
    nc = FakeNats()

    async def run() -> None:
        await asyncio.gather(*answers.publish(nc))  # type: ignore[arg-type]

    asyncio.run(run())
    sent: dict[str, Any] = dict(nc.sent)
    assert sorted(sent) == ["_INBOX.client.x", "_ZR.nodeA.answers", "_ZR.nodeB.answers"]
    assert json.loads(sent["_ZR.nodeA.answers"]) == {"1": json.loads(a[0]), "2": json.loads(a[2])}
    assert json.loads(sent["_ZR.nodeB.answers"]) == {"7": json.loads(a[1])}
    assert sent["_INBOX.client.x"] == a[3]
