"""Validation with the OASIS ``stix2-validator`` in strict mode, against the extension schemas we ship.

Every bundle that leaves and every envelope a partner sends passes through ``problems``: strict mode turns
the specification's SHOULDs into errors, and the schemas under ``schemas/`` (named by extension id, as the
validator looks them up) check our own SCO types and the Incident Core properties. It runs offline.

The validator is pure Python, and it was most of a partner sync (a 10,000-indicator sync took ~24 s with the
first shortcut below, ~7 s with all; ``zaslon bench sync``). What it checks is kept; how it gets there is made
faster, in its own code path (docs/sharing.md, "Speed"):
- one JSON-schema validator per schema file, built once (it rebuilt and re-crawled them for every object);
- each of those schema checks is first run by ``jsonschema_rs`` (Rust) on the very schema the validator built,
  with the validator's own format checkers; only an object it finds fault with is checked by the validator's
  Python ``jsonschema`` too, whose verdict and messages are the ones returned. Rust is only ever a shortcut
  to "no errors": tests compare both on valid and broken objects of every type we send or accept;
- a pattern shape (string literals blanked) that was valid once is valid (the ANTLR parse is the other cost),
  and python-stix2's own check of the same pattern with the same grammar reuses that verdict;
- a schema file looked up and not found is not searched for again (it walked the schema folder per object);
- a timestamp string that parsed once is not parsed again.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jsonschema_rs
import stix2.v21.sdo
import stix2validator.validator as _v
from jsonschema import Draft202012Validator
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
            python = type(base)(base.schema, registry=registry, format_checker=base.format_checker)
            hit = (known, _Screened(python, _rust_validator(python.schema, schema_dir)))
            validators[key] = hit
        return hit[1]

    found: dict[tuple[str, str], str | None] = {}

    def cached_find_schema(schema_dir: str, name: str) -> str | None:
        # It caches what it found but not what it did not, and walks the folder again for every object of a
        # type with no schema of its own there (all of them, in our extension folder).
        if (schema_dir, name) not in found:
            found[(schema_dir, name)] = find_schema(schema_dir, name)
        return found[(schema_dir, name)]

    def cached_schema(schema_path: str) -> Any:
        # the same dict each time: the validator's in-place edits of a bundle's schema are the same each time
        if schema_path not in schemas:
            schemas[schema_path] = load_schema(schema_path)
        return schemas[schema_path]

    find_schema = _v.find_schema
    _v.load_validator = cached_validator
    _v.load_schema = cached_schema
    _v.find_schema = cached_find_schema
    _v._zaslon_memoised = True


class _Screened:
    """One schema's check: ``jsonschema_rs`` first; the validator's own ``jsonschema`` only if Rust finds fault
    (its verdict and messages stand, so an object Rust alone rejects still passes)."""

    def __init__(self, python: Any, rust: Any | None) -> None:
        self.python, self.rust = python, rust
        self.schema = python.schema

    def iter_errors(self, instance: Any) -> Any:
        if self.rust is not None and SCREEN["on"]:
            try:
                if self.rust.is_valid(instance):
                    return iter(())
            except Exception:  # anything Rust cannot take (a value JSON has no type for): Python decides
                pass
        return self.python.iter_errors(instance)


# The Rust pre-check, on; the tests switch it off to compare the verdicts both ways.
SCREEN = {"on": True}


def _rust_validator(schema: Any, schema_dir: str | None) -> Any | None:
    """The same schema for ``jsonschema_rs``: its "$ref"s retrieved from the same files, patched the same way
    (``retrieve_from_filesystem``), and every format the validator checks checked by the validator's own
    function. None if it will not build (then the validator's ``jsonschema`` checks everything, as before)."""
    checker = Draft202012Validator.FORMAT_CHECKER

    def conforms(name: str) -> Any:
        return lambda value: checker.conforms(value, name)

    try:
        return jsonschema_rs.validator_for(
            schema, formats={name: conforms(name) for name in checker.checkers}, validate_formats=True,
            retriever=lambda uri: _v.retrieve_from_filesystem(uri, schema_dir).contents)
    except Exception:  # a keyword or regex it does not take
        return None


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
    valid = _VALID_SHAPES

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
    # python-stix2's Indicator runs the same grammar (stix2patterns' run_validator) on the same pattern when we
    # parse what a partner sent: a shape the validator found valid (its check includes run_validator's) is.
    run_validator = stix2.v21.sdo.run_validator

    def stix2_run_validator(pattern: Any, stix_version: str = "2.1") -> list[Any]:
        if isinstance(pattern, str) and not _LOOKS_INSIDE.search(_STRING.sub("''", pattern)) \
                and (_STRING.sub("''", pattern), str(stix_version)) in valid:
            return []
        found: list[Any] = run_validator(pattern, stix_version)
        return found

    stix2.v21.sdo.run_validator = stix2_run_validator


# Pattern shapes (string literals blanked, with the pattern version) that validated with no message.
_VALID_SHAPES: set[tuple[str, str]] = set()


_memoise_valid_pattern_shapes()


def _memoise_valid_timestamps() -> None:
    """Its timestamp check parses every timestamp with dateutil's general parser (an indicator carries the same
    one three times: created, modified, valid_from). A string that parsed once parses: remember those; one that
    fails is parsed (and fails, with the same message) every time."""
    from stix2validator.v21 import musts

    if isinstance(musts.parser, SimpleNamespace):
        return
    parse = functools.lru_cache(maxsize=65_536)(musts.parser.parse)
    musts.parser = SimpleNamespace(parse=parse)


_memoise_valid_timestamps()


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
    except Exception as exc:  # whatever it raised, the objects are not valid
        # Its custom checks assume the schemas held (a timestamp that is a number, an empty pattern make them
        # raise): what the schemas say is wrong is the answer, never a crash (a partner's 422, not our 500).
        return (_schema_messages(bundle) or _objects_it_cannot_check(bundle)
                or [f"stix2-validator cannot check these objects: {type(exc).__name__}: {exc}"])
    messages = [str(e.message) for e in result.errors]
    messages += [str(w) for w in (result.warnings or [])]
    return messages


def _objects_it_cannot_check(bundle: dict[str, Any]) -> list[str]:
    """Which objects make the validator raise, each named (the schemas found nothing wrong with them)."""
    out: list[str] = []
    for obj in bundle["objects"]:
        try:
            validate_instance({**bundle, "objects": [obj]}, options())
        except Exception as exc:
            out.append(f"{obj['id']}: stix2-validator cannot check this object: {type(exc).__name__}: {exc}")
    return out


def _schema_messages(bundle: dict[str, Any]) -> list[str]:
    """The validator's schema messages alone, worded as it words them, object by object (an object it cannot
    even look at, such as ``extensions`` that is not an object, is named as such)."""
    from stix2validator.errors import pretty_error

    opts = options()
    out: list[str] = []
    for obj in bundle["objects"]:
        try:
            out += [prefix + pretty_error(error, opts.verbose)
                    for gen, prefix in _v._schema_validate(obj, opts, "2.1") for error in gen]
        except Exception as exc:
            out.append(f"{obj['id']}: stix2-validator cannot check this object: {type(exc).__name__}: {exc}")
    return out
