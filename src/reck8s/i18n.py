"""Pick the user's language: Chinese when the locale is Chinese, else English."""
from __future__ import annotations

import os


def is_chinese() -> bool:
    # gettext's precedence: LANGUAGE (its first entry), then LC_ALL, LC_MESSAGES
    # and LANG. gettext ignores LANGUAGE when the locale is C, and so does this.
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            if value not in ("C", "POSIX") and not value.startswith("C."):
                preferred = os.environ.get("LANGUAGE", "").split(":")[0]
                if preferred:
                    return preferred.lower().startswith("zh")
            return value.lower().startswith("zh")
    return False


def t(en: str, zh: str) -> str:
    """Return the message in the user's language; both take the same fields."""
    return zh if is_chinese() else en
