"""Pseudonymised matching between two exchanges: keyed hashes of sensitive identifiers.

Each pair of exchanges agrees on a secret key (per pair, with an id, rotated). A sensitive identifier
(an account, a phone number, a card) is shared as HMAC-SHA-256 over its canonical form under that key, so
the partner learns that it holds the same identifier (its own value hashes to the same digest) without
learning any identifier it does not already hold. Without the key, a digest cannot be tested against a
guessed value, which a plain hash of a phone number (a small space) could.

The canonical form is the normalised value the exchange already stores (E.164 phone, compact IBAN or
account number, a wallet as ``normalise_wallet`` gives it), prefixed by the kind, so a phone number and an
account number with the same digits never collide.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

KEY_BYTES = 32


@dataclass(frozen=True, slots=True)
class PairKey:
    key_id: str
    secret: bytes


def canonical(kind: str, value: str) -> bytes:
    return f"{kind}:{value.strip()}".encode()


def keyed_hash(key: PairKey, kind: str, value: str) -> str:
    """HMAC-SHA-256 of the canonical value under the pair's key, lower-case hex."""
    return hmac.new(key.secret, canonical(kind, value), hashlib.sha256).hexdigest()


def parse_secret(hex_secret: str) -> bytes:
    """A key given as hex (exchanged out of band with the partner); at least 32 bytes."""
    raw = bytes.fromhex(hex_secret.strip())
    if len(raw) < KEY_BYTES:
        raise ValueError(f"a pair key has at least {KEY_BYTES} bytes, this one {len(raw)}")
    return raw
