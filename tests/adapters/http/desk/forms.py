"""Reading the desk's HTML forms in tests."""

from __future__ import annotations

import re


def csrf_token(html: str) -> str:
    """The CSRF token a desk form carries."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)
