"""Checksum validation of crypto wallet addresses: Bitcoin, Ethereum and TRON.

A mistyped address in a victim's report must not become an indicator (it would link unrelated incidents
or never match anything), so every address is accepted only when its own checksum holds:

- Bitcoin legacy (P2PKH ``1...``, P2SH ``3...``): Base58Check, double SHA-256 (Bitcoin wiki, "Base58Check
  encoding"); segwit ``bc1...``: Bech32 for witness v0 (BIP-173) and Bech32m for v1+ (BIP-350).
- Ethereum: EIP-55 mixed-case checksum over the Keccak-256 of the lower-case hex; an all-lower or
  all-upper address carries no checksum and is valid as is (EIP-55 says so).
- TRON: Base58Check of a 21-byte payload that starts with 0x41.

The Base58 and Bech32 codecs are the reference algorithms, a few lines each; Keccak-256 comes from
pycryptodome (``hashlib.sha3_256`` is the final SHA-3, whose padding differs from Ethereum's Keccak).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

from Crypto.Hash import keccak

_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32_CHARSET)}
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3


class Chain(StrEnum):
    BTC = "btc"
    ETH = "eth"
    TRON = "tron"


def b58decode_check(text: str) -> bytes | None:
    """Payload of a Base58Check string, or None when it is not one (bad character or checksum)."""
    if not text or len(text) > 120:
        return None
    num = 0
    for ch in text:
        digit = _B58_INDEX.get(ch)
        if digit is None:
            return None
        num = num * 58 + digit
    body = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    # Each leading '1' stands for one leading zero byte.
    pad = len(text) - len(text.lstrip("1"))
    raw = b"\x00" * pad + body
    if len(raw) < 5:
        return None
    payload, check = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != check:
        return None
    return payload


def _bech32_polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convertbits(data: list[int], frombits: int, tobits: int) -> list[int] | None:
    """Regroup 5-bit words into bytes without padding (BIP-173 ``convertbits`` with pad=False)."""
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if bits >= frombits or ((acc << (tobits - bits)) & maxv):
        return None
    return out


def is_valid_segwit(address: str, hrp: str = "bc") -> bool:
    """A Bech32/Bech32m segwit address of network ``hrp`` with the right encoding for its version."""
    if address.lower() != address and address.upper() != address:
        return False  # BIP-173 forbids mixed case
    addr = address.lower()
    pos = addr.rfind("1")
    if pos < 1 or pos + 7 > len(addr) or len(addr) > 90 or addr[:pos] != hrp:
        return False
    data: list[int] = []
    for ch in addr[pos + 1 :]:
        d = _BECH32_INDEX.get(ch)
        if d is None:
            return False
        data.append(d)
    const = _bech32_polymod(_hrp_expand(hrp) + data)
    if const not in (_BECH32_CONST, _BECH32M_CONST):
        return False
    version, program = data[0], _convertbits(data[1:-6], 5, 8)
    if program is None or version > 16 or not 2 <= len(program) <= 40:
        return False
    if version == 0 and len(program) not in (20, 32):
        return False
    # v0 must use Bech32, v1+ must use Bech32m (BIP-350).
    return const == (_BECH32_CONST if version == 0 else _BECH32M_CONST)


def is_valid_btc(address: str) -> bool:
    """A mainnet Bitcoin address: P2PKH (version 0x00), P2SH (0x05) or segwit ``bc1``."""
    if address[:3].lower() == "bc1":
        return is_valid_segwit(address, "bc")
    payload = b58decode_check(address)
    return payload is not None and len(payload) == 21 and payload[0] in (0x00, 0x05)


def is_valid_tron(address: str) -> bool:
    payload = b58decode_check(address)
    return address.startswith("T") and payload is not None and len(payload) == 21 and payload[0] == 0x41


def keccak256(data: bytes) -> bytes:
    h = keccak.new(digest_bits=256)
    h.update(data)
    return h.digest()


def eip55(address: str) -> str:
    """The EIP-55 checksummed form of a 0x-prefixed 40-hex-digit address."""
    hexpart = address[2:].lower()
    digest = keccak256(hexpart.encode("ascii")).hex()
    return "0x" + "".join(c.upper() if int(digest[i], 16) >= 8 else c for i, c in enumerate(hexpart))


def is_valid_eth(address: str) -> bool:
    if len(address) != 42 or address[:2] not in ("0x", "0X"):
        return False
    hexpart = address[2:]
    if any(c not in "0123456789abcdefABCDEF" for c in hexpart):
        return False
    if hexpart == hexpart.lower() or hexpart == hexpart.upper():
        return True  # no checksum carried
    return eip55(address) == "0x" + hexpart


def normalise_wallet(address: str) -> tuple[Chain, str] | None:
    """The chain and canonical form of a valid address, or None when no checksum holds.

    Canonical forms: Base58 as written (it is case-sensitive), segwit lower-case, Ethereum EIP-55.
    """
    addr = address.strip()
    if addr[:2] in ("0x", "0X"):
        return (Chain.ETH, eip55(addr)) if is_valid_eth(addr) else None
    if addr[:3].lower() == "bc1":
        return (Chain.BTC, addr.lower()) if is_valid_segwit(addr) else None
    if addr.startswith("T"):
        return (Chain.TRON, addr) if is_valid_tron(addr) else None
    if addr[:1] in ("1", "3"):
        return (Chain.BTC, addr) if is_valid_btc(addr) else None
    return None
