"""Stories in a real browser: a person signs in on a phone-sized and a desktop-sized screen."""

from __future__ import annotations

from typing import Any

from tests.api import sign_up
from tests.browser import Pages


async def test_an_elderly_resident_signs_in_on_a_phone_and_sees_big_text(client: Any, pages: Pages) -> None:
    person = await sign_up(client, "王奶奶")
    tab = await pages.open(width=360)
    await tab.goto("/login")
    await pages.shoot(tab, "00-sign-in")
    await tab.fill("#f-phone", person.phone)
    await tab.fill("#f-password", "wrong-password")
    await tab.click("button[type=submit]")
    assert "手机号或密码错误" in await tab.inner_text("#e-password")
    await tab.fill("#f-password", person.password)
    await tab.click("button[type=submit]")
    await tab.wait_for_url(lambda url: url.endswith("/"))
    assert "您好,王奶奶" in await tab.inner_text("h1")
    # 适老化: body text at least 18 px and buttons at least 48 px tall on a 360 px screen.
    body_px = await tab.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert body_px >= 18
    heights = await tab.evaluate(
        "[...document.querySelectorAll('main a.tile, main .button, main button')]"
        ".map(e => e.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 48
    scroll_width = await tab.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 360  # nothing sticks out sideways on a phone
    await pages.shoot(tab, "01-start-page")
