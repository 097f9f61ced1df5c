"""The scale-out shape end to end on a real nats-server and PostgreSQL: decisions through the bus, replays on
any API node, bad input and poison messages, the bus unreachable, outbox to consumer exactly once."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import nats
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from zaslon.adapters.bus.streams import DLQ_STREAM, REASON_HEADER, REPLY_HEADER
from zaslon.adapters.db.engine import make_engine
from zaslon.adapters.db.tables_bus import bus_inbox, bus_outbox
from zaslon.adapters.db.tables_orders import cashout_alerts
from zaslon.adapters.http.app import create_app
from zaslon.flow.orgs import create_org

from .conftest import Cluster
from .helpers import T0, decision_rows, score_patiently, transfers

pytestmark = pytest.mark.scaleout


def _bank(url: str) -> dict[str, str]:
    eng = make_engine(url)
    created = create_org(eng, name=f"Bank {uuid.uuid4().hex[:6]}", kind="bank", bank_id="AKBBBY2X")
    eng.dispose()
    return {"Authorization": f"Bearer {created.api_key}", "org": created.org_id}


def _ours(url: str, prefix: str, org_id: str) -> dict[str, dict[str, object]]:
    return {t: r for t, r in decision_rows(url, org_id).items() if t.startswith(prefix)}


def test_decisions_through_the_bus_and_the_first_decision_on_any_api_node(shared_cluster: Cluster) -> None:
    cluster = shared_cluster
    bank = _bank(cluster.pg_url)
    org = bank.pop("org")
    bodies = transfers(24)
    with TestClient(create_app(cluster.settings())) as node_a, TestClient(create_app(cluster.settings())) as node_b:
        first = [score_patiently(node_a, bank, b) for b in bodies]
        again = [score_patiently(node_b, bank, b) for b in bodies]  # the same ids, to another API node
        changed = {**bodies[0], "amount": 999_999}
        conflict = node_b.post("/v1/transfers/score", json=changed, headers=bank)
        batch = node_a.post("/v1/transfers/score/batch", json=transfers(3, start=100), headers=bank)
        other = _bank(cluster.pg_url)  # another bank's body under the same id: ids are each bank's own
        other_org = other.pop("org")
        foreign = node_b.post("/v1/transfers/score", json=changed, headers=other)
        foreign_again = node_a.post("/v1/transfers/score", json=changed, headers=other)
        foreign_conflict = node_a.post("/v1/transfers/score", json=bodies[0], headers=other)
    assert [f["replayed"] for f in first] == [False] * 24
    assert [a["replayed"] for a in again] == [True] * 24
    assert [{**a, "replayed": False} for a in again] == first
    assert conflict.status_code == 409, conflict.text
    assert foreign.status_code == 200 and foreign.json()["replayed"] is False, foreign.text
    assert foreign_again.status_code == 200 and foreign_again.json() == {**foreign.json(), "replayed": True}
    assert foreign_conflict.status_code == 409, foreign_conflict.text  # its own tx-0 had another body
    assert batch.status_code == 200 and [d["transfer_id"] for d in batch.json()] == ["tx-100", "tx-101", "tx-102"]
    assert set(_ours(cluster.pg_url, "tx-", other_org)) == {"tx-0"}
    rows = _ours(cluster.pg_url, "tx-", org)
    assert len(rows) == 27 and all(r["org_id"] == org and r["source"] == "bus" for r in rows.values())
    assert rows["tx-0"]["body_hash"] != "" and rows["tx-0"]["outcome"] == first[0]["outcome"]


def test_bus_unreachable_answers_503_with_retry_after_and_stores_nothing(pg_url: str, tmp_path: Path) -> None:
    from zaslon.settings import Settings

    bank = _bank(pg_url)
    bank.pop("org")
    settings = Settings(database_url=pg_url, bus_url="nats://127.0.0.1:9", bus_partitions=4)  # nothing listens
    with TestClient(create_app(settings)) as node:
        r = node.post("/v1/transfers/score", json=transfers(1)[0], headers=bank)
        rb = node.post("/v1/transfers/score/batch", json=transfers(2), headers=bank)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.text
    assert r.json()["error"] == "Unavailable"
    assert rb.status_code == 503
    assert decision_rows(pg_url) == {}


async def _publish_raw(url: str, subject: str, data: bytes, msg_id: str) -> bytes | None:
    """A message straight onto the stream (not through an API node), and the worker's answer to it."""
    nc = await nats.connect(url)
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox)
    await nc.jetstream().publish(subject, data, headers={"Nats-Msg-Id": msg_id, REPLY_HEADER: inbox})
    try:
        msg = await sub.next_msg(timeout=20)
        return bytes(msg.data)
    finally:
        await nc.close()


async def _dead_letters(url: str) -> list[tuple[bytes, str]]:
    nc = await nats.connect(url)
    js = nc.jetstream()
    info = await js.stream_info(DLQ_STREAM)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        m = await js.get_msg(DLQ_STREAM, seq)
        out.append((bytes(m.data), (m.headers or {}).get(REASON_HEADER, "")))
    await nc.close()
    return out


def test_invalid_message_goes_to_the_dead_letter_subject_and_the_stream_goes_on(shared_cluster: Cluster) -> None:
    cluster = shared_cluster
    bank = _bank(cluster.pg_url)
    org = bank.pop("org")
    bad = json.dumps({"org": org, "t": {**transfers(1, prefix="bad")[0], "amount": -5}, "call": False}).encode()
    answer = asyncio.run(_publish_raw(cluster.nats.url, "zaslon.score.0", bad, "bad-1"))
    assert answer is not None and json.loads(answer)["error"] == "InvalidInput"
    assert "amount" in json.loads(answer)["message"]
    not_json = asyncio.run(_publish_raw(cluster.nats.url, "zaslon.score.0", b"\xff{", "bad-2"))
    assert not_json is not None and json.loads(not_json)["error"] == "InvalidInput"
    letters = [x for x in asyncio.run(_dead_letters(cluster.nats.url)) if x[1].startswith("invalid: ")]
    assert len(letters) == 2
    assert letters[0][0] == bad
    with TestClient(create_app(cluster.settings())) as node:  # the stream goes on
        ok = [score_patiently(node, bank, b) for b in transfers(8, prefix="after-bad")]
    assert len(ok) == 8
    assert set(_ours(cluster.pg_url, "after-bad-", org)) == {f"after-bad-{i}" for i in range(8)}


def test_a_poison_message_is_tried_at_most_n_times_then_dead_lettered(shared_cluster: Cluster) -> None:
    cluster = shared_cluster  # its worker: scoring "poison-3" raises; 3 deliveries at most
    bank = _bank(cluster.pg_url)
    org = bank.pop("org")
    with TestClient(create_app(cluster.settings(bus_reply_timeout_s=15))) as node:
        answers = {}
        for b in transfers(6, prefix="poison"):
            answers[b["transfer_id"]] = node.post("/v1/transfers/score", json=b, headers=bank)
    assert answers["poison-3"].status_code == 422, answers["poison-3"].text
    assert all(r.status_code == 200 for tid, r in answers.items() if tid != "poison-3")
    letters = [x for x in asyncio.run(_dead_letters(cluster.nats.url)) if not x[1].startswith("invalid: ")]
    assert len(letters) == 1 and letters[0][1] == "failed 3 times: scoring raised"
    assert json.loads(letters[0][0])["t"]["transfer_id"] == "poison-3"
    assert set(_ours(cluster.pg_url, "poison-", org)) == {f"poison-{i}" for i in range(6)} - {"poison-3"}


def test_outbox_events_reach_their_consumer_exactly_once(shared_cluster: Cluster) -> None:
    """An effect committed in the outbox is published (Nats-Msg-Id = row id) and applied once, even when
    the relay publishes the row again (it died before marking it published)."""
    cluster = shared_cluster
    eng = make_engine(cluster.pg_url)
    alert = {"transfer_id": "cash-1", "account_id": "DROP1", "kind": "cash_out", "amount": 50_000,
             "currency": "BYN", "ts": T0.isoformat(), "atm_id": "ATM-7", "payee": "CASH", "payee_bank": None,
             "country": None}
    with eng.begin() as conn:
        conn.execute(insert(bus_outbox).values(subject="zaslon.events.cashout", payload=json.dumps(alert),
                                               created_at=T0))

    def alerts() -> list[str]:
        with eng.connect() as conn:
            return [r.transfer_id for r in conn.execute(select(cashout_alerts))]

    def wait_for(cond, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 20
        while not cond():
            assert time.monotonic() < deadline, what
            time.sleep(0.1)

    wait_for(lambda: alerts() == ["cash-1"], "the alert was not applied")
    with eng.begin() as conn:  # as if the relay died after publishing, before marking the row
        conn.execute(update(bus_outbox).values(published_at=None))
    time.sleep(0.1)
    wait_for(lambda: _published(eng), "the row was not published again")
    time.sleep(1.5)
    assert alerts() == ["cash-1"]
    with eng.connect() as conn:
        inbox = conn.execute(select(bus_inbox).where(bus_inbox.c.consumer == "alerts")).all()
    assert len(inbox) == 1
    eng.dispose()


def _published(eng) -> bool:  # type: ignore[no-untyped-def]
    with eng.connect() as conn:
        return conn.execute(select(bus_outbox.c.published_at)).scalar() is not None


async def _publish_twice(url: str, subject: str, data: bytes) -> list[bytes]:
    """The same transfer on the stream twice under different message ids (JetStream cannot drop the second)."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    inboxes = [nc.new_inbox(), nc.new_inbox()]
    subs = [await nc.subscribe(i) for i in inboxes]
    for n, inbox in enumerate(inboxes):
        await js.publish(subject, data, headers={"Nats-Msg-Id": f"twin-{n}", REPLY_HEADER: inbox})
    try:
        return [bytes((await s.next_msg(timeout=20)).data) for s in subs]
    finally:
        await nc.close()


def test_the_same_transfer_twice_on_the_stream_is_decided_once(shared_cluster: Cluster) -> None:
    from zaslon.flow.partition import partition_of

    cluster = shared_cluster
    bank = _bank(cluster.pg_url)
    org = bank.pop("org")
    body = transfers(1, prefix="twin")[0]
    subject = f"zaslon.score.{partition_of(body['payer'], cluster.partitions)}"
    data = json.dumps({"org": org, "t": body, "call": False}).encode()
    answers = [json.loads(a) for a in asyncio.run(_publish_twice(cluster.nats.url, subject, data))]
    assert [a["decision"]["transfer_id"] for a in answers] == ["twin-0", "twin-0"]
    assert answers[0]["decision"]["score"] == answers[1]["decision"]["score"]
    assert answers[0]["decision"]["outcome"] == answers[1]["decision"]["outcome"]
    assert list(_ours(cluster.pg_url, "twin-", org)) == ["twin-0"]
