"""`zaslon eval linking`: link a simulated world's incidents into cases and rank its drops, then score.

What the engine sees is what the exchange would: each incident as reported (its text's indicators and its
disputed transfers), in report order, and only the transfers made before that report. The ``truth_*``
tables are opened only after linking and ranking are finished.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from zaslon.core.corroborate import is_established
from zaslon.core.indicators import card_hash, extract_indicators
from zaslon.core.linking import Linker
from zaslon.core.mules import MuleParams, TransferArrays, average_precision, precision_at, rank_mules
from zaslon.core.types import CASH_SINK, IndicatorKind
from zaslon.errors import InvalidInput
from zaslon.flow.case_keys import FLOW_FANOUT, FLOW_HOPS, FLOW_WINDOW_S, keys_from_indicators

_PEPPER = b"zaslon-eval-linking"  # cards are compared as keyed hashes, as in intake
US = 1_000_000
TRACE_HOPS = 6  # as the trace's default depth (Brazil's MED 2.0 follows about five levels)


def simulate_world(preset: str, seed: int) -> Path:
    """Generate a world into a new temporary directory (in this process, as ``zaslon simulate`` does)."""
    import shutil

    from zaslon.simulate.world import generate

    out = Path(tempfile.mkdtemp(prefix=f"zaslon-{preset}-"))
    try:
        generate(preset, seed, out)
    except (InvalidInput, OSError) as exc:
        shutil.rmtree(out, ignore_errors=True)
        reason = exc.message if isinstance(exc, InvalidInput) else str(exc)
        raise InvalidInput(f"simulate failed: {reason}", field="preset") from exc
    return out


def _us(col: pl.Series) -> np.ndarray:
    return col.cast(pl.Datetime("us", "UTC")).dt.epoch("us").to_numpy().astype(np.int64)


class Flows:
    """Follow money forward from disputed transfers through transfers made before the report.

    From each account only the outflows that carry the arriving amount on are followed: outflows in time
    order after the money arrived, within ``FLOW_WINDOW_S``, until they add up to it (money leaves in the
    order it came, as in the FIFO trace). A drop's ordinary spending after that is not followed, so the
    shops and friends of a drop do not become "common downstream accounts".
    """

    def __init__(self, tx: pl.DataFrame, terminal: set[str] | None = None) -> None:
        self.terminal = terminal or set()  # merchants, companies, exchanges: spending or exit, not a drop
        ts = _us(tx["ts"])
        order = np.lexsort((ts, tx["payer"].to_numpy()))
        self.payer = tx["payer"].to_numpy()[order]
        self.payee = tx["payee"].to_numpy()[order]
        self.amount = tx["amount"].to_numpy()[order]
        self.ts = ts[order]
        # Devices and addresses the drops' moves were made from: a group works its drops from its own phones.
        self.device = tx["device"].to_numpy()[order] if "device" in tx.columns else None
        self.ip = tx["ip"].to_numpy()[order] if "ip" in tx.columns else None
        ids = tx["transfer_id"].to_numpy()
        self.by_id = {t: (p, s, a) for t, p, s, a in
                      zip(ids, tx["payee"].to_numpy(), ts, tx["amount"].to_numpy(), strict=True)}

    def _onward(self, acct: str, since: int, amount: int, upto: int) -> list[tuple[str, int, int, int]]:
        lo = np.searchsorted(self.payer, acct, side="left")
        hi = np.searchsorted(self.payer, acct, side="right")
        t = self.ts[lo:hi]
        a = lo + np.searchsorted(t, since, side="left")
        b = lo + np.searchsorted(t, min(upto, since + FLOW_WINDOW_S * US), side="left")
        out: list[tuple[str, int, int, int]] = []
        left = amount
        for k in range(a, min(b, a + FLOW_FANOUT)):
            if left <= 0:
                break
            carried = int(min(left, self.amount[k]))
            left -= carried
            out.append((str(self.payee[k]), int(self.ts[k]), carried, k))
        return out

    def downstream(self, transfer_ids: list[str], reported_us: int, hops: int = FLOW_HOPS
                   ) -> tuple[list[str], list[str], list[str]]:
        first = [self.by_id[t] for t in transfer_ids if t in self.by_id and self.by_id[t][1] < reported_us]
        frontier = [(p, s, int(a)) for p, s, a in first if p != CASH_SINK]
        seen = {p for p, _, _ in frontier}
        flows: list[str] = []
        moves: list[str] = []
        for _ in range(hops):
            nxt = []
            for acct, since, amount in frontier:
                for payee, ts, carried, row in self._onward(acct, since, amount, reported_us):
                    if self.device is not None and self.device[row] is not None:
                        moves.append(f"device:{self.device[row]}")
                    if self.ip is not None and self.ip[row] is not None:
                        moves.append(f"ip:{self.ip[row]}")
                    if payee != CASH_SINK and payee not in seen and payee not in self.terminal:
                        seen.add(payee)
                        nxt.append((payee, ts, carried))
            flows += [p for p, _, _ in nxt]
            frontier = nxt
        return [p for p, _, _ in first if p != CASH_SINK], flows, moves


def world_incident_keys(world: Path) -> list[tuple[str, list[str]]]:
    """Each incident's keys, in report order, from what the exchange may read."""
    inc = pl.read_parquet(world / "incidents.parquet").sort("reported_at", "incident_id")
    tx = pl.read_parquet(world / "transfers.parquet",
                         columns=["transfer_id", "ts", "payer", "payee", "amount", "device", "ip"])
    accounts = pl.read_parquet(world / "accounts.parquet", columns=["account_id", "kind", "card"])
    terminal = set(accounts.filter(pl.col("kind") != "personal")["account_id"])
    # Banks resolve a card to its account; the exchange holds cards only as keyed hashes.
    with_card = accounts.filter(pl.col("card").is_not_null())
    card_account = {card_hash(c, _PEPPER): a for a, c in zip(with_card["account_id"], with_card["card"], strict=True)}
    flows = Flows(tx, terminal)
    reported = _us(inc["reported_at"])
    out: list[tuple[str, list[str]]] = []
    for n, (iid, text, tids) in enumerate(zip(inc["incident_id"], inc["text"], inc["transfer_ids"], strict=True)):
        found = extract_indicators(text or "", card_pepper=_PEPPER)
        keys = keys_from_indicators(found)
        keys += [f"account:{card_account[i.value]}" for i in found
                 if i.kind is IndicatorKind.CARD and i.value in card_account]
        payees, down, moves = flows.downstream([] if tids is None else list(tids), int(reported[n]))
        keys += [f"account:{p}" for p in payees] + [f"flow:{p}" for p in down] + moves
        out.append((iid, keys))
    return out


def link_world(world: Path) -> tuple[list[str], dict[str, int], Linker]:
    linker = Linker()
    ids = []
    for iid, keys in world_incident_keys(world):
        linker.add_quiet(iid, keys)
        ids.append(iid)
    return ids, {iid: linker.case_of(iid) for iid in ids}, linker


def traced_accounts(world: Path, tx: pl.DataFrame, inc: pl.DataFrame, kinds: pl.DataFrame
                    ) -> set[tuple[str, int]]:
    """What the trace tells the exchange: accounts each report's money reached by its report time, each
    with that report's time (us)."""
    flows = Flows(tx, set(kinds.filter(pl.col("kind") != "personal")["account_id"]))
    reported = _us(inc["reported_at"])
    out: set[tuple[str, int]] = set()
    for n, tids in enumerate(inc["transfer_ids"].to_list()):
        _, down, _ = flows.downstream(tids or [], int(reported[n]), hops=TRACE_HOPS)
        out.update((a, int(reported[n])) for a in down)
    return out


def listable(tx: pl.DataFrame, kinds: pl.DataFrame, named: set[tuple[str, int]]) -> set[str]:
    """The accounts a report (or its trace) names that the exchange takes as known, as intake and the live
    trace do (``core.corroborate``): not an established business or an account that many people paid before
    that report -- one report's word does not make such an account bad; the desk confirms it first."""
    accounts = {a for a, _ in named}
    paid = tx.filter(pl.col("payee").is_in(list(accounts))).select("payee", "payer", "ts")
    kind = dict(zip(kinds["account_id"], kinds["kind"], strict=True))
    by_acct: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for (acct,), part in paid.group_by("payee"):
        part = part.sort("ts")
        by_acct[str(acct)] = (_us(part["ts"]), part["payer"].to_numpy())
    out: set[str] = set()
    for acct, at in named:
        ts, payers = by_acct.get(acct, (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object)))
        before = int(np.searchsorted(ts, at, side="left"))
        if not is_established(kind.get(acct), len(set(payers[:before].tolist()))):
            out.add(acct)
    return out


def rank_world(world: Path) -> tuple[list[str], np.ndarray, Any]:
    """Rank every account from transfers before the last report, seeded with what the exchange knows:
    reported payees and the accounts the traces reached."""
    inc = pl.read_parquet(world / "incidents.parquet")
    upto = int(_us(inc["reported_at"]).max())
    tx = pl.read_parquet(world / "transfers.parquet", columns=["transfer_id", "ts", "payer", "payee", "amount"])
    tx = tx.filter(pl.col("ts").cast(pl.Datetime("us", "UTC")).dt.epoch("us") < upto)
    accounts = pl.read_parquet(world / "accounts.parquet", columns=["account_id", "opened_at", "kind"])
    traced = traced_accounts(world, tx, inc, accounts)
    ids = list(dict.fromkeys([*accounts["account_id"], *tx["payer"], *tx["payee"]]))
    ids = [a for a in ids if a != CASH_SINK]
    index = {a: i for i, a in enumerate(ids)}
    is_cash = (tx["payee"] == CASH_SINK).to_numpy()
    payer = np.array([index[a] for a in tx["payer"]], dtype=np.int64)
    payee = np.array([-1 if c else index[a] for a, c in zip(tx["payee"], is_cash, strict=True)], dtype=np.int64)
    arrays = TransferArrays.build(payer, payee, tx["amount"].to_numpy().astype(np.float64),
                                  _us(tx["ts"]).astype(np.float64) / US, is_cash)
    opened = np.full(len(ids), np.nan)
    opened[[index[a] for a in accounts["account_id"]]] = _us(accounts["opened_at"]).astype(np.float64) / US
    # Known: each report's payees and what its trace reached, unless corroboration holds them back.
    disputed = {t for ts in inc["transfer_ids"].to_list() if ts is not None for t in ts}
    hit = tx.filter(pl.col("transfer_id").is_in(list(disputed)) & (pl.col("payee") != CASH_SINK))
    payee_of: dict[str, str] = dict(zip(hit["transfer_id"], hit["payee"], strict=True))
    named = set(traced)
    for tids, at in zip(inc["transfer_ids"].to_list(), _us(inc["reported_at"]), strict=True):
        named.update((payee_of[t], int(at)) for t in tids or [] if t in payee_of)
    known = listable(tx, accounts, named)
    seed_idx = np.array(sorted(index[a] for a in known if a in index), dtype=np.int64)
    ranking = rank_mules(len(ids), arrays, MuleParams(), opened_at=opened, seeds=seed_idx)
    return ids, ranking.scores, ranking


def _pairs(counts: np.ndarray) -> int:
    return int((counts * (counts - 1) // 2).sum())


def eval_world(world: Path) -> dict[str, Any]:
    incident_ids, case_of, linker = link_world(world)
    account_ids, scores, _ranking = rank_world(world)
    # ---- everything above saw no truth; score it now ----
    truth = pl.read_parquet(world / "truth_incidents.parquet")
    t = pl.DataFrame({"incident_id": incident_ids, "case": [case_of[i] for i in incident_ids]}).join(
        truth.select("incident_id", "group_id", "is_false", "scheme"), on="incident_id", how="left")
    # A false report, or one outside any group, is its own group of one.
    gid = pl.col("group_id").cast(pl.Utf8)
    t = t.with_columns(pl.when(pl.col("is_false").fill_null(True) | gid.is_null() | gid.is_in(["", "-1"]))
                       .then(pl.lit("x") + pl.col("incident_id")).otherwise(gid).alias("g"))
    found = _pairs(t.group_by("case").len()["len"].to_numpy())
    true = _pairs(t.group_by("g").len()["len"].to_numpy())
    both = _pairs(t.group_by("case", "g").len()["len"].to_numpy())
    precision = both / found if found else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    real = t.filter(~pl.col("g").str.starts_with("x"))
    # The long-running fake-director group: the group with most fake-director reports.
    fd = real.filter(pl.col("scheme") == "fake_director")
    fd_share = None
    if len(fd):
        gid = fd.group_by("g").len().sort("len", descending=True)["g"][0]
        members = real.filter(pl.col("g") == gid)
        fd_share = float(members.group_by("case").len()["len"].max()) / len(members)  # type: ignore[arg-type]
    roles = pl.read_parquet(world / "truth_accounts.parquet", columns=["account_id", "role"])
    bad = set(roles.filter(pl.col("role").is_in(["transit_drop", "cashout_drop"]))["account_id"])
    labels = np.array([a in bad for a in account_ids])
    return {
        "incidents": len(incident_ids),
        "pairwise_f1": round(f1, 4),
        "pairwise_precision": round(precision, 4),
        "pairwise_recall": round(recall, 4),
        "groups_true": int(real["g"].n_unique()),
        "groups_found": int((t.group_by("case").len()["len"] >= 2).sum()),
        "cases": int(t["case"].n_unique()),
        "fake_director_largest_case_share": None if fd_share is None else round(fd_share, 4),
        "fake_director_one_case": fd_share == 1.0,
        "hubs_suppressed": len(linker.hubs()),
        "accounts_ranked": len(account_ids),
        "drops_true": int(labels.sum()),
        "mule_average_precision": round(average_precision(scores, labels), 4),
        "mule_precision_at_100": round(precision_at(scores, labels, 100), 4),
    }
