from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from zaslon.simulate.world import generate


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "tiny"
    generate("tiny", 7, out)
    return out


@pytest.fixture(scope="session")
def tiny(tiny_dir: Path) -> dict[str, Any]:
    from zaslon.simulate.world import load_manifest, load_truth, load_world

    return {"world": load_world(tiny_dir), "truth": load_truth(tiny_dir), "manifest": load_manifest(tiny_dir)}
