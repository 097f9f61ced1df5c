"""What victims, banks, police and telecoms report: incidents (late, sometimes never, sometimes false or
mistaken, in Russian, English and a little Belarusian) and call records from fraud numbers."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from zaslon.simulate import strs
from zaslon.simulate.fraud import COURIER, EXTORTION, FAKE_DIRECTOR, INVESTMENT, PHISHING, VISHING, FraudWorld
from zaslon.simulate.population import DAY_US, HOUR_US, MIN_US, OPERATORS

# Probability that a victim reports at all, and the median report delay in minutes (lognormal).
REPORT_P = {VISHING: 0.8, PHISHING: 0.75, INVESTMENT: 0.55, FAKE_DIRECTOR: 0.9, EXTORTION: 0.45, COURIER: 0.85}
DELAY_MED_MIN = {VISHING: 360, PHISHING: 45, INVESTMENT: 4 * 1440, FAKE_DIRECTOR: 1.5 * 1440,
                 EXTORTION: 1440, COURIER: 600}
REGION_CODE = {"Minsk": "MN", "Minsk Region": "MR", "Brest Region": "BR", "Vitebsk Region": "VT",
               "Gomel Region": "GO", "Grodno Region": "GR", "Mogilev Region": "MO"}

RU = {
    VISHING: "Позвонили с номера {phone}, представились {who}, сказали, что по моему счёту мошеннические "
             "операции. Перевела {amount} BYN на «безопасный счёт» {payee}.",
    COURIER: "Позвонили с номера {phone}, сказали, что сын попал в ДТП и нужны деньги. Передала курьеру "
             "{amount} BYN наличными у подъезда.",
    PHISHING: "Продавала вещь на Куфаре, покупатель прислал ссылку {url} для получения оплаты{phone_part}. "
              "Ввела данные карты, после чего со счёта списали {amount} BYN на {payee}.",
    INVESTMENT: "По рекламе зарегистрировался на платформе {url}, «менеджер» звонил с {phone}. Перевёл всего "
                "{amount} BYN на счета {payee}, вывести деньги не дают. Кошелёк платформы {wallet}.",
    FAKE_DIRECTOR: "Получено письмо от имени директора с адреса {email} с просьбой срочно оплатить счёт. "
                   "Бухгалтер перечислила {amount} BYN на счёт {payee}.",
    EXTORTION: "Взломали Apple ID ({email}), телефон заблокирован, требуют выкуп. Контакт {phone}, кошелёк "
               "{wallet}. Перевёл {amount} BYN на карту {payee}.",
}
EN = {
    VISHING: "A caller from {phone} posing as {who} said my account was under attack. I moved {amount} BYN "
             "to a 'safe account' {payee}.",
    COURIER: "A caller from {phone} said my son had caused an accident and needed money. I handed {amount} BYN "
             "in cash to a courier at my door.",
    PHISHING: "Selling on Kufar, a buyer sent the link {url} to receive payment{phone_part}. After I entered "
              "my card details {amount} BYN was taken to {payee}.",
    INVESTMENT: "Signed up on the investment platform {url} from an ad; the 'manager' called from {phone}. "
                "Paid {amount} BYN in total to {payee}; withdrawals refused. Platform wallet {wallet}.",
    FAKE_DIRECTOR: "An email from {email} posing as our director asked for an urgent payment; the accountant "
                   "paid {amount} BYN to {payee}.",
    EXTORTION: "My Apple ID ({email}) was taken over and the phone locked; ransom demanded via {phone}, wallet "
               "{wallet}. Paid {amount} BYN to card {payee}.",
}
BE_VISHING = ("Патэлефанавалі з нумара {phone}, назваліся {who}. Перавяла {amount} BYN на рахунак {payee}.")
FALSE_RU = "Не совершал(а) платёж на {amount} BYN на счёт {payee}, прошу проверить."
FALSE_EN = "I did not make the payment of {amount} BYN to {payee}; please check it."


def card_numbers(account: np.ndarray, bank: np.ndarray) -> pa.StringArray:
    """The card on a personal account: a bank's BIN and a Luhn check digit."""
    bin6 = 425_500 + bank.astype(np.int64) * 37
    body = (account.astype(np.int64) * 982_451_653 + 123_456_789) % 10**9
    return strs.to_arrow(strs.luhn_complete(np.hstack([strs.digits(bin6, 6), strs.digits(body, 9)])))


@dataclass
class Reports:
    incidents: dict[str, list] = field(default_factory=lambda: {k: [] for k in (  # type: ignore[type-arg]
        "reported_at", "reporter_org", "reporter_kind", "victim_party", "scheme", "transfer_ids", "text",
        "language", "group_id", "is_false", "true_scheme")})
    calls: dict[str, np.ndarray] = field(default_factory=dict)


def build(fw: FraudWorld, fraud_tid: np.ndarray, false_pool: list[tuple[int, int, int, int, int]],
          account_id_of: object, rng: np.random.Generator) -> Reports:
    """``false_pool``: (transfer number, payer party, ts, payee account) of legitimate transfers that a
    confused customer might dispute. ``account_id_of(i)`` gives an account's id text."""
    pop, fin = fw.pop, fw.fin
    rep = Reports()
    inc = rep.incidents
    regions = list(REGION_CODE)

    def who() -> str:
        return ["сотрудником службы безопасности банка", "следователем МВД", "сотрудником Нацбанка"][
            int(rng.integers(0, 3))]

    for v in fw.victims:
        if rng.random() >= REPORT_P[v.scheme]:
            continue  # never reported
        amount = v.cash if v.scheme == COURIER else sum(fw.book.cols["amount"][i] for i in v.origin)
        if v.scheme == FAKE_DIRECTOR and fin.accounts.currency[fin.primary[v.party]] != 0:
            amount = int(amount / 28)  # a Russian company's loss, stated in BYN
        payees = list(dict.fromkeys(v.payees))
        if v.scheme in (PHISHING, EXTORTION) and payees:
            payee = ", ".join(card_numbers(np.array(payees[:2]), fin.accounts.bank[payees[:2]]).to_pylist())
        else:
            payee = ", ".join(str(account_id_of(a)) for a in payees[:3])  # type: ignore[operator]
        phone = v.phone or ""
        if phone and rng.random() < 0.05:  # a mistaken report: one digit misheard
            pos = len(phone) - 1 - int(rng.integers(0, 4))
            phone = phone[:pos] + str((int(phone[pos]) + 1) % 10) + phone[pos + 1:]
        fields = {"phone": phone, "who": "", "amount": f"{amount / 100:.2f}", "payee": payee, "url": v.url or "",
                  "wallet": v.wallet or "", "email": v.email or "",
                  "phone_part": f" (номер {phone})" if phone else ""}
        delay = max(3.0, float(np.exp(rng.normal(np.log(DELAY_MED_MIN[v.scheme]), 1.1))))
        t = v.last + int(delay * MIN_US)
        tids = [int(fraud_tid[i]) for i in v.origin if fraud_tid[i] >= 0]
        if len(tids) > 1 and rng.random() < 0.2:
            tids = tids[:-1]  # the victim remembered only some of the payments
        kinds = ["bank", "police"] + (["telecom"] if v.scheme in (VISHING, COURIER) else [])
        n_reports = 2 if rng.random() < 0.15 else 1
        for j, kind in enumerate(rng.choice(kinds, size=n_reports, replace=False)):
            lang = str(rng.choice(["ru", "en", "be"], p=[0.75, 0.2, 0.05]))
            fields["who"] = who() if lang != "en" else "bank security"
            if lang == "be" and v.scheme == VISHING:
                text = BE_VISHING.format(**fields)
            else:
                text = (EN if lang == "en" else RU)[v.scheme].format(**fields)
                lang = "en" if lang == "en" else "ru"
            party_district = int(pop.district[v.party]) if pop.district[v.party] >= 0 else 0
            if kind == "bank":
                org = fin.bank_ids[int(fin.accounts.bank[fin.primary[v.party]])] if fin.primary[v.party] >= 0 \
                    else fin.bank_ids[0]
            elif kind == "police":
                org = "MVD-" + REGION_CODE[pop.district_regions[party_district] if pop.district[v.party] >= 0
                                           else regions[0]]
            else:
                org = OPERATORS[int(pop.operator[v.party])]
            _add(inc, t + j * int(rng.integers(1, 30)) * 60 * MIN_US, org, kind, v.party, v.scheme,
                 tids if kind != "telecom" else [], text, lang, v.group, False)
    n_false = max(1, int(0.06 * len(inc["text"])))
    for k in range(min(n_false, len(false_pool))):
        tnum, party, ts, disputed, amount_minor = false_pool[k]
        scheme = int(rng.choice([VISHING, PHISHING]))
        stated = f"{amount_minor / 100:.2f}"
        lang = "ru" if rng.random() < 0.8 else "en"
        text = (FALSE_RU if lang == "ru" else FALSE_EN).format(amount=stated, payee=account_id_of(disputed))  # type: ignore[operator]
        bank = fin.bank_ids[int(fin.accounts.bank[fin.primary[party]])]
        _add(inc, ts + int(rng.integers(30, 3 * 1440)) * MIN_US, bank, "bank", party, scheme, [tnum], text, lang,
             -1, True)
    rep.calls = _calls(fw, rng)
    return rep


def _add(inc: dict[str, list], t: int, org: str, kind: str, party: int, scheme: int, tids: list[int], text: str,  # type: ignore[type-arg]
         lang: str, group: int, is_false: bool) -> None:
    inc["reported_at"].append(t)
    inc["reporter_org"].append(org)
    inc["reporter_kind"].append(kind)
    inc["victim_party"].append(party)
    inc["scheme"].append(scheme)
    inc["transfer_ids"].append(tids)
    inc["text"].append(text)
    inc["language"].append(lang)
    inc["group_id"].append(group)
    inc["is_false"].append(is_false)
    inc["true_scheme"].append(scheme)


def _calls(fw: FraudWorld, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Calls from fraud numbers to their victims and to the many who hung up, plus the ordinary calls everyone
    receives (``_ordinary_calls``) so that a fraud number is not simply 'any caller in the feed'."""
    pop = fw.pop
    n = pop.n_persons
    callable_ = np.flatnonzero(pop.has_phone[:n])
    w = np.where(pop.age[callable_] >= 65, 3.0, 1.0)
    cdf = np.cumsum(w) / w.sum()
    ts: list[np.ndarray] = []
    caller: list[np.ndarray] = []
    callee: list[np.ndarray] = []
    dur: list[np.ndarray] = []
    grp: list[np.ndarray] = []
    kind: list[np.ndarray] = []
    caller_text: list[str] = []

    def put(t: np.ndarray, who: str | None, to: np.ndarray, d: np.ndarray, g: int, k: int) -> None:
        ts.append(t.astype(np.int64))
        caller.append(np.full(t.size, len(caller_text) if who is not None else -1, np.int64))
        if who is not None:
            caller_text.append(who)
        callee.append(to.astype(np.int64))
        dur.append(d.astype(np.int32))
        grp.append(np.full(t.size, g, np.int32))
        kind.append(np.full(t.size, k, np.int8))

    for v in fw.victims:
        if not v.phone or not pop.has_phone[v.party]:
            continue
        k = int(rng.integers(1, 5))
        before = v.first - np.sort(rng.integers(5, 180, k))[::-1] * MIN_US
        put(before, v.phone, np.full(k, v.party), rng.integers(120, 2400, k), v.group, 0)
    # Hang-ups: each campaign number dials many people a day; most hang up within seconds.
    for (gid, week), numbers in fw.camp.phones.items():
        for num in numbers:
            k = int(rng.integers(40, 160))
            day = week * 7 + rng.integers(0, 7, k)
            t = fw.t0 + day * DAY_US + rng.integers(9 * HOUR_US, 21 * HOUR_US, k)  # local working hours
            to = callable_[np.searchsorted(cdf, rng.random(k))]
            put(t[t < fw.end], num, to[t < fw.end], rng.integers(0, 40, int((t < fw.end).sum())), gid, 1)
    _ordinary_calls(fw, rng, callable_, put, caller, caller_text)
    out = {"ts": np.concatenate(ts), "caller": np.concatenate(caller), "callee": np.concatenate(callee),
           "duration": np.concatenate(dur), "group": np.concatenate(grp), "kind": np.concatenate(kind)}
    order = np.argsort(out["ts"], kind="stable")
    out = {k2: v2[order] for k2, v2 in out.items()}
    out["caller_text"] = np.array(caller_text, dtype=object)
    return out


def caller_verified(number: str, subscriber: bool) -> bool | None:
    """What the network's Number Verification says about a caller, as an operator would see it.

    A subscriber's own number is verified. A fraud number written as a Russian mobile comes from a foreign
    network that attests nothing (unknown). A Belarusian-looking fraud number is either a spoofed caller id
    entering through an international gateway (not verified) or a SIM box with a genuine local SIM (verified);
    which one is fixed per number (a hash of it, no draw from the world's random stream)."""
    if subscriber:
        return True
    if not number.startswith("+375"):
        return None
    return zlib.crc32(number.encode()) % 2 == 1


# Ordinary calls a subscriber receives a day. People aged 65+ (whose friction the demo reports) get a realistic
# rate: family and friends, the clinic, the pharmacy, shops, couriers, telemarketers. Younger subscribers get
# fewer than they really do, to keep the demo's call feed (two events a call) small; their call signals are
# therefore cleaner than in life.
ORDINARY_PER_DAY_ELDERLY = 1.5
ORDINARY_PER_DAY_OTHER = 0.3
# Who calls: someone of the circle (known, verified), an organisation (a company line, mostly never heard
# before), an unknown local subscriber (a wrong number, a seller, a courier), or a relative working abroad (a
# foreign number no network attests, like a fraud number from abroad). Shares, and the median call length in
# seconds with its lognormal spread: calls with family run long (a third over 5 minutes), as vishing calls do.
CALLER_SHARE = {"circle": 0.62, "organisation": 0.18, "stranger": 0.12, "abroad": 0.08}
CALL_LENGTH = {"circle": (180.0, 1.0), "organisation": (100.0, 0.8), "stranger": (45.0, 0.9), "abroad": (420.0, 0.8)}
ABROAD_SHARE = 0.3  # subscribers with a relative abroad who calls them (Russia, Poland, ...)
_ABROAD_PREFIX = ("+79", "+4860", "+7701")
_CALL_HOURS = np.array([0, 0, 0, 0, 0, 0, 0.1, 0.5, 1.5, 2.5, 3, 3, 3, 3, 3, 3, 3, 3.2, 3.5, 3.5, 3, 2, 1, 0.3])


def relative_abroad_number(person: int) -> str:
    """The foreign number of a subscriber's relative abroad: fixed per person (a hash, no draw)."""
    h = zlib.crc32(f"abroad-{person}".encode())
    prefix = _ABROAD_PREFIX[h % len(_ABROAD_PREFIX)]
    width = 12 - len(prefix)  # E.164 of 11 digits after the +
    return prefix + str(h % 10**width).zfill(width)


def _ordinary_calls(fw: FraudWorld, rng: np.random.Generator, callable_: np.ndarray, put: Callable[..., None],
                    caller: list[np.ndarray], caller_text: list[str]) -> None:
    """Ordinary calls to every subscriber over the run (kind 2), appended through ``put`` (callers encoded as
    ``-2 - party`` for a subscriber's own line, an index into ``caller_text`` for a foreign number)."""
    pop = fw.pop
    days = int((fw.end - fw.t0) // DAY_US)
    rate = np.where(pop.age[callable_] >= 65, ORDINARY_PER_DAY_ELDERLY, ORDINARY_PER_DAY_OTHER) * days
    to = np.repeat(callable_, rng.poisson(rate))
    k = to.size
    day = rng.integers(0, max(1, days), k)
    hour = rng.choice(24, size=k, p=_CALL_HOURS / _CALL_HOURS.sum())
    t = fw.t0 + day * DAY_US + hour * HOUR_US + rng.integers(0, HOUR_US, k)
    kinds = list(CALLER_SHARE)
    src = rng.choice(len(kinds), size=k, p=np.array(list(CALLER_SHARE.values())))
    has_abroad = (zlib.crc32(b"abroad") + to * 2_654_435_761) % 1000 < ABROAD_SHARE * 1000
    src[(src == kinds.index("abroad")) & ~has_abroad] = kinds.index("circle")
    who = np.full(k, -1, np.int64)  # the calling party (a person or a company), -1 for a relative abroad
    circle = pop.friends[to, rng.integers(0, pop.friends.shape[1], k)].astype(np.int64)
    who = np.where(src == kinds.index("circle"), circle, who)
    comps = pop.first_company + rng.integers(0, pop.n_companies, k)
    who = np.where(src == kinds.index("organisation"), comps, who)
    strangers = callable_[rng.integers(0, callable_.size, k)]
    who = np.where(src == kinds.index("stranger"), strangers, who)
    local = (who >= 0) & pop.has_phone[np.maximum(who, 0)] & (who != to)
    med = np.array([CALL_LENGTH[x][0] for x in kinds])[src]
    sig = np.array([CALL_LENGTH[x][1] for x in kinds])[src]
    dur = np.maximum(3, np.exp(rng.normal(np.log(med), sig))).astype(np.int64)
    ok = (t < fw.end) & (local | (src == kinds.index("abroad")))
    for is_local in (True, False):
        rows = np.flatnonzero(ok & (local if is_local else src == kinds.index("abroad")))
        if not rows.size:
            continue
        put(t[rows], None, to[rows], dur[rows], -1, 2)
        if is_local:
            caller[-1] = -2 - who[rows]
        else:
            base = len(caller_text)
            numbers = sorted({int(p) for p in to[rows]})
            index = {p: base + j for j, p in enumerate(numbers)}
            caller_text.extend(relative_abroad_number(p) for p in numbers)
            caller[-1] = np.array([index[int(p)] for p in to[rows]], np.int64)
