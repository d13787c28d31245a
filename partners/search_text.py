"""What catalog search matches: an offering's normalised text, its pinyin, and short n-grams.

`search_text` = title | description | full pinyin of the title | pinyin initials of the title | the partner's
name (so `食堂` finds every offering of 光阳爱心食堂), NFKC-normalised
and lower-cased, segments separated by a control character no query contains. A query of 3 or more
characters is a substring match on it, served by a pg_trgm GIN index. Trigrams cannot serve 1–2 character
queries (`食堂`, `托育` — the most common Chinese searches), so `search_grams` holds every distinct
1- and 2-character substring of each segment, in a GIN-indexed array: a short query is found exactly when its
grams are all present, which for one or two characters is the same as being a substring of a segment.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

SEPARATOR = "\x1f"
SHORT_QUERY_CHARS = 2
_SPACES = re.compile(r"\s+")
_PINYIN_QUERY = re.compile(r"^[a-z\s']+$")


def normalise(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


@lru_cache(maxsize=4096)
def pinyin_of(text: str) -> tuple[str, str]:
    """(full pinyin without spaces, initials) of `text`; non-Chinese runs are kept as they are."""
    full = "".join(lazy_pinyin(text, errors="default"))
    initials = "".join(lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default"))
    return normalise(full).replace(" ", ""), normalise(initials).replace(" ", "")


def segments(title: str, description: str, partner_name: str = "") -> list[str]:
    full, initials = pinyin_of(title)
    return [s for s in (normalise(title), normalise(description), full, initials, normalise(partner_name)) if s]


def search_text(title: str, description: str, partner_name: str = "") -> str:
    return SEPARATOR.join(segments(title, description, partner_name))


def grams_of(text: str) -> set[str]:
    grams = set(text)
    grams.update(text[i : i + 2] for i in range(len(text) - 1))
    grams.discard(" ")
    return grams


def search_grams(title: str, description: str, partner_name: str = "") -> list[str]:
    grams: set[str] = set()
    for seg in segments(title, description, partner_name):
        grams |= grams_of(seg)
    return sorted(grams)


def normalise_query(q: str) -> str:
    """The query as matched: normalised; pinyin typed with spaces or apostrophes (`ai xin`, `xi'an`) joined."""
    q = normalise(q).replace(SEPARATOR, "").replace("\x00", "")
    if _PINYIN_QUERY.match(q):
        q = q.replace(" ", "").replace("'", "")
    return q


def like_pattern(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
