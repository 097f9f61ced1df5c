"""The ``zaslon`` command (typer): one module per domain, registered in ``zaslon.cli.main``.

Each module exposes ``register(app, bench, evaluate)`` and imports heavy libraries inside its
command functions, so ``zaslon --help`` stays fast.
"""

from zaslon.cli.main import app, main

__all__ = ["app", "main"]
