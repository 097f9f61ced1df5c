"""Fast lanes: the hottest requests answered before the middleware stack and the router.

A lane (``zaslon.adapters.http.scoring_lane`` is the one there is) shares the routes' authentication,
limits, metrics and error mapping; only the dispatch is its own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

__all__ = ["FastLane", "ZaslonAPI", "replay"]

FastLane = Callable[["ZaslonAPI", Scope, Receive, Send], Awaitable[Receive | None]]


class ZaslonAPI(FastAPI):
    """FastAPI with fast lanes: the hottest requests answered before the middleware stack and router.

    A lane registered for ``(method, path)`` sees the raw ASGI request first. It answers the common, valid
    case itself and returns None; anything else (no cached key, a body that does not validate, XML, too
    large) it hands back by returning a ``receive`` that replays whatever body it read, and the full stack
    (the FastAPI route, its validation and error handlers) answers exactly as if the lane did not exist.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fast_lanes: dict[tuple[str, str], FastLane] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.fast_lanes:
            lane = self.fast_lanes.get((scope["method"], scope["path"]))
            if lane is not None:
                handed_back = await lane(self, scope, receive, send)
                if handed_back is None:
                    return
                receive = handed_back
        await super().__call__(scope, receive, send)


def replay(body: bytes, more_body: bool, receive: Receive) -> Receive:
    """A ``receive`` that first yields ``body`` (already read from ``receive``), then reads on from it."""
    sent = False

    async def replaying() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more_body}
        return await receive()

    return replaying
