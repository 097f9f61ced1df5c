"""Indicators from the free text of a victim's report (Russian, Belarusian or English).

``extract_indicators`` finds account numbers, cards, phones, wallets, URLs, domains, e-mails, Apple IDs,
IPs and labelled device ids; each is validated by its own check digits where it has any, normalised, and
deduplicated. A card number never leaves this module in the clear: it becomes a keyed hash (HMAC-SHA256
with a pepper the caller passes in) plus a mask such as ``4276 **** **** 1234``; ``redact_cards`` gives
the text back with every card masked, for storing.

Extractors run in an order that keeps them from stealing each other's digits: IMEIs (labelled) and IBANs
first, then cards; URLs and e-mails next; then wallets, IPs, Russian accounts, device ids and phones on
what is left. Each consumed span is overwritten with a filler so later extractors cannot see it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import phonenumbers
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import imei, luhn

from zaslon.core.types import Indicator, IndicatorKind
from zaslon.core.wallets import normalise_wallet
from zaslon.errors import InvalidInput

DEFAULT_REGION = "BY"
_FILL = "\x1f"  # unit separator: no word, digit, URL or phone character (regex \s does match it)

# --- patterns --------------------------------------------------------------------------------------
_IMEI_RE = re.compile(r"(?i)\bIMEI\s*[:=#№]?\s*(\d{2}[ -]?\d{6}[ -]?\d{6}[ -]?\d)(?![\w-])")
# Country code, check digits, then 11-30 alphanumerics, optionally in groups of four.
_IBAN_RE = re.compile(r"(?<![\w])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}")
# 13-19 digits, optionally grouped by spaces or hyphens, not glued to other digits, letters or a "+".
_CARD_RE = re.compile(r"(?<![\w+\-*])(?:\d[ -]?){12,18}\d(?![\w*])(?![ -]\d)")
_URL_RE = re.compile(r"(?i)\b(?:https?://|ftp://|www\.)[^\s<>\"'«»“”]+")
_EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@(?:[\w-]{1,63}\.)+[^\W\d_]{2,24}(?![\w-])")
_APPLE_LABEL_RE = re.compile(
    r"(?i)(?:apple\s*-?\s*id|эп+л\s*-?\s*айди|аппл\s*-?\s*айди|эп+л\s*-?\s*ід|icloud)\W{0,12}$"
)
_ETH_RE = re.compile(r"(?<![\w])0[xX][0-9a-fA-F]{40}(?![\w])")
_B58_RE = re.compile(r"(?<![\w])[13T][1-9A-HJ-NP-Za-km-z]{25,34}(?![\w])")
_SEGWIT_RE = re.compile(r"(?i)(?<![\w])bc1[02-9ac-hj-np-z]{6,87}(?![\w])")
_IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6_RE = re.compile(r"(?i)(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])")
_BIK_RE = re.compile(r"(?i)(?:БИК|BIK|БІК)\s*[:№#]?\s*(\d{9})(?!\d)")
_RU_ACCOUNT_RE = re.compile(r"(?<![\w])(?:\d[ .]?){19}\d(?![\w])")
_DEVICE_RE = re.compile(
    r"(?i)(?:device[\s_-]*id|device|устройств[оа]|идентификатор\s+устройства|ид\s+устройства"
    r"|ідэнтыфікатар\s+прылады|прылад[аы])\s*[:=#№]\s*([A-Za-z0-9][A-Za-z0-9:_.-]{5,63})"
)
_DOMAIN_RE = re.compile(
    r"(?i)(?<![\w.@/-])((?:[a-z0-9\u0400-\u04ff](?:[a-z0-9\u0400-\u04ff-]{0,61}[a-z0-9\u0400-\u04ff])?\.)+"
    r"(?:[a-z]{2,24}|рф|бел|онлайн|сайт|xn--[a-z0-9-]{2,59}))(?![\w@-])"
)
# Top-level domains accepted for a bare (scheme-less) domain; a whitelist keeps "т.е." or "done.Then"
# out. Fraud sites in the region live mostly under these.
_BARE_TLDS = frozenset(
    [
        "com", "net", "org", "info", "biz", "io", "app", "online", "site", "shop", "store", "top", "xyz",
        "club", "pro", "live", "link", "click", "space", "website", "tech", "fun", "icu", "vip", "cc",
        "co", "me", "tv", "ws", "su", "ru", "by", "kz", "ua", "uz", "kg", "am", "ge", "az", "md", "lt",
        "lv", "ee", "pl", "de", "uk", "us", "eu", "cn", "in", "ai", "рф", "бел", "онлайн", "сайт",
    ]
)
# Hosts of big platforms: a URL on them is an indicator (t.me/scammer), the bare host is not, since it
# would link every incident that mentions Telegram.
_PLATFORM_HOSTS = frozenset(
    [
        "t.me", "telegram.org", "telegram.me", "vk.com", "ok.ru", "instagram.com", "facebook.com",
        "youtube.com", "google.com", "apple.com", "icloud.com", "whatsapp.com", "wa.me", "viber.com",
        "tiktok.com", "x.com", "twitter.com", "mail.ru", "yandex.ru", "gmail.com", "drive.google.com",
        "docs.google.com",
    ]
)
_TRAILING = ".,;:!?)]}>»\"'”…"
_DEFANG = (
    (re.compile(r"(?i)\bhxxp(s?)"), r"http\1"),
    (re.compile(r"(?i)\bfxp\b"), "ftp"),
    (re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\[точка\]", re.IGNORECASE), "."),
    (re.compile(r"\[@\]|\(@\)|\[at\]|\(at\)|\[собака\]", re.IGNORECASE), "@"),
    (re.compile(r"\[:\]|\[://\]"), lambda m: m.group(0)[1:-1]),
)


@dataclass(frozen=True, slots=True)
class _Found:
    start: int
    end: int
    indicator: Indicator


# --- single-value normalisers (public: the intake and the telecom routes use them too) -------------
def card_hash(pan: str, pepper: bytes) -> str:
    """Keyed hash of a card number: HMAC-SHA256(pepper, digits). Without the pepper it cannot be reversed
    by enumerating the ~10^9 plausible card numbers of a BIN."""
    if not pepper:
        raise InvalidInput("a card pepper is required to hash card numbers", field="pepper")
    return hmac.new(pepper, pan.encode("ascii"), hashlib.sha256).hexdigest()


def card_mask(pan: str) -> str:
    return f"{pan[:4]} **** **** {pan[-4:]}"


def _is_card(digits: str) -> bool:
    # Issuer prefixes: 2 (Mir, Mastercard 2-series), 3 (Amex, JCB, Diners), 4 (Visa), 5 (Mastercard,
    # Maestro), 6 (Maestro, UnionPay, Discover), 9112 (BelCard, Belarus's domestic scheme).
    return 13 <= len(digits) <= 19 and (digits[0] in "23456" or digits.startswith("9112")) and luhn.is_valid(
        digits
    )


def card_indicator(pan: str, pepper: bytes) -> Indicator | None:
    digits = re.sub(r"[ -]", "", pan)
    if not digits.isdigit() or not _is_card(digits):
        return None
    return Indicator(IndicatorKind.CARD, card_hash(digits, pepper), card_mask(digits))


# Call feeds repeat the same numbers all day; parsing one with the number plan's metadata costs tens of µs.
@functools.lru_cache(maxsize=1 << 17)
def normalise_phone(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """E.164 form of a phone number, or None when it is not a valid number.

    Numbers written nationally are tried in ``region`` first, then as Russian ones ("8 (916) ...");
    Kazakh numbers share +7 and come out right either way. A number in international form ("+375 25 ...")
    needs only a possible length for its country.
    """
    for reg in dict.fromkeys((region, "RU")):
        try:
            num = phonenumbers.parse(raw, reg)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    # Written with "+" and a country code and of a possible length, it is a phone number even where the
    # number-plan metadata does not know the range yet (operators open new ranges before it catches up).
    if raw.lstrip().startswith("+"):
        try:
            num = phonenumbers.parse(raw, None)
        except phonenumbers.NumberParseException:
            return None
        if phonenumbers.is_possible_number(num):
            return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    return None


def _mod97_ok(compact: str) -> bool:
    """ISO 13616 check (cheap): a pre-filter so schwifty only parses candidates that can pass."""
    moved = compact[4:] + compact[:4]
    if not moved.isalnum() or not moved.isascii():
        return False
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def normalise_iban(raw: str) -> str | None:
    if not _mod97_ok(raw.replace(" ", "").upper()):
        return None
    try:
        return str(IBAN(raw).compact)
    except (SchwiftyException, ValueError):
        return None


def _punycode(host: str) -> str | None:
    try:
        return ".".join(label.encode("idna").decode("ascii") if label else "" for label in host.split("."))
    except UnicodeError:
        return None


def normalise_domain(raw: str) -> str | None:
    """Lower-case host, ``www.`` dropped, internationalised labels in punycode (stdlib idna codec)."""
    host = raw.strip().strip(".").lower()
    if host.startswith("www."):
        host = host[4:]
    if not host or "." not in host or len(host) > 253:
        return None
    return _punycode(host)


def normalise_url(raw: str) -> str | None:
    """A canonical URL: scheme and host lower-case, ``www.`` and default ports and fragments dropped."""
    text = raw.strip().rstrip(_TRAILING)
    if text.lower().startswith("www."):
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https", "ftp") or not parts.hostname:
        return None
    host = normalise_domain(parts.hostname)
    if host is None:
        return None
    default = {"http": 80, "https": 443, "ftp": 21}[parts.scheme.lower()]
    netloc = host if port in (None, default) else f"{host}:{port}"
    path = parts.path if parts.path not in ("", "/") else ""
    return urlunsplit((parts.scheme.lower(), netloc, path, parts.query, ""))


def normalise_email(raw: str) -> str | None:
    local, _, domain = raw.strip().rpartition("@")
    host = normalise_domain(domain)
    if not local or host is None or host.startswith("."):
        return None
    return f"{local.lower()}@{host}"


def normalise_ip(raw: str) -> str | None:
    """Canonical text of a public IP; private, loopback, link-local and multicast addresses are noise."""
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local or ip.is_multicast or ip.is_reserved:
        return None
    private4 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
    if ip.version == 4 and any(ip in ipaddress.ip_network(n) for n in private4):
        return None
    if ip.version == 6 and ip in ipaddress.ip_network("fc00::/7"):
        return None
    return str(ip)


def ru_account_valid(account: str, bik: str) -> bool:
    """Check digit of a Russian 20-digit account against its bank's 9-digit BIK (Bank of Russia rules:
    weights 7,1,3 over the 3 BIK-derived digits plus the account; the sum of the products' last digits
    ends in 0)."""
    if len(account) != 20 or len(bik) != 9 or not (account + bik).isdigit():
        return False
    # Correspondent accounts (30101...) and accounts at a Bank of Russia settlement centre (BIK ending
    # 000-002) are keyed by "0" plus BIK digits 5-6 instead of the BIK's last three.
    rkc = account.startswith("30101") or bik[6:9] in ("000", "001", "002")
    key = "0" + bik[4:6] if rkc else bik[6:9]
    digits = key + account
    weights = (7, 1, 3) * 8
    return sum((int(d) * w) % 10 for d, w in zip(digits, weights, strict=False)) % 10 == 0


def refang(text: str) -> str:
    """Undo the defanging analysts apply to links ("hxxp://site[.]com") so they can be parsed."""
    for pattern, repl in _DEFANG:
        text = pattern.sub(repl, text)
    return text


# --- extraction --------------------------------------------------------------------------------------
def _consume(work: list[str], start: int, end: int) -> None:
    work[start:end] = _FILL * (end - start)


def _free(work: list[str], start: int, end: int) -> bool:
    return _FILL not in work[start:end]


def _iban_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """IBAN candidates greedily grab following groups; shorten until the checksum holds.

    The ISO 13616 mod-97 of every prefix is computed in one pass, so a long run of IBAN-like text costs
    linear time and schwifty only parses prefixes whose checksum already holds.
    """
    pos = 0
    while (m := _IBAN_RE.search(text, pos)) is not None:
        pos = m.start() + 1
        ends = [m.start() + i + 1 for i, c in enumerate(m.group(0)) if c != " "]
        compact = m.group(0).replace(" ", "").upper()
        head = "".join(str(int(c, 36)) for c in compact[:4])
        tail_mod, mods = 0, {}
        for length in range(5, len(compact) + 1):
            for d in str(int(compact[length - 1], 36)):
                tail_mod = (tail_mod * 10 + int(d)) % 97
            mods[length] = (tail_mod * pow(10, len(head), 97) + int(head)) % 97
        for length in range(len(compact), 14, -1):
            if mods[length] != 1:
                continue
            value = normalise_iban(compact[:length])
            if value is not None:
                end = ends[length - 1]
                yield m.start(), end, value
                pos = end  # what the greedy match swallowed past the IBAN is searched again
                break


def _card_spans(text: str, taken: list[str]) -> Iterator[tuple[int, int, str]]:
    for m in _CARD_RE.finditer(text):
        digits = re.sub(r"[ -]", "", m.group(0))
        if _free(taken, m.start(), m.end()) and _is_card(digits):
            yield m.start(), m.end(), digits


def _mask_span(text: str) -> str:
    """Same-length mask of a card as written: first and last four digits kept, separators kept."""
    seen = 0
    total = sum(c.isdigit() for c in text)
    out = []
    for c in text:
        if c.isdigit():
            seen += 1
            out.append(c if seen <= 4 or seen > total - 4 else "*")
        else:
            out.append(c)
    return "".join(out)


def _protect(text: str, pepper: bytes | None) -> tuple[str, list[_Found], list[str]]:
    """Find IMEIs, IBANs and cards in the raw text; return it with cards masked (same length)."""
    found: list[_Found] = []
    work = list(text)
    for m in _IMEI_RE.finditer(text):
        digits = re.sub(r"[ -]", "", m.group(1))
        if imei.is_valid(digits):
            found.append(_Found(m.start(1), m.end(1), Indicator(IndicatorKind.DEVICE, f"imei:{digits}")))
            _consume(work, m.start(1), m.end(1))
    for start, end, value in _iban_spans(text):
        if _free(work, start, end):
            found.append(_Found(start, end, Indicator(IndicatorKind.ACCOUNT, value)))
            _consume(work, start, end)
    chars = list(text)
    for start, end, digits in list(_card_spans(text, work)):
        if pepper is not None:
            card = Indicator(IndicatorKind.CARD, card_hash(digits, pepper), card_mask(digits))
            found.append(_Found(start, end, card))
        chars[start:end] = _mask_span(text[start:end])
        _consume(work, start, end)
    return "".join(chars), found, work


def redact_cards(text: str) -> str:
    """The text with every card number masked in place (``4276 **** **** 1234``), safe to store.

    Cards are searched in the text as written and again after refanging, so neither form leaks one.
    """
    once = _protect(text, None)[0]
    again = refang(once)
    return once if _protect(again, None)[0] == again else _protect(again, None)[0]


def _network_spans(text: str) -> Iterator[_Found]:
    for m in _URL_RE.finditer(text):
        raw = m.group(0).rstrip(_TRAILING)
        url = normalise_url(raw)
        if url is None:
            continue
        yield _Found(m.start(), m.start() + len(raw), Indicator(IndicatorKind.URL, url))
        host = urlsplit(url).hostname or ""
        if host and host not in _PLATFORM_HOSTS:
            yield _Found(m.start(), m.start(), Indicator(IndicatorKind.DOMAIN, host))
    for m in _EMAIL_RE.finditer(text):
        email = normalise_email(m.group(0))
        if email is None:
            continue
        label = _APPLE_LABEL_RE.search(text[max(0, m.start() - 40) : m.start()])
        kind = IndicatorKind.APPLE_ID if label else IndicatorKind.EMAIL
        yield _Found(m.start(), m.end(), Indicator(kind, email))


def _value_spans(text: str) -> Iterator[_Found]:
    for m in _ETH_RE.finditer(text):
        w = normalise_wallet(m.group(0))
        if w is not None:
            yield _Found(m.start(), m.end(), Indicator(IndicatorKind.WALLET, w[1]))
    for m in (*_SEGWIT_RE.finditer(text), *_B58_RE.finditer(text)):
        w = normalise_wallet(m.group(0))
        if w is not None:
            yield _Found(m.start(), m.end(), Indicator(IndicatorKind.WALLET, w[1]))
    for m in (*_IPV4_RE.finditer(text), *_IPV6_RE.finditer(text)):
        ip = normalise_ip(m.group(0))
        if ip is not None:
            yield _Found(m.start(), m.end(), Indicator(IndicatorKind.IP, ip))
    biks = [m.group(1) for m in _BIK_RE.finditer(text)]
    for m in _RU_ACCOUNT_RE.finditer(text):
        digits = re.sub(r"[ .]", "", m.group(0))
        bik = next((b for b in biks if ru_account_valid(digits, b)), None)
        if bik is not None:
            yield _Found(m.start(), m.end(), Indicator(IndicatorKind.ACCOUNT, f"{bik}/{digits}"))
    for m in _DEVICE_RE.finditer(text):
        value = m.group(1).rstrip(_TRAILING)
        if any(c.isdigit() for c in value) and len(value) >= 6:
            yield _Found(m.start(1), m.start(1) + len(value), Indicator(IndicatorKind.DEVICE, value))


def _phone_spans(text: str) -> Iterator[_Found]:
    spans: list[tuple[int, int]] = []
    passes = ((DEFAULT_REGION, phonenumbers.Leniency.VALID), ("RU", phonenumbers.Leniency.VALID),
              (DEFAULT_REGION, phonenumbers.Leniency.POSSIBLE))
    for region, leniency in passes:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=leniency):
            if any(match.start < e and s < match.end for s, e in spans):
                continue
            if leniency is phonenumbers.Leniency.POSSIBLE and not match.raw_string.startswith("+"):
                continue  # see normalise_phone: only the international form is trusted when merely possible
            spans.append((match.start, match.end))
            e164 = phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
            yield _Found(match.start, match.end, Indicator(IndicatorKind.PHONE, e164))


def _domain_spans(text: str) -> Iterator[_Found]:
    for m in _DOMAIN_RE.finditer(text):
        raw = m.group(1)
        if raw.rsplit(".", 1)[-1].lower() not in _BARE_TLDS:
            continue
        host = normalise_domain(raw)
        if host is not None and host not in _PLATFORM_HOSTS:
            yield _Found(m.start(1), m.end(1), Indicator(IndicatorKind.DOMAIN, host))


def _take(found: Iterable[_Found], work: list[str], out: list[_Found]) -> None:
    for f in found:
        if f.start == f.end or _free(work, f.start, f.end):
            out.append(f)
            if f.end > f.start:
                _consume(work, f.start, f.end)


def extract_indicators(text: str, *, card_pepper: bytes) -> tuple[Indicator, ...]:
    """Every valid indicator in ``text``, normalised, deduplicated, in order of first appearance.

    ``card_pepper`` keys the hash of card numbers; the caller reads it from settings, the core never does.
    """
    if not card_pepper:
        raise InvalidInput("a card pepper is required to hash card numbers", field="pepper")
    masked, found, work = _protect(refang(text.replace(_FILL, " ")), card_pepper)
    # URLs and e-mails may contain an IBAN (already taken) or a card (already masked in ``masked``),
    # so they are searched in the masked text with a work list of their own.
    net: list[_Found] = []
    _take(_network_spans(masked), list(masked), net)
    for f in net:
        _consume(work, f.start, f.end)
    found.extend(net)
    _take(_value_spans("".join(work)), work, found)
    _take(_phone_spans("".join(work)), work, found)
    _take(_domain_spans("".join(work)), work, found)
    return tuple(dict.fromkeys(f.indicator for f in sorted(found, key=lambda f: f.start)))
