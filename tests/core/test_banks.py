"""Whose customer an account is: by the IBAN's bank code (schwifty), else by the bank the transfer names."""

from __future__ import annotations

from datetime import UTC, datetime

from zaslon.core.banks import held_at, is_party, side_is
from zaslon.core.types import Transfer

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_belarusian_iban_names_its_bank_by_the_bics_first_letters() -> None:
    assert held_at("BY86AKBB10100000002966000000", "AKBBBY2X") is True
    assert held_at("BY86AKBB10100000002966000000", "PJCBBY2X") is False
    assert held_at("BY00AKBB10100000002966000000", "AKBBBY2X") is True  # a bad checksum still names its bank


def test_a_registry_maps_numeric_bank_codes_to_bics() -> None:
    assert held_at("LT617300010000981956", "HABALT22") is True  # Swedbank's 73000
    assert held_at("LT617300010000981956", "REVOLT21") is False
    assert held_at("DE89370400440532013000", "COBADEFFXXX") is True


def test_what_is_no_iban_is_judged_by_the_declared_bank() -> None:
    for account in ("40817810000000522654", "TU321J82QM6DdjBS1a4U2Ri55McxgVVtNt", "CASH"):
        assert held_at(account, "TICSRUMM") is None
    assert side_is("40817810000000522654", "TICSRUMM", "TICSRUMM")
    assert not side_is("40817810000000522654", None, "TICSRUMM")
    # The IBAN wins over a declaration that contradicts it.
    assert not side_is("BY86AKBB10100000002966000000", "PJCBBY2X", "PJCBBY2X")


def test_a_bank_is_party_to_what_its_customer_pays_or_receives() -> None:
    t = Transfer("t", T0, "BY86AKBB10100000002966000000", "BY04PJCB30120000000000000000", 100)
    assert is_party("AKBBBY2X", t) and is_party("PJCBBY2X", t) and not is_party("NBRBBY2X", t)
    cash = Transfer("c", T0, "BY04PJCB30120000000000000000", "CASH", 100)
    assert is_party("PJCBBY2X", cash) and not is_party("AKBBBY2X", cash)
