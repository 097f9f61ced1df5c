"""Rules at the desk: versions side by side with a diff, a draft edited with validation errors shown inline
(naming the feature), a backtest in money (saved, friction) before activation, shadow and activate.

A draft's edit names the content hash it was made on: if someone changed the draft since, the edit is refused
(409) and nothing is written. Activation asks for a backtest of exactly the rules being activated (recorded in
the audit trail when it ran)."""

from __future__ import annotations

import difflib
import json
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.desk.render import act, error_page, render
from zaslon.adapters.http.desk.session import ANALYSTS, desk_of, require
from zaslon.adapters.http.state import state_of
from zaslon.errors import Conflict, InvalidInput, ZaslonError
from zaslon.flow import rules as rulebook
from zaslon.flow.backtest import backtest, history_from_db
from zaslon.flow.ports.desk import DeskSession

router = APIRouter(prefix="/desk/rules", include_in_schema=False)
MAX_RULES_TEXT = 200_000


def _pretty(rules: list[dict[str, Any]]) -> str:
    return json.dumps(rules, indent=2, ensure_ascii=False, sort_keys=True)  # one key order: diffs show edits only


def _diff(a: str, b: str, left: str, right: str) -> list[tuple[str, str]]:
    out = []
    for line in difflib.unified_diff(a.splitlines(), b.splitlines(), left, right, lineterm="", n=2):
        out.append(({"+": "add", "-": "del", "@": "hunk"}.get(line[:1], ""), line))
    return out


def _backtests(request: Request, version: str) -> list[dict[str, Any]]:
    rows = desk_of(request).store.audit_log(limit=20, target=version)
    out = []
    for r in rows:
        if r["action"] == "rules.backtest" and r["detail"]:
            out.append({**json.loads(r["detail"]), "at": r["at"], "login": r["login"]})
    return out


@router.get("")
async def rules_index(request: Request, a: str = "", b: str = "",
                      session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def ctx() -> dict[str, Any]:
        db = state_of(request).db
        versions = rulebook.list_versions(db)
        dep = rulebook.deployment(db)
        diff = None
        if a and b:
            va, vb = rulebook.get_version(db, a[:64]), rulebook.get_version(db, b[:64])
            diff = _diff(_pretty(va.rules), _pretty(vb.rules), a, b)
        return {"versions": versions, "dep": dep, "a": a, "b": b, "diff": diff}

    try:
        data = await run_in_threadpool(ctx)
    except ZaslonError as exc:
        return error_page(request, 404, str(exc), "/desk/rules")
    return render(request, "rules.html", session, **data)


@router.post("/draft")
async def new_draft(request: Request, base: str = Form("", max_length=64),
                    session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def go() -> str:
        db = state_of(request).db
        if base:
            parent = rulebook.get_version(db, base)
            rules, parent_version = parent.rules, parent.version
        else:  # nothing stored yet: start from the packaged default rules
            rules, parent_version = rulebook.default_rules_document()["rules"], None
        info = rulebook.create_draft(db, rules, actor=session.user.org_id, parent_version=parent_version,
                                     description=f"draft by {session.user.login} from {parent_version or 'default'}")
        desk_of(request).audit(session.user.user_id, "rules.draft", info.version,
                               f"from {parent_version or 'default'}", org_id=session.user.org_id)
        return info.version

    try:
        version = await run_in_threadpool(go)
    except ZaslonError as exc:
        return error_page(request, 422, str(exc), "/desk/rules")
    return RedirectResponse(f"/desk/rules/{version}", status_code=303)


def _version_ctx(request: Request, version: str) -> dict[str, Any]:
    db = state_of(request).db
    info = rulebook.get_version(db, version)
    if info.parent_version:
        base_name, base_rules = info.parent_version, rulebook.get_version(db, info.parent_version).rules
    else:  # drafted from the packaged default rules
        base_name, base_rules = "default", rulebook.default_rules_document()["rules"]
    diff = _diff(_pretty(base_rules), _pretty(info.rules), base_name, info.version)
    tests = _backtests(request, version)
    tested = any(t["content_hash"] == info.content_hash for t in tests)
    return {"info": info, "text": _pretty(info.rules), "diff": diff, "base_name": base_name, "backtests": tests,
            "tested": tested,
            "dep": rulebook.deployment(db), "error": None, "error_field": None}


@router.get("/{version}")
async def rules_version(request: Request, version: str, session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    try:
        data = await run_in_threadpool(_version_ctx, request, version[:64])
    except ZaslonError as exc:
        return error_page(request, 404, str(exc), "/desk/rules")
    return render(request, "rule_version.html", session, **data)


@router.post("/{version}/edit")
async def edit(request: Request, version: str, rules: str = Form("", max_length=MAX_RULES_TEXT),
               content_hash: str = Form("", max_length=64),
               session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def go() -> None:
        db = state_of(request).db
        current = rulebook.get_version(db, version)
        if current.content_hash != content_hash:
            raise Conflict(f"draft {version} was changed by someone else since you opened it: reload it and make "
                           "your edit again", field="content_hash")
        try:
            parsed = json.loads(rules)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}", field="rules") from None
        rulebook.update_draft(db, version, parsed, actor=session.user.org_id)
        desk_of(request).audit(session.user.user_id, "rules.edit", version, org_id=session.user.org_id)

    try:
        await run_in_threadpool(go)
    except ZaslonError as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        data = await run_in_threadpool(_version_ctx, request, version)
        data.update(text=rules, error=str(exc), error_field=exc.field)
        return render(request, "rule_version.html", session, status_code=status, **data)
    return RedirectResponse(f"/desk/rules/{version}", status_code=303)


@router.post("/{version}/backtest")
async def run_backtest(request: Request, version: str, session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def go() -> None:
        db = state_of(request).db
        info = rulebook.get_version(db, version)
        result = backtest(rulebook.compile_rules(info.version, info.rules), history_from_db(db))
        summary = {"content_hash": info.content_hash, "transfers": result["transfers"], "held": result["held"],
                   "money_saved": result["money_saved"], "fraud_money": result["fraud_money"],
                   "legit_held": result["friction"]["legit_held"],
                   "legit_held_share": result["friction"]["legit_held_share"],
                   "legit_amount_delayed": result["friction"]["legit_amount_delayed"],
                   "recall_held": result["recall_held"], "precision_held": result["precision_held"]}
        desk_of(request).audit(session.user.user_id, "rules.backtest", version, json.dumps(summary),
                               org_id=session.user.org_id)

    return await act(request, f"/desk/rules/{version}", go)


@router.post("/{version}/{step}")
async def deploy(request: Request, version: str, step: str,
                 session: DeskSession = Depends(require(ANALYSTS))) -> Response:
    def go() -> None:
        if step not in ("activate", "shadow"):
            raise InvalidInput("step must be activate or shadow", field="step")
        db = state_of(request).db
        info = rulebook.get_version(db, version)
        if not any(t["content_hash"] == info.content_hash for t in _backtests(request, version)):
            raise Conflict(f"backtest {version} before it goes {'live' if step == 'activate' else 'in shadow'}",
                           field="version")
        if info.status == "draft":
            rulebook.publish(db, version, actor=session.user.org_id)
        if step == "activate":
            rulebook.activate(db, version, actor=session.user.org_id)
        else:
            rulebook.set_shadow(db, version, actor=session.user.org_id)
        state_of(request).exchange.rules_watcher.notify()  # this process switches now
        desk_of(request).audit(session.user.user_id, f"rules.{step}", version, org_id=session.user.org_id)

    return await act(request, f"/desk/rules/{version}", go)
