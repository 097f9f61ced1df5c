"""Subjects, streams and the message codec shared by API nodes and workers.

Streams (file storage, so a restarted nats-server still has them):
- ``ZASLON_SCORE``  ``zaslon.score.<partition>``: transfers to decide; ``Nats-Msg-Id`` = transfer id and body
  hash, so a retried request (to any API node) within the duplicate window is stored once;
- ``ZASLON_EVENTS`` ``zaslon.events.>``: effects published from the PostgreSQL outbox, ``Nats-Msg-Id`` = row id;
- ``ZASLON_DLQ``    ``zaslon.dlq.>``: messages a consumer could not handle, with the reason in a header.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from zaslon.core.types import Transfer
from zaslon.errors import Conflict, InvalidInput, NotFound, Unavailable, ZaslonError
from zaslon.flow.decide import Recorded, replay_of_row

SCORE_STREAM, EVENTS_STREAM, DLQ_STREAM = "ZASLON_SCORE", "ZASLON_EVENTS", "ZASLON_DLQ"
DUPLICATE_WINDOW_S = 120.0
REPLY_HEADER = "Zaslon-Reply"
REASON_HEADER = "Zaslon-Reason"
KNOWLEDGE_SUBJECT = "zaslon.knowledge.changed"  # core NATS: "reload what the exchange learnt"


def score_subject(partition: int) -> str:
    return f"zaslon.score.{partition}"


async def ensure_streams(js: JetStreamContext) -> None:
    """Create the streams (idempotent: an existing stream with the same settings is left as it is)."""
    configs = [
        StreamConfig(name=SCORE_STREAM, subjects=["zaslon.score.*"], storage=StorageType.FILE,
                     retention=RetentionPolicy.LIMITS, duplicate_window=DUPLICATE_WINDOW_S,
                     max_age=7 * 86_400.0, discard=DiscardPolicy.OLD),
        StreamConfig(name=EVENTS_STREAM, subjects=["zaslon.events.>"], storage=StorageType.FILE,
                     duplicate_window=DUPLICATE_WINDOW_S, max_age=7 * 86_400.0),
        StreamConfig(name=DLQ_STREAM, subjects=["zaslon.dlq.>"], storage=StorageType.FILE, max_age=30 * 86_400.0),
    ]
    for cfg in configs:
        try:
            await js.add_stream(cfg)
        except BadRequestError:  # exists with other settings (an older deployment): bring it in line
            await js.update_stream(cfg)


# ---- the messages --------------------------------------------------------------------------------------------
def encode_transfer(org_id: str, t: Transfer, on_call: bool) -> bytes:
    body: dict[str, Any] = {
        "transfer_id": t.transfer_id, "ts": t.ts.isoformat(), "payer": t.payer, "payee": t.payee,
        "amount": t.amount, "currency": t.currency, "channel": t.channel.value, "device": t.device, "ip": t.ip,
        "payer_bank": t.payer_bank, "payee_bank": t.payee_bank, "payee_country": t.payee_country,
        "atm": None if t.atm is None else {"atm_id": t.atm.atm_id, "lat": t.atm.lat, "lon": t.atm.lon,
                                           "city": t.atm.city},
    }
    return json.dumps({"org": org_id, "t": body, "call": bool(on_call)}, separators=(",", ":")).encode()


def decode_transfer(data: bytes) -> tuple[str, Transfer, bool]:
    """The API's own validation (``TransferIn``) applied again: a worker trusts no message's shape."""
    from pydantic import ValidationError

    from zaslon.adapters.http.schemas import TransferIn

    try:
        msg = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"message is not JSON: {exc}", field="message") from None
    if not isinstance(msg, dict) or not isinstance(msg.get("org"), str) or not isinstance(msg.get("t"), dict):
        raise InvalidInput("message needs 'org' (string) and 't' (a transfer object)", field="message")
    call = msg.get("call", False)
    if not isinstance(call, bool):
        raise InvalidInput("'call' must be true or false", field="call")
    try:
        t = TransferIn.model_validate(msg["t"]).to_domain()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "t"
        raise InvalidInput(f"{where}: {first.get('msg')}", field=where) from None
    return msg["org"], t, call


_TIMES = ("transfer_ts", "decided_at", "hold_until")


def encode_answer(decision: dict[str, Any] | None, replayed: bool, error: ZaslonError | None) -> bytes:
    if error is not None:
        return json.dumps({"error": type(error).__name__, **error.to_dict()}).encode()
    assert decision is not None
    row = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in decision.items()}
    return json.dumps({"decision": row, "replayed": replayed}, separators=(",", ":")).encode()


_ERRORS: dict[str, type[ZaslonError]] = {"Conflict": Conflict, "InvalidInput": InvalidInput, "NotFound": NotFound,
                                         "Unavailable": Unavailable}


# An API node's reply subjects: ``<REPLY_PREFIX>.<node>.<token>`` (the token a number per request). A worker answers
# all of one round's requests from one node in one message, to ``<REPLY_PREFIX>.<node>.<ANSWERS_TOKEN>``: a JSON
# object, token -> answer (a message per answer cost the worker, nats-server and the node each a message's work).
REPLY_PREFIX = "_ZR"
ANSWERS_TOKEN = "answers"


def answers_route(reply: str) -> tuple[str, str] | None:
    """(the node's subject for a round's answers, the request's token), or None: not an API node's reply subject
    (a client of its own on the stream, say), to be answered alone."""
    parts = reply.split(".")
    if len(parts) != 3 or parts[0] != REPLY_PREFIX or not parts[2].isdigit():
        return None
    return f"{parts[0]}.{parts[1]}.{ANSWERS_TOKEN}", parts[2]


def encode_answers(answers: dict[str, bytes]) -> bytes:
    """Answers (each from ``encode_answer``, a JSON object) by token, as one JSON object."""
    return b"{" + b",".join(b'"' + token.encode() + b'":' + data for token, data in answers.items()) + b"}"


def decode_answer(data: bytes | dict[str, Any]) -> Recorded:
    """A worker's answer (as sent, or one taken out of a round's answers) as the API returns it; an error is
    raised as the error it was."""
    msg = json.loads(data) if isinstance(data, bytes) else data
    if "error" in msg:
        raise _ERRORS.get(msg["error"], ZaslonError)(msg.get("message", "error"), field=msg.get("field"))
    return recorded_of_row(msg["decision"], replayed=bool(msg["replayed"]))


def recorded_of_row(row: dict[str, Any], *, replayed: bool) -> Recorded:
    row = dict(row)
    for k in _TIMES:
        if isinstance(row.get(k), str):
            row[k] = datetime.fromisoformat(row[k])
    rec = replay_of_row(row)
    return rec if replayed else replace(rec, replayed=False)
