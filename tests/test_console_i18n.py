"""Every word the console shows has its English, so an English browser never meets a stray Chinese label."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from console.i18n import english

CONSOLE = Path(__file__).resolve().parent.parent / "console"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# _("…") in templates, with either quote.
_TEMPLATE_WORDS = re.compile(r"""\b_\(\s*(["'])((?:(?!\1).)*)\1\s*\)""")


def _python_words(path: Path) -> set[str]:
    """Chinese string constants of a console module, docstrings aside (what the pages may show)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and CHINESE.search(node.value)
    }


def _console_words() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in CONSOLE.rglob("*.html"):
        for match in _TEMPLATE_WORDS.finditer(path.read_text(encoding="utf-8")):
            if CHINESE.search(match.group(2)):
                found.setdefault(match.group(2), str(path.relative_to(CONSOLE)))
    for path in CONSOLE.rglob("*.py"):
        for word in _python_words(path):
            found.setdefault(word, str(path.relative_to(CONSOLE)))
    return found


def test_every_chinese_word_of_the_console_has_its_english() -> None:
    words = _console_words()
    assert len(words) > 40  # the patterns really find the console's words
    missing = {w: where for w, where in words.items() if w not in english()}
    assert not missing, f"add these to console/locale/en/*.json: {missing}"


def test_no_template_shows_chinese_outside_the_translation_function() -> None:
    # Text between tags that is Chinese but not inside {{ _("…") }} would stay Chinese for English readers.
    offenders = []
    for path in CONSOLE.rglob("*.html"):
        text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        for line in text.splitlines():
            if CHINESE.search(line):
                offenders.append(f"{path.relative_to(CONSOLE)}: {line.strip()}")
    assert offenders == []


def test_the_english_files_hold_no_word_twice_with_different_meanings() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for path in sorted((CONSOLE / "locale" / "en").glob("*.json")):
        for zh, en in json.loads(path.read_text(encoding="utf-8")).items():
            if zh in seen and seen[zh][0] != en:
                raise AssertionError(f"{zh!r}: {seen[zh][1]} says {seen[zh][0]!r}, {path.name} says {en!r}")
            seen[zh] = (en, path.name)
