"""Every word the console shows has its English, so an English browser never meets a stray Chinese label."""

from __future__ import annotations

import re
from pathlib import Path

from console.i18n import english

CONSOLE = Path(__file__).resolve().parent.parent / "console"
# _("…") in templates and web.message(request, "…") in page code.
_WORDS = re.compile(r"""(?:\b_|message\(request,)\s*\(?\s*(["'])((?:(?!\1).)*[\u4e00-\u9fff](?:(?!\1).)*)\1""")


def _console_words() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]:
        for match in _WORDS.finditer(path.read_text(encoding="utf-8")):
            found.setdefault(match.group(2), f"{path.relative_to(CONSOLE)}")
    return found


def test_every_chinese_word_of_the_console_has_its_english() -> None:
    words = _console_words()
    assert len(words) > 40  # the pattern really finds the console's words
    missing = {w: where for w, where in words.items() if w not in english()}
    assert not missing, f"add these to console/locale/en/*.json: {missing}"


def test_the_english_files_hold_no_word_twice_with_different_meanings() -> None:
    import json

    seen: dict[str, tuple[str, str]] = {}
    for path in sorted((CONSOLE / "locale" / "en").glob("*.json")):
        for zh, en in json.loads(path.read_text(encoding="utf-8")).items():
            if zh in seen and seen[zh][0] != en:
                raise AssertionError(f"{zh!r}: {seen[zh][1]} says {seen[zh][0]!r}, {path.name} says {en!r}")
            seen[zh] = (en, path.name)
