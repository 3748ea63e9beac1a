"""Pick the user's language: Chinese when the locale says so, else English."""
from __future__ import annotations

import os


def is_chinese() -> bool:
    # The same precedence as the C library: LC_ALL, then LC_MESSAGES, then LANG.
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return value.lower().startswith("zh")
    return False


def t(en: str, zh: str) -> str:
    """Return the message in the user's language; both take the same fields."""
    return zh if is_chinese() else en
