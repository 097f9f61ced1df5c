"""Rule-set versions in the database: drafts, immutable published versions, one live, one shadow.

Analysts draft a version (from a file or the API), check it with a backtest, publish it (frozen from then
on) and activate it. Activation writes the ``live`` slot and bumps a generation counter; every running
engine's ``RulesWatcher`` sees the new generation on its next poll (or at once, when the activation
happened in the same process and called ``notify``) and swaps the compiled rule set atomically with
``ScoringEngine.set_ruleset``. No restart.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.rules import SqlRuleStore
from zaslon.core.rules import Rule, RuleSet
from zaslon.errors import Conflict, InvalidInput, NotFound
from zaslon.flow.ports.rules import DRAFT, LIVE, PUBLISHED, SHADOW, Deployment, RuleSetInfo, RuleStore

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

__all__ = [
    "DRAFT", "LIVE", "PUBLISHED", "SHADOW", "Apply", "Deployment", "RuleSetInfo", "RulesWatcher", "activate",
    "compile_rules", "create_draft", "default_rules_document", "default_ruleset", "deployment", "ensure_default",
    "get_version", "list_versions", "load_rules_file", "load_ruleset", "parse_rules_document", "publish",
    "set_shadow", "update_draft",
]

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


# ---- files and the packaged default ---------------------------------------------------------------


def parse_rules_document(doc: object, source: str = "rules") -> tuple[str | None, str, list[dict[str, Any]]]:
    """``{"version"?, "description"?, "rules": [...]}`` or a bare list of rules -> (version, description, rules)."""
    if isinstance(doc, list):
        return None, "", doc
    if not isinstance(doc, dict):
        raise InvalidInput(f"{source}: expected an object with 'rules' or a list of rules", field="rules")
    unknown = sorted(set(doc) - {"version", "description", "rules"})
    if unknown:
        raise InvalidInput(f"{source}: unknown field(s) {', '.join(unknown)}", field="rules")
    rules = doc.get("rules")
    if not isinstance(rules, list):
        raise InvalidInput(f"{source}: 'rules' must be a list", field="rules")
    version = doc.get("version")
    description = doc.get("description", "")
    if version is not None and not isinstance(version, str):
        raise InvalidInput(f"{source}: 'version' must be a string", field="version")
    if not isinstance(description, str):
        raise InvalidInput(f"{source}: 'description' must be a string", field="description")
    return version, description, rules


def load_rules_file(path: Path) -> tuple[str | None, str, list[dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}", field="file") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{path}: not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}", field="file") from None
    return parse_rules_document(doc, str(path))


def default_rules_document() -> dict[str, Any]:
    text = resources.files("zaslon.rules").joinpath("default.json").read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def default_ruleset() -> RuleSet:
    doc = default_rules_document()
    return RuleSet.from_dicts(doc["version"], doc["rules"])


def compile_rules(version: str, rules: Sequence[Mapping[str, object]]) -> RuleSet:
    """Validate and compile; InvalidInput names the rule and the position of the error."""
    return RuleSet.from_dicts(version, rules)


def _canonical(rules: Sequence[Mapping[str, object]]) -> tuple[str, list[dict[str, Any]]]:
    normalised = [Rule.from_dict(r, f"rules[{i}]").to_dict() for i, r in enumerate(rules)]
    text = json.dumps(normalised, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text, normalised


# ---- the store ------------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _store(engine: Engine) -> RuleStore:
    return SqlRuleStore(engine)


def deployment(conn_or_engine: Engine | Connection) -> Deployment:
    """Which versions are live and in shadow, and the generation of that state (cheap: one query)."""
    store: RuleStore = SqlRuleStore(conn_or_engine)
    return store.deployment()


def create_draft(
    engine: Engine,
    rules: Sequence[Mapping[str, object]],
    *,
    actor: str,
    version: str | None = None,
    description: str = "",
    parent_version: str | None = None,
    now: datetime | None = None,
) -> RuleSetInfo:
    """Store a new draft. The rules must compile: a draft is a candidate, not a scratch pad."""
    if isinstance(rules, str | bytes) or not isinstance(rules, Sequence):
        raise InvalidInput("rules must be a list of rule objects", field="rules")
    if version is not None and not _VERSION.match(version):
        raise InvalidInput("version must be 1-64 characters of letters, digits, '_', '.', '-'", field="version")
    if len(description) > 2000:
        raise InvalidInput("description is longer than 2000 characters", field="description")
    text, normalised = _canonical(rules)
    compile_rules(version or "draft", normalised)
    store = _store(engine)
    version = store.add_draft(
        version=version, rules_json=text, content_hash=hashlib.sha256(text.encode()).hexdigest(),
        description=description, parent_version=parent_version, actor=actor, at=_now(now),
        detail=f"{len(normalised)} rules",
    )
    return store.get(version)


def update_draft(
    engine: Engine,
    version: str,
    rules: Sequence[Mapping[str, object]],
    *,
    actor: str,
    description: str | None = None,
    now: datetime | None = None,
) -> RuleSetInfo:
    text, normalised = _canonical(rules)
    compile_rules(version, normalised)
    store = _store(engine)
    store.update_draft(
        version, rules_json=text, content_hash=hashlib.sha256(text.encode()).hexdigest(), description=description,
        actor=actor, at=_now(now), detail=f"{len(normalised)} rules",
    )
    return store.get(version)


def get_version(engine: Engine, version: str) -> RuleSetInfo:
    return _store(engine).get(version)


def list_versions(engine: Engine) -> list[RuleSetInfo]:
    return _store(engine).versions()


def load_ruleset(engine: Engine, version: str) -> RuleSet:
    info = get_version(engine, version)
    return compile_rules(info.version, info.rules)


def publish(engine: Engine, version: str, *, actor: str, now: datetime | None = None) -> RuleSetInfo:
    """Freeze a draft. Publishing twice is a conflict: a published version is history."""
    store = _store(engine)

    def still_compiles(rules: list[dict[str, Any]]) -> None:  # features may have changed since drafting
        compile_rules(version, rules)

    store.publish(version, actor=actor, at=_now(now), check=still_compiles)
    return store.get(version)


def activate(engine: Engine, version: str, *, actor: str, now: datetime | None = None) -> Deployment:
    """Make ``version`` the live one (it must be published). Takes effect at the engines' next poll."""
    return _store(engine).activate(version, actor=actor, at=_now(now))


def set_shadow(engine: Engine, version: str | None, *, actor: str, now: datetime | None = None) -> Deployment:
    """Evaluate ``version`` beside the live one, recorded but never deciding; ``None`` stops shadowing."""
    return _store(engine).set_shadow(version, actor=actor, at=_now(now))


def ensure_default(engine: Engine, *, actor: str = "system", now: datetime | None = None) -> Deployment:
    """On a fresh database, publish and activate the packaged default rule set."""
    dep = deployment(engine)
    if dep.live is not None:
        return dep
    doc = default_rules_document()
    version = str(doc["version"])
    try:
        info = get_version(engine, version)
    except NotFound:
        info = create_draft(
            engine, doc["rules"], actor=actor, version=version, description=doc.get("description", ""), now=now
        )
    if info.status == DRAFT:
        publish(engine, version, actor=actor, now=now)
    try:
        return activate(engine, version, actor=actor, now=now)
    except Conflict:  # another process activated something meanwhile
        return deployment(engine)


# ---- hot swap ---------------------------------------------------------------------------------------

Apply = Callable[[RuleSet, RuleSet | None], None]


class RulesWatcher:
    """Keeps a running engine on the live (and shadow) rule set; polls the generation counter.

    ``apply(live, shadow)`` is called with compiled sets only; a version that fails to compile (a feature
    was removed since it was published) is skipped and the engine keeps its current rules.
    """

    def __init__(self, engine: Engine, apply: Apply, *, interval_s: float = 2.0) -> None:
        self.engine = engine
        self.apply = apply
        self.interval_s = interval_s
        self.state: Deployment | None = None
        self.last_error: str | None = None
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Look now; apply and return True if the deployment changed."""
        with self._lock:
            self._checked = time.monotonic()
            dep = deployment(self.engine)
            if dep == self.state:
                return False
            if dep.live is None and dep.shadow is None:
                self.state = dep
                return False
            try:
                # Until a version is activated the packaged default is live (as the Exchange starts with); a
                # shadow version set on a fresh install is evaluated beside it, not ignored.
                live = load_ruleset(self.engine, dep.live) if dep.live else default_ruleset()
                shadow = load_ruleset(self.engine, dep.shadow) if dep.shadow else None
            except (InvalidInput, NotFound) as exc:
                self.last_error = exc.message
                self.state = dep  # do not retry a broken version on every poll
                return False
            self.apply(live, shadow)
            self.state = dep
            self.last_error = None
            return True

    notify = refresh  # called by an in-process activation: no need to wait for the next poll

    def maybe_refresh(self) -> bool:
        """Refresh if the poll interval has passed (cheap to call on every request)."""
        if time.monotonic() - self._checked < self.interval_s:
            return False
        return self.refresh()

    def start(self) -> None:
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                try:
                    self.refresh()
                except Exception as exc:  # a database hiccup must not kill the watcher
                    self.last_error = f"{type(exc).__name__}: {exc}"

        self._thread = threading.Thread(target=loop, name="zaslon-rules-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
