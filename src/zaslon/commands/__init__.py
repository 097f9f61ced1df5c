"""Sub-commands of the ``zaslon`` CLI, one module per domain.

Each module exposes ``register(app, bench, evaluate)`` and imports heavy libraries inside its
command functions, so ``zaslon --help`` stays fast.
"""
