"""The TAXII 2.1 server: discovery, the API root, collections, objects, manifest, versions and status.

Every answer has the media type ``application/taxii+json;version=2.1``; errors are TAXII error messages
(``title``, ``description``, ``http_status``) with the status the project's error tree maps to. A partner
authenticates with the API key of its organisation (``Authorization: Bearer <key>``, or HTTP Basic with the
key as the password, which most TAXII clients speak), needs the ``exchange:read`` / ``exchange:write``
scope, and is held to ``taxii_requests_per_minute`` (429 over it). The routes are thin: everything they do
is the ``Sharing`` service's (``zaslon.flow.sharing``), reached through the app's Exchange.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

import stix2
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from zaslon.adapters.http.auth import bearer_key, permits
from zaslon.adapters.http.errors import status_for
from zaslon.adapters.http.state import state_of
from zaslon.errors import Forbidden, InvalidInput, NotFound, RateLimited, Unauthenticated, ZaslonError
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.sharing import ObjectRow
from zaslon.flow.sharing import Sharing, _taxii_ts

MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
API_ROOT = "zaslon"
PREFIX = "/taxii2"


class TaxiiResponse(Response):
    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode()


def _error(exc: ZaslonError) -> TaxiiResponse:
    code = _STATUS_EXTRA.get(type(exc)) or status_for(exc)
    headers = {"WWW-Authenticate": 'Bearer, Basic realm="taxii"'} if code == 401 else {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    body: dict[str, Any] = {"title": type(exc).__name__, "description": exc.message, "http_status": str(code)}
    if exc.field:
        body["details"] = {"field": exc.field}
    return TaxiiResponse(body, status_code=code, headers=headers)


class _NotAcceptable(ZaslonError):
    pass


class _UnsupportedMedia(ZaslonError):
    pass


# 406 and 415 are TAXII's own answers to a media type it does not speak.
_STATUS_EXTRA: dict[type[ZaslonError], int] = {_NotAcceptable: 406, _UnsupportedMedia: 415}


class TaxiiRoute(APIRoute):
    """Answers the error tree as TAXII error messages (the rest of the API keeps its own error body)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except ZaslonError as exc:
                return _error(exc)

        return route


class Quota:
    """Requests per partner per minute (a fixed window): enough to keep one partner from crowding out the rest."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def take(self, org_id: str) -> None:
        window = int(time.monotonic() // 60)
        with self._lock:
            start, used = self._windows.get(org_id, (window, 0))
            if start != window:
                start, used = window, 0
            if used >= self.per_minute:
                raise RateLimited(f"{org_id!r} is over its quota of {self.per_minute} requests a minute",
                                  retry_after=60.0 * (window + 1) - time.monotonic())
            self._windows[org_id] = (start, used + 1)


router = APIRouter(prefix=PREFIX, route_class=TaxiiRoute, tags=["taxii"])


def _sharing(request: Request) -> Sharing:
    sharing: Sharing = state_of(request).exchange.sharing
    return sharing


def _quota(request: Request) -> Quota:
    quota: Quota = request.app.state.taxii_quota
    return quota


def _key_of(request: Request) -> str:
    header = request.headers.get("authorization", "")
    key = bearer_key(header)
    if key is None and header[:6].lower() == "basic ":
        try:
            _, _, key = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            key = None
    if not key:
        raise Unauthenticated("missing credentials: send 'Authorization: Bearer <key>' (or Basic with the key)")
    return key


async def _partner(request: Request, scope: str) -> Principal:
    keys = state_of(request).keys
    key = _key_of(request)
    principal = keys.cached(key) or await run_in_threadpool(keys.verify, key)
    if principal is None:
        raise Unauthenticated("unknown or revoked API key")
    if not permits(principal, scope):
        raise Forbidden(f"this key lacks the scope {scope!r}")
    _quota(request).take(principal.org_id)
    return principal


def _accepts(request: Request) -> None:
    accept = request.headers.get("accept", "")
    if not accept:
        return
    for part in accept.split(","):
        kind = part.split(";")[0].strip().lower()
        if kind in ("*/*", "application/*", "application/json"):
            return
        if kind == "application/taxii+json" and ("version=" not in part or "version=2.1" in part.replace(" ", "")):
            return
    raise _NotAcceptable(f"this server answers {MEDIA_TYPE}")


def _check_root(api_root: str) -> None:
    if api_root != API_ROOT:
        raise NotFound(f"no API root {api_root!r}", field="api_root")


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


@router.get("/")
async def discovery(request: Request) -> Response:
    """The discovery document: open to anyone (it holds nothing private), like the TAXII examples."""
    _accepts(request)
    settings = state_of(request).settings
    root = f"{_base(request)}/{API_ROOT}/"
    return TaxiiResponse({
        "title": f"{settings.exchange_name} TAXII server",
        "description": "Cross-border exchange of fraud indicators, incidents, cases and sightings (STIX 2.1)",
        "default": root, "api_roots": [root],
    })


@router.get("/{api_root}/")
async def api_root_info(request: Request, api_root: str) -> Response:
    _accepts(request)
    _check_root(api_root)
    await _partner(request, "exchange:read")
    settings = state_of(request).settings
    return TaxiiResponse({
        "title": f"{settings.exchange_name} exchange", "description": "Fraud indicators shared between exchanges",
        "versions": [MEDIA_TYPE], "max_content_length": settings.max_body_bytes,
    })


def _collection_body(c: Any) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "description": c.description, "can_read": c.can_read,
            "can_write": c.can_write, "media_types": [STIX_MEDIA_TYPE]}


@router.get("/{api_root}/collections/")
async def collections(request: Request, api_root: str) -> Response:
    _accepts(request)
    _check_root(api_root)
    principal = await _partner(request, "exchange:read")
    found = await run_in_threadpool(_sharing(request).collections, principal)
    return TaxiiResponse({"collections": [_collection_body(c) for c in found]})


@router.get("/{api_root}/collections/{collection_id}/")
async def collection(request: Request, api_root: str, collection_id: str) -> Response:
    _accepts(request)
    _check_root(api_root)
    principal = await _partner(request, "exchange:read")
    found = await run_in_threadpool(_sharing(request).collection, principal, collection_id)
    return TaxiiResponse(_collection_body(found))


def _added_after(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    try:
        parsed: datetime = stix2.utils.parse_into_datetime(raw)
    except Exception:
        raise InvalidInput(f"added_after is not a timestamp: {raw!r}", field="added_after") from None
    return parsed


def _after_row(raw: str | None) -> int:
    if raw is None:
        return 0
    if not raw.isdigit():
        raise InvalidInput(f"next is not a token this server gave: {raw!r}", field="next")
    return int(raw)


def _split(raw: str | None) -> list[str]:
    return [p.strip() for p in raw.split(",") if p.strip()] if raw else []


async def _page(request: Request, api_root: str, collection_id: str, *, object_id: str | None, limit: int | None,
                added_after: str | None, next_: str | None, match_id: str | None, match_type: str | None,
                match_version: str | None, match_spec: str | None) -> tuple[list[ObjectRow], bool, int]:
    _accepts(request)
    _check_root(api_root)
    principal = await _partner(request, "exchange:read")
    settings = state_of(request).settings
    if limit is not None and limit < 1:
        raise InvalidInput("limit is at least 1", field="limit")
    size = min(limit or settings.taxii_page_size, settings.taxii_page_size)
    specs = _split(match_spec)
    if specs and "2.1" not in specs:
        return [], False, 0
    ids = [object_id] if object_id else _split(match_id)
    version = match_version or "last"
    return await run_in_threadpool(
        lambda: _sharing(request).read_page(principal, collection_id, after_row=_after_row(next_),
                                            added_after=_added_after(added_after), ids=ids, types=_split(match_type),
                                            version=version, limit=size))


def _date_headers(rows: list[ObjectRow]) -> dict[str, str]:
    if not rows:
        return {}
    dates = [r.date_added for r in rows if r.date_added is not None]
    return {"X-TAXII-Date-Added-First": _taxii_ts(min(dates)), "X-TAXII-Date-Added-Last": _taxii_ts(max(dates))}


def _envelope(rows: list[ObjectRow], more: bool, last_row: int) -> dict[str, Any]:
    body: dict[str, Any] = {"more": more}
    if more:
        body["next"] = str(last_row)
    if rows:
        body["objects"] = [json.loads(r.body) for r in rows]
    return body


@router.get("/{api_root}/collections/{collection_id}/objects/")
async def get_objects(
    request: Request, api_root: str, collection_id: str, limit: int | None = None,
    added_after: str | None = None, next: str | None = None,
    match_id: str | None = Query(None, alias="match[id]"), match_type: str | None = Query(None, alias="match[type]"),
    match_version: str | None = Query(None, alias="match[version]"),
    match_spec: str | None = Query(None, alias="match[spec_version]"),
) -> Response:
    rows, more, last = await _page(request, api_root, collection_id, object_id=None, limit=limit,
                                   added_after=added_after, next_=next, match_id=match_id, match_type=match_type,
                                   match_version=match_version, match_spec=match_spec)
    return TaxiiResponse(_envelope(rows, more, last), headers=_date_headers(rows))


@router.post("/{api_root}/collections/{collection_id}/objects/", status_code=202)
async def add_objects(request: Request, api_root: str, collection_id: str) -> Response:
    _accepts(request)
    _check_root(api_root)
    principal = await _partner(request, "exchange:write")
    ctype = request.headers.get("content-type", "").replace(" ", "").lower()
    if not ctype.startswith("application/taxii+json") or ("version=" in ctype and "version=2.1" not in ctype):
        raise _UnsupportedMedia(f"send the envelope as {MEDIA_TYPE}")
    try:
        envelope = json.loads(await request.body())
    except ValueError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}", field="body") from None
    status = await run_in_threadpool(_sharing(request).import_envelope, principal, collection_id, envelope)
    return TaxiiResponse(status, status_code=202)


@router.get("/{api_root}/collections/{collection_id}/objects/{object_id}/")
async def get_object(
    request: Request, api_root: str, collection_id: str, object_id: str, limit: int | None = None,
    added_after: str | None = None, next: str | None = None,
    match_version: str | None = Query(None, alias="match[version]"),
    match_spec: str | None = Query(None, alias="match[spec_version]"),
) -> Response:
    rows, more, last = await _page(request, api_root, collection_id, object_id=object_id, limit=limit,
                                   added_after=added_after, next_=next, match_id=None, match_type=None,
                                   match_version=match_version, match_spec=match_spec)
    if not rows and not more:
        raise NotFound(f"no object {object_id!r} in collection {collection_id!r}", field="object_id")
    return TaxiiResponse(_envelope(rows, more, last), headers=_date_headers(rows))


@router.get("/{api_root}/collections/{collection_id}/objects/{object_id}/versions/")
async def get_versions(
    request: Request, api_root: str, collection_id: str, object_id: str, limit: int | None = None,
    added_after: str | None = None, next: str | None = None,
    match_spec: str | None = Query(None, alias="match[spec_version]"),
) -> Response:
    rows, more, last = await _page(request, api_root, collection_id, object_id=object_id, limit=limit,
                                   added_after=added_after, next_=next, match_id=None, match_type=None,
                                   match_version="all", match_spec=match_spec)
    if not rows and not more:
        raise NotFound(f"no object {object_id!r} in collection {collection_id!r}", field="object_id")
    body: dict[str, Any] = {"more": more, "versions": [r.version for r in rows]}
    if more:
        body["next"] = str(last)
    return TaxiiResponse(body, headers=_date_headers(rows))


@router.get("/{api_root}/collections/{collection_id}/manifest/")
async def get_manifest(
    request: Request, api_root: str, collection_id: str, limit: int | None = None,
    added_after: str | None = None, next: str | None = None,
    match_id: str | None = Query(None, alias="match[id]"), match_type: str | None = Query(None, alias="match[type]"),
    match_version: str | None = Query(None, alias="match[version]"),
    match_spec: str | None = Query(None, alias="match[spec_version]"),
) -> Response:
    rows, more, last = await _page(request, api_root, collection_id, object_id=None, limit=limit,
                                   added_after=added_after, next_=next, match_id=match_id, match_type=match_type,
                                   match_version=match_version, match_spec=match_spec)
    body: dict[str, Any] = {"more": more}
    if more:
        body["next"] = str(last)
    if rows:
        body["objects"] = [{"id": r.stix_id, "date_added": _taxii_ts(r.date_added) if r.date_added else None,
                            "version": r.version, "media_type": STIX_MEDIA_TYPE} for r in rows]
    return TaxiiResponse(body, headers=_date_headers(rows))


@router.get("/{api_root}/status/{status_id}/")
async def get_status(request: Request, api_root: str, status_id: str) -> Response:
    _accepts(request)
    _check_root(api_root)
    principal = await _partner(request, "exchange:write")
    status = await run_in_threadpool(_sharing(request).status, principal, status_id)
    return TaxiiResponse(status)


def install(app: FastAPI, per_minute: int) -> None:
    """Mount the TAXII routes on ``app`` with the partners' quota."""
    app.state.taxii_quota = Quota(per_minute)
    app.include_router(router)
