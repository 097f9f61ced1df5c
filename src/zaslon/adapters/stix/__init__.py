"""STIX 2.1: content (``content``), TLP 2.0 markings (``tlp``), strict validation (``validate``)."""
