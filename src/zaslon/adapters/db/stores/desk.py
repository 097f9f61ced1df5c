"""SQL desk store (``zaslon.flow.ports.desk``) on the desk tables, reading incidents, orders and appeals.

"Take next" claims a queue row with one conditional write: on PostgreSQL the candidate is selected
``FOR UPDATE SKIP LOCKED`` (a row another analyst is claiming is skipped, not waited for); on SQLite, where a
write locks the whole database, one ``UPDATE ... WHERE incident_id = (oldest open) AND assigned_to IS NULL``
picks and claims in the same statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError

from zaslon.adapters.db.stores.orders import _order
from zaslon.adapters.db.tables_cases import case_incidents
from zaslon.adapters.db.tables_core import orgs, transfers
from zaslon.adapters.db.tables_desk import desk_audit, desk_queue, desk_sessions, desk_users
from zaslon.adapters.db.tables_incidents import appeals, incident_transfers, incidents
from zaslon.adapters.db.tables_orders import cashout_alerts, freeze_orders, order_events
from zaslon.core.types import FreezeOrder
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow.ports.desk import DeskSession, DeskUser, QueueItem, QueueView, Role

# Elderly victims first: the scheme's typical targets, and the least able to wait.
ELDERLY_AGE = 65


def _user(row: RowMapping) -> DeskUser:
    return DeskUser(user_id=row["user_id"], login=row["login"], org_id=row["org_id"], role=Role(row["role"]),
                    password_hash=row["password_hash"], failed_logins=int(row["failed_logins"]),
                    locked_until=row["locked_until"], disabled_at=row["disabled_at"],
                    district=row.get("district"))


_ITEM_COLUMNS = (
    desk_queue.c.incident_id, desk_queue.c.priority, desk_queue.c.reported_at, desk_queue.c.assigned_to,
    desk_queue.c.assigned_at, desk_queue.c.snoozed_until, desk_queue.c.closed_at, desk_queue.c.close_reason,
    desk_queue.c.version, incidents.c.received_at, incidents.c.scheme, incidents.c.victim_name, incidents.c.victim_age,
    incidents.c.victim_lives_alone, desk_users.c.login.label("assigned_login"),
)


class SqlDeskStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    # ------------------------------------------------------------------ people
    def add_user(self, user: DeskUser, *, now: datetime) -> None:
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(orgs.c.org_id).where(orgs.c.org_id == user.org_id)).first() is None:
                    raise InvalidInput(f"no organisation {user.org_id!r}", field="org")
                conn.execute(insert(desk_users).values(
                    user_id=user.user_id, login=user.login, org_id=user.org_id, role=user.role.value,
                    password_hash=user.password_hash, created_at=now, district=user.district))
        except IntegrityError:
            raise Conflict(f"a desk user {user.login!r} exists already", field="name") from None

    def user_by_login(self, login: str) -> DeskUser | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(desk_users).where(desk_users.c.login == login)).mappings().first()
        return None if row is None else _user(row)

    def login_of(self, user_id: str) -> str | None:
        with self.engine.connect() as conn:
            login = conn.execute(select(desk_users.c.login).where(desk_users.c.user_id == user_id)).scalar_one_or_none()
        return None if login is None else str(login)

    def set_password(self, user_id: str, password_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(desk_users).where(desk_users.c.user_id == user_id).values(
                password_hash=password_hash, failed_logins=0, locked_until=None))
            conn.execute(delete(desk_sessions).where(desk_sessions.c.user_id == user_id))

    def disable(self, user_id: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(desk_users).where(desk_users.c.user_id == user_id).values(disabled_at=at))
            conn.execute(delete(desk_sessions).where(desk_sessions.c.user_id == user_id))

    def login_failed(self, user_id: str, *, max_failures: int, lock_until: datetime) -> int:
        with self.engine.begin() as conn:
            conn.execute(update(desk_users).where(desk_users.c.user_id == user_id)
                         .values(failed_logins=desk_users.c.failed_logins + 1))
            count = int(conn.execute(select(desk_users.c.failed_logins)
                                     .where(desk_users.c.user_id == user_id)).scalar_one())
            if count >= max_failures:
                conn.execute(update(desk_users).where(desk_users.c.user_id == user_id)
                             .values(failed_logins=0, locked_until=lock_until))
        return count

    def login_succeeded(self, user_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(desk_users).where(desk_users.c.user_id == user_id)
                         .values(failed_logins=0, locked_until=None))

    def org_kind(self, org_id: str) -> str | None:
        with self.engine.connect() as conn:
            kind = conn.execute(select(orgs.c.kind).where(orgs.c.org_id == org_id)).scalar_one_or_none()
        return None if kind is None else str(kind)

    # ------------------------------------------------------------------ sessions
    def add_session(self, *, token_hash: str, user_id: str, csrf_token: str, language: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(desk_sessions).values(token_hash=token_hash, user_id=user_id, csrf_token=csrf_token,
                                                      language=language, created_at=now, last_seen_at=now))

    def session(self, token_hash: str) -> DeskSession | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(desk_users, desk_sessions.c.token_hash, desk_sessions.c.csrf_token,
                       desk_sessions.c.language, desk_sessions.c.last_seen_at)
                .join(desk_users, desk_users.c.user_id == desk_sessions.c.user_id)
                .where(desk_sessions.c.token_hash == token_hash)
            ).mappings().first()
        if row is None:
            return None
        return DeskSession(token_hash=row["token_hash"], user=_user(row), csrf_token=row["csrf_token"],
                           language=row["language"], last_seen_at=row["last_seen_at"])

    def touch_session(self, token_hash: str, at: datetime, *, language: str | None = None) -> None:
        values: dict[str, Any] = {"last_seen_at": at}
        if language is not None:
            values["language"] = language
        with self.engine.begin() as conn:
            conn.execute(update(desk_sessions).where(desk_sessions.c.token_hash == token_hash).values(**values))

    def drop_session(self, token_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(desk_sessions).where(desk_sessions.c.token_hash == token_hash))

    # ------------------------------------------------------------------ audit
    def audit(self, *, actor: str | None, org_id: str | None, action: str, target: str | None,
              detail: str | None, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(desk_audit).values(actor=actor, org_id=org_id, action=action, target=target,
                                                   detail=detail, at=at))

    def audit_log(self, *, limit: int = 200, actor: str | None = None,
                  target: str | None = None) -> list[dict[str, Any]]:
        q = (select(desk_audit, desk_users.c.login)
             .outerjoin(desk_users, desk_users.c.user_id == desk_audit.c.actor)
             .order_by(desk_audit.c.event_id.desc()).limit(limit))
        if actor is not None:
            q = q.where(desk_audit.c.actor == actor)
        if target is not None:
            q = q.where(desk_audit.c.target == target)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    # ------------------------------------------------------------------ queue
    def sync_queue(self) -> int:
        elderly = and_(incidents.c.victim_age.is_not(None), incidents.c.victim_age >= ELDERLY_AGE)
        priority = case((elderly, 1), else_=0) + case((incidents.c.victim_lives_alone.is_(True), 1), else_=0)
        missing = (select(incidents.c.incident_id, priority, incidents.c.reported_at, literal(1))
                   .where(~select(desk_queue.c.incident_id)
                          .where(desk_queue.c.incident_id == incidents.c.incident_id).exists()))
        dialect_insert = pg_insert if self.postgres else sqlite_insert
        stmt = (dialect_insert(desk_queue)
                .from_select(["incident_id", "priority", "reported_at", "version"], missing)
                .on_conflict_do_nothing(index_elements=["incident_id"]))
        with self.engine.connect() as conn:  # nearly always nothing new: two counts, no write
            n_incidents = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
            if n_incidents == conn.execute(select(func.count()).select_from(desk_queue)).scalar_one():
                return 0
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def _view_filter(self, view: QueueView, user_id: str, now: datetime) -> Any:
        awake = or_(desk_queue.c.snoozed_until.is_(None), desk_queue.c.snoozed_until <= now)
        open_ = desk_queue.c.closed_at.is_(None)
        if view is QueueView.MINE:
            return and_(open_, desk_queue.c.assigned_to == user_id)
        if view is QueueView.UNASSIGNED:
            return and_(open_, awake, desk_queue.c.assigned_to.is_(None))
        if view is QueueView.SNOOZED:
            return and_(open_, ~awake)
        if view is QueueView.CLOSED:
            return ~open_
        return and_(open_, awake)

    def queue(self, view: QueueView, *, user_id: str, now: datetime, scheme: str | None = None,
              limit: int = 50, offset: int = 0) -> tuple[list[QueueItem], int]:
        where = self._view_filter(view, user_id, now)
        if scheme:
            where = and_(where, incidents.c.scheme == scheme)
        order = ((desk_queue.c.closed_at.desc(),) if view is QueueView.CLOSED
                 else (desk_queue.c.priority.desc(), desk_queue.c.reported_at, desk_queue.c.incident_id))
        q = (select(*_ITEM_COLUMNS)
             .join(incidents, incidents.c.incident_id == desk_queue.c.incident_id)
             .outerjoin(desk_users, desk_users.c.user_id == desk_queue.c.assigned_to)
             .where(where).order_by(*order).limit(limit).offset(offset))
        counted = (desk_queue.join(incidents, incidents.c.incident_id == desk_queue.c.incident_id) if scheme
                   else desk_queue)  # the join only when the filter needs it
        count = select(func.count()).select_from(counted).where(where)
        with self.engine.connect() as conn:
            rows = list(conn.execute(q).mappings())
            total = int(conn.execute(count).scalar_one())
            stages = _stage_times(conn, [r["incident_id"] for r in rows])
        return [_item(r, stages.get(r["incident_id"])) for r in rows], total

    def queue_item(self, incident_id: str) -> QueueItem | None:
        q = (select(*_ITEM_COLUMNS)
             .join(incidents, incidents.c.incident_id == desk_queue.c.incident_id)
             .outerjoin(desk_users, desk_users.c.user_id == desk_queue.c.assigned_to)
             .where(desk_queue.c.incident_id == incident_id))
        with self.engine.connect() as conn:
            row = conn.execute(q).mappings().first()
            if row is None:
                return None
            return _item(row, _stage_times(conn, [incident_id]).get(incident_id))

    def take_next(self, user_id: str, *, now: datetime) -> str | None:
        free = and_(desk_queue.c.closed_at.is_(None), desk_queue.c.assigned_to.is_(None),
                    or_(desk_queue.c.snoozed_until.is_(None), desk_queue.c.snoozed_until <= now))
        oldest = (select(desk_queue.c.incident_id).where(free)
                  .order_by(desk_queue.c.priority.desc(), desk_queue.c.reported_at, desk_queue.c.incident_id)
                  .limit(1))
        claim = dict(assigned_to=user_id, assigned_at=now, snoozed_until=None, version=desk_queue.c.version + 1)
        with self.engine.begin() as conn:
            if self.postgres:
                picked = conn.execute(oldest.with_for_update(skip_locked=True)).scalar_one_or_none()
                if picked is None:
                    return None
                conn.execute(update(desk_queue).where(desk_queue.c.incident_id == picked).values(**claim))
                return str(picked)
            # SQLite: choosing and claiming are one statement under the database's write lock.
            got = conn.execute(
                update(desk_queue)
                .where(desk_queue.c.incident_id == oldest.scalar_subquery(), desk_queue.c.assigned_to.is_(None))
                .values(**claim).returning(desk_queue.c.incident_id)
            ).scalar_one_or_none()
            return None if got is None else str(got)

    def update_item(self, incident_id: str, *, version: int, values: dict[str, Any]) -> QueueItem:
        with self.engine.begin() as conn:
            done = conn.execute(update(desk_queue)
                                .where(desk_queue.c.incident_id == incident_id, desk_queue.c.version == version)
                                .values(**values, version=desk_queue.c.version + 1)).rowcount
            if not done:
                exists = conn.execute(select(desk_queue.c.version)
                                      .where(desk_queue.c.incident_id == incident_id)).scalar_one_or_none()
                if exists is None:
                    raise NotFound(f"no incident {incident_id!r} in the queue", field="incident_id")
                raise Conflict(f"incident {incident_id} was changed by someone else (version {exists}, "
                               f"your page showed {version}): reload and try again", field="version")
        item = self.queue_item(incident_id)
        assert item is not None
        return item

    # ------------------------------------------------------------------ reads
    def order_events(self, order_ids: Sequence[str]) -> list[dict[str, Any]]:
        if not order_ids:
            return []
        q = (select(order_events).where(order_events.c.order_id.in_(list(order_ids)))
             .order_by(order_events.c.at, order_events.c.event_id))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def appeals(self, *, pending_only: bool = True, limit: int = 100) -> list[dict[str, Any]]:
        q = select(appeals).order_by(appeals.c.filed_at).limit(limit)
        if pending_only:
            q = q.where(appeals.c.status == "pending")
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def incident_transfers(self, incident_id: str) -> list[dict[str, Any]]:
        q = (select(transfers)
             .join(incident_transfers, and_(incident_transfers.c.transfer_id == transfers.c.transfer_id,
                                            incident_transfers.c.transfer_org == transfers.c.org_id))
             .where(incident_transfers.c.incident_id == incident_id).order_by(transfers.c.ts))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def orders_board(self, *, now: datetime, status: str | None = None, bank_id: str | None = None,
                     limit: int = 50, offset: int = 0) -> tuple[list[FreezeOrder], int, list[tuple[str, str, int]]]:
        open_ = freeze_orders.c.status.in_(["pending_confirmation", "issued", "acknowledged"])
        overdue = and_(open_, freeze_orders.c.deadline <= now)
        where = []
        if status:
            where.append(freeze_orders.c.status == status)
        if bank_id:
            where.append(freeze_orders.c.bank_id == bank_id)
        q = (select(freeze_orders).where(*where)
             .order_by(case((overdue, 0), (open_, 1), else_=2), freeze_orders.c.deadline, freeze_orders.c.order_id)
             .limit(limit).offset(offset))
        with self.engine.connect() as conn:
            page = [_order(r) for r in conn.execute(q).mappings()]
            total = int(conn.execute(select(func.count()).select_from(freeze_orders).where(*where)).scalar_one())
            counts = [(str(b), str(st), int(n)) for b, st, n in conn.execute(
                select(freeze_orders.c.bank_id, freeze_orders.c.status, func.count())
                .group_by(freeze_orders.c.bank_id, freeze_orders.c.status).order_by(freeze_orders.c.bank_id))]
        return page, total, counts

    def vulnerable_victims(self, *, limit: int = 200) -> list[dict[str, Any]]:
        q = (select(incidents.c.incident_id, incidents.c.reported_at, incidents.c.scheme, incidents.c.victim_name,
                    incidents.c.victim_age, incidents.c.victim_phone)
             .where(incidents.c.victim_age >= ELDERLY_AGE, incidents.c.victim_lives_alone.is_(True))
             .order_by(incidents.c.reported_at.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def courier_alerts(self, *, limit: int = 200) -> list[dict[str, Any]]:
        """Cash-out alerts, newest first, with the ATM's place (from the transfer), the freeze order on the
        account (the latest) and its incident's case; and what the desk did about each (patrol, detention)."""
        q = select(cashout_alerts).order_by(cashout_alerts.c.ts.desc()).limit(limit)  # the ATM's place is on it
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
            accounts = sorted({r["account_id"] for r in rows})
            orders: dict[str, tuple[str, str, str | None]] = {}
            if accounts:
                oq = (select(freeze_orders.c.account_id, freeze_orders.c.order_id, freeze_orders.c.incident_id,
                             case_incidents.c.case_id)
                      .outerjoin(case_incidents, case_incidents.c.incident_id == freeze_orders.c.incident_id)
                      .where(freeze_orders.c.account_id.in_(accounts)).order_by(freeze_orders.c.issued_at))
                for acc, oid, inc, case_id in conn.execute(oq):
                    orders[acc] = (oid, inc, case_id)
            done: dict[str, list[dict[str, Any]]] = {}
            ids = [r["transfer_id"] for r in rows]
            if ids:
                aq = (select(desk_audit.c.target, desk_audit.c.action, desk_audit.c.at, desk_users.c.login)
                      .outerjoin(desk_users, desk_users.c.user_id == desk_audit.c.actor)
                      .where(desk_audit.c.target.in_(ids), desk_audit.c.action.like("courier.%"))
                      .order_by(desk_audit.c.event_id))
                for target, action, at, login in conn.execute(aq):
                    done.setdefault(target, []).append({"action": action, "at": at, "login": login})
        for r in rows:
            order_id, incident_id, case_id = orders.get(r["account_id"], (None, None, None))
            r["order_id"] = r.get("order_id") or order_id  # the alert's own order, else the latest on the account
            r["case_id"] = r.get("case_id") or case_id
            r["incident_id"] = incident_id
            r["actions"] = done.get(r["transfer_id"], [])
        return rows

    def alert_exists(self, transfer_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(cashout_alerts.c.transfer_id)
                                .where(cashout_alerts.c.transfer_id == transfer_id)).first() is not None

    def pulse(self) -> tuple[int, int, int]:
        with self.engine.connect() as conn:
            n_inc = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
            last_event = conn.execute(select(func.max(order_events.c.event_id))).scalar_one()
            n_alerts = conn.execute(select(func.count()).select_from(cashout_alerts)).scalar_one()
        return int(n_inc), int(last_event or 0), int(n_alerts)


def _stage_times(conn: Any, incident_ids: Sequence[str]) -> dict[str, tuple[int, Any, Any, Any]]:
    """Per incident: (orders, first issued, first acknowledged, first frozen)."""
    if not incident_ids:
        return {}
    issued = (select(freeze_orders.c.incident_id, func.count(), func.min(freeze_orders.c.issued_at))
              .where(freeze_orders.c.incident_id.in_(list(incident_ids))).group_by(freeze_orders.c.incident_id))
    out: dict[str, tuple[int, Any, Any, Any]] = {}
    for inc, n, first in conn.execute(issued):
        out[inc] = (int(n), first, None, None)
    if not out:
        return out
    reached = (select(freeze_orders.c.incident_id, order_events.c.status, func.min(order_events.c.at))
               .join(order_events, order_events.c.order_id == freeze_orders.c.order_id)
               .where(freeze_orders.c.incident_id.in_(list(out)),
                      order_events.c.status.in_(["acknowledged", "frozen"]))
               .group_by(freeze_orders.c.incident_id, order_events.c.status))
    for inc, status, first in conn.execute(reached):
        n, issued_at, ack, frozen = out[inc]
        out[inc] = (n, issued_at, first if status == "acknowledged" else ack, first if status == "frozen" else frozen)
    return out


def _item(row: RowMapping, stages: tuple[int, Any, Any, Any] | None) -> QueueItem:
    n, first_order, first_ack, first_frozen = stages or (0, None, None, None)
    return QueueItem(
        incident_id=row["incident_id"], priority=int(row["priority"]), reported_at=row["reported_at"],
        scheme=row["scheme"], victim_name=row["victim_name"], victim_age=row["victim_age"],
        lives_alone=row["victim_lives_alone"], assigned_to=row["assigned_to"], assigned_login=row["assigned_login"],
        snoozed_until=row["snoozed_until"], closed_at=row["closed_at"], close_reason=row["close_reason"],
        version=int(row["version"]), received_at=row["received_at"], orders=n, first_order_at=first_order,
        first_ack_at=first_ack, first_frozen_at=first_frozen)
