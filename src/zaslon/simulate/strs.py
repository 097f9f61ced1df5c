"""Vectorised builders for fixed-width identifier strings (IBANs, phones, ids, card numbers).

The large preset needs millions of identifiers; formatting them one by one in Python would cost more
than generating the whole world, so they are built as uint8 character matrices and handed to Arrow
as one buffer.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

_B58 = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _lut(k: int) -> np.ndarray:
    """All k-digit strings 0..10^k-1 as a (10^k, k) uint8 table."""
    n = np.arange(10**k, dtype=np.int64)
    powers = 10 ** np.arange(k - 1, -1, -1, dtype=np.int64)
    out: np.ndarray = ((n[:, None] // powers[None, :]) % 10 + 48).astype(np.uint8)
    return out


_LUTS = {k: _lut(k) for k in (1, 2, 3, 4)}


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints, as an (n, width) uint8 ASCII matrix.

    Four digits per integer division, looked up in a table: integer division is the slow part."""
    v = np.asarray(values, dtype=np.int64).ravel()
    out = np.empty((v.size, width), np.uint8)
    pos = width
    while pos > 0:
        k = min(4, pos)
        v, r = np.divmod(v, 10**k)
        out[:, pos - k:pos] = _LUTS[k][r]
        pos -= k
    return out


def const(text: str, n: int) -> np.ndarray:
    """A constant text repeated on n rows, as an (n, len) uint8 matrix."""
    row = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.broadcast_to(row, (n, row.size))


def to_arrow(*parts: np.ndarray) -> pa.StringArray:
    """Concatenate (n, w_i) character matrices column-wise into one Arrow string array."""
    mat = np.ascontiguousarray(np.hstack(parts), dtype=np.uint8)
    n, width = mat.shape
    offsets = (np.arange(n + 1, dtype=np.int32) * width).astype(np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(mat.tobytes()))


def prefixed_ids(prefix: str, values: np.ndarray, width: int) -> pa.StringArray:
    """Ids like ``P0000012``: a prefix and zero-padded numbers."""
    v = np.asarray(values)
    return to_arrow(const(prefix, v.size), digits(v, width))


def _mod97_digits(mod: np.ndarray, block: np.ndarray, width: int) -> np.ndarray:
    out: np.ndarray = (mod * (10**width) + block) % 97
    return out


def by_ibans(bank_codes: list[str], bank_idx: np.ndarray, balance: np.ndarray, number: np.ndarray) -> pa.StringArray:
    """Belarusian IBANs ``BYkk BBBB AAAA NNNNNNNNNNNNNNNN`` with ISO 7064 mod 97-10 check digits.

    ``bank_codes`` are 4-letter codes (the first 4 letters of each bank's BIC); ``balance`` is the
    4-digit balance account (3014 = personal current accounts, 3012 = business); ``number`` the
    16-digit account number (kept numeric so the check digits vectorise).
    """
    # Letters count as two digits (A=10 .. Z=35); the bank code comes first in the rearranged form.
    code_mod = np.array(
        [int("".join(str(ord(c) - 55) for c in code)) % 97 for code in bank_codes], dtype=np.int64
    )
    mod = code_mod[bank_idx]
    mod = _mod97_digits(mod, balance.astype(np.int64), 4)
    hi, lo = np.divmod(number.astype(np.int64), 10**8)
    mod = _mod97_digits(mod, hi, 8)
    mod = _mod97_digits(mod, lo, 8)
    mod = _mod97_digits(mod, np.full_like(mod, 113400), 6)  # "BY00": B=11, Y=34, then 00
    check = 98 - mod
    codes = np.array([np.frombuffer(c.encode("ascii"), dtype=np.uint8) for c in bank_codes])
    return to_arrow(const("BY", bank_idx.size), digits(check, 2), codes[bank_idx], digits(balance, 4),
                    digits(number, 16))


def iban(country: str, bban: str) -> str:
    """An IBAN with ISO 7064 mod 97-10 check digits (for the few foreign accounts; tests check them
    against schwifty)."""
    digits_ = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits_) % 97:02d}{bban}"


def luhn_complete(body: np.ndarray) -> np.ndarray:
    """Append the Luhn check digit to (n, w) ASCII digit rows; returns (n, w+1)."""
    d = body.astype(np.int64) - 48
    w = d.shape[1]
    # Doubling starts from the rightmost body digit, because the check digit will sit to its right.
    dbl = (np.arange(w)[::-1] % 2) == 0
    x = np.where(dbl[None, :], d * 2, d)
    x = np.where(x > 9, x - 9, x)
    check = (10 - x.sum(axis=1) % 10) % 10
    return np.hstack([body, (check + 48).astype(np.uint8)[:, None]])


def luhn_ok(pan: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(pan)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n * 2 > 9 else n * 2
        total += n
    return total % 10 == 0


def base58check(payload: bytes) -> str:
    """Base58Check as Bitcoin and TRON addresses use it: payload + 4 bytes of double SHA-256."""
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    num = int.from_bytes(raw, "big")
    out = bytearray()
    while num:
        num, rem = divmod(num, 58)
        out.append(_B58[rem])
    pad = len(raw) - len(raw.lstrip(b"\0"))
    return (b"1" * pad + bytes(reversed(out))).decode("ascii")


def b58decode_check(text: str) -> bytes | None:
    num = 0
    for ch in text.encode("ascii"):
        idx = _B58.find(bytes([ch]))
        if idx < 0:
            return None
        num = num * 58 + idx
    pad = len(text) - len(text.lstrip("1"))
    raw = b"\0" * pad + num.to_bytes((num.bit_length() + 7) // 8, "big")
    body, chk = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4] != chk:
        return None
    return body


def wallet(kind: str, key: bytes) -> str:
    """A checksummed address derived from ``key`` (a 20-byte hash stands in for a public key hash)."""
    h160 = hashlib.sha256(key).digest()[:20]
    if kind == "btc":
        return base58check(b"\x00" + h160)  # P2PKH, starts with 1
    if kind == "tron":
        return base58check(b"\x41" + h160)  # starts with T
    return "0x" + h160.hex()  # ETH: all-lowercase hex is valid under EIP-55
