"""The desk's pages are tested on SQLite; the queue's locking is tested on both stores in
tests/adapters/db/stores/test_desk_store.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from zaslon.adapters.db.engine import upgrade


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'zaslon.db'}"
    upgrade(url)
    return url
