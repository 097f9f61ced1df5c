from __future__ import annotations

import pytest

from zaslon.errors import InvalidInput
from zaslon.simulate.presets import PRESETS, get_preset


def test_presets_keep_the_published_sizes() -> None:
    small, large = get_preset("small"), get_preset("large")
    assert small.persons == 50_000 and small.days == 28
    assert (large.bec_domestic, large.bec_foreign, large.extortion) == (300, 100, 40)
    assert small.bec_domestic == 3 * small.bec_foreign and small.extortion == 40
    # about 0.74 legitimate transfers per person-day: large must clear 10 million
    assert large.persons * large.days * 0.7 > 10_000_000
    assert PRESETS["tiny"].persons < small.persons < large.persons


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(InvalidInput, match="tiny, small, large"):
        get_preset("medium")
