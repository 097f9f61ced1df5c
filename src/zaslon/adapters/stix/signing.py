"""Signed STIX objects: Ed25519 JWS (RFC 7515, detached payload, RFC 7797 style) over RFC 8785 canonical JSON.

The signature sits in the object's ``signature`` property as ``<protected header>..<signature>``; the payload
is the object itself without ``signature``, canonicalised by RFC 8785 (JCS) so both exchanges hash the same
bytes whatever their JSON libraries do with key order, whitespace or numbers. The protected header names the
key (``kid``), so a partner that rotates its signing key can say which one it used.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import rfc8785
from Crypto.Signature import eddsa

from zaslon.errors import InvalidInput, Unauthenticated


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seed_of(hex_seed: str) -> bytes:
    try:
        seed = bytes.fromhex(hex_seed.strip())
    except ValueError:
        raise InvalidInput("a signing key is 32 bytes in hex", field="signing_key") from None
    if len(seed) != 32:
        raise InvalidInput(f"a signing key is 32 bytes in hex, this one has {len(seed)}", field="signing_key")
    return seed


def public_key(hex_seed: str) -> str:
    """The Ed25519 public key (hex) of a private key given as its 32-byte seed (hex)."""
    raw: bytes = eddsa.import_private_key(seed_of(hex_seed)).public_key().export_key(format="raw")
    return raw.hex()


def _signing_input(header: str, obj: dict[str, Any]) -> bytes:
    payload = {k: v for k, v in obj.items() if k != "signature"}
    return f"{header}.{_b64(rfc8785.dumps(payload))}".encode()


def sign(obj: dict[str, Any], hex_seed: str, kid: str) -> dict[str, Any]:
    """``obj`` with its ``signature``."""
    header = _b64(json.dumps({"alg": "EdDSA", "kid": kid}, separators=(",", ":")).encode())
    signer = eddsa.new(eddsa.import_private_key(seed_of(hex_seed)), "rfc8032")
    sig = signer.sign(_signing_input(header, obj))
    return {**obj, "signature": f"{header}..{_b64(sig)}"}


def verify(obj: dict[str, Any], public_hex: str | None) -> str:
    """The ``kid`` of a valid signature; ``Unauthenticated`` for a missing, malformed, forged or copied one
    (a signature lifted from another object fails: it signs that object's bytes, not these)."""
    what = f"{obj.get('id', 'object')}"
    if not public_hex:
        raise Unauthenticated(f"{what}: no verification key is registered for its sender")
    raw = obj.get("signature")
    if not isinstance(raw, str) or raw.count(".") != 2 or raw.split(".")[1] != "":
        raise Unauthenticated(f"{what}: missing or malformed signature (want a detached JWS 'header..sig')")
    header, _, sig = raw.split(".")
    try:
        protected = json.loads(_unb64(header))
        if protected.get("alg") != "EdDSA":
            raise ValueError("alg")
        key = eddsa.import_public_key(bytes.fromhex(public_hex))
        eddsa.new(key, "rfc8032").verify(_signing_input(header, obj), _unb64(sig))
    except (ValueError, TypeError):
        raise Unauthenticated(f"{what}: the signature does not verify") from None
    return str(protected.get("kid", ""))
