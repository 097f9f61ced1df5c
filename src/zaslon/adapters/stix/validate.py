"""Validation with the OASIS ``stix2-validator`` in strict mode, against the extension schemas we ship.

Every bundle that leaves and every envelope a partner sends passes through ``problems``: strict mode turns
the specification's SHOULDs into errors, and the schemas under ``schemas/`` (named by extension id, as the
validator looks them up) check our own SCO types and the Incident Core properties. It runs offline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stix2validator import ValidationOptions, validate_instance
from stix2validator.errors import ValidationError

SCHEMA_DIR = Path(__file__).parent / "schemas"
_log = logging.getLogger("stix2validator")
_log.setLevel(logging.ERROR)  # it logs an "info" line per extension it validates


def options() -> ValidationOptions:
    return ValidationOptions(strict=True, schema_dir=str(SCHEMA_DIR), version="2.1", silent=True)


def problems(objects: Sequence[dict[str, Any]]) -> list[str]:
    """The validator's messages for ``objects`` (as one bundle), errors and (strict) warnings; empty if valid."""
    bundle = {"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": list(objects)}
    return bundle_problems(bundle)


def bundle_problems(bundle: dict[str, Any]) -> list[str]:
    if not bundle.get("objects"):
        return ["a bundle needs at least one object"]
    for i, obj in enumerate(bundle["objects"]):
        if not isinstance(obj, dict) or "type" not in obj or "id" not in obj:
            return [f"objects[{i}]: every object needs a 'type' and an 'id'"]
    try:
        result = validate_instance(bundle, options())
    except ValidationError as exc:
        return [str(exc)]
    messages = [str(e.message) for e in result.errors]
    messages += [str(w) for w in (result.warnings or [])]
    return messages
