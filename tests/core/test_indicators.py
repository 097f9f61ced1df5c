"""Indicator extraction from Russian, Belarusian and English reports; cards never come back in the clear."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum import luhn

from zaslon.core.indicators import (
    card_hash,
    extract_indicators,
    normalise_domain,
    normalise_email,
    normalise_phone,
    normalise_url,
    redact_cards,
    refang,
    ru_account_valid,
)
from zaslon.core.types import Indicator, IndicatorKind
from zaslon.core.wallets import Chain, is_valid_btc, is_valid_eth, is_valid_tron, normalise_wallet
from zaslon.errors import InvalidInput

PEPPER = b"test-pepper"
K = IndicatorKind


def ex(text: str) -> tuple[Indicator, ...]:
    return extract_indicators(text, card_pepper=PEPPER)


def values(text: str, kind: IndicatorKind) -> list[str]:
    return [i.value for i in ex(text) if i.kind is kind]


# --- realistic reports ---------------------------------------------------------------------------------
def test_russian_vishing_report() -> None:
    text = (
        "Мне позвонили с номера 8 029 123-45-67, представились службой безопасности банка. Сказали, что мой "
        "счёт атакуют, и велели перевести 1500 BYN на «защищённый» счёт BY13 NBRB 3600 9000 0000 2Z00 AB00, "
        "потом с карты 4276 3800 1234 5679 ещё 300 руб. Прислали ссылку hxxps://belarusbank-secure[.]com/login "
        "и почту support@Bank-Help.ru."
    )
    got = ex(text)
    assert [i.kind for i in got] == [K.PHONE, K.ACCOUNT, K.CARD, K.URL, K.DOMAIN, K.EMAIL]
    assert got[0].value == "+375291234567"
    assert got[1].value == "BY13NBRB3600900000002Z00AB00"
    assert got[2].display == "4276 **** **** 5679"
    assert got[2].value == card_hash("4276380012345679", PEPPER)
    assert got[3].value == "https://belarusbank-secure.com/login"
    assert got[4].value == "belarusbank-secure.com"
    assert got[5].value == "support@bank-help.ru"


def test_russian_numbers_accounts_apple_id_and_imei() -> None:
    text = (
        "Звонок с +7 (916) 123-45-67, затем 8 (916) 765-43-21. Перевод на карту 2200 7001 2345 6781, "
        "счёт 40817810899910004312, БИК 044525225. Apple ID: Ivan.Petrov@iCloud.com заблокирован, "
        "IMEI 490154203237518. Казахский номер 8 701 123 45 67."
    )
    got = ex(text)
    assert values(text, K.PHONE) == ["+79161234567", "+79167654321", "+77011234567"]
    assert values(text, K.ACCOUNT) == ["044525225/40817810899910004312"]
    assert [i.display for i in got if i.kind is K.CARD] == ["2200 **** **** 6781"]
    assert values(text, K.APPLE_ID) == ["ivan.petrov@icloud.com"]
    assert values(text, K.EMAIL) == []
    assert values(text, K.DEVICE) == ["imei:490154203237518"]  # an IMEI passes Luhn but is no card


def test_english_investment_report_with_wallets() -> None:
    text = (
        "I was told to send USDT (TRC-20) to TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t, BTC to "
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq and 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2, ETH to "
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed. Site: www.Crypto-Profit.io/invest?ref=12#top, "
        "login came from IP 203.0.113.45, device id: A1B2C3D4E5."
    )
    assert values(text, K.WALLET) == [
        "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    ]
    assert values(text, K.URL) == ["http://crypto-profit.io/invest?ref=12"]
    assert values(text, K.DOMAIN) == ["crypto-profit.io"]
    assert values(text, K.IP) == ["203.0.113.45"]
    assert values(text, K.DEVICE) == ["A1B2C3D4E5"]
    assert values(text, K.CARD) == [] and values(text, K.PHONE) == []


def test_belarusian_report_with_idn_domain_and_belcard() -> None:
    text = (
        "Мне тэлефанавалі з нумара +375 (44) 765-43-21, казалі, што з банка. Пераклала грошы на картку "
        "9112 3800 0000 0002. Сайт прыкладна.бел, пошта дапамога@пошта.бел, Эпл айди: babulia@icloud.com"
    )
    got = ex(text)
    assert values(text, K.PHONE) == ["+375447654321"]
    assert [i.display for i in got if i.kind is K.CARD] == ["9112 **** **** 0002"]
    assert values(text, K.DOMAIN) == ["xn--80aalwfoji3h.xn--90ais"]
    assert values(text, K.EMAIL) == ["дапамога@xn--80a1acn3a.xn--90ais"]
    assert values(text, K.APPLE_ID) == ["babulia@icloud.com"]


def test_dates_amounts_versions_and_private_ips_are_not_indicators() -> None:
    text = (
        "12.03.2024 в 14:30 сняли 150 000 000 руб. (версия приложения 10.2.3), роутер 192.168.1.1, "
        "т.е. всё пропало. Номер договора 1234567890123. Done.Then nothing."
    )
    assert ex(text) == ()


def test_international_numbers_in_unknown_ranges_are_kept() -> None:
    assert values("Позвонили с номера +375252876585, потом с 025 287 65 85", K.PHONE) == ["+375252876585"]


def test_deduplicates_across_spellings() -> None:
    text = "+375 29 123-45-67, 8 029 1234567 и 80291234567; карта 4276-3800-1234-5679 и 4276380012345679"
    got = ex(text)
    assert [i.kind for i in got] == [K.PHONE, K.CARD]


def test_invalid_checksums_are_dropped() -> None:
    text = (
        "IBAN BY13 NBRB 3600 9000 0000 2Z00 AB01, card 4276 3800 1234 5670, "
        "BTC 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3, ETH 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD, "
        "TRON TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u, счёт 40817810099910004312 БИК 044525225"
    )
    assert ex(text) == ()


def test_iban_followed_by_words_and_in_other_countries() -> None:
    text = "IBAN DE89 3704 0044 0532 0130 00 to KZ86125KZT5004100100 and GB82WEST12345698765432."
    assert values(text, K.ACCOUNT) == ["DE89370400440532013000", "KZ86125KZT5004100100", "GB82WEST12345698765432"]
    assert values(text, K.CARD) == []


def test_platform_hosts_keep_the_url_but_not_the_domain() -> None:
    text = "Писали в https://t.me/scam_helper и на vk.com, а также сайт secure-pay.by"
    assert values(text, K.URL) == ["https://t.me/scam_helper"]
    assert values(text, K.DOMAIN) == ["secure-pay.by"]


def test_card_inside_url_is_masked_in_the_url() -> None:
    got = ex("Оплата: https://pay.example.com/?pan=4276380012345679&x=1")
    url = next(i.value for i in got if i.kind is K.URL)
    assert "4276380012345679" not in url and url.endswith("pan=4276********5679&x=1")
    assert any(i.kind is K.CARD for i in got)


def test_pepper_is_required_and_keys_the_hash() -> None:
    with pytest.raises(InvalidInput):
        extract_indicators("карта 4276380012345679", card_pepper=b"")
    a = extract_indicators("карта 4276380012345679", card_pepper=b"one")[0].value
    b = extract_indicators("карта 4276380012345679", card_pepper=b"two")[0].value
    assert a != b and re.fullmatch(r"[0-9a-f]{64}", a)


# --- normalisers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("8 029 123 45 67", "+375291234567"),
        ("+375 (29) 123-45-67", "+375291234567"),
        ("80291234567", "+375291234567"),
        ("375291234567", "+375291234567"),
        ("8 (916) 123-45-67", "+79161234567"),
        ("+375 25 287-65-85", "+375252876585"),  # international form: a possible number is enough
        ("8 025 287 65 85", None),  # national form of a range the number plan does not know
        ("+7 701 123 4567", "+77011234567"),
        ("12", None),
    ],
)
def test_normalise_phone(raw: str, e164: str | None) -> None:
    assert normalise_phone(raw) == e164


def test_url_domain_email_normalisers() -> None:
    assert normalise_url("HTTPS://WWW.Example.COM:443/a?b=1#frag") == "https://example.com/a?b=1"
    assert normalise_url("http://пример.рф:8080/") == "http://xn--e1afmkfd.xn--p1ai:8080"
    assert normalise_url("mailto:x@y.z") is None
    assert normalise_domain("WWW.Пример.РФ.") == "xn--e1afmkfd.xn--p1ai"
    assert normalise_email("Ivan@Example.COM") == "ivan@example.com"
    assert refang("hxxps://evil[.]com and a[@]b[.]by") == "https://evil.com and a@b.by"


def test_ru_account_check_digit() -> None:
    assert ru_account_valid("40817810899910004312", "044525225")
    assert ru_account_valid("30101810400000000225", "044525225")  # a correspondent account
    assert not ru_account_valid("40817810099910004312", "044525225")


def test_wallet_checksums() -> None:
    assert is_valid_btc("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy")
    assert is_valid_btc("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0")  # taproot, bech32m
    assert is_valid_btc("BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ")
    assert not is_valid_btc("bc1qAR0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq")  # mixed case
    assert not is_valid_btc("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")  # TRON version byte
    assert is_valid_tron("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")
    assert is_valid_eth("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED")
    assert normalise_wallet("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed") == (
        Chain.ETH, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")


def test_redact_cards_masks_in_place() -> None:
    assert redact_cards("карта 4276 3800 1234 5679, ещё 2200700123456781.") == (
        "карта 4276 **** **** 5679, ещё 2200********6781."
    )
    assert redact_cards("IBAN BY13 NBRB 3600 9000 0000 2Z00 AB00") == "IBAN BY13 NBRB 3600 9000 0000 2Z00 AB00"


# --- fuzz ----------------------------------------------------------------------------------------------
_pans = st.builds(
    lambda prefix, body: (lambda p: p + luhn.calc_check_digit(p))(prefix + body),
    st.sampled_from(["4276", "5536", "2200", "9112", "4111"]),
    st.text(alphabet="0123456789", min_size=11, max_size=11),
)
_noise = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200),
    # digits, separators and address characters: the inputs most likely to confuse the extractors
    st.text(alphabet="0123456789 -+.()[]:/@#xXhtpswTbcqBYKZ1abcdefABCDEF\n", max_size=200),
)
_separator = st.sampled_from([" ", "-", ""])


def _groups(pan: str, sep: str) -> str:
    return sep.join(pan[i : i + 4] for i in range(0, len(pan), 4))


def _no_clear_pan(pan: str, got: tuple[Indicator, ...]) -> None:
    for ind in got:
        assert pan not in re.sub(r"[ -]", "", ind.value)
        assert ind.display is None or pan not in re.sub(r"[ -]", "", ind.display)
        if ind.kind is K.CARD:
            assert re.fullmatch(r"[0-9a-f]{64}", ind.value)
            assert ind.display is not None and re.fullmatch(r"\d{4} \*{4} \*{4} \d{4}", ind.display)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_noise)
def test_arbitrary_text_never_raises(text: str) -> None:
    got = ex(text)
    assert len(set(got)) == len(got)
    for ind in got:
        if ind.kind is K.CARD:
            assert re.fullmatch(r"[0-9a-f]{64}", ind.value)
    redact_cards(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_noise, _pans, _separator, _noise)
def test_embedded_card_never_comes_back_in_the_clear(before: str, pan: str, sep: str, after: str) -> None:
    text = f"{before}\nкарта {_groups(pan, sep)} .\n{after}"
    got = ex(text)
    _no_clear_pan(pan, got)
    assert any(i.kind is K.CARD and i.value == card_hash(pan, PEPPER) for i in got)
    assert pan not in re.sub(r"[ -]", "", redact_cards(text))
