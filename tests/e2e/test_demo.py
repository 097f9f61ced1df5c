"""The demo end to end on a freshly generated tiny world: the summary honours its contract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zaslon.cli import app

KEYS = {"stolen", "prevented", "frozen", "saved", "lost", "saved_share", "legit_hold_rate",
        "time_to_freeze_p50_s", "time_to_freeze_p99_s"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    world = tmp_path_factory.mktemp("world") / "tiny-3"
    made = CliRunner().invoke(app, ["simulate", "--preset", "tiny", "--seed", "3", "--out", str(world)])
    assert made.exit_code == 0, made.output
    return world


def _demo(world: Path, base: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    out = base / "summary.json"
    res = CliRunner().invoke(app, ["demo", "--world", str(world), "--no-serve", "--summary-json", str(out),
                                   "--db", f"sqlite:///{base / 'demo.db'}", *extra])
    assert res.exit_code == 0, res.output
    assert "Money outcome" in res.output
    assert max(len(line) for line in res.output.splitlines()) <= 80  # an 80-column terminal, nothing cut
    assert "…" not in res.output
    return json.loads(out.read_text())  # type: ignore[no-any-return]


# Both runs with a partner country: Russia's exchange on loopback, asked to freeze what went to its banks.
@pytest.fixture(scope="module")
def summary(world: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    return _demo(world, tmp_path_factory.mktemp("demo"), "--partners", "ru")


@pytest.fixture(scope="module")
def over_http(world: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    return _demo(world, tmp_path_factory.mktemp("demo-http"), "--via-http", "--partners", "ru")


def test_money_abroad_is_asked_for_at_the_partner_and_answers_come_back(summary: dict, over_http: dict) -> None:  # type: ignore[type-arg]
    """Traced money that reached Russian banks: signed requests that Russia's exchange accepted (measured from the
    report), the same requests whatever the transport, and what our board shows frozen there as the answer."""
    for run in (summary, over_http):
        z = run["zaslon"]
        assert z["partner_country"] == "RU"
        assert z["partner_requests"] > 0
        assert z["partner_refused"] == 0  # every Russian bank of the world is connected to the partner
        assert z["partner_freeze_p99_s"] is not None and 0 < z["partner_freeze_p50_s"] <= z["partner_freeze_p99_s"]
        assert z["frozen_abroad"] >= 0
        # Cross-border case links, scored against the truth: none joins cases of no common group
        assert z["partner_case_links_wrong"] == 0 and z["partner_case_links"] >= 0
    for key in ("partner_requests", "frozen_abroad", "partner_frozen_after_report_p50_s", "partner_case_links",
                "partner_case_links_there", "partner_groups_linked_both_sides", "partner_incidents"):
        assert over_http["zaslon"][key] == summary["zaslon"][key], key


def test_an_unknown_partner_country_is_refused_with_exit_code_2(world: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "--world", str(world), "--no-serve", "--partners", "fr",
                                   "--db", f"sqlite:///{tmp_path / 'demo.db'}"])
    assert res.exit_code == 2, res.output
    assert "no banks in 'FR'" in res.output
    assert not (tmp_path / "demo.db").exists() or (tmp_path / "demo.db").stat().st_size == 0


def test_over_http_the_same_exchange_gives_the_same_outcome(summary: dict, over_http: dict) -> None:  # type: ignore[type-arg]
    """Real HTTP clients (one key per bank) against `zaslon serve` reach the same figures as in-process calls."""
    assert summary["transport"] == "in-process" and over_http["transport"] == "http"
    assert set(over_http) == set(summary)
    for name in ("zaslon", "list_only", "no_exchange"):  # the contract asks 0.5%; the run is in fact the same
        for key in ("stolen", "prevented", "frozen", "saved", "lost", "saved_share", "legit_hold_rate"):
            assert over_http[name][key] == summary[name][key], (name, key)
    assert over_http["linking"] == summary["linking"]
    # The same world gives the same run whatever the transport (docs/determinism.md): cases, drops, orders and the
    # banks' declines are identical, not merely close.
    assert over_http["drops"] == summary["drops"]
    for key in ("transfers", "incidents", "duplicates", "rejected", "models", "orders", "declined"):
        assert over_http["run"][key] == summary["run"][key], key
    for key in ("legit_held", "freeze_count", "order_precision", "cashouts_allowed_after_order"):
        assert over_http["zaslon"].get(key) == summary["zaslon"].get(key), key
    # The desk's event-time clock for at-door courier risks runs the same over HTTP (the served exchange's own
    # housekeeping, on the wall clock, leaves the simulation's watches alone).
    assert over_http["courier"] == summary["courier"]
    assert over_http["elderly_alone"] == summary["elderly_alone"]
    assert over_http["zaslon"]["time_to_freeze_p99_s"] is not None


def test_summary_has_the_contract_keys(summary: dict) -> None:  # type: ignore[type-arg]
    for name in ("zaslon", "list_only", "no_exchange"):
        assert set(summary[name]) >= KEYS, name
    # Victims aged 65+ living alone: the same figures as Zaslon's; and the courier scheme, which leaves no transfer.
    assert set(summary["elderly_alone"]) >= set(summary["zaslon"])
    assert 0 < summary["elderly_alone"]["stolen"] <= summary["zaslon"]["stolen"]
    courier = summary["courier"]
    assert {"stolen", "pickups", "alerted_before_pickup_share"} <= set(courier)
    assert courier["pickups"] > 0 and courier["stolen"] > 0
    assert 0.0 <= courier["alerted_before_pickup_share"] <= 1.0
    assert courier["alerted_before_pickup"] == round(courier["alerted_before_pickup_share"] * courier["pickups"])
    # Cash handed to couriers is stolen in every way of working; only an alert before the pickup prevents it.
    assert summary["by_scheme"]["courier"]["stolen"] == pytest.approx(courier["stolen"], abs=0.01)
    assert summary["by_scheme"]["courier"]["prevented"] == pytest.approx(courier["prevented"], abs=0.01)
    assert summary["by_scheme"]
    for figures in summary["by_scheme"].values():
        assert set(figures) >= KEYS


def test_money_adds_up(summary: dict) -> None:  # type: ignore[type-arg]
    for name in ("zaslon", "list_only", "no_exchange"):
        s = summary[name]
        assert s["stolen"] > 0
        assert s["saved"] == pytest.approx(min(s["prevented"] + s["frozen"], s["stolen"]), abs=0.011)
        assert s["lost"] == pytest.approx(s["stolen"] - s["saved"], abs=0.011)
        assert 0.0 <= s["saved_share"] <= 1.0
        assert 0.0 <= s["legit_hold_rate"] <= 1.0
    assert summary["list_only"]["frozen"] == 0  # list-only never traces
    stolen = sum(s["stolen"] for s in summary["by_scheme"].values())
    assert stolen == pytest.approx(summary["zaslon"]["stolen"], abs=0.1)


def test_zaslon_traces_and_freezes_fast(summary: dict) -> None:  # type: ignore[type-arg]
    z = summary["zaslon"]
    assert z["frozen"] > 0
    assert z["saved"] >= summary["list_only"]["saved"]
    assert z["time_to_freeze_p50_s"] is not None
    assert 0 < z["time_to_freeze_p50_s"] <= z["time_to_freeze_p99_s"] < 5.0
    assert summary["run"]["orders"] > 0
