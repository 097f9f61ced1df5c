"""Real-time scoring (JSON and ISO 20022) and the analysts' rule-set endpoints (the model: ``routes_models``).

``POST /v1/transfers/score`` takes one transfer as JSON, or a pacs.008.001.08 message as
``application/xml``; XML gets a pacs.002.001.10 status report back when the client accepts XML, else
a JSON list. Unsafe or malformed XML is a 400; a well-formed message with a wrong field is a 422.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, cast

from fastapi import APIRouter, Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.auth import Principal, require_scope
from zaslon.adapters.http.schemas import Strict, TransferIn
from zaslon.adapters.http.state import AppState, state_of
from zaslon.core.protection import AWAITING
from zaslon.core.types import Transfer
from zaslon.errors import InvalidInput
from zaslon.flow.decide import Recorded
from zaslon.flow.ports.payments import PaymentIds

router = APIRouter(tags=["scoring"])


class ScoreIn(TransferIn):
    on_flagged_call: bool = Field(
        default=False, description="the payer is on a call with a number flagged for fraud (from a telecom)"
    )


class ReasonOut(BaseModel):
    code: str
    detail: str
    weight: float


class ShadowOut(BaseModel):
    version: str
    outcome: str | None
    hits: list[str]


class DecisionOut(BaseModel):
    transfer_id: str
    outcome: str
    score: float
    hold_until: datetime | None
    reasons: list[ReasonOut]
    ruleset_version: str | None
    model_version: str | None
    shadow: ShadowOut | None = None
    replayed: bool = False


class RuleIn(Strict):
    rule_id: str
    expression: str
    action: str
    reason: str
    enabled: bool = True


class DraftIn(Strict):
    version: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=2000)
    parent_version: str | None = Field(default=None, max_length=64)
    rules: list[RuleIn] = Field(max_length=1000)


class DraftUpdateIn(Strict):
    description: str | None = Field(default=None, max_length=2000)
    rules: list[RuleIn] = Field(max_length=1000)


class ValidateIn(Strict):
    rules: list[RuleIn] = Field(max_length=1000)


# ---- real-time scoring ----------------------------------------------------------------------------------

SCORE_PATH = "/v1/transfers/score"  # also answered by the fast lane (zaslon.adapters.http.scoring_lane)
SCORE_SCOPE = "transfers:score"


def _decision_out(r: Any) -> dict[str, Any]:
    d = r.decision
    shadow = None
    if r.shadow_version:
        shadow = {
            "version": r.shadow_version,
            "outcome": r.shadow_outcome.value if r.shadow_outcome else None,
            "hits": list(r.shadow_hits),
        }
    return {
        "transfer_id": d.transfer_id,
        "outcome": d.outcome.value,
        "score": round(float(d.score), 6),
        "hold_until": d.hold_until.isoformat() if d.hold_until else None,
        "reasons": [{"code": x.code, "detail": x.detail, "weight": round(float(x.weight), 6)} for x in d.reasons],
        "ruleset_version": d.ruleset_version,
        "model_version": d.model_version,
        "shadow": shadow,
        "replayed": r.replayed,
    }


def _score(request: Request, principal: Principal, items: list[ScoreIn], source: str,
           message_id: str | None = None, transfers: list[Any] | None = None) -> list[Any]:
    """Decide and store through the Exchange (cash-out attempts recorded); answered once committed."""
    exchange = state_of(request).exchange
    batch = transfers if transfers is not None else [i.to_domain() for i in items]
    calls = [i.on_flagged_call for i in items] if transfers is None else None
    bus = state_of(request).bus
    if bus is not None:  # the scale-out shape: the partitions' workers decide (this runs in a worker thread)
        from anyio.from_thread import run as run_on_loop

        exchange.check_submitter(principal.org_id, batch)  # a bank submits only its own customers' transfers

        recorded = run_on_loop(bus.score_many, principal.org_id, batch, calls)
        fresh = [(t, r) for t, r in zip(batch, recorded, strict=True) if not r.replayed]
        exchange.request_confirmations(principal.org_id, [t for t, _ in fresh], [r for _, r in fresh])
        return cast(list[Any], recorded)
    return cast(list[Any], exchange.score(principal.org_id, batch, on_flagged_call=calls, source=source,
                                          message_id=message_id))


def _validate_json(raw: bytes, many: bool) -> list[ScoreIn]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"body is not JSON: {exc}", field="body") from None
    try:
        if many:
            if not isinstance(body, list):
                raise InvalidInput("the batch must be a JSON array of transfers", field="body")
            return [ScoreIn.model_validate(x) for x in body] if body else []
        if not isinstance(body, dict):
            raise InvalidInput("expected one transfer as a JSON object (use /v1/transfers/score/batch)", field="body")
        return [ScoreIn.model_validate(body)]
    except ValidationError as exc:
        raise RequestValidationError(_located(exc, many, body), body=body) from None


def _located(exc: ValidationError, many: bool, body: Any) -> list[Any]:
    errors: list[dict[str, Any]] = [dict(e) for e in exc.errors()]
    if many and isinstance(body, list):
        # model_validate per item loses the index: find which item failed, for a precise field name.
        for i, item in enumerate(body):
            try:
                ScoreIn.model_validate(item)
            except ValidationError as inner:
                return [{**dict(e), "loc": ("body", i, *tuple(e["loc"]))} for e in inner.errors()]
    return [{**e, "loc": ("body", *tuple(e["loc"]))} for e in errors]


_XML_TYPES = ("application/xml", "text/xml")
_SCORE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/ScoreIn"}},
            "application/xml": {"schema": {"type": "string", "description": "ISO 20022 pacs.008.001.08"}},
        },
    }
}


def _is_xml(request: Request) -> bool:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return ctype in _XML_TYPES


@router.post(SCORE_PATH, response_model=DecisionOut | list[DecisionOut], openapi_extra=_SCORE_BODY)
async def score_transfer(request: Request, principal: Principal = Depends(require_scope(SCORE_SCOPE))) -> Any:
    """Decide one transfer now: allow / review / hold (with hold_until) / block, with reasons."""
    return await _score_one(request, principal)


async def _score_one(request: Request, principal: Principal) -> Response:
    raw = await request.body()
    if _is_xml(request):
        return await run_in_threadpool(_score_xml, request, principal, raw)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/json", ""):
        raise InvalidInput(f"unsupported content type {ctype!r}: send application/json or application/xml",
                           field="content-type")
    try:  # the common case in one step (pydantic parses the JSON itself); errors are re-derived precisely below
        items = [ScoreIn.model_validate_json(raw)]
    except ValidationError:
        items = _validate_json(raw, many=False)
    state = state_of(request)
    transfer = items[0].to_domain()
    recorded = await decide(state, principal.org_id, transfer, items[0].on_flagged_call)
    outcome = recorded.decision.outcome.value
    if not recorded.replayed and (alerts := state.exchange.cashout_attempts([transfer], [outcome])):
        await run_in_threadpool(state.exchange.record_cashout_attempts, [transfer], alerts)
    if not recorded.replayed and awaits_trusted_person(recorded):  # ask the trusted person through the bank
        await run_in_threadpool(state.exchange.request_confirmations, principal.org_id, [transfer], [recorded])
    if not recorded.replayed and outcome in ("hold", "block"):  # an elderly person living alone: their officer
        await run_in_threadpool(state.exchange.district.on_transfers, [transfer], [outcome])
    # Already the response model's JSON: skip FastAPI's re-validation of the answer (a measurable share).
    return Response(decision_json(recorded), media_type="application/json")


def decide(state: AppState, org_id: str, transfer: Transfer, on_flagged_call: bool) -> Awaitable[Recorded]:
    """One real-time transfer, decided on the event loop (a thread hop costs more than one transfer's work)
    together with the other requests queued at the same moment (``zaslon.flow.score_batcher``); the
    awaitable completes once the decision is committed. The route and the fast lane both decide through it."""
    state.exchange.check_submitter(org_id, [transfer])  # a bank submits only its own customers' transfers
    state.exchange.district.on_transfers([transfer], ["asked"])  # in memory: a transfer ends a courier watch
    if state.bus is not None:  # the scale-out shape: the worker owning the payer's partition decides
        return cast(Awaitable[Any], state.bus.score(org_id, transfer, on_flagged_call))
    [flag] = state.exchange.on_call([transfer], [on_flagged_call])
    return state.score_batcher.score(org_id, transfer, flag)


def awaits_trusted_person(recorded: Recorded) -> bool:
    """Held for the customer's trusted person (``zaslon.core.protection``): its request is still to be sent."""
    reasons = recorded.decision.reasons
    return bool(reasons) and reasons[0].code == AWAITING


# One encoder for every answer: json.dumps with non-default options builds a new encoder on each call.
COMPACT = json.JSONEncoder(separators=(",", ":"))


def decision_json(recorded: Any) -> bytes:
    """``DecisionOut`` as JSON bytes, as FastAPI would serialise it (without re-validating it)."""
    return COMPACT.encode(_json_ready(_decision_out(recorded))).encode()


def _json_ready(out: dict[str, Any]) -> dict[str, Any]:
    """``DecisionOut`` as FastAPI would serialise it (a UTC time ends in ``Z``)."""
    hold = out["hold_until"]
    if hold is not None and hold.endswith("+00:00"):
        out["hold_until"] = hold[:-6] + "Z"
    return out


def _score_xml(request: Request, principal: Principal, raw: bytes) -> Response:
    from zaslon.adapters.iso20022 import parse_pacs008, render_pacs002

    settings = state_of(request).settings
    try:
        msg = parse_pacs008(raw, max_bytes=settings.max_body_bytes, max_transactions=settings.max_batch)
    except InvalidInput as exc:
        if exc.field == "xml":  # not a safe, well-formed XML document at all
            return JSONResponse(exc.to_dict(), status_code=400)
        raise
    recorded = _score(request, principal, [], "pacs008", msg.msg_id, list(msg.transfers))
    now = datetime.now(UTC)
    # Kept once scored (a refused message keeps nothing): recalls and returns quote the bank's own ids.
    state_of(request).exchange.orders.record_payment_ids(principal.org_id, [
        PaymentIds(r.transfer_id, r.end_to_end_id, r.tx_id, r.uetr, r.instr_id, msg.msg_id[:35], r.settlement_date)
        for r in msg.refs], now=now)
    decisions = [r.decision for r in recorded]
    if msg.notes:  # what the exchange assumed to read the message belongs with the decision's reasons
        decisions = [replace(d, reasons=d.reasons + msg.notes.get(d.transfer_id, ())) for d in decisions]
    accept = request.headers.get("accept", "")
    if "xml" in accept:
        body = render_pacs002(
            decisions, msg.refs, msg_id=f"ZSLN-{msg.msg_id}"[:35],
            original_msg_id=msg.msg_id, created_at=now,
        )
        return Response(body, media_type="application/xml")
    return JSONResponse([_decision_out(replace(r, decision=d)) for r, d in zip(recorded, decisions, strict=True)])


@router.post("/v1/transfers/score/batch", response_model=list[DecisionOut], openapi_extra={
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "array", "items": {"$ref": "#/components/schemas/ScoreIn"}, "maxItems": 10000}}}}})
async def score_batch(request: Request, principal: Principal = Depends(require_scope(SCORE_SCOPE))) -> Any:
    """Decide many transfers (processed in event-time order); any invalid item: 422 and nothing stored."""
    raw = await request.body()
    items = _validate_json(raw, many=True)
    settings = state_of(request).settings
    if not items:
        raise InvalidInput("the batch is empty", field="body")
    if len(items) > settings.max_batch:
        raise InvalidInput(f"a batch holds at most {settings.max_batch} transfers", field="body")
    recorded = await run_in_threadpool(_score, request, principal, items, "batch")
    return [_decision_out(r) for r in recorded]


# ---- rule sets (analysts, police scope) -----------------------------------------------------------------


def _rules(items: list[RuleIn]) -> list[dict[str, Any]]:
    return [i.model_dump() for i in items]


def _notify(request: Request) -> None:
    state_of(request).exchange.rules_watcher.notify()  # this process switches now; others at their next poll


@router.get("/v1/rules", tags=["rules"])
def list_rule_sets(request: Request, _p: Principal = Depends(require_scope("rules:read"))) -> dict[str, Any]:
    from zaslon.flow.rules import deployment, list_versions

    db = state_of(request).db
    dep = deployment(db)
    return {
        "live": dep.live, "shadow": dep.shadow, "generation": dep.generation,
        "running": state_of(request).exchange.scoring.ruleset_version,
        "versions": [i.to_dict(with_rules=False) for i in list_versions(db)],
    }


@router.get("/v1/rules/{version}", tags=["rules"])
def show_rule_set(version: str, request: Request, _p: Principal = Depends(require_scope("rules:read"))) -> Any:
    from zaslon.flow.rules import get_version

    return get_version(state_of(request).db, version).to_dict()


@router.post("/v1/rules/validate", tags=["rules"])
def validate_rules(body: ValidateIn, _p: Principal = Depends(require_scope("rules:read"))) -> dict[str, Any]:
    from zaslon.flow.rules import compile_rules

    rs = compile_rules("check", _rules(body.rules))
    return {"ok": True, "rules": len(rs.rules), "features": sorted(rs.features)}


@router.post("/v1/rules", tags=["rules"], status_code=201)
def create_rule_draft(body: DraftIn, request: Request,
                      principal: Principal = Depends(require_scope("rules:write"))) -> Any:
    from zaslon.flow.rules import create_draft

    return create_draft(
        state_of(request).db, _rules(body.rules), actor=principal.org_id, version=body.version,
        description=body.description, parent_version=body.parent_version,
    ).to_dict()


@router.put("/v1/rules/{version}", tags=["rules"])
def update_rule_draft(version: str, body: DraftUpdateIn, request: Request,
                      principal: Principal = Depends(require_scope("rules:write"))) -> Any:
    from zaslon.flow.rules import update_draft

    return update_draft(
        state_of(request).db, version, _rules(body.rules), actor=principal.org_id, description=body.description
    ).to_dict()


@router.post("/v1/rules/{version}/publish", tags=["rules"])
def publish_rule_set(version: str, request: Request,
                     principal: Principal = Depends(require_scope("rules:write"))) -> Any:
    from zaslon.flow.rules import publish

    return publish(state_of(request).db, version, actor=principal.org_id).to_dict(with_rules=False)


@router.post("/v1/rules/{version}/activate", tags=["rules"])
def activate_rule_set(version: str, request: Request,
                      principal: Principal = Depends(require_scope("rules:write"))) -> dict[str, Any]:
    from zaslon.flow.rules import activate

    dep = activate(state_of(request).db, version, actor=principal.org_id)
    _notify(request)
    return {"live": dep.live, "shadow": dep.shadow, "generation": dep.generation,
            "running": state_of(request).exchange.scoring.ruleset_version}


@router.post("/v1/rules/{version}/shadow", tags=["rules"])
def shadow_rule_set(version: str, request: Request,
                    principal: Principal = Depends(require_scope("rules:write"))) -> dict[str, Any]:
    from zaslon.flow.rules import set_shadow

    dep = set_shadow(state_of(request).db, version, actor=principal.org_id)
    _notify(request)
    return {"live": dep.live, "shadow": dep.shadow, "generation": dep.generation}


@router.delete("/v1/rules-shadow", tags=["rules"])
def stop_shadow(request: Request, principal: Principal = Depends(require_scope("rules:write"))) -> dict[str, Any]:
    from zaslon.flow.rules import set_shadow

    dep = set_shadow(state_of(request).db, None, actor=principal.org_id)
    _notify(request)
    return {"live": dep.live, "shadow": dep.shadow, "generation": dep.generation}
