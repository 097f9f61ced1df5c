from __future__ import annotations

import numpy as np
from schwifty import IBAN

from zaslon.simulate import strs


def test_by_ibans_have_valid_check_digits() -> None:
    rng = np.random.default_rng(0)
    n = 500
    codes = ["AKBB", "PJCB", "ALFA"]
    out = strs.by_ibans(codes, rng.integers(0, 3, n), np.full(n, 3014), rng.integers(10**15, 10**16, n))
    for s in out.to_pylist():
        assert len(s) == 28 and s.startswith("BY")
        IBAN(s)  # raises on a wrong checksum or format


def test_a_wrong_digit_breaks_the_iban() -> None:
    good = strs.by_ibans(["AKBB"], np.array([0]), np.array([3014]), np.array([1234567890123456]))[0].as_py()
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    try:
        IBAN(bad)
    except ValueError:
        return
    raise AssertionError("schwifty accepted a corrupted IBAN")


def test_foreign_ibans() -> None:
    for country, bban in [("KZ", "7221234567890123"), ("PL", "10201026" + "1" * 16), ("LT", "73000" + "2" * 11)]:
        IBAN(strs.iban(country, bban))


def test_luhn() -> None:
    body = strs.digits(np.array([425519123456789, 512345678901234]), 15)
    for row in strs.luhn_complete(body):
        pan = row.tobytes().decode()
        assert strs.luhn_ok(pan)
        assert not strs.luhn_ok(pan[:-1] + str((int(pan[-1]) + 1) % 10))


def test_wallets_carry_valid_checksums() -> None:
    btc = strs.wallet("btc", b"k1")
    tron = strs.wallet("tron", b"k2")
    assert btc.startswith("1") and tron.startswith("T") and len(tron) == 34
    assert strs.b58decode_check(btc) is not None and strs.b58decode_check(tron) is not None
    broken = tron[:-1] + ("A" if tron[-1] != "A" else "B")
    assert strs.b58decode_check(broken) is None
    eth = strs.wallet("eth", b"k3")
    assert eth.startswith("0x") and len(eth) == 42


def test_prefixed_ids() -> None:
    assert strs.prefixed_ids("T", np.array([0, 42]), 5).to_pylist() == ["T00000", "T00042"]
