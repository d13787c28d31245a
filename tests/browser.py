"""A real headless Chromium (Debian's `chromium`, driven by Playwright) against a live `linli serve`.

Browser stories take a `pages` fixture: `await pages.open(person)` gives a signed-in tab, and
`await pages.shoot(tab, "step")` writes the screenshots of that step at a phone's and a desktop's width
under test-artifacts/console/ and checks that neither is blank.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import pytest
from PIL import Image, ImageStat

from tests.harness import ROOT


class Person(Protocol):
    phone: str
    password: str


ARTIFACTS = ROOT / "test-artifacts" / "console"
WIDTHS = (360, 1280)
# Without the background-networking flags Chromium keeps dialling Google from this closed network.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return os.environ.get("LINLI_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def assert_not_blank(path: Path) -> None:
    """A screenshot that is one flat colour (a blank or failed render) fails the story."""
    with Image.open(path) as image:
        grey = image.convert("L")
        low, high = cast(tuple[int, int], grey.getextrema())
        spread = ImageStat.Stat(grey).stddev[0]
    assert high - low > 64 and spread > 8, f"{path.name} looks blank (range {low}-{high}, stddev {spread:.1f})"


@dataclass
class Pages:
    browser: Any
    base_url: str
    opened: list[Any] = field(default_factory=list)

    async def open(self, person: Person | None = None, *, width: int = 1280, language: str = "zh-CN") -> Any:
        """A new tab (its own cookies) at `width` px, signed in as `person` through the sign-in form."""
        context = await self.browser.new_context(
            base_url=self.base_url,
            viewport={"width": width, "height": 900},
            locale=language,
            extra_http_headers={"Accept-Language": language},
            device_scale_factor=1,
        )
        self.opened.append(context)
        tab = await context.new_page()
        if person is not None:
            await tab.goto("/login")
            await tab.fill("#f-phone", person.phone)
            await tab.fill("#f-password", person.password)
            await tab.click("button[type=submit]")
            await tab.wait_for_url(lambda url: "/login" not in url)
        return tab

    async def shoot(self, tab: Any, step: str) -> list[Path]:
        """Screenshots of the tab's page at each width in WIDTHS, each checked to be non-blank."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        original = tab.viewport_size
        paths = []
        for width in WIDTHS:
            await tab.set_viewport_size({"width": width, "height": 900})
            path = ARTIFACTS / f"{step}-{width}.png"
            await tab.screenshot(path=str(path), full_page=True)
            assert_not_blank(path)
            paths.append(path)
        await tab.set_viewport_size(original)
        return paths

    async def close(self) -> None:
        for context in self.opened:
            await context.close()


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Any]:
    executable = chromium_path()
    if executable is None:
        pytest.fail("the browser stories need Debian's chromium (.ci/run installs it: apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def pages(chromium: Any, live_server: str) -> AsyncIterator[Pages]:
    opened = Pages(browser=chromium, base_url=live_server)
    yield opened
    await opened.close()
