"""ISO 20022 messages: pacs.008.001.08 in (safely parsed, XSD-validated), pacs.002.001.10 out."""

from zaslon.adapters.iso20022.pacs002 import NS_002, STATUS, build_pacs008, render_pacs002
from zaslon.adapters.iso20022.pacs008 import NS, Pacs008, TxRef, parse_pacs008

__all__ = ["NS", "NS_002", "STATUS", "Pacs008", "TxRef", "build_pacs008", "parse_pacs008", "render_pacs002"]
