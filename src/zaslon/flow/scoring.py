"""The scoring engine: streaming features -> rules -> model -> policy -> Decision, in micro-batches.

One engine owns the feature state of the accounts it sees (one partition in a scale-out deployment). It
holds no I/O: callers (HTTP route, stream consumer, replay) feed it transfers in event-time order and
persist the decisions (``zaslon.adapters.db.tables_scoring``). Rule sets and models are swapped under a
lock between batches, so an analyst's activation takes effect on the next transfer without a restart,
and a batch is never decided half by the old and half by the new version.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from zaslon.core.features import (
    FEATURE_INDEX,
    FEATURE_KINDS,
    FEATURE_NAMES,
    AccountProfile,
    FeatureState,
    TransferColumns,
    knowledge_flags,
    lapse_traced,
    report_counts,
)
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.money import minor_exponent
from zaslon.core.policy import (
    CODE,
    OUTCOMES,
    WHY_PAYER,
    WHY_REPORTED,
    WHY_SUSPECTED,
    PolicyConfig,
    PolicyInputs,
    decide,
    is_protected_payer,
    knowledge_prior,
    protect_payers,
    protected_payers,
    with_bars,
)
from zaslon.core.protection import AWAITING, CONFIRM_WINDOW
from zaslon.core.rules import ROW_WISE_MAX
from zaslon.core.types import Decision, Outcome, Reason, Transfer
from zaslon.flow.scoring_row import decide_one, prior_one

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]


class Hit(Protocol):
    @property
    def rule_id(self) -> str: ...
    @property
    def action(self) -> Outcome: ...
    @property
    def reason(self) -> str: ...


class RuleSetLike(Protocol):
    @property
    def version(self) -> str: ...

    def evaluate(self, features: Mapping[str, Any]) -> Sequence[Hit]: ...


class ModelLike(Protocol):
    @property
    def version(self) -> str: ...

    def predict(self, x: F32) -> tuple[F64, F32]: ...


@dataclass(slots=True)
class BatchResult:
    """Everything the engine computed for a batch, column-wise (input order)."""

    features: F32
    score: F64
    outcome: npt.NDArray[np.int8]  # index into zaslon.core.policy.OUTCOMES
    why: npt.NDArray[np.int8]
    contrib: F32 | None
    hits: Sequence[Sequence[Hit]] | None  # per row, the rules hit
    ruleset_version: str | None
    model_version: str | None
    # Per row, its number in the order the engine folded transfers into the feature state (see featurize_seq).
    seq: npt.NDArray[np.int64] | None = None
    # Rows held for the customer's trusted person, with what matched (``zaslon.core.protection``).
    trusted: dict[int, tuple[str, ...]] | None = None


CONFIRM_WINDOW_S = CONFIRM_WINDOW.total_seconds()
_I_ELDERLY_ALONE = FEATURE_INDEX["payer_elderly_alone"]
_I_CALL = FEATURE_INDEX["on_flagged_call"]
_I_FIRST = FEATURE_INDEX["first_time_payee"]
_I_CASH = FEATURE_INDEX["payee_is_cash"]
_I_ABROAD = FEATURE_INDEX["cross_border"]
# A why bit of this engine's own (``zaslon.core.policy`` uses 1..16): held for the customer's trusted person.
WHY_TRUSTED = 32
_MODEL_CODES = tuple(f"model:{n}" for n in FEATURE_NAMES)
_KNOW_REASON = {
    WHY_REPORTED: Reason("payee_reported", "payee is named in a reported fraud incident", 1.0),
    WHY_SUSPECTED: Reason("payee_suspected", "payee is in a case, traced or a suspected drop", 1.0),
    WHY_PAYER: Reason("payer_protected", "payer holds traced money, is under a freeze order or a corroborated drop",
                      1.0),
}


def _converter(kind: str) -> Callable[[F32], list[Any]]:
    if kind == "bool":
        return lambda col: (col != 0).tolist()
    if kind == "int":
        return lambda col: col.astype(np.int64).tolist()
    return lambda col: col.astype(np.float64).tolist()


class ScoringEngine:
    def __init__(
        self,
        knowledge: Knowledge | None = None,
        *,
        ruleset: RuleSetLike | None = None,
        model: ModelLike | None = None,
        policy: PolicyConfig | None = None,
        profiles: Mapping[str, AccountProfile] | None = None,
        hold_days: float | None = None,
        home_country: str = "BY",
        top_reasons: int = 3,
    ) -> None:
        self.knowledge = knowledge if knowledge is not None else Knowledge()
        self.policy = policy or PolicyConfig()
        self._policy_cache: tuple[Any, PolicyConfig] | None = None
        self.hold = timedelta(days=self.policy.hold_days if hold_days is None else hold_days)
        self.state = FeatureState(profiles, home_country=home_country)
        self.top_reasons = top_reasons
        # Which transfers need the customer's trusted person (``zaslon.flow.protection.Matcher``); None: none do.
        self.protection: Callable[[TransferColumns, F32], dict[int, tuple[str, ...]]] | None = None
        self._lock = threading.Lock()
        self._ruleset: RuleSetLike | None = None
        self._rule_names: tuple[str, ...] = ()
        self._model: ModelLike | None = None
        # Telecom signals per row (payers, ts in epoch seconds) -> float32[n, 4] or None; the Exchange sets it
        # from operators' call events (zaslon.core.calls.CallBook).
        self.call_signals: Callable[[Sequence[str], npt.NDArray[np.int64]], F32 | None] | None = None
        self.set_ruleset(ruleset)
        self.set_model(model)

    @classmethod
    def from_settings(cls, settings: Any, knowledge: Knowledge | None = None, **kw: Any) -> ScoringEngine:
        """An engine with the settings' hold period and, when a model store is configured
        (``settings.model_dir`` or ZASLON_MODEL_DIR), its latest model."""
        engine = cls(knowledge, hold_days=float(settings.hold_days), **kw)
        model_dir = getattr(settings, "model_dir", None) or os.environ.get("ZASLON_MODEL_DIR")
        if model_dir and "model" not in kw:
            from zaslon.flow.model import ModelStore

            store = ModelStore(model_dir)
            if store.ids():
                engine.set_model(store.load())
        return engine

    def warm_up(self) -> None:
        """Compile and touch every scoring path (one row, a few rows, a vector batch) on a throwaway engine
        with this one's rules and model, so that the first real requests pay no compilation."""
        twin = ScoringEngine(ruleset=self._ruleset, model=self._model, policy=self.policy, top_reasons=self.top_reasons)
        at = datetime(2020, 1, 1, tzinfo=UTC)
        batch = [Transfer(f"warm-{i}", at + timedelta(seconds=i), f"W{i % 3}", f"V{i % 5}", 1_000 + 37 * i)
                 for i in range(3 * ROW_WISE_MAX)]
        for size in (1, 3, 2 * ROW_WISE_MAX):
            twin.score_batch(batch[:size])

    def clone(self) -> ScoringEngine:
        """An independent engine with a copy of this one's state, knowledge, rules and model."""
        import copy

        with self._lock:
            twin = ScoringEngine(
                Knowledge(dict(self.knowledge.accounts), set(self.knowledge.flagged_phones),
                          dict(self.knowledge.traced_until), dict(self.knowledge.reported_in),
                          dict(self.knowledge.reported_out)),
                ruleset=self._ruleset, model=self._model, policy=self.policy,
                hold_days=self.hold.total_seconds() / 86_400, top_reasons=self.top_reasons,
            )
            twin.state = copy.deepcopy(self.state)
        return twin

    # ---- what reports teach ---------------------------------------------------------------------------
    COLLECTING_KINDS = frozenset({"merchant", "crypto_exchange", "business"})

    def report_transfer(self, payer: str, account: str, *, busy_payers: int = 100) -> bool:
        """Count a reported transfer from ``payer`` to ``account`` (``Knowledge.count_report``), and flag the
        payee as REPORTED, unless it is a collecting account.

        A shop's or an exchange's account that a victim also paid (a real purchase, a crypto top-up) is
        not a drop: blanket-holding it would stop thousands of legitimate payments. Such accounts are
        known by the owner's profile (kind) or, on foreign data, by having many distinct payers. They are
        left to analysts (cases, mule detection) instead. Returns whether the account was flagged.
        """
        self.knowledge.count_report(payer, None if account == "CASH" else account)
        if account == "CASH":
            return False
        prof = self.state.profiles.get(account)
        if prof is not None and prof.kind in self.COLLECTING_KINDS:
            return False
        if self.state.distinct_payers(account) > busy_payers:
            return False
        self.knowledge.flag(account, AccountFlag.REPORTED)
        return True

    # ---- hot swap -------------------------------------------------------------------------------------
    def set_ruleset(self, ruleset: RuleSetLike | None) -> None:
        names: tuple[str, ...] = ()
        if ruleset is not None:
            read = getattr(ruleset, "features", None)
            wanted = set(read) if read is not None else set(FEATURE_NAMES)
            names = tuple(n for n in FEATURE_NAMES if n in wanted)
        with self._lock:
            self._ruleset = ruleset
            self._rule_names = names

    def replace_state(self, state: FeatureState) -> None:
        """Swap in a rebuilt feature state (a restart's restore, or the state without a failed commit)."""
        with self._lock:
            self.state = state

    def set_model(self, model: ModelLike | None) -> None:
        with self._lock:
            self._model = model

    def policy_for(self, model: ModelLike | None) -> PolicyConfig:
        """The policy a model decides with: the configured one, with the model's friction-calibrated bars
        (``core.policy.with_bars``) when it carries them."""
        bars = getattr(model, "bars", None)
        if bars is None:
            return self.policy
        cached = self._policy_cache
        if cached is None or cached[0] is not model:
            cached = self._policy_cache = (model, with_bars(self.policy, bars))
        return cached[1]

    @property
    def ruleset_version(self) -> str | None:
        return None if self._ruleset is None else str(self._ruleset.version)

    @property
    def model_version(self) -> str | None:
        return None if self._model is None else str(self._model.version)

    @property
    def model(self) -> ModelLike | None:
        return self._model

    # ---- the public API -------------------------------------------------------------------------------
    def score(self, transfer: Transfer, *, on_flagged_call: bool = False) -> Decision:
        return self.score_batch([transfer], on_flagged_call=[on_flagged_call])[0]

    def score_batch(
        self, transfers: Sequence[Transfer], *, on_flagged_call: Sequence[bool] | None = None
    ) -> list[Decision]:
        if not transfers:
            return []
        cols = columns_of(transfers, on_flagged_call)
        res = self.score_columns(cols)
        return self.decisions(res, [t.transfer_id for t in transfers], cols.ts)

    def observe(self, transfer: Transfer) -> None:
        self.observe_batch([transfer])

    def observe_batch(self, transfers: Sequence[Transfer]) -> None:
        """Fold transfers into the state without deciding (e.g. warm-up from history)."""
        if transfers:
            self.observe_columns(columns_of(transfers, None))

    def observe_columns(self, cols: TransferColumns) -> F32:
        return self.featurize(cols)[0]

    def featurize(self, cols: TransferColumns) -> tuple[F32, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Features (from the state before each transfer) and knowledge flags; updates the state."""
        x, payer_f, payee_f, _ = self.featurize_seq(cols)
        return x, payer_f, payee_f

    def featurize_seq(
        self, cols: TransferColumns
    ) -> tuple[F32, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``featurize``, and each row's feature sequence number: the order in which it was folded into the
        state (event-time order within the batch). Folding the same transfers again in that order rebuilds
        the same state exactly."""
        if cols.call_signals is None and self.call_signals is not None:
            cols = replace(cols, call_signals=self.call_signals(cols.payer, cols.ts))
        with self._lock:
            order = _event_order(cols.ts)
            c = cols if order is None else _take(cols, order)
            flags = self.knowledge.accounts
            payer_f = knowledge_flags(c.payer, flags)
            payee_f = knowledge_flags(c.payee, flags)
            base = self.state.folded
            x = self.state.process(c, payer_f, payee_f,
                                   payee_reported_n=report_counts(c.payee, self.knowledge.reported_in),
                                   payer_reported_n=report_counts(c.payer, self.knowledge.reported_out))
            # After the features (which see a traced payer as known either way): is the payer still protected?
            payer_f = lapse_traced(payer_f, c.payer, c.ts, self.knowledge.traced_until)
        seq = np.arange(base, base + len(c), dtype=np.int64)
        if order is not None:
            back = np.argsort(order, kind="stable")
            x, payer_f, payee_f, seq = x[back], payer_f[back], payee_f[back], seq[back]
        return x, payer_f, payee_f, seq

    def score_columns(self, cols: TransferColumns, *, explain: bool = True) -> BatchResult:
        """Score a batch given as columns; results come back in input order."""
        ruleset, names, model = self._ruleset, self._rule_names, self._model
        x, payer_f, payee_f, seq = self.featurize_seq(cols)
        return self._judged(cols, x, payer_f, payee_f, seq, explain=explain, ruleset=ruleset, names=names,
                            model=model)

    def score_columns_on(self, parts: Sequence[tuple[FeatureState, TransferColumns]], *,
                         explain: bool = True) -> tuple[BatchResult, TransferColumns]:
        """``score_columns`` for the batches of several feature states at once (a scoring worker's partitions):
        each batch featurized on its own state, as ``score_columns`` would on it, then the rules, model and
        policy once for all their rows — the same figures, without each batch's fixed cost of those. Results
        in the order given (the first batch's rows first), with the batches' columns joined in that order. The
        engine's own state is left as it was."""
        ruleset, names, model = self._ruleset, self._rule_names, self._model
        own = self.state
        featurized = []
        try:
            for state, cols in parts:
                self.state = state
                featurized.append(self.featurize_seq(cols))
        finally:
            self.state = own
        if len(parts) == 1:
            cols = parts[0][1]
            x, payer_f, payee_f, seq = featurized[0]
        else:
            cols = join_columns([c for _, c in parts])
            x, payer_f, payee_f, seq = (np.concatenate(a) for a in zip(*featurized, strict=True))
        return self._judged(cols, x, payer_f, payee_f, seq, explain=explain, ruleset=ruleset, names=names,
                            model=model), cols

    def _judged(self, cols: TransferColumns, x: F32, payer_f: npt.NDArray[np.int64], payee_f: npt.NDArray[np.int64],
                seq: npt.NDArray[np.int64], *, explain: bool, ruleset: RuleSetLike | None, names: tuple[str, ...],
                model: ModelLike | None) -> BatchResult:
        res = self.judge(x, payer_f, payee_f, explain=explain, ruleset=ruleset, names=names, model=model,
                         payees=cols.payee)
        res.seq = seq
        if self.protection is not None:
            self._hold_for_trusted_person(res, self.protection(cols, x))
        return res

    @staticmethod
    def _hold_for_trusted_person(res: BatchResult, matched: dict[int, tuple[str, ...]]) -> None:
        """A transfer the customer chose to have confirmed, that would be allowed or reviewed, is held until the
        trusted person answers; one held or blocked for another reason stays as it is."""
        held: dict[int, tuple[str, ...]] = {}
        for i, why in matched.items():
            if int(res.outcome[i]) < CODE[Outcome.HOLD]:
                res.outcome[i] = CODE[Outcome.HOLD]
                res.why[i] = int(res.why[i]) | WHY_TRUSTED
                held[i] = why
        res.trusted = held or None

    def _exits(self, x: F32, payer_f: npt.NDArray[np.int64], payees: Sequence[str] | None) -> npt.NDArray[np.bool_]:
        """Which transfers take money out of reach: cash, abroad, or to a crypto exchange (looked up only for
        protected payers, nearly never)."""
        exits = (x[:, _I_CASH] != 0) | (x[:, _I_ABROAD] != 0)
        if payees is not None:
            profiles = self.state.profiles
            for i in np.flatnonzero(protected_payers(payer_f)).tolist():
                prof = profiles.get(payees[i])
                if prof is not None and prof.kind == "crypto_exchange":
                    exits[i] = True
        return np.asarray(exits, dtype=np.bool_)

    def judge(
        self,
        x: F32,
        payer_f: npt.NDArray[np.int64],
        payee_f: npt.NDArray[np.int64],
        *,
        explain: bool = True,
        ruleset: RuleSetLike | bool | None = True,
        names: tuple[str, ...] | None = None,
        model: ModelLike | bool | None = True,
        payees: Sequence[str] | None = None,
    ) -> BatchResult:
        """Rules, model and policy over already computed features (``True``: the engine's current ones).
        ``payees`` lets payer-side protection tell a transfer to a crypto exchange (an exit) apart."""
        if ruleset is True:
            ruleset, names = self._ruleset, self._rule_names
        if model is True:
            model = self._model
        rs = ruleset if not isinstance(ruleset, bool) else None
        md = model if not isinstance(model, bool) else None
        policy = self.policy_for(md)
        n = x.shape[0]
        contrib: F32 | None = None
        if md is not None:
            score, contrib = md.predict(x)
        elif n <= ROW_WISE_MAX:
            score = np.array([prior_one(int(pe), int(pr)) for pe, pr in zip(payee_f.tolist(), payer_f.tolist(),
                                                                          strict=True)], dtype=np.float64)
        else:
            score = knowledge_prior(payee_f, payer_f)
        rule_codes = np.zeros(n, dtype=np.int8)
        hits: Sequence[Sequence[Hit]] | None = None
        if rs is not None:
            batch = self._evaluate_rules_batch(rs, x)
            if batch is not None:
                rule_codes, hits = batch
            else:
                hits = self._evaluate_rules(rs, names if names is not None else FEATURE_NAMES, x)
                for i, h in enumerate(hits):
                    if h:
                        rule_codes[i] = max(CODE[Outcome(x_.action)] for x_ in h)
        if n <= ROW_WISE_MAX:  # the real-time API's few rows in plain Python (numpy's per-call overhead dominates)
            codes = rule_codes.tolist()
            ow = [
                decide_one(policy, float(score[i]), bool(x[i, _I_FIRST] != 0),
                           bool(x[i, _I_ELDERLY_ALONE] != 0 or x[i, _I_CALL] != 0), int(payee_f[i]), codes[i])
                for i in range(n)
            ]
            outs = np.array([o for o, _ in ow], dtype=np.int8)
            whys = np.array([w for _, w in ow], dtype=np.int8)
            if any(is_protected_payer(int(f)) for f in payer_f.tolist()):
                outs, whys = protect_payers(policy, outs, whys, payer_f, self._exits(x, payer_f, payees))
            return BatchResult(
                x, score, outs, whys,
                contrib if explain else None,
                hits, None if rs is None else str(rs.version), None if md is None else str(md.version),
            )
        inputs = PolicyInputs(
            score=score,
            first_time_payee=x[:, _I_FIRST] != 0,
            vulnerable=(x[:, _I_ELDERLY_ALONE] != 0) | (x[:, _I_CALL] != 0),
            payee_flags=payee_f,
            rule_codes=rule_codes,
        )
        outcome, why = decide(policy, inputs)
        outcome, why = protect_payers(policy, outcome, why, payer_f, self._exits(x, payer_f, payees))
        return BatchResult(
            x, score, outcome, why, contrib if explain else None, hits,
            None if rs is None else str(rs.version),
            None if md is None else str(md.version),
        )

    @staticmethod
    def _evaluate_rules_batch(rs: RuleSetLike, x: F32) -> tuple[npt.NDArray[np.int8], _RowHits] | None:
        """Vectorised rules (``RuleSet.evaluate_batch``) when the rule set has them; None otherwise."""
        fn = getattr(rs, "evaluate_batch", None)
        if fn is None:
            return None
        try:
            bh = fn(x, FEATURE_NAMES)
            codes = np.asarray(bh.codes, dtype=np.int8)
            return codes, _RowHits(bh, (codes > 0).tolist())
        except Exception:  # a broken rule set gives no hits rather than a crash
            return np.zeros(x.shape[0], dtype=np.int8), _RowHits(None, [False] * x.shape[0])

    @staticmethod
    def _evaluate_rules(ruleset: RuleSetLike, names: tuple[str, ...], x: F32) -> list[Sequence[Hit]]:
        cols = [_converter(FEATURE_KINDS[nm])(x[:, FEATURE_INDEX[nm]]) for nm in names]
        ev = ruleset.evaluate
        out: list[Sequence[Hit]] = []
        for vals in zip(*cols, strict=True) if cols else ((),) * x.shape[0]:
            try:
                out.append(ev(dict(zip(names, vals, strict=True))))
            except Exception:  # a foreign rule set must not take the engine down: no hit
                out.append(())
        return out

    def top_contributions(self, res: BatchResult) -> tuple[npt.NDArray[np.intp], F32] | None:
        """Column index and contribution of the ``top_reasons`` largest model contributions per row."""
        k = min(self.top_reasons, len(FEATURE_NAMES))
        if res.contrib is None or k <= 0:
            return None
        idx = np.argpartition(-res.contrib, k - 1, axis=1)[:, :k]
        val = np.take_along_axis(res.contrib, idx, axis=1)
        o = np.argsort(-val, axis=1)
        return np.take_along_axis(idx, o, axis=1), np.take_along_axis(val, o, axis=1)

    def decisions(self, res: BatchResult, transfer_ids: Sequence[str], ts: npt.NDArray[np.int64]) -> list[Decision]:
        """Decision objects (with reasons) for a scored batch: the per-row Python work, kept lean."""
        n = len(transfer_ids)
        k = min(self.top_reasons, len(FEATURE_NAMES))
        model_reasons: list[tuple[Reason, ...]] | None = None
        if n <= ROW_WISE_MAX and res.contrib is not None and k > 0:
            contrib, feats = res.contrib.tolist(), res.features.tolist()
            model_reasons = [_top_reasons_one(contrib[i], feats[i], k) for i in range(n)]
            top = None
        else:
            top = self.top_contributions(res)
        if top is not None:
            idx, val = top
            fv = np.take_along_axis(res.features, idx, axis=1)
            codes, names = _MODEL_CODES, FEATURE_NAMES
            # Trees give each feature a small set of distinct contributions, and counts and flags take few
            # values, so most (feature, value, contribution) triples repeat: build each Reason once per batch.
            cache: dict[tuple[int, float, float], Reason] = {}
            flat = []
            for key in zip(idx.ravel().tolist(), fv.ravel().tolist(), val.ravel().tolist(), strict=True):
                r = cache.get(key)
                if r is None:
                    j, f, v = key
                    r = cache[key] = Reason(codes[j], f"{names[j]}={f:.4g}", v)
                flat.append(r)
            positive: list[bool] = np.all(val > 0.0, axis=1).tolist()
            model_reasons = [
                tuple(flat[i * k : i * k + k])
                if positive[i]
                else tuple(r for r in flat[i * k : i * k + k] if r.weight > 0.0)
                for i in range(n)
            ]
        scores = res.score.tolist()
        outs = res.outcome.tolist()
        whys = res.why.tolist()
        tss = ts.tolist()
        hold_s = self.hold.total_seconds()
        rv, mv = res.ruleset_version, res.model_version
        hits = res.hits
        held = Outcome.HOLD
        trusted = res.trusted or {}
        decisions: list[Decision] = []
        append = decisions.append
        for i in range(n):
            w = whys[i]
            hs = hits[i] if hits is not None else ()
            if w & (WHY_REPORTED | WHY_SUSPECTED | WHY_PAYER | WHY_TRUSTED) or hs:
                extra: list[Reason] = []
                if w & WHY_TRUSTED:  # first: what the bank must do now (the detail lists what matched)
                    extra.append(Reason(AWAITING, ",".join(trusted[i]), 1.0))
                if w & WHY_PAYER:
                    extra.append(_KNOW_REASON[WHY_PAYER])
                if w & WHY_REPORTED:
                    extra.append(_KNOW_REASON[WHY_REPORTED])
                if w & WHY_SUSPECTED:
                    extra.append(_KNOW_REASON[WHY_SUSPECTED])
                extra.extend(Reason(f"rule:{h.rule_id}", h.reason, 1.0) for h in hs)
                reasons = tuple(extra) + (model_reasons[i] if model_reasons is not None else ())
            else:
                reasons = model_reasons[i] if model_reasons is not None else ()
            o = OUTCOMES[outs[i]]
            wait = CONFIRM_WINDOW_S if w & WHY_TRUSTED else hold_s  # the trusted person has 12 h to answer
            until = datetime.fromtimestamp(tss[i] + wait, tz=UTC) if o is held else None
            append(Decision(transfer_ids[i], o, scores[i], reasons, until, rv, mv))
        return decisions


class _RowHits(Sequence[Sequence[Hit]]):
    """Per-row rule hits of a vectorised evaluation, materialised only for rows that hit something."""

    def __init__(self, batch: Any, any_hit: list[bool]) -> None:
        self._batch = batch
        self._any = any_hit

    def __len__(self) -> int:
        return len(self._any)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._batch.row(i) if self._any[i] else ()


def _top_reasons_one(contrib: list[float], features: list[float], k: int) -> tuple[Reason, ...]:
    """The model reasons of ``decisions`` for one row, without numpy's per-call overhead: the ``k`` largest
    contributions, largest first (equal ones by column order), all of them if all are positive, else only
    the positive ones."""
    top = sorted(range(len(contrib)), key=contrib.__getitem__, reverse=True)[:k]  # stable: ties by column
    reasons = [Reason(_MODEL_CODES[j], f"{FEATURE_NAMES[j]}={features[j]:.4g}", contrib[j]) for j in top]
    if all(r.weight > 0.0 for r in reasons):
        return tuple(reasons)
    return tuple(r for r in reasons if r.weight > 0.0)


def columns_of(transfers: Sequence[Transfer], on_flagged_call: Sequence[bool] | None) -> TransferColumns:
    """Columns of a list of Transfers (seconds since epoch, amounts in major units)."""
    n = len(transfers)
    if n == 1:  # the real-time API: skip the generators and the per-batch currency cache
        t = transfers[0]
        return TransferColumns(
            payer=[t.payer], payee=[t.payee], ts=np.array([int(t.ts.timestamp())], dtype=np.int64),
            amount=np.array([t.amount / float(10 ** minor_exponent(t.currency))], dtype=np.float64),
            currency=[t.currency], payee_country=[t.payee_country], device=[t.device], ip=[t.ip],
            channel=[t.channel.value],
            on_flagged_call=None if on_flagged_call is None else np.asarray(on_flagged_call, dtype=np.bool_),
        )
    ts = np.fromiter((int(t.ts.timestamp()) for t in transfers), dtype=np.int64, count=n)
    exp_cache: dict[str, float] = {}

    def scale(c: str) -> float:
        s = exp_cache.get(c)
        if s is None:
            s = exp_cache[c] = float(10 ** minor_exponent(c))
        return s

    amount = np.fromiter((t.amount / scale(t.currency) for t in transfers), dtype=np.float64, count=n)
    return TransferColumns(
        payer=[t.payer for t in transfers],
        payee=[t.payee for t in transfers],
        ts=ts,
        amount=amount,
        currency=[t.currency for t in transfers],
        payee_country=[t.payee_country for t in transfers],
        device=[t.device for t in transfers],
        ip=[t.ip for t in transfers],
        channel=[t.channel.value for t in transfers],
        on_flagged_call=None if on_flagged_call is None else np.asarray(on_flagged_call, dtype=np.bool_),
    )


def _event_order(ts: npt.NDArray[np.int64]) -> npt.NDArray[np.intp] | None:
    """None when already in event-time order, else a stable sort order."""
    if ts.shape[0] < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return None
    return np.argsort(ts, kind="stable")


def join_columns(parts: Sequence[TransferColumns]) -> TransferColumns:
    """Batches' columns as one batch, rows in the order given. An optional column some batches lack: None in
    their rows (the call flag: False); the telecom signals only if every batch has them."""
    n = [len(c) for c in parts]

    def seqs(name: str) -> list[Any] | None:
        got = [getattr(c, name) for c in parts]
        if all(g is None for g in got):
            return None
        return [v for g, k in zip(got, n, strict=True) for v in (g if g is not None else [None] * k)]

    calls = [c.on_flagged_call for c in parts]
    signals = [c.call_signals for c in parts]
    return TransferColumns(
        payer=[v for c in parts for v in c.payer],
        payee=[v for c in parts for v in c.payee],
        ts=np.concatenate([c.ts for c in parts]),
        amount=np.concatenate([c.amount for c in parts]),
        currency=[v for c in parts for v in c.currency],
        payee_country=seqs("payee_country"),
        device=seqs("device"),
        ip=seqs("ip"),
        channel=seqs("channel"),
        on_flagged_call=None if all(f is None for f in calls) else np.concatenate(
            [f if f is not None else np.zeros(k, dtype=np.bool_) for f, k in zip(calls, n, strict=True)]),
        call_signals=None if any(s is None for s in signals) else np.concatenate(signals),  # type: ignore[arg-type]
    )


def _take(c: TransferColumns, order: npt.NDArray[np.intp]) -> TransferColumns:
    def pick(seq: Sequence[Any] | None) -> list[Any] | None:
        return None if seq is None else [seq[i] for i in order.tolist()]

    return TransferColumns(
        payer=pick(c.payer) or [],
        payee=pick(c.payee) or [],
        ts=c.ts[order],
        amount=c.amount[order],
        currency=pick(c.currency) or [],
        payee_country=pick(c.payee_country),
        device=pick(c.device),
        ip=pick(c.ip),
        channel=pick(c.channel),
        on_flagged_call=None if c.on_flagged_call is None else c.on_flagged_call[order],
        call_signals=None if c.call_signals is None else c.call_signals[order],
    )
