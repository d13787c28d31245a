"""The console's words: written in Chinese in the templates, with English for clients that prefer it.

Pages say `_("我的预约")`; the English lives in `locale/en/*.json` (one file per area of the console, so each
area keeps its own). The language follows the API's rule (`linli.errors.prefers_english`), so a browser set to
English gets English pages and English error titles alike. A string with no English stays Chinese, and
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


def is_english(request: Any) -> bool:
    return prefers_english(request)


def translate(text: str, *, en: bool) -> str:
    return english().get(text, text) if en else text


def error_title(code: str, *, en: bool) -> str:
    """The API's title for an error code, in the page's language."""
    _status, zh, title_en = titles(code)
    return title_en if en else zh
