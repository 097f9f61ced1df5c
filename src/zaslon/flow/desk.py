"""The police desk's people and queue: sign-in with lockout, sessions that expire when idle, the audit trail,
and the incident queue (take next, assign, snooze, close with a reason).

Passwords and session tokens are never stored in clear: passwords as argon2id hashes, sessions by the sha256
of their token. Every action is written to the audit trail with the person as actor. The web pages that use
this live in ``zaslon.adapters.http.desk``; the CLI's ``zaslon users`` manages the people.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from zaslon.adapters.db.stores.desk import SqlDeskStore
from zaslon.core.access import DEFAULT_SCOPES, OrgKind
from zaslon.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from zaslon.flow.audit import AuditLog
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.desk import CloseReason, DeskSession, DeskStore, DeskUser, QueueItem, Role

if TYPE_CHECKING:
    from sqlalchemy import Engine

_HASHER = PasswordHasher()
_LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# A hash to verify against when the login is unknown, so an unknown login costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password")
MIN_PASSWORD = 12
# The one answer to any failed sign-in: it never tells an unknown login from a wrong password or a lock.
BAD_LOGIN = "wrong login or password, or the account is locked"


@dataclass(frozen=True, slots=True)
class DeskPolicy:
    idle: timedelta = timedelta(minutes=30)  # a session unused this long is over
    max_failures: int = 5  # failed sign-ins in a row that lock the account
    lock_for: timedelta = timedelta(minutes=15)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(15)  # 20 characters, about 120 bits


class Desk:
    def __init__(self, engine: Engine, policy: DeskPolicy | None = None) -> None:
        self.store: DeskStore = SqlDeskStore(engine)
        self.policy = policy or DeskPolicy()
        self.chain = AuditLog(engine)
        self._logins: dict[str, str | None] = {}

    # ------------------------------------------------------------------ people (the CLI)
    def create_user(self, *, org_id: str, role: str, login: str, password: str | None = None,
                    now: datetime | None = None, district: str | None = None) -> tuple[DeskUser, str]:
        """A new desk user with ``password`` (or a generated one-time password); returns it and the password.
        A district officer is given their ``district`` (the only list they see); no other role has one."""
        try:
            chosen = Role(role)
        except ValueError:
            raise InvalidInput(f"role must be one of {[r.value for r in Role]}", field="role") from None
        district = " ".join((district or "").split()) or None
        if district is not None and chosen is not Role.DISTRICT_OFFICER:
            raise InvalidInput("only a district officer has a district", field="district")
        if district is not None and len(district) > 64:
            raise InvalidInput("a district name has at most 64 characters", field="district")
        login = login.strip().lower()
        if not _LOGIN_RE.match(login):
            raise InvalidInput("a name is 2-64 characters: lower-case letters, digits, '.', '_' or '-'",
                               field="name")
        password = new_password() if password is None else password
        _check_password(password)
        kind = self.store.org_kind(org_id)
        if kind != OrgKind.POLICE:
            if kind is None:
                raise InvalidInput(f"no organisation {org_id!r}", field="org")
            raise InvalidInput(f"desk users belong to a police organisation ({org_id!r} is a {kind})", field="org")
        user = DeskUser(user_id=f"u-{secrets.token_hex(6)}", login=login, org_id=org_id, role=chosen,
                        password_hash=_HASHER.hash(password), district=district)
        self.store.add_user(user, now=now or datetime.now(UTC))
        self.audit(None, "user.create", login, f"role={chosen.value} org={org_id}"
                   + (f" district={district}" if district else ""))
        return user, password

    def _known(self, login: str) -> DeskUser:
        user = self.store.user_by_login(login.strip().lower())
        if user is None:
            raise InvalidInput(f"no desk user {login!r}", field="name")
        return user

    def disable_user(self, login: str, *, now: datetime | None = None) -> DeskUser:
        user = self._known(login)
        if user.disabled_at is not None:
            raise Conflict(f"desk user {user.login!r} is disabled already", field="name")
        self.store.disable(user.user_id, now or datetime.now(UTC))
        self.audit(None, "user.disable", user.login)
        return user

    def reset_password(self, login: str, password: str | None = None) -> str:
        user = self._known(login)
        password = new_password() if password is None else password
        _check_password(password)
        self.store.set_password(user.user_id, _HASHER.hash(password))
        self.audit(None, "user.reset_password", user.login)
        return password

    # ------------------------------------------------------------------ sign-in and sessions
    def login(self, login: str, password: str, *, language: str = "ru",
              now: datetime | None = None) -> tuple[str, DeskSession]:
        """A new session's token (for the cookie) and the session; ``Unauthenticated(BAD_LOGIN)`` otherwise."""
        now = now or datetime.now(UTC)
        user = self.store.user_by_login(login.strip().lower()[:64])
        if user is None:
            _verify(_DUMMY_HASH, password)
            self.audit(None, "login.failed", login[:64], "unknown login")
            raise Unauthenticated(BAD_LOGIN)
        if user.disabled_at is not None or (user.locked_until is not None and user.locked_until > now):
            _verify(_DUMMY_HASH, password)
            self.audit(user.user_id, "login.refused", user.login, "disabled" if user.disabled_at else "locked",
                       org_id=user.org_id)
            raise Unauthenticated(BAD_LOGIN)
        if not _verify(user.password_hash, password):
            count = self.store.login_failed(user.user_id, max_failures=self.policy.max_failures,
                                            lock_until=now + self.policy.lock_for)
            locked = count >= self.policy.max_failures
            self.audit(user.user_id, "login.locked" if locked else "login.failed", user.login,
                       f"failure {count}", org_id=user.org_id)
            raise Unauthenticated(BAD_LOGIN)
        self.store.login_succeeded(user.user_id)
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        self.store.add_session(token_hash=_token_hash(token), user_id=user.user_id, csrf_token=csrf,
                               language=language, now=now)
        self.audit(user.user_id, "login", user.login, org_id=user.org_id)
        session = self.store.session(_token_hash(token))
        assert session is not None
        return token, session

    def session(self, token: str, *, now: datetime | None = None) -> DeskSession | None:
        """The live session of ``token`` (its idle clock restarted), or None: unknown, idle too long, disabled."""
        now = now or datetime.now(UTC)
        found = self.store.session(_token_hash(token))
        if found is None:
            return None
        if found.user.disabled_at is not None or now - found.last_seen_at > self.policy.idle:
            self.store.drop_session(found.token_hash)
            return None
        if now - found.last_seen_at > timedelta(seconds=30):  # one write per half minute, not per request
            self.store.touch_session(found.token_hash, now)
        return found

    def set_language(self, session: DeskSession, language: str) -> None:
        self.store.touch_session(session.token_hash, datetime.now(UTC), language=language)

    def logout(self, session: DeskSession) -> None:
        self.store.drop_session(session.token_hash)
        self.audit(session.user.user_id, "logout", session.user.login, org_id=session.user.org_id)

    def principal(self, user: DeskUser) -> Principal:
        """What the Exchange sees of a desk user: their organisation, with its kind's scopes."""
        kind = OrgKind(self.store.org_kind(user.org_id) or OrgKind.POLICE)
        return Principal(org_id=user.org_id, kind=kind, scopes=DEFAULT_SCOPES[kind])

    def audit(self, actor: str | None, action: str, target: str | None = None, detail: str | None = None, *,
              org_id: str | None = None) -> None:
        """The desk's own trail (what its pages read back), and the exchange's hash-chained audit log of people
        (``flow.audit``), where the actor is ``desk:<login>`` and the person the desk user."""
        at = datetime.now(UTC)
        self.store.audit(actor=actor, org_id=org_id, action=action, target=target, detail=detail, at=at)
        login = self._login_of(actor)
        self.chain.record(org_id=org_id, actor=f"desk:{login}" if login else "desk", person=login,
                          action=f"desk.{action}", subject=target, detail={"detail": detail} if detail else {}, at=at)

    def _login_of(self, user_id: str | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in self._logins:
            self._logins[user_id] = self.store.login_of(user_id)
        return self._logins[user_id]

    # ------------------------------------------------------------------ queue
    def take_next(self, user: DeskUser, *, now: datetime | None = None) -> str | None:
        now = now or datetime.now(UTC)
        self.store.sync_queue()
        got = self.store.take_next(user.user_id, now=now)
        if got is not None:
            self.audit(user.user_id, "queue.take_next", got, org_id=user.org_id)
        return got

    def item(self, incident_id: str) -> QueueItem:
        item = self.store.queue_item(incident_id)
        if item is None:
            self.store.sync_queue()
            item = self.store.queue_item(incident_id)
        if item is None:
            raise NotFound(f"no incident {incident_id!r}", field="incident_id")
        return item

    def assign(self, user: DeskUser, incident_id: str, *, to_login: str | None, version: int) -> QueueItem:
        """Assign to a person (None: back to the pool). ``to_login`` other than oneself: supervisors only."""
        target: DeskUser | None = None
        if to_login:
            target = self.store.user_by_login(to_login.strip().lower())
            if target is None or target.disabled_at is not None or target.role is Role.DISTRICT_OFFICER:
                raise InvalidInput(f"no desk analyst {to_login!r}", field="assignee")
        item = self.store.update_item(incident_id, version=version, values={
            "assigned_to": None if target is None else target.user_id,
            "assigned_at": None if target is None else datetime.now(UTC)})
        self.audit(user.user_id, "queue.assign", incident_id, f"to={target.login if target else '-'}",
                   org_id=user.org_id)
        return item

    def snooze(self, user: DeskUser, incident_id: str, *, until: datetime, version: int) -> QueueItem:
        now = datetime.now(UTC)
        if until <= now:
            raise InvalidInput("snooze until a time in the future", field="until")
        if until > now + timedelta(days=30):
            raise InvalidInput("snooze for at most 30 days", field="until")
        item = self.store.update_item(incident_id, version=version, values={"snoozed_until": until})
        self.audit(user.user_id, "queue.snooze", incident_id, f"until={until.isoformat()}", org_id=user.org_id)
        return item

    def close(self, user: DeskUser, incident_id: str, *, reason: str, version: int, note: str = "") -> QueueItem:
        try:
            why = CloseReason(reason)
        except ValueError:
            raise InvalidInput(f"reason must be one of {[r.value for r in CloseReason]}", field="reason") from None
        item = self.store.update_item(incident_id, version=version, values={
            "closed_at": datetime.now(UTC), "close_reason": why.value, "closed_by": user.user_id})
        self.audit(user.user_id, "queue.close", incident_id, f"reason={why.value} {note}".strip(),
                   org_id=user.org_id)
        return item

    # ------------------------------------------------------------------ couriers
    def courier_step(self, user: DeskUser, transfer_id: str, step: str) -> None:
        """Record that a patrol was dispatched to a cash-out, or the courier detained (time and person)."""
        if step not in COURIER_STEPS:
            raise InvalidInput(f"step must be one of {list(COURIER_STEPS)}", field="step")
        if not self.store.alert_exists(transfer_id):
            raise NotFound(f"no cash-out alert for transfer {transfer_id!r}", field="transfer_id")
        self.audit(user.user_id, f"courier.{step}", transfer_id, org_id=user.org_id)


COURIER_STEPS = ("patrol", "detained")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"a password has at least {MIN_PASSWORD} characters", field="password")
    if len(password) > 1024:
        raise InvalidInput("a password has at most 1024 characters", field="password")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
