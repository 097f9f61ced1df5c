"""Ports: one small store interface (a ``typing.Protocol``) per domain, spoken in domain types.

The SQL implementations live in ``zaslon.adapters.db.stores``; the flow modules talk only to these."""
