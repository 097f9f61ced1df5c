"""The desk in a real browser: Debian's Chromium driven by Playwright, launched by its path (never
``playwright install``: it downloads from a CDN). ``make test`` installs Chromium (scripts/ensure-chromium.sh).

The app runs in a real server (uvicorn, on a loopback port) so the browser talks HTTP to it, server-sent
events included. Browser tests run on SQLite only: the pages are the same over PostgreSQL, which the HTTP
tests cover.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def db_url(tmp_path: Path) -> str:  # the root conftest's, SQLite only
    from zaslon.adapters.db.engine import upgrade

    url = f"sqlite:///{tmp_path / 'zaslon.db'}"
    upgrade(url)
    return url


@pytest.fixture
def served(desk_world) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(desk_world.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the desk server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-chromium.sh (make test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where screenshots go: ZASLON_DESK_SCREENSHOTS (docs/desk/ when refreshing the docs) or a temp dir."""
    out = Path(os.environ.get("ZASLON_DESK_SCREENSHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    return out
