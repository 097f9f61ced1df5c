"""The Exchange: the one application service that owns the flow. Read it top-down to see the data flow.

    banks ── transfers ──► score() ──► decision back to the bank (and the feature log the model learns from)
    reporters ── incident ──► report_incident() = intake -> trace -> freeze orders -> link into cases -> feedback
    banks ── order steps ──► acknowledge() / frozen() (top-ups) / returned() (tranches)
    the police desk ── orders ──► confirm_order() / extend_order() / release()   (expire_due() past deadlines)
    analysts ── cases ──► confirm_case()                                         (IN_CASE: the block rule's input)
    telecoms ── numbers, calls ──► report_fraud_numbers() / report_calls()      (feed scoring's call signal)
    banks ── customers' profiles ──► register_customers()                        (age, living alone, kind, phones)
    banks ── protection profiles ──► set_protection()          (a trusted person confirms the customer's chosen
             trusted person's answer ──► answer_trusted_person()  operations; expire_confirmations() after 12 h)
    account holders ── appeals ──► file_appeal() / decide_appeal()
    analysts ── rules, model, drops ──► refresh_rules() / train_model() / publish_suspected_drops()

HTTP routes, the CLI, the demo and every evaluation call these methods; nothing else implements the steps.
Everything the exchange learns (Knowledge flags, customers' profiles, the trace ledger) is held here, in one
place, and rebuilt from the store by ``restore()`` after a restart.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Container, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import httpx
import numpy as np
import numpy.typing as npt

from zaslon.adapters.db.stores.incidents import SqlIncidentStore
from zaslon.adapters.db.stores.leadership import AdvisoryLeadership
from zaslon.adapters.db.stores.stats import SqlStatsStore
from zaslon.adapters.db.stores.transfers import SqlTransferStore
from zaslon.core.access import sees_everything
from zaslon.core.calls import KEEP_CALLS, NO_SIGNALS, RecentCalls
from zaslon.core.cashout import CashOutAlert, cashout_alert
from zaslon.core.corroborate import is_established
from zaslon.core.features import FEATURE_NAMES, AccountProfile
from zaslon.core.knowledge import AccountFlag, Knowledge
from zaslon.core.orders import ACTIVE as ACTIVE_ORDER
from zaslon.core.policy import CODE as OUTCOME_CODE
from zaslon.core.protection import AWAITING, Profile
from zaslon.core.types import FreezeOrder, Outcome, Transfer, require_utc
from zaslon.errors import Conflict, Forbidden, InvalidInput, NotFound
from zaslon.flow import feature_snapshot
from zaslon.flow import models as model_versions
from zaslon.flow.appeals import Verdict, decide_appeal, file_appeal
from zaslon.flow.case_keys import incident_keys
from zaslon.flow.cases import CaseService, CaseView, case_id_of
from zaslon.flow.customers import Customer, load_customers, store_customers
from zaslon.flow.decide import DecisionRecorder, Recorded
from zaslon.flow.district import DistrictWatch
from zaslon.flow.drift import DriftRule
from zaslon.flow.drift import check as check_drift
from zaslon.flow.drops import DropRanking, publish_suspected_drops, rank_accounts, restore_suspected_flags
from zaslon.flow.freeze import FreezeStore, order_json
from zaslon.flow.ingest import Stored, store_transfers
from zaslon.flow.intake import IncidentReport, IntakeResult, intake_incident, load_knowledge
from zaslon.flow.isolation import Submitters
from zaslon.flow.model import TrainedModel
from zaslon.flow.orgs import Principal
from zaslon.flow.partner_sync import PartnerSync
from zaslon.flow.ports.leadership import Leadership
from zaslon.flow.ports.stats import HistoryRow
from zaslon.flow.ports.telecom import CallEvent
from zaslon.flow.protection import Confirmations, Matcher, ProtectionRequest, confirmation_json, profile_json
from zaslon.flow.protection import load as load_protection
from zaslon.flow.protection import register as register_protection
from zaslon.flow.rules import RulesWatcher, default_ruleset
from zaslon.flow.scoring import ScoringEngine
from zaslon.flow.sharing import Sharing
from zaslon.flow.stats import StatsQuery, compute_stats, import_history
from zaslon.flow.telecom import CallReport, TelecomSignals, appeal_json, report_calls, report_fraud_numbers
from zaslon.flow.tracing import LiveLedger, Tracer, TraceSettings, restore_traced_flags, trace_summary
from zaslon.flow.webhooks import Webhooks
from zaslon.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

# A transfer made within this long after a call from a flagged number is "on a call" (vishing).
CALL_WINDOW = timedelta(hours=1)
# After a restart the subscribers' contacts (for ``stranger_call_s``) are rebuilt from this much stored call history.
CONTACTS_RESTORED = timedelta(days=30)
# A bank may date its report of a freeze a little ahead of the server clock (clock skew), never more.
MAX_FUTURE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class IncidentOutcome:
    """What one report set in motion: the stored incident, its trace, the orders issued, its case."""

    intake: IntakeResult
    trace: dict[str, Any] | None = None
    orders: tuple[FreezeOrder, ...] = ()
    existing_orders: tuple[str, ...] = ()
    case: CaseView | None = None
    linked_transfers: int = 0
    followup_errors: tuple[str, ...] = ()


# The advisory lock whose holder runs housekeeping (the scale-out workers' partition locks are 0x5A5A0000 + n).
HOUSEKEEPING_LOCK = 0x5A5AF000

class FeatureLog:
    """The features every transfer was scored with, kept so the model can be retrained on what reports taught
    (a transfer is labelled by the reports made before the cut-off, never by anything else).

    Rows go into a block of ``block`` rows held in memory; a full block is written to a temporary file (in the
    system's temporary directory, ``TMPDIR``; unlinked at once, so it goes with the process) and only its
    place is kept. Held in the process, the log grew the server's resident memory by about 370 bytes per
    transfer (the 73 features are 292), without bound up to ``max_rows``; in the file the rows sit in the
    operating system's page cache, which gives them up under pressure. Reading them back (retraining, the
    drift check) goes block by block. The log is this process's own: after a restart the rows are rebuilt
    from the store (``zaslon.flow.models.rows_from_store``)."""

    BLOCK = 4096
    SEGMENT_BLOCKS = 64  # blocks per temporary file: a file is closed once all its blocks are dropped

    def __init__(self, max_rows: int = 5_000_000, block: int = BLOCK, *, directory: str | None = None) -> None:
        self.max_rows, self.block = max_rows, block
        self.width = len(FEATURE_NAMES)
        self._dir = directory
        self._ids: list[str] = []  # the block in memory
        self._ts = np.empty(block, dtype=np.int64)
        self._x = np.empty((block, self.width), dtype=np.float32)
        self._fill = 0
        # Written blocks, oldest first: (file, offset of its ts, offset of its ids, length of its ids).
        self._blocks: list[tuple[_Spill, int, int, int]] = []
        self._spill: _Spill | None = None
        self.rows = 0
        self._lock = threading.Lock()

    def append(self, ids: Sequence[str], ts: npt.NDArray[np.int64], x: npt.NDArray[np.float32]) -> None:
        """``ts`` in seconds since the epoch, as the scoring columns carry it."""
        ts = np.asarray(ts, dtype=np.int64)
        x = np.asarray(x, dtype=np.float32)
        with self._lock:
            done = 0
            while done < len(ids):
                if self._fill == self.block:
                    self._write_block()
                n = min(len(ids) - done, self.block - self._fill)
                self._ids.extend(ids[done : done + n])
                self._ts[self._fill : self._fill + n] = ts[done : done + n]
                self._x[self._fill : self._fill + n] = x[done : done + n]
                self._fill += n
                done += n
            self.rows += len(ids)
            while self.rows - self.block >= self.max_rows and self._blocks:  # the oldest block goes first
                spill = self._blocks.pop(0)[0]
                spill.live -= 1
                if spill.live == 0 and spill is not self._spill:
                    spill.close()
                self.rows -= self.block

    def _write_block(self) -> None:
        if self._spill is None or self._spill.written == self.SEGMENT_BLOCKS:
            self._spill = _Spill(self._dir)
        spill = self._spill
        at = spill.write(self._ts.tobytes() + self._x.tobytes())
        ids = json.dumps(self._ids).encode()
        self._blocks.append((spill, at, spill.write(ids), len(ids)))
        spill.written += 1
        spill.live += 1
        self._ids, self._fill = [], 0

    def _each(self) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], int, int]]:
        """Every block oldest first: its ts, its features, and the place of its ids (the block in memory: -1)."""
        b, w = self.block, self.width
        for spill, at, ids_at, ids_n in self._blocks:
            raw = spill.read(at, b * 8 + b * w * 4)
            yield (np.frombuffer(raw, dtype=np.int64, count=b),
                   np.frombuffer(raw, dtype=np.float32, offset=b * 8).reshape(b, w), ids_at, ids_n)
        yield self._ts[: self._fill], self._x[: self._fill], -1, 0

    def _ids_of(self, k: int, ids_at: int, ids_n: int) -> list[str]:
        if ids_at < 0:
            return self._ids
        return cast(list[str], json.loads(self._blocks[k][0].read(ids_at, ids_n)))

    def between(self, lo_s: int, hi_s: int) -> npt.NDArray[np.float32]:
        """The features of the transfers made in ``[lo_s, hi_s)`` (epoch seconds)."""
        with self._lock:
            parts = [x[(ts >= lo_s) & (ts < hi_s)] for ts, x, _, _ in self._each()]
            parts = [p for p in parts if len(p)]
            return np.concatenate(parts) if parts else np.zeros((0, self.width), dtype=np.float32)

    def before(self, cutoff_s: int) -> tuple[list[str], npt.NDArray[np.float32]]:
        with self._lock:
            ids: list[str] = []
            parts = []
            for k, (ts, x, ids_at, ids_n) in enumerate(self._each()):
                keep = np.flatnonzero(ts < cutoff_s)
                if not len(keep):
                    continue
                names = self._ids_of(k, ids_at, ids_n)
                ids += [names[i] for i in keep.tolist()]
                parts.append(x[keep])
            return ids, (np.concatenate(parts) if parts else np.zeros((0, self.width), dtype=np.float32))

    def close(self) -> None:
        with self._lock:
            for spill in {b[0] for b in self._blocks} | ({self._spill} if self._spill else set()):
                spill.close()
            self._blocks, self._spill = [], None


class _Spill:
    """One temporary file of the feature log's written blocks (appended to, read at offsets)."""

    def __init__(self, directory: str | None) -> None:
        self.file = tempfile.TemporaryFile(prefix="zaslon-feature-log-", dir=directory)  # noqa: SIM115 (kept open)
        self.end = 0
        self.written = self.live = 0

    def write(self, data: bytes) -> int:
        at = self.end
        os.pwrite(self.file.fileno(), data, at)
        self.end += len(data)
        return at

    def read(self, at: int, n: int) -> bytes:
        return os.pread(self.file.fileno(), n, at)

    def close(self) -> None:
        self.file.close()


class _KindView(Container[str]):
    """The accounts whose registered profile has ``kind`` (a live view of the profiles)."""

    def __init__(self, profiles: dict[str, AccountProfile], *kinds: str) -> None:
        self.profiles, self.kinds = profiles, frozenset(kinds)

    def __contains__(self, account: object) -> bool:
        prof = self.profiles.get(account) if isinstance(account, str) else None
        return prof is not None and prof.kind in self.kinds


class Exchange:
    def __init__(self, db: Engine, settings: Settings | None = None, *,
                 webhook_transport: httpx.BaseTransport | None = None,
                 trace_settings: TraceSettings | None = None, follow_ledger: bool = False) -> None:
        """``follow_ledger``: keep the trace's ledger in step in a background thread (a server, a long run);
        without it each trace first catches up with what was stored since the last one."""
        self.db = db
        self.settings = settings or Settings()
        self.knowledge = Knowledge()  # the one Knowledge: scoring reads what intake, traces and appeals teach
        self.profiles: dict[str, AccountProfile] = {}
        self.owners: dict[str, str] = {}  # account -> the bank's customer id
        self.phones_of: dict[str, tuple[str, ...]] = {}  # account -> its owner's phone numbers
        self.card_accounts: dict[str, str] = {}  # card hash -> the account its bank registered it for
        self.protected: dict[str, Profile] = {}  # account -> its protection profile (a trusted person confirms)
        self.scoring = ScoringEngine.from_settings(self.settings, knowledge=self.knowledge)
        self.scoring.state.profiles = self.profiles
        if self.scoring.ruleset_version is None:
            # Until an analyst activates a version in the database, the packaged default rules apply.
            self.scoring.set_ruleset(cast(Any, default_ruleset()))
        self.feature_log = FeatureLog()
        self.scoring.feature_log = self.feature_log  # type: ignore[attr-defined]
        self.shadow_ruleset: Any = None
        self.rules_watcher = RulesWatcher(db, self._apply_rules)
        self.recorder = DecisionRecorder(db, commit_window=self.settings.commit_window_ms / 1000)
        # ---- durable feature state (zaslon.flow.feature_snapshot): snapshots + replay of the tail
        self.snapshotter = feature_snapshot.Snapshotter(db, self.scoring, self.recorder,
                                                        interval_s=self.settings.snapshot_interval_s)
        # ---- end durable feature state
        self.submitters = Submitters(db)  # isolation: who may submit which transfers
        order_type = self.settings.order_types[self.settings.order_type]
        self.orders = FreezeStore(db, deadline=timedelta(hours=order_type.deadline_hours),
                                  legal_reference=order_type.legal_reference, order_type=self.settings.order_type)
        self.webhooks = Webhooks(db, max_attempts=self.settings.webhook_max_attempts,
                                 backoff_s=self.settings.webhook_backoff_s, transport=webhook_transport)
        self.confirmations = Confirmations(db, self.webhooks)  # asked of trusted persons through their banks
        self.scoring.protection = Matcher(self.protected)
        self.ledger = LiveLedger(db, self.profiles, self.owners)
        self.tracer = Tracer(self.ledger, trace_settings)
        if follow_ledger:
            self.ledger.follow(self.settings.ledger_lag_s)
        self.cases = CaseService(db)
        self.sharing = Sharing(db, self.settings)  # partner countries' exchanges: STIX/TAXII (flow/sharing.py)
        self.leadership: Leadership = AdvisoryLeadership(db, HOUSEKEEPING_LOCK)  # housekeeping, partner rounds
        self.partner_sync = PartnerSync(self.sharing, interval_s=self.settings.partner_sync_interval_s,
                                        leads=self.leadership.leads)
        self.sharing.on_new_orders = self._orders_from_abroad
        self.recent_calls = RecentCalls(window=CALL_WINDOW)
        # ---- telecom signals (zaslon.flow.telecom): call events -> scoring's call features; the block list
        self.telecom = TelecomSignals(db, self.knowledge, self.recent_calls,
                                      home_country=self.scoring.state.home_country)
        self.scoring.call_signals = self._call_signals
        # ---- end telecom signals
        # District officers' list and the at-door courier risk (zaslon.flow.district): fed by the hooks below.
        self.district = DistrictWatch(db)
        self.models: list[dict[str, Any]] = []
        # ---- model versions (zaslon.flow.models): the promoted one is picked up without a restart
        self.model_watcher = model_versions.ModelWatcher(db, self.set_model, interval_s=self.settings.model_poll_s)
        self.log_covers_store = True  # the feature log holds every decided transfer (nothing before this process)
        # ---- end model versions
        self._incident_lock = threading.Lock()
        self._housekeeper: threading.Thread | None = None
        self._stop_housekeeping = threading.Event()
        self.housekeeping_error: str | None = None
        self.last_drift: dict[str, Any] | None = None  # the last drift check housekeeping made
        self._drift_due: datetime | None = None
        self._crypto = _KindView(self.profiles, "crypto_exchange")
        # Where money is spent or leaves, not passed on: linking follows no flow through these.
        self._terminal = _KindView(self.profiles, "merchant", "business", "crypto_exchange")

    # ------------------------------------------------------------------ life
    def restore(self) -> dict[str, int]:
        """After a restart: what the store says the exchange had learnt counts again, and the feature state."""
        learnt = self.reload_knowledge()
        # ---- durable feature state: the snapshot and the decided transfers after it (profiles known first)
        features = feature_snapshot.restore(self.db, self.scoring)
        self.log_covers_store = self.scoring.state.folded == 0
        self.snapshotter.mark_current()
        self.snapshotter.start()
        # ---- end durable feature state
        return {**learnt, "features_replayed": int(features["replayed"]),
                "feature_accounts": int(features["accounts"])}

    def reload_knowledge(self) -> dict[str, int]:
        """What the store says the exchange has learnt (customers, protection, incidents, traces, orders, cases,
        telecom block list), without the feature state: a scoring worker of the scale-out shape reloads this
        when told, and holds its partitions' states itself (rebuilding the whole deployment's state from every
        decided transfer, as a restart of the embedded default does, would cost it more each time)."""
        customers = self._learn_customers(load_customers(self.db))
        self.protected.update((p.account_id, p) for p in load_protection(self.db))
        reported, phones = load_knowledge(self.db, self.knowledge, self._kind_of)  # corroborated as intake
        traced = restore_traced_flags(self.db, self.knowledge, self._kind_of,
                                      self.tracer.settings.payer_protection_s)
        suspected = restore_suspected_flags(self.db, self.knowledge)
        ordered = self.orders.active_accounts()
        for acc in ordered:
            self.knowledge.flag(acc, AccountFlag.UNDER_ORDER)
        in_case = sum(self._flag_case_accounts(c["case_id"]) for c in self.cases.list("confirmed", limit=100_000))
        # ---- telecom signals: numbers an upheld appeal cleared stay out of scoring; the block list is caught up
        self.knowledge.flagged_phones.difference_update(self.telecom.cleared_phones())
        self.telecom.sync()
        now = datetime.now(UTC)
        calls = self.telecom.restore(now - KEEP_CALLS, contacts_since=now - CONTACTS_RESTORED)
        # ---- end telecom signals
        return {"customers": customers, "protected": len(self.protected), "reported": reported, "phones": phones,
                "traced": traced, "suspected": suspected, "under_order": len(ordered), "in_case": in_case,
                "call_events": calls}

    @property
    def webhook_transport(self) -> httpx.BaseTransport | None:
        return self.webhooks.transport

    @webhook_transport.setter
    def webhook_transport(self, transport: httpx.BaseTransport | None) -> None:
        self.webhooks.transport = transport

    def warm_up(self) -> None:
        self.scoring.warm_up()
        self.sharing.warm_up()

    def start_housekeeping(self, interval_s: float) -> None:
        """Expire orders past their deadline and retry due webhooks every ``interval_s`` (``zaslon serve``)."""
        if interval_s <= 0 or self._housekeeper is not None:
            return

        def loop() -> None:
            while not self._stop_housekeeping.wait(interval_s):
                self.housekeep_once()

        self._housekeeper = threading.Thread(target=loop, name="zaslon-housekeeping", daemon=True)
        self._housekeeper.start()

    def housekeep_once(self) -> bool:
        """One housekeeping round, if this node leads (one node of several on one PostgreSQL database does;
        adapters/db/stores/leadership.py); False when another node has it."""
        if not self.leadership.leads():
            return False
        try:
            self.expire_due()
            self.expire_confirmations()
            self.deliver_webhooks()
            self.raise_courier_risks(housekeeping=True)
            self._drift_round()
            self.housekeeping_error = None
        except Exception as exc:  # the store away for a moment: the next round retries
            self.housekeeping_error = f"{type(exc).__name__}: {exc}"
        return True

    def _drift_round(self, now: datetime | None = None) -> None:
        """Every ``settings.drift_check_s`` (the first a full interval after start): ``retrain_on_drift``."""
        every = self.settings.drift_check_s
        if every <= 0:
            return
        at = now or datetime.now(UTC)
        if self._drift_due is None:
            self._drift_due = at + timedelta(seconds=every)
        if at < self._drift_due:
            return
        self._drift_due = at + timedelta(seconds=every)
        self.last_drift = self.retrain_on_drift(now=at, promote=self.settings.drift_promote)

    def start_partner_sync(self) -> None:
        """Sync with partner countries' exchanges on a schedule, and push a new freeze request abroad at once
        (``zaslon serve``; flow/partner_sync.py)."""
        self.partner_sync.start()

    def close(self) -> None:
        self.partner_sync.stop()
        self._stop_housekeeping.set()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=10)
            self._housekeeper = None
        self.leadership.release()
        self.ledger.stop()
        self.rules_watcher.stop()
        self.snapshotter.stop()
        self.recorder.close()
        try:  # what was folded in since the last snapshot: a restart then replays nothing
            self.snapshotter.snapshot()
        except Exception as exc:  # the store gone: the next start replays the tail instead
            self.snapshotter.last_error = f"{type(exc).__name__}: {exc}"

    # ------------------------------------------------------------------ customers
    def register_customers(self, principal: Principal, batch: Sequence[Customer],
                           *, now: datetime | None = None) -> int:
        """A bank registers (or updates) its customers' profiles; all of the batch or nothing."""
        pepper = self.settings.card_pepper.get_secret_value().encode()
        return self._learn_customers(store_customers(self.db, principal, batch, card_pepper=pepper, now=now))

    def _learn_customers(self, batch: Sequence[Customer]) -> int:
        state = self.scoring.state
        for c in batch:
            self.profiles[c.account_id] = prof = c.profile()
            state.apply_profile(c.account_id, prof)
            if c.customer_id:
                self.owners[c.account_id] = c.customer_id
            if c.phones:
                self.phones_of[c.account_id] = c.phones
            else:
                self.phones_of.pop(c.account_id, None)
            for h in c.card_hashes:
                self.card_accounts[h] = c.account_id
        self.district.learn(batch)
        return len(batch)

    # ------------------------------------------------------------------ protection profiles (trusted person)
    def set_protection(self, principal: Principal, req: ProtectionRequest, *,
                       now: datetime | None = None) -> dict[str, Any]:
        """A bank registers (or changes) its customer's protection profile with the customer's consent; the
        customer profile scoring reads (age, living alone, phones) follows it. Another bank's account: NotFound,
        nothing written. The demo and the HTTP route both call this."""
        at = now or datetime.now(UTC)
        known = self.profiles.get(req.account_id)
        profile, customer = register_protection(
            self.db, principal, req, current=self.protected.get(req.account_id),
            known_phones=self.phones_of.get(req.account_id, ()),
            known_birth=None if known is None else known.birth_date, now=at)
        self._learn_customers([customer])
        self.protected[profile.account_id] = profile
        return profile_json(profile, at)

    def protection(self, principal: Principal, account: str, *, now: datetime | None = None) -> dict[str, Any]:
        """The bank's own customer's protection profile; another bank's (or none) answers NotFound alike."""
        p = self.protected.get(account)
        if p is None or principal.bank_id is None or p.bank_id != principal.bank_id:
            raise NotFound(f"no protection profile for account {account!r} at your bank", field="account")
        return profile_json(p, now or datetime.now(UTC))

    def request_confirmations(self, org: str, transfers: Sequence[Transfer], recorded: Sequence[Recorded], *,
                              now: datetime | None = None) -> int:
        """After the decisions are committed: ask the trusted person (through the bank's webhook) about each
        transfer held awaiting them. Cheap when none is (a look at each decision's first reason)."""
        held = [(t, r.decision) for t, r in zip(transfers, recorded, strict=True)
                if r.decision.reasons and r.decision.reasons[0].code == AWAITING]
        if not held:
            return 0
        bic = self.submitters.bic_of(org)
        return len(self.confirmations.request([(org, bic, t, d) for t, d in held], self.protected,
                                              now=now or datetime.now(UTC)))

    def trusted_person(self, principal: Principal, transfer_id: str, org_id: str | None = None) -> dict[str, Any]:
        """The trusted person's confirmation of a transfer the principal submitted (another's: NotFound, as a
        missing one); the police read any, naming its submitter ``org_id``."""
        if sees_everything(principal.kind):
            if org_id is None:
                raise InvalidInput("name the transfer's submitter (org_id): ids are each submitter's own",
                                   field="org_id")
        elif org_id not in (None, principal.org_id):
            raise NotFound(f"no trusted-person confirmation for transfer {transfer_id!r}", field="transfer_id")
        c = self.confirmations.get(org_id or principal.org_id, transfer_id)
        return confirmation_json(c, contact=c.bank_id == principal.bank_id)

    def trusted_person_of(self, principal: Principal, org_id: str, transfer_id: str) -> dict[str, Any] | None:
        """The confirmation of a transfer the caller may read already (``GET /v1/transfers/{id}``), or None."""
        c = self.confirmations.store.confirmation(org_id, transfer_id)
        return None if c is None else confirmation_json(c, contact=c.bank_id == principal.bank_id)

    def answer_trusted_person(self, principal: Principal, transfer_id: str, *, confirm: bool,
                              at: datetime | None = None) -> dict[str, Any]:
        """The bank relays the trusted person's answer (once; after the deadline it is declined as expired)."""
        self._bank(principal)
        c = self.confirmations.answer(principal, transfer_id, confirm, at=self._when(at))
        return confirmation_json(c, contact=c.bank_id == principal.bank_id)

    def expire_confirmations(self, *, now: datetime | None = None) -> int:
        """Decline what no trusted person answered within 12 h (``zaslon serve``'s housekeeping runs this)."""
        return len(self.confirmations.expire_due(now or datetime.now(UTC), self.submitters.bic_of))

    # ------------------------------------------------------------------ scoring
    def on_call(self, transfers: Sequence[Transfer], bank_says: Sequence[bool] | None = None) -> list[bool]:
        """Per transfer: the bank's own call flag, or a call to the payer's phone from a flagged number within
        ``CALL_WINDOW`` before it, as telecoms reported it."""
        flags = list(bank_says) if bank_says is not None else [False] * len(transfers)
        if not self.phones_of:
            return flags
        flagged = self.knowledge.flagged_phones
        for i, t in enumerate(transfers):
            if not flags[i]:
                phones = self.phones_of.get(t.payer)
                if phones:
                    flags[i] = any(self.recent_calls.on_call_with_flagged(p, t.ts, flagged) for p in phones)
        return flags

    def _call_signals(self, payers: Sequence[str], ts: npt.NDArray[np.int64]) -> npt.NDArray[np.float32] | None:
        """Per transfer, the telecom features (``zaslon.core.calls.SIGNAL_NAMES``) of the payer's phones at its
        time; None when no payer has a phone with a call or a line signal (the common case, one look-up)."""
        if not self.phones_of or self.telecom.book.empty:
            return None
        out: npt.NDArray[np.float32] | None = None
        for i, payer in enumerate(payers):
            phones = self.phones_of.get(payer)
            if not phones:
                continue
            sig = self.telecom.signals(phones, datetime.fromtimestamp(int(ts[i]), UTC))
            if sig != NO_SIGNALS:
                if out is None:
                    out = np.tile(np.asarray(NO_SIGNALS, dtype=np.float32), (len(payers), 1))
                out[i] = sig
        return out

    def score_now(self, org: str, transfers: Sequence[Transfer], *, on_flagged_call: Sequence[bool] | None = None,
                  source: str = "batch", message_id: str | None = None) -> tuple[list[Recorded], Future[None]]:
        """Decide ``transfers`` now; the future completes once the decisions are committed (answer after it)."""
        for i, t in enumerate(transfers):  # as the API's schema refuses it, so does every other caller
            if t.payer == t.payee:
                raise InvalidInput("payer and payee are the same account", field=str(i))
        self.check_submitter(org, transfers)
        self.refresh_rules()
        calls = self.on_call(transfers, on_flagged_call)
        recorded, committed = self.recorder.record(self.scoring, org, transfers, on_flagged_call=calls,
                                                   shadow=self.shadow_ruleset, source=source, message_id=message_id)
        self.district.on_transfers(transfers, [r.decision.outcome.value for r in recorded])
        return recorded, committed

    def score(self, org: str, transfers: Sequence[Transfer], *, on_flagged_call: Sequence[bool] | None = None,
              source: str = "batch", message_id: str | None = None) -> list[Recorded]:
        """Decide and store ``transfers``, record cash-out attempts by traced accounts, return the decisions."""
        recorded, committed = self.score_now(org, transfers, on_flagged_call=on_flagged_call, source=source,
                                             message_id=message_id)
        committed.result()
        fresh = [(t, r) for t, r in zip(transfers, recorded, strict=True) if not r.replayed]
        self.record_cashout_attempts([t for t, _ in fresh], outcomes=[r.decision.outcome.value for _, r in fresh])
        self.request_confirmations(org, [t for t, _ in fresh], [r for _, r in fresh])
        return recorded

    def batch_context(self) -> tuple[ScoringEngine, Any]:
        """The engine and shadow rules for one real-time micro-batch (rules refreshed first)."""
        self.refresh_rules()
        return self.scoring, self.shadow_ruleset

    def store_transfers(self, org: str, transfers: Sequence[Transfer]) -> list[Stored]:
        """Store executed transfers a bank sends without asking for a decision (history, disputed payments);
        all of the batch or nothing. Cash-outs by traced accounts among them alert the desk."""
        self.check_submitter(org, transfers)
        stored = store_transfers(self.db, org, transfers)
        created = [t for t, s in zip(transfers, stored, strict=True) if s.created]
        self.record_cashout_attempts(created, outcomes=["executed"] * len(created))
        self.district.on_transfers(created, ["executed"] * len(created))
        return stored

    # ---- isolation (issue 10, item 6): a bank submits only its own customers' transfers ----
    def check_submitter(self, org: str, transfers: Sequence[Transfer]) -> None:
        """403 for an organisation without a BIC, 422 for a transfer between two other banks' customers
        (``zaslon.flow.isolation``); nothing of the request is taken. The real-time route calls it too."""
        self.submitters.check(org, transfers)
    # ---- end isolation ----

    def cashout_attempts(self, transfers: Sequence[Transfer],
                         outcomes: Sequence[str] | None = None) -> list[CashOutAlert]:
        """A protected account (traced, under an order, a corroborated drop) paying out to cash, abroad or crypto:
        a courier lead for the desk (cheap: one flag look-up per transfer, nearly always empty). ``outcomes``:
        what the exchange answered each (an attempt), or "executed" (a bank reports it done)."""
        out = []
        for i, t in enumerate(transfers):
            a = cashout_alert(t, self.knowledge, crypto_accounts=self._crypto)
            if a is not None:
                out.append(replace(a, outcome=None if outcomes is None else outcomes[i]))
        return out

    def record_cashout_attempts(self, transfers: Sequence[Transfer], alerts: Sequence[CashOutAlert] | None = None,
                                *, outcomes: Sequence[str] | None = None, now: datetime | None = None) -> int:
        """Store the alerts, each with the order and case behind its account (the desk sees them live)."""
        found = self.cashout_attempts(transfers, outcomes) if alerts is None else alerts
        if not found:
            return 0
        at = now or datetime.now(UTC)
        return sum(self.orders.record_alert(self._with_order(a), now=at) for a in found)

    def _with_order(self, alert: CashOutAlert) -> CashOutAlert:
        active = self.orders.active_on(alert.account_id)
        if not active:
            return alert
        order = active[0]
        case_id = None
        if order.incident_id in self.cases.linker.index:
            case_id = case_id_of(self.cases.linker.case_of(order.incident_id))
        return replace(alert, order_id=order.order_id, case_id=case_id)

    # ------------------------------------------------------------------ incidents
    def report_incident(self, principal: Principal, report: IncidentReport, *,
                        now: datetime | None = None) -> IncidentOutcome:
        """Intake -> trace -> freeze orders -> link into cases -> feedback into scoring, in that order.

        The incident is committed first; a step after it that fails is reported in ``followup_errors`` and
        never hides or undoes the stored incident."""
        if report.reporter_org != principal.org_id:
            raise Forbidden("an organisation reports incidents in its own name")
        result = intake_incident(self.db, self.knowledge, report,
                                 card_pepper=self.settings.card_pepper.get_secret_value().encode(), now=now,
                                 kind_of=self._kind_of, reporter_bic=principal.bank_id)
        if not result.created:
            return IncidentOutcome(result)
        inc = result.incident
        errors: list[str] = []
        if result.flagged_phones:  # a second victim's report (or the police's) may list a number
            try:
                self.telecom.sync(result.flagged_phones)
            except Exception as exc:
                errors.append(f"block list: {type(exc).__name__}: {exc}")
        try:  # an elderly victim living alone goes on their district officer's list
            victim = report.victim
            self.district.on_incident(inc.incident_id, inc.reported_at,
                                      party_id=None if victim is None else victim.party_id,
                                      phone=None if victim is None else victim.phone)
        except Exception as exc:
            errors.append(f"district: {type(exc).__name__}: {exc}")
        try:  # numbers the report named: their recent calls to the elderly living alone count now
            self.district.recheck(self.knowledge.flagged_phones)
        except Exception as exc:
            errors.append(f"district: {type(exc).__name__}: {exc}")
        summary: dict[str, Any] | None = None
        created: list[FreezeOrder] = []
        existing: list[str] = []
        linked = 0
        at = now or datetime.now(UTC)
        with self._incident_lock:  # one trace at a time: "traced already" must not race
            if inc.transfer_ids:
                try:
                    traced = self.tracer.trace_incident(inc.transfer_keys, inc.reported_at,
                                                        victim=inc.victim_party, knowledge=self.knowledge)
                    established = set(traced.established)
                    issued = self.orders.issue(inc.incident_id, traced.result, now=at,
                                               needs_confirmation=established.__contains__)
                    created, existing, linked = issued.created, issued.existing, traced.linked
                    summary = trace_summary(traced.result)
                    self._protect([o for o in created if o.status in ACTIVE_ORDER])
                    self._notify([o for o in created if o.status in ACTIVE_ORDER], at)
                except Exception as exc:  # the incident is committed; a failed follow-up must not hide it
                    errors.append(f"trace: {type(exc).__name__}: {exc}")
                if summary is not None:  # money that left for a partner country: a freeze request there
                    try:
                        if self.sharing.freeze_abroad(inc.incident_id, traced.result.exits, now=at):
                            self.partner_sync.wake()  # the request leaves now, not at the next scheduled round
                    except Exception as exc:
                        errors.append(f"abroad: {type(exc).__name__}: {exc}")
            case = None
            try:
                keys = incident_keys(self.db, inc.incident_id, self._terminal, self.card_accounts)
                case_id = self.cases.link(inc.incident_id, keys, now=at)
                case = self.cases.get(case_id)
            except Exception as exc:
                errors.append(f"link: {type(exc).__name__}: {exc}")
        return IncidentOutcome(result, summary, tuple(created), tuple(existing), case, linked, tuple(errors))

    def money_flow(self, transfer_ids: Sequence[str], *, at: datetime | None = None) -> Any:
        """Where the money of the disputed ``transfer_ids`` is now (or at ``at``): a read-only trace
        (``core.trace.TraceResult``) for the desk; it issues nothing and flags nothing."""
        return self.tracer.view(tuple(transfer_ids), at or datetime.now(UTC))

    def link_incident(self, incident_id: str, *, now: datetime | None = None) -> CaseView:
        """Link a stored incident into cases (intake does it on arrival; an incident already linked: its case)."""
        if incident_id in self.cases.linker.index:
            return self.cases.get(f"case-{self.cases.linker.case_of(incident_id)}")
        keys = incident_keys(self.db, incident_id, self._terminal, self.card_accounts)
        return self.cases.get(self.cases.link(incident_id, keys, now=now))

    # ------------------------------------------------------------------ freeze orders
    def _bank(self, principal: Principal) -> str:
        if principal.bank_id is None:
            raise Forbidden("only the bank an order is addressed to can act on it")
        return principal.bank_id

    def _when(self, at: datetime | None) -> datetime:
        now = datetime.now(UTC)
        if at is None:
            return now
        at = require_utc(at, "at")
        if at > now + MAX_FUTURE:
            raise InvalidInput("at lies in the future", field="at")
        return at

    def acknowledge(self, principal: Principal, order_id: str, *, at: datetime | None = None) -> FreezeOrder:
        return self.orders.acknowledge(order_id, self._bank(principal), by_org=principal.org_id, now=self._when(at))

    def frozen(self, principal: Principal, order_id: str, amount: int, *, at: datetime | None = None) -> FreezeOrder:
        """The bank froze ``amount`` (more) at ``at``: from then on the trace sees that money as stopped."""
        return self.orders.frozen(order_id, self._bank(principal), amount, by_org=principal.org_id,
                                  now=self._when(at))

    def returned(self, principal: Principal, order_id: str, amount: int, *, at: datetime | None = None) -> FreezeOrder:
        """A tranche of the frozen money went back to the victim."""
        done = self.orders.returned(order_id, self._bank(principal), amount, by_org=principal.org_id,
                                    now=self._when(at))
        self._unprotect([done])
        return done

    @staticmethod
    def _police(principal: Principal, what: str) -> None:
        if str(principal.kind) != "police":
            raise Forbidden(f"only the police desk {what} an order")

    def release(self, principal: Principal, order_id: str, *, reason: str | None = None,
                at: datetime | None = None) -> FreezeOrder:
        """The police lift an order (the bank may let the money move again)."""
        self._police(principal, "releases")
        done = self.orders.release(order_id, by_org=principal.org_id, now=self._when(at), reason=reason)
        self._unprotect([done])
        self._notify([done], self._when(at))
        return done

    def confirm_order(self, principal: Principal, order_id: str, *, at: datetime | None = None) -> FreezeOrder:
        """The desk confirms an order that waited for it (an established business's account): it goes out."""
        self._police(principal, "confirms")
        done = self.orders.confirm(order_id, by_org=principal.org_id, now=self._when(at))
        self._protect([done])
        self._notify([done], self._when(at))
        return done

    def extend_order(self, principal: Principal, order_id: str, until: datetime, *, reason: str | None = None,
                     at: datetime | None = None) -> FreezeOrder:
        self._police(principal, "extends")
        done = self.orders.extend(order_id, require_utc(until, "until"), by_org=principal.org_id,
                                  now=self._when(at), reason=reason)
        self._notify([done], self._when(at))
        return done

    def expire_due(self, *, now: datetime | None = None) -> list[FreezeOrder]:
        """Expire the orders no bank acted on by their deadline (``zaslon serve`` runs this periodically)."""
        done = self.orders.expire_due(now or datetime.now(UTC))
        self._unprotect(done)
        return done

    def _orders_from_abroad(self, orders: Sequence[FreezeOrder], at: datetime) -> None:
        """Orders a partner country's verified request issued at our banks: as binding here as our own."""
        active = [o for o in orders if o.status in ACTIVE_ORDER]
        self._protect(active)
        self._notify(active, at)

    def _protect(self, orders: Sequence[FreezeOrder]) -> None:
        for o in orders:
            self.knowledge.flag(o.account_id, AccountFlag.UNDER_ORDER)

    def _unprotect(self, orders: Sequence[FreezeOrder]) -> None:
        """An order that ended lifts UNDER_ORDER unless another order still covers the account."""
        for o in orders:
            if o.status not in ACTIVE_ORDER and not self.orders.active_on(o.account_id):
                self.knowledge.unflag(o.account_id, AccountFlag.UNDER_ORDER)

    def _notify(self, orders: Sequence[FreezeOrder], at: datetime) -> None:
        """Push each order (as it now stands) to its bank's webhook; retries run in ``deliver_webhooks``."""
        ids = self.webhooks.enqueue([(o.bank_id, o.order_id, {"type": "freeze_order", "order": order_json(o)})
                                     for o in orders], now=at)
        if ids:
            self.webhooks.deliver_due(at, ids=ids)

    def deliver_webhooks(self, *, now: datetime | None = None) -> int:
        """Retry the webhook deliveries that are due (``zaslon serve`` runs this periodically)."""
        return self.webhooks.deliver_due(now or datetime.now(UTC))

    # ------------------------------------------------------------------ webhooks
    def set_webhook(self, principal: Principal, url: str, secret: str | None = None) -> dict[str, Any]:
        self._bank(principal)
        return self.webhooks.set(principal.org_id, url, secret)

    def webhook(self, principal: Principal) -> dict[str, Any] | None:
        return self.webhooks.get(principal.org_id)

    def remove_webhook(self, principal: Principal) -> None:
        self.webhooks.remove(principal.org_id)

    def list_orders(self, bank_id: str | None, **kw: Any) -> list[FreezeOrder]:
        return self.orders.list(bank_id, **kw)

    def order(self, order_id: str, bank_id: str | None) -> FreezeOrder:
        return self.orders.get(order_id, bank_id)

    # ------------------------------------------------------------------ cases
    def confirm_case(self, principal: Principal, case_id: str, version: int, *,
                     now: datetime | None = None) -> CaseView:
        """An analyst confirms a case: its drops are IN_CASE from now on (the default block rule reads it)."""
        view = self.cases.confirm(case_id, version, principal.org_id, now)
        self._flag_case_accounts(case_id)
        return view

    def _flag_case_accounts(self, case_id: str) -> int:
        """IN_CASE on the accounts a case's money went through (its first drops and onward hops), except where
        money is spent (shops, companies, exchanges) and accounts paid by many (``core.corroborate``)."""
        view = self.cases.get(case_id)
        accounts: set[str] = set()
        for inc in view.incident_ids:
            for key in incident_keys(self.db, inc, self._terminal, self.card_accounts):
                kind, _, acc = key.partition(":")
                if kind in ("account", "flow") and acc not in self._terminal:
                    accounts.add(acc)
        payers = SqlTransferStore(self.db).distinct_payers(sorted(accounts)) if accounts else {}
        flagged = 0
        for acc in accounts:
            if not is_established(self._kind_of(acc), payers.get(acc, 0)):
                self.knowledge.flag(acc, AccountFlag.IN_CASE)
                flagged += 1
        return flagged

    # ------------------------------------------------------------------ telecoms
    def report_fraud_numbers(self, principal: Principal, numbers: Sequence[str],
                             note: str | None = None) -> tuple[list[str], int]:
        self._telecom(principal)
        phones, new = report_fraud_numbers(self.db, self.knowledge, principal.org_id, numbers, note)
        self.telecom.sync(phones)
        self.district.recheck(self.knowledge.flagged_phones)  # their recent calls to the elderly living alone
        return phones, new

    def report_calls(self, principal: Principal, calls: Sequence[CallReport]) -> dict[str, Any]:
        """The legacy calls feed (a call's start time and, if known, its duration): checked against the
        operator's number ranges once it has registered some."""
        self._telecom(principal)
        self.telecom.check_calls(principal.org_id, calls)
        out = report_calls(self.db, self.knowledge, self.recent_calls, principal.org_id, calls)
        self.telecom.remember_calls(calls)
        self.district.on_calls(calls, self.knowledge.flagged_phones)  # elderly people living alone: their officer
        return out

    def report_call_events(self, principal: Principal, events: Sequence[CallEvent]) -> dict[str, Any]:
        """Call start / end events with their network signals (CAMARA-shaped), from the callee's operator."""
        self._telecom(principal)
        out = self.telecom.report_call_events(principal.org_id, events)
        # A call that ended, as the district watch reads calls (started at, lasted): a flagged number's
        # conversation with an elderly customer may be a courier on the way (zaslon.flow.district).
        ended = [CallReport(e.call_id, e.ts - timedelta(seconds=e.duration_s or 0), e.caller, e.callee,
                            e.callee_party, e.duration_s) for e in events if e.event == "end"]
        if ended:
            self.district.on_calls(ended, self.knowledge.flagged_phones)
        return out

    def number_ranges(self, principal: Principal) -> list[str]:
        self._telecom(principal)
        return self.telecom.ranges_of(principal.org_id)

    def block_list(self, since: str | None = None, limit: int = 10_000) -> dict[str, Any]:
        """The whole list with a cursor (no ``since``), or the additions and removals after ``since``."""
        if since is None:
            cursor = self.telecom.cursor()  # read before the list: a change in between comes again, never lost
            numbers = self.telecom.listed()
            return {"count": len(numbers), "numbers": numbers, "next": cursor}
        return self.telecom.changes_since(since, limit)

    def confirm_numbers(self, principal: Principal, numbers: Sequence[str],
                        note: str | None = None) -> tuple[list[str], int]:
        if str(principal.kind) != "police":
            raise Forbidden("only the police confirm fraud numbers")
        return self.telecom.confirm(principal.org_id, numbers, note)

    def file_number_appeal(self, principal: Principal, *, phone: str, reason: str, contact: str) -> dict[str, Any]:
        return self.telecom.file_appeal(principal.org_id, phone, reason, contact)

    def number_appeal(self, principal: Principal, appeal_id: str) -> dict[str, Any]:
        police = str(principal.kind) == "police"
        return appeal_json(self.telecom.appeal(appeal_id, None if police else principal.org_id))

    def decide_number_appeal(self, principal: Principal, appeal_id: str, *, verdict: Verdict,
                             note: str) -> dict[str, Any]:
        if str(principal.kind) != "police":
            raise Forbidden("only the police decide appeals of listed numbers")
        return self.telecom.decide_appeal(principal.org_id, appeal_id, verdict is Verdict.UPHOLD, note)

    def raise_courier_risks(self, *, now: datetime | None = None, housekeeping: bool = False) -> list[Any]:
        """At-door courier risks: flagged calls to elderly people with no transfer after them
        (``zaslon.flow.district``), put on their district officer's list and the desk's couriers page; returns
        them (``flow.ports.district.Signal``). Housekeeping runs it with the clock, the demo with its event time
        (never later than the clock: 422). Housekeeping leaves a watch due more than a day ago: only a replay or
        a simulation on event time has one, and it evaluates its own (a courier has come and gone by then)."""
        at = self._when(now)
        return self.district.raise_due(at, not_before=at - timedelta(days=1) if housekeeping else None)

    @staticmethod
    def _telecom(principal: Principal) -> None:
        if str(principal.kind) != "telecom":
            raise Forbidden("only telecom operators report fraud numbers and calls")

    # ------------------------------------------------------------------ statistics
    def stats(self, principal: Principal, query: StatsQuery, *, now: datetime | None = None) -> dict[str, Any]:
        """The ministry's figures over a period (``flow.stats``): national aggregates and every bank's
        acknowledgement times, so the police only (the ``stats:read`` scope is checked by the caller too)."""
        self._stats_reader(principal)
        return compute_stats(SqlStatsStore(self.db), query, now=now or datetime.now(UTC))

    def import_incident_history(self, principal: Principal, rows: Sequence[HistoryRow], *, label: str,
                                now: datetime | None = None) -> dict[str, int]:
        """Past registered incidents, for the statistics' year-over-year figures only."""
        if str(principal.kind) != "police":
            raise Forbidden("only the police import an incident history")
        return import_history(SqlStatsStore(self.db), rows, label=label, by_org=principal.org_id,
                              now=now or datetime.now(UTC))

    @staticmethod
    def _stats_reader(principal: Principal) -> None:
        if str(principal.kind) != "police" or "stats:read" not in principal.scopes:
            raise Forbidden("statistics are for the police (scope stats:read)")

    # ------------------------------------------------------------------ appeals
    def file_appeal(self, principal: Principal, *, account_id: str, reason: str, contact: str) -> dict[str, Any]:
        return file_appeal(self.db, self.knowledge, principal, account_id=account_id, reason=reason, contact=contact)

    def decide_appeal(self, principal: Principal, appeal_id: str, *, verdict: Verdict, note: str) -> dict[str, Any]:
        """An upheld appeal delists the account and releases the orders on it: the money was the holder's."""
        out = decide_appeal(self.db, self.knowledge, principal, appeal_id, verdict=verdict, note=note)
        if verdict is Verdict.UPHOLD:
            at = datetime.now(UTC)
            for o in self.orders.active_on(str(out["account_id"])):
                try:
                    self._notify([self.orders.release(o.order_id, by_org=principal.org_id, now=at,
                                                      reason=f"appeal {appeal_id} upheld")], at)
                except Conflict:  # a bank moved it meanwhile: it is still released below if it stays active
                    continue
            self.knowledge.unflag(str(out["account_id"]))
        return out

    # ------------------------------------------------------------------ rules, model, drops
    def _apply_rules(self, live: Any, shadow: Any) -> None:
        self.scoring.set_ruleset(live)
        self.shadow_ruleset = shadow

    def refresh_rules(self) -> None:
        """Pick up an analyst's activation (the store is checked at most every couple of seconds)."""
        try:
            self.rules_watcher.maybe_refresh()
        except Exception as exc:  # the rules store being down must not stop scoring: keep the current rules
            self.rules_watcher.last_error = f"{type(exc).__name__}: {exc}"
        try:  # and a promoted model, the same way
            self.model_watcher.maybe_refresh()
        except Exception as exc:
            self.model_watcher.last_error = f"{type(exc).__name__}: {exc}"

    def set_model(self, model: Any) -> None:
        self.scoring.set_model(model)

    def train_model(self, cutoff: datetime, *, min_positives: int = 5, promote: bool = False,
                    from_store: bool | None = None, actor: str = "exchange") -> TrainedModel | None:
        """Train on every transfer scored before ``cutoff``, labelled by the reports made before it (the
        disputed transfers of incidents reported by then), and store it as a model version; live only with
        ``promote``. The rows come from the feature log, or rebuilt from the store (``from_store``; by
        default when this process did not score everything itself, e.g. after a restart). None if too few
        reports."""
        cutoff = require_utc(cutoff, "cutoff")
        use_store = not self.log_covers_store if from_store is None else from_store
        rows = (model_versions.rows_from_store(self.db, cutoff, self.profiles) if use_store
                else model_versions.rows_from_log(self.db, self.feature_log, cutoff))
        trained = model_versions.train_version(self.db, rows, cutoff, actor=actor, min_positives=min_positives)
        if trained is None:
            return None
        if promote:
            self.promote_model(trained.model_id, actor=actor)
        self.models.append(trained.meta)
        return trained

    def check_drift(self, *, now: datetime | None = None, rule: DriftRule | None = None) -> dict[str, Any] | None:
        """The drift rule (flow/drift.py) on the live model, from this exchange's own decisions and reports: the
        share of the transfers reported in the rule's window (since the model's cut-off) that it allowed, and
        the shift of its scores over the last day against the last day before its cut-off (from the feature
        log; left out when the log does not hold them, e.g. after a restart). None without a stored live model.
        """
        model, version = self.scoring.model, self.scoring.model_version
        if model is None or version is None:
            return None
        rule = rule or DriftRule()
        at = self._when(now)
        try:
            cutoff = model_versions.get_model(self.db, version).cutoff
        except NotFound:  # loaded from a model directory, not a stored version
            return None
        since = max(cutoff, at - timedelta(days=rule.report_window_days))
        outcomes = SqlIncidentStore(self.db).reported_outcomes(since, at, version) if since < at else []
        codes = np.fromiter((OUTCOME_CODE[Outcome(o)] for o in outcomes), dtype=np.int8, count=len(outcomes))
        window, c, a = int(rule.psi_window_days * 86_400), int(cutoff.timestamp()), int(at.timestamp())
        ref_x = self.feature_log.between(c - window, c)
        recent_x = self.feature_log.between(max(c, a - window), a)
        none = np.zeros(0, dtype=np.float64)
        ref = model.predict(ref_x)[0] if len(ref_x) else none
        recent = model.predict(recent_x)[0] if len(recent_x) else none
        seen = check_drift(rule, codes, np.asarray(ref, dtype=np.float64), np.asarray(recent, dtype=np.float64))
        return {"model_version": version, "cutoff": cutoff.isoformat(), "at": at.isoformat(), **seen.as_dict()}

    def retrain_on_drift(self, *, now: datetime | None = None, promote: bool = False,
                         actor: str = "drift") -> dict[str, Any] | None:
        """``check_drift``, and when the rule fires, a model trained on what reports taught by now: stored as a
        version for analysts to promote, or live at once with ``promote``. The check's figures come back with
        ``trained`` (the new version, or None)."""
        seen = self.check_drift(now=now)
        if seen is None or seen["reason"] is None:
            return seen
        trained = self.train_model(self._when(now), promote=promote, actor=actor)
        return {**seen, "trained": None if trained is None else trained.model_id, "promoted": promote}

    def list_models(self) -> list[model_versions.ModelInfo]:
        return model_versions.list_models(self.db)

    def promote_model(self, version: str, *, actor: str) -> model_versions.ModelDeployment:
        """Put a stored version live (NotFound for an unknown one: nothing changes); this process at once,
        the others at their next poll."""
        dep = model_versions.promote(self.db, version, actor=actor)
        self.model_watcher.notify()
        return dep

    def rollback_model(self, *, actor: str) -> model_versions.ModelDeployment:
        dep = model_versions.rollback(self.db, actor=actor)
        self.model_watcher.notify()
        return dep

    def _kind_of(self, account: str) -> str | None:
        prof = self.profiles.get(account)
        return None if prof is None else prof.kind

    def _opened(self) -> dict[str, datetime]:
        return {a: p.opened_at for a, p in self.profiles.items() if p.opened_at is not None}

    def rank_drops(self, *, now: datetime | None = None) -> DropRanking:
        """Every account ranked as a likely drop, seeded with what the exchange knows (not published)."""
        return rank_accounts(self.db, self.knowledge, now=now, opened_at=self._opened())

    def publish_suspected_drops(self, *, top_k: int = 500, min_score: float = 0.5,
                                now: datetime | None = None) -> list[dict[str, object]]:
        """Rank, publish the top to banks and flag them for scoring."""
        return publish_suspected_drops(self.db, self.knowledge, now=now, top_k=top_k, min_score=min_score,
                                       opened_at=self._opened())
