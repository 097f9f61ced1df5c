"""Our side of a partner's TAXII server, through the OASIS ``taxii2-client``: pull its collection, push to its
inbox. Every call has a timeout and is retried with exponential backoff; the caller runs partners apart, so
one that is down delays nothing else."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from taxii2client.common import _HTTPConnection
from taxii2client.v21 import Collection

T = TypeVar("T")


class _Bearer(requests.auth.AuthBase):
    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, r: Any) -> Any:
        r.headers["Authorization"] = f"Bearer {self.token}"
        return r


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout_s
        return super().send(request, *args, **kwargs)


def _auth(token: str | None) -> requests.auth.AuthBase | None:
    """The partner's credential: a bearer token (another Zaslon's API key), or ``basic:<user>:<password>`` for a
    server that speaks HTTP Basic (medallion, most TAXII servers)."""
    if not token:
        return None
    if token.startswith("basic:"):
        user, _, password = token[6:].partition(":")
        return requests.auth.HTTPBasicAuth(user, password)
    return _Bearer(token)


def connection(token: str | None, *, timeout_s: float = 10.0) -> _HTTPConnection:
    conn = _HTTPConnection(auth=_auth(token), version="2.1")
    adapter = _TimeoutAdapter(timeout_s)
    conn.session.mount("http://", adapter)
    conn.session.mount("https://", adapter)
    return conn


def with_retries(call: Callable[[], T], *, attempts: int = 3, backoff_s: float = 0.5) -> T:
    """``call`` until it succeeds, waiting backoff, 2x backoff, ... between tries; the last error is raised.
    A 4xx answer (our request is wrong, retrying will not fix it) is raised at once."""
    for attempt in range(attempts):
        try:
            return call()
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if (400 <= status < 500 and status != 429) or attempt == attempts - 1:
                raise
        except (requests.ConnectionError, requests.Timeout):
            if attempt == attempts - 1:
                raise
        time.sleep(backoff_s * (2 ** attempt))
    raise AssertionError("unreachable")


def collection_url(api_root: str, collection_id: str) -> str:
    return f"{api_root.rstrip('/')}/collections/{collection_id}/"


_collections = threading.local()


def _collection(api_root: str, collection_id: str, token: str | None, timeout_s: float) -> Collection:
    """The partner's collection, one per thread and partner: its connection is kept alive, and its information
    (fetched before the first add) is fetched once, not before every push."""
    cache: dict[tuple[str, str, str | None, float], Collection] = _collections.__dict__.setdefault("by_key", {})
    key = (api_root, collection_id, token, timeout_s)
    if key not in cache:
        cache[key] = Collection(collection_url(api_root, collection_id), conn=connection(token, timeout_s=timeout_s))
    return cache[key]


def pull(api_root: str, collection_id: str, token: str | None, *, added_after: str | None = None,
         per_page: int = 1000, timeout_s: float = 10.0, attempts: int = 3,
         backoff_s: float = 0.5) -> Iterator[list[dict[str, Any]]]:
    """Pages of objects of the partner's collection added after ``added_after``, each page fetched with
    retries (a generator that failed cannot be resumed, so paging is done here and not by ``as_pages``)."""
    coll = Collection(collection_url(api_root, collection_id), conn=connection(token, timeout_s=timeout_s))
    token_next: str | None = None
    while True:
        # Every version, not only the last: import keeps them all, and a newer one supersedes.
        kwargs: dict[str, Any] = {"limit": per_page, "version": "all"}
        if added_after:
            kwargs["added_after"] = added_after
        if token_next:
            kwargs["next"] = token_next
        def page(kw: dict[str, Any] = kwargs) -> dict[str, Any]:
            got: dict[str, Any] = coll.get_objects(**kw)
            return got

        envelope = with_retries(page, attempts=attempts, backoff_s=backoff_s)
        yield list(envelope.get("objects", []))
        token_next = envelope.get("next") if envelope.get("more") else None
        if not token_next:
            return


def push(api_root: str, collection_id: str, token: str | None, objects: list[dict[str, Any]], *,
         timeout_s: float = 10.0, attempts: int = 3, backoff_s: float = 0.5) -> dict[str, Any]:
    """Add ``objects`` to the partner's collection; its status resource."""
    coll = _collection(api_root, collection_id, token, timeout_s)
    status = with_retries(lambda: coll.add_objects({"objects": objects}, wait_for_completion=False),
                          attempts=attempts, backoff_s=backoff_s)
    raw: dict[str, Any] = status._raw
    return raw
