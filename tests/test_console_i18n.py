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


async def test_a_person_chooses_english_in_the_menu_and_keeps_it_until_they_choose_chinese_again(app, client):
    from tests.api import community_with_staff
    from tests.console_helpers import browser

    await community_with_staff(client, "光阳社区")
    async with browser(app) as tab:
        welcome = await tab.get("/signup?community=x")
        assert "注册" in welcome.text and 'href="/language/en?next=/signup%3Fcommunity%3Dx"' in welcome.text
        chosen = await tab.get("/language/en?next=/signup%3Fcommunity%3Dx")
        assert chosen.status_code == 303 and chosen.headers["location"] == "/signup?community=x"
        assert "httponly" in chosen.headers["set-cookie"].lower()
        english_page = await tab.get("/signup")
        assert "Sign up" in english_page.text and 'href="/language/zh?next=/signup"' in english_page.text
        assert "Sign in" in (await tab.get("/login")).text  # every page after, not just the one it was chosen on

        # A browser asking for English gets Chinese once Chinese is chosen: the person's choice wins.
        await tab.get("/language/zh?next=/")
        assert "登录" in (await tab.get("/login", headers={"Accept-Language": "en"})).text

        assert (await tab.get("/language/fr?next=/")).status_code == 404
        away = await tab.get("/language/en?next=https://evil.example/")
        assert away.headers["location"] == "/"  # never a way off the site
