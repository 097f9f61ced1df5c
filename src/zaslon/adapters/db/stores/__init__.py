"""SQL implementations of the flow's store ports (``zaslon.flow.ports``).

SQLAlchemy Core on the shared tables (``adapters/db/tables_*.py``), on SQLite and PostgreSQL."""
