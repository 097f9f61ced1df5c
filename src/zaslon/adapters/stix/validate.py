"""Validation with the OASIS ``stix2-validator`` in strict mode, against the extension schemas we ship.

Every bundle that leaves and every envelope a partner sends passes through ``problems``: strict mode turns
the specification's SHOULDs into errors, and the schemas under ``schemas/`` (named by extension id, as the
validator looks them up) check our own SCO types and the Incident Core properties. It runs offline.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import stix2validator.validator as _v
from stix2validator import ValidationOptions, validate_instance
from stix2validator.errors import ValidationError

SCHEMA_DIR = Path(__file__).parent / "schemas"
_log = logging.getLogger("stix2validator")
_log.setLevel(logging.ERROR)  # it logs an "info" line per extension it validates


def _memoise_schema_loading() -> None:
    """stix2-validator reads each schema file and builds a fresh JSON-schema validator (crawling its whole
    reference registry) for every object it checks: ~20 ms an object, 200 s for a 10,000-indicator sync. The
    schemas never change while we run, so one validator per schema file is enough; what it checks is the same.
    (Its own _PATCHED_SCHEMAS cache keeps the patched schema, not the validator built from it.)"""
    if getattr(_v, "_zaslon_memoised", False):
        return
    load_validator, load_schema = _v.load_validator, _v.load_schema
    validators: dict[tuple[str, str | None], tuple[int, Any]] = {}
    schemas: dict[str, Any] = {}

    def cached_validator(schema_path: str, schema: Any, schema_dir: str | None) -> Any:
        # Its registry is immutable and learns nothing from a look-up, so every "$ref" not in it is crawled
        # and retrieved again: give it every schema file read so far, rebuilt whenever more were read.
        key, known = (schema_path, schema_dir), len(_v._FILE_SCHEMAS)
        hit = validators.get(key)
        if hit is None or hit[0] != known:
            base = load_validator(schema_path, schema, schema_dir)
            registry = base._registry.with_resources(list(_v._FILE_SCHEMAS.items())).crawl()
            hit = (known, type(base)(base.schema, registry=registry, format_checker=base.format_checker))
            validators[key] = hit
        return hit[1]

    def cached_schema(schema_path: str) -> Any:
        # the same dict each time: the validator's in-place edits of a bundle's schema are the same each time
        if schema_path not in schemas:
            schemas[schema_path] = load_schema(schema_path)
        return schemas[schema_path]

    _v.load_validator = cached_validator
    _v.load_schema = cached_schema
    _v._zaslon_memoised = True


_memoise_schema_loading()

# A string literal of a STIX pattern, escapes included: one StringLiteral token whatever it holds.
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")
# Operators and literals whose content the validator does look into: patterns with them are never memoised.
_LOOKS_INSIDE = re.compile(r"\b(?:MATCHES|LIKE|ISSUBSET|ISSUPERSET)\b|\b[thb]'")


def _memoise_valid_pattern_shapes() -> None:
    """The validator parses every indicator's pattern with an ANTLR grammar in pure Python, twice (~5 ms an
    indicator, most of a large import). Whether a pattern is valid depends on its tokens, not on what its
    string literals hold: so a pattern whose shape (string literals blanked) was valid once is valid. Only
    patterns that validated with no message are remembered, and none with an operator or literal whose
    content the validator inspects (MATCHES, LIKE, subnets, timestamps, hex, binary)."""
    from stix2validator.v21 import musts

    if getattr(musts, "_zaslon_memoised", False):
        return
    check = musts.patterns
    valid: set[tuple[str, str]] = set()

    def patterns(instance: Any, options: Any) -> Any:
        pattern = instance.get("pattern") if instance.get("type") == "indicator" else None
        if not isinstance(pattern, str) or _LOOKS_INSIDE.search(_STRING.sub("''", pattern)):
            yield from check(instance, options)
            return
        shape = (_STRING.sub("''", pattern), str(instance.get("pattern_version", instance.get("spec_version"))))
        if shape in valid:
            return
        errors = list(check(instance, options))
        if not errors and len(valid) < 10_000:
            valid.add(shape)
        yield from errors

    musts.patterns = patterns
    musts._zaslon_memoised = True


_memoise_valid_pattern_shapes()


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
