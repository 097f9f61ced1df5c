"""``python -m zaslon``: the same command as ``zaslon``."""

from zaslon.cli import main

main()
