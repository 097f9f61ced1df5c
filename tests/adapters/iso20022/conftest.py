"""Check generated messages against the ISO 20022 message definitions.

camt.056.001.12 and head.001.001.02: the official XSDs shipped in the package (lxml). pacs.002.001.10
and pacs.004.001.09: no registry ships their official XSDs (see schemas/README.md), so they are checked
against pyiso20022's bindings, which were generated from those XSDs: the message must parse with no
unknown element or attribute, every element the definition requires must be there, and serialising the
parsed message again must give the same XML, which holds only when every element sits where the
definition's sequence puts it. Value patterns and lengths are not checked that way.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from lxml import etree
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig
from xsdata.formats.dataclass.serializers import XmlSerializer

from zaslon.adapters.iso20022.pacs008 import schema


def xsd_errors(xml: bytes, name: str) -> list[str]:
    """What the official XSD ``name`` says is wrong with ``xml`` (empty: valid)."""
    xsd = schema(name)
    ok = xsd.validate(etree.fromstring(xml))
    return [] if ok else [f"line {e.line}: {e.message}" for e in xsd.error_log]


def _missing(obj: Any, path: str) -> list[str]:
    out: list[str] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        name = f.metadata.get("name", f.name)
        if f.metadata.get("required") and (value is None or value == []):
            out.append(f"{path}/{name}")
        for item in value if isinstance(value, list) else [value]:
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                out += _missing(item, f"{path}/{name}")
    return out


def binding_errors(xml: bytes, name: str) -> list[str]:
    """What pyiso20022's binding of message ``name`` (e.g. pacs.004.001.09) says is wrong with ``xml``."""
    module = importlib.import_module(f"pyiso20022.{name[:4]}.{name.replace('.', '_')}")
    config = ParserConfig(fail_on_unknown_properties=True, fail_on_unknown_attributes=True,
                          fail_on_converter_warnings=True)
    try:
        doc = XmlParser(config=config).from_bytes(xml, module.Document)
    except Exception as exc:  # xsdata raises ParserError / ConverterWarning subclasses
        return [f"does not parse: {exc}"]
    errors = [f"required element missing: {m}" for m in _missing(doc, "Document")]
    if resources.files("zaslon.adapters.iso20022").joinpath(f"schemas/{name}.xsd").is_file():
        errors += xsd_errors(xml, name)  # the official XSD, once someone can ship it
    again = XmlSerializer().render(doc, ns_map={None: f"urn:iso:std:iso:20022:tech:xsd:{name}"}).encode()
    if etree.tostring(etree.fromstring(again), method="c14n") != etree.tostring(
            etree.fromstring(xml), method="c14n"):
        errors.append("elements out of the definition's order (re-serialised XML differs)")
    return errors


@pytest.fixture(name="xsd_errors")
def _xsd_errors() -> Callable[[bytes, str], list[str]]:
    return xsd_errors


@pytest.fixture(name="binding_errors")
def _binding_errors() -> Callable[[bytes, str], list[str]]:
    return binding_errors
