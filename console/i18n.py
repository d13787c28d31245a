"""The console's words: written in Chinese in the templates, with English for clients that prefer it.

Pages say `_("我的预约")`; the English lives in `locale/en/*.json` (one file per area of the console, so each
area keeps its own). The language follows the API's rule (`linli.errors.prefers_english`), so a browser set to
English gets English pages and English error titles alike, unless the person chose a language in the menu (a
cookie). A string with no English stays Chinese, and
tests/test_console_i18n.py fails for it.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from linli.errors import prefers_english, titles

LOCALE = Path(__file__).parent / "locale"


@lru_cache
def english() -> dict[str, str]:
    words: dict[str, str] = {}
    for path in sorted((LOCALE / "en").glob("*.json")):
        words.update(json.loads(path.read_text(encoding="utf-8")))
    return words


# The language a person chose with the link in the menu (中文 / English), kept in this cookie; without it the
# browser's Accept-Language decides, as it does for the API.
LANGUAGE_COOKIE = "linli_lang"
LANGUAGES = ("zh", "en")


def is_english(request: Any) -> bool:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return bool(chosen == "en")
    return prefers_english(request)


def translate(text: str, *, en: bool) -> str:
    return english().get(text, text) if en else text


def error_title(code: str, *, en: bool) -> str:
    """The API's title for an error code, in the page's language."""
    _status, zh, title_en = titles(code)
    return title_en if en else zh
