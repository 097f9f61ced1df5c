"""Where the evaluation and bench commands write their figures: checked before any work, written whole."""

from __future__ import annotations

import os
from pathlib import Path

from zaslon.errors import InvalidInput


def check_json_target(path: Path) -> None:
    """Refuse, before any work, a ``--json`` path that cannot be written: a directory, a file standing where a
    directory should be, or a directory we may not write in."""
    if path.is_dir():
        raise InvalidInput(f"--json {path} is a directory; give a file name", field="json")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InvalidInput(f"--json {path}: {parent} is a file, not a directory", field="json")
    if not os.access(parent, os.W_OK):
        raise InvalidInput(f"--json {path}: cannot write in {parent}", field="json")


def check_eval_target(preset: str, world: Path | None, json_path: Path | None) -> None:
    """Refuse an unknown preset (when a world is to be generated) or an unwritable ``--json`` before any work."""
    from zaslon.simulate.presets import get_preset

    if world is None:
        get_preset(preset)
    if json_path is not None:
        check_json_target(json_path)


def write_json_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text + "\n")
    tmp.replace(path)  # a reader never sees half the figures
