"""The bus's message codec: a round's answers to one API node in one message (no nats-server needed)."""

from __future__ import annotations

import json

import pytest

from zaslon.adapters.bus.streams import answers_route, decode_answer, encode_answer, encode_answers
from zaslon.errors import Conflict

from .helpers import decision


def test_an_api_nodes_reply_subject_routes_to_its_round_subject_and_others_do_not() -> None:
    assert answers_route("_ZR.0123abcd4567.42") == ("_ZR.0123abcd4567.answers", "42")
    assert answers_route("_INBOX.someone.else") is None  # a client of its own: answered alone
    assert answers_route("_ZR.node.answers") is None  # not a request's token
    assert answers_route("_ZR.node.1.2") is None


def test_a_rounds_answers_decode_each_to_what_it_was_alone() -> None:
    alone = {"1": encode_answer(decision("tx-1"), False, None),
             "2": encode_answer(decision("tx-2", "hold"), True, None),
             "3": encode_answer(None, False, Conflict("transfer 'tx-3' was already scored with a different body",
                                                      field="transfer_id"))}
    together = json.loads(encode_answers(alone))
    assert sorted(together) == ["1", "2", "3"]
    for token in ("1", "2"):
        assert decode_answer(together[token]) == decode_answer(alone[token])
    got = decode_answer(together["2"])
    assert got.decision.outcome.value == "hold" and got.replayed
    with pytest.raises(Conflict, match="different body"):
        decode_answer(together["3"])
