"""A freeze request abroad leaves at once: the partner sync pushes when woken, without waiting for its schedule,
and a partner that is down is recorded and retried, delaying nothing."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from tests.adapters.taxii.test_freeze_requests import ask, pair
from zaslon.adapters.db.tables_sharing import partners
from zaslon.lab.loopback import served


def _link(by, ru, ru_at_by: str, key: str, url: str) -> None:  # type: ignore[no-untyped-def]
    with by.engine.begin() as conn:
        conn.execute(partners.update().where(partners.c.org_id == ru_at_by).values(
            taxii_url=f"{url}/taxii2/zaslon/", remote_read=ru.exchange.sharing.outbox_id("partner-zaslon-by"),
            remote_write=ru.exchange.sharing.inbox_id, remote_token=key))


def test_a_woken_sync_pushes_the_request_to_the_partner_at_once(tmp_path: Path) -> None:
    by, ru, ru_at_by, key = pair(tmp_path)
    with served(ru.app) as url:
        _link(by, ru, ru_at_by, key, url)
        sync = by.exchange.partner_sync
        sync.interval_s = 3600.0  # after the first round (at once), the schedule would not come round again
        by.exchange.start_partner_sync()
        try:
            request_id = by.exchange.sharing.request_freeze(ru_at_by, ask(), by="desk-officer-3")
            started = time.monotonic()
            done = sync.rounds
            sync.wake()
            assert _until(lambda: bool(ru.exchange.sharing.freeze_requests("in")))
            assert sync.wait_round(done, timeout_s=30)
            assert sync.last_error is None and "error" not in sync.last_result[ru_at_by], sync.last_result
            [incoming] = ru.exchange.sharing.freeze_requests("in")
            assert incoming["request_id"] == request_id and incoming["status"] == "orders_issued"
            assert time.monotonic() - started < 30
        finally:
            by.exchange.close()


def test_a_partner_that_is_down_is_recorded_and_the_next_round_retries(tmp_path: Path) -> None:
    by, ru, ru_at_by, key = pair(tmp_path)
    _link(by, ru, ru_at_by, key, "http://127.0.0.1:9")  # nothing listens there
    sync = by.exchange.partner_sync
    sync.interval_s = 3600.0
    by.exchange.start_partner_sync()
    try:
        by.exchange.sharing.request_freeze(ru_at_by, ask(), by="desk-officer-3")
        done = sync.rounds
        sync.wake()
        assert sync.wait_round(done, timeout_s=60)
        assert "error" in sync.last_result[ru_at_by]
        assert ru.exchange.sharing.freeze_requests("in") == []
        [mine] = by.exchange.sharing.freeze_requests("out")
        assert mine["status"] == "sent"  # still ours to push on the next round
    finally:
        by.exchange.close()


def _until(condition: Any, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_freeze_request_does_not_wait_behind_a_bulk_round_under_way(tmp_path: Path) -> None:
    """The bulk lane is held inside a round (as by thousands of indicators to publish and push); a new freeze
    request still reaches the partner through the urgent lane, and the bulk round later pushes nothing twice."""
    by, ru, ru_at_by, key = pair(tmp_path)
    with served(ru.app) as url:
        _link(by, ru, ru_at_by, key, url)
        sync = by.exchange.partner_sync
        sync.interval_s = 3600.0
        real_sync = by.exchange.sharing.sync
        in_round, release = threading.Event(), threading.Event()

        def long_round(*args: Any, **kwargs: Any) -> Any:
            in_round.set()
            assert release.wait(60)
            return real_sync(*args, **kwargs)

        by.exchange.sharing.sync = long_round  # type: ignore[method-assign]
        by.exchange.start_partner_sync()
        try:
            sync.wake()
            assert in_round.wait(30)  # the bulk lane is busy from here on
            assert _until(lambda: sync.urgent_rounds == 1)  # that wake's urgent push (nothing waited) is over
            request_id = by.exchange.sharing.request_freeze(ru_at_by, ask(), by="desk-officer-3")
            sync.wake()
            assert _until(lambda: bool(ru.exchange.sharing.freeze_requests("in")))
            [incoming] = ru.exchange.sharing.freeze_requests("in")
            assert incoming["request_id"] == request_id and incoming["status"] == "orders_issued"
            assert sync.rounds == 0 and not release.is_set()  # the bulk round had not moved
            assert _until(lambda: sync.urgent_rounds == 2)
            assert sync.last_urgent_result[ru_at_by] == {"pushed": 1}
            release.set()
            assert sync.wait_round(0, timeout_s=60)
            assert "error" not in sync.last_result[ru_at_by], sync.last_result
        finally:
            release.set()
            by.exchange.close()
    # The partner issued one order for it and answered once, however many times it came.
    assert len(ru.exchange.sharing.freeze_requests("in")) == 1
    answers = [r for r in ru.exchange.sharing.store.page(ru.exchange.sharing.outbox_id("partner-zaslon-by"),
                                                           types=["freeze-response"], limit=100).rows]
    assert len(answers) == 1


def test_a_node_that_does_not_lead_runs_no_scheduled_round_but_pushes_its_own_news() -> None:
    class Stub:
        def __init__(self) -> None:
            self.syncs: list[bool] = []
            self.urgent = 0

        def partners(self) -> list[str]:
            return ["ru"]

        def sync(self, *, timeout_s: float, publish: bool) -> dict[str, dict[str, object]]:
            self.syncs.append(publish)
            return {}

        def push_urgent(self, **_: object) -> dict[str, dict[str, object]]:
            self.urgent += 1
            return {}

    from zaslon.flow.partner_sync import PartnerSync

    stub = Stub()
    sync = PartnerSync(stub, interval_s=0.05, leads=lambda: False)  # type: ignore[arg-type]
    sync.start()
    try:
        time.sleep(0.4)  # several scheduled rounds would have come round
        assert stub.syncs == []
        sync.wake()  # this node's own freeze request: pushed and synced here, leader or not
        assert sync.wait_round(0, timeout_s=10)
        deadline = time.monotonic() + 10  # the urgent lane is a thread of its own
        while sync.urgent_rounds < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stub.syncs == [False] and stub.urgent >= 1
    finally:
        sync.stop()
