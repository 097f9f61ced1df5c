"""The allocator's settings for long-running processes (``zaslon.adapters.allocator``)."""

from __future__ import annotations

import ctypes.util

import pytest

from zaslon.adapters import allocator


def test_it_sets_what_is_asked_and_leaves_zeros_and_the_environment_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    if ctypes.util.find_library("c") is None:
        pytest.skip("no C library found")
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    got = allocator.tune(131_072, 0)
    if not got:
        pytest.skip("not glibc")
    assert got == {"MALLOC_MMAP_THRESHOLD_": 131_072}  # 0: glibc's default kept
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # the operator's own setting wins
    assert allocator.tune(131_072, 2) == {"MALLOC_MMAP_THRESHOLD_": 131_072}
    assert allocator.tune(0, 0) == {}
