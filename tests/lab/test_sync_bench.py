"""``zaslon bench sync`` on a small collection: everything offered is pulled and stored, a tenth matches, and the
freeze requests made during the bulk round reach the partner."""

from __future__ import annotations

from pathlib import Path

from zaslon.lab.sync_bench import identifiers, run_sync_bench


def test_the_bench_pulls_everything_the_partner_offers_and_the_freeze_requests_get_through(tmp_path: Path) -> None:
    out = run_sync_bench(60, workdir=tmp_path)
    assert out["indicators_offered"] == 60
    assert out["objects_pulled"] == out["objects_offered"] == out["objects_stored"] > 120  # with observables
    assert out["matches"] == 6  # the tenth of the identifiers both sides hold
    assert len(out["freeze_during_bulk_s"]) == 5 and out["freeze_during_bulk_max_s"] > 0
    assert out["sync_s"] > 0


def test_the_identifiers_are_distinct_and_of_every_shared_kind() -> None:
    ids = identifiers(600)
    assert len(set(ids)) == 600
    assert {k for k, _ in ids} == {"phone", "account", "url", "domain", "email", "wallet"}
