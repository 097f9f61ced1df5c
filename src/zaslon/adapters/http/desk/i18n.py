"""Russian and English: the templates' strings are English msgids, translated from gettext catalogues
(``locale/<lang>/LC_MESSAGES/desk.po``) read with Babel when the app starts."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"
_LOCALE = Path(__file__).parent / "locale"


@cache
def _catalogue(lang: str) -> dict[str, str]:
    path = _LOCALE / lang / "LC_MESSAGES" / "desk.po"
    if not path.exists():
        return {}
    with path.open("rb") as f:
        cat = read_po(f, locale=lang)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string and not m.fuzzy}


def translator(lang: str) -> Callable[[str], str]:
    table = _catalogue(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    return lambda text: table.get(text, text)
