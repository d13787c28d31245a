"""In a real browser on a phone-sized screen: 陈阿婆 types axst, finds 爱心食堂, books her subsidised lunch and
finds it in 我的预约, then reads in 我的消息 that it is booked."""

from __future__ import annotations

from typing import Any

from linli import db
from marketplace.tasks import notify_booking
from tests.browser import Pages
from tests.marketplace_api import canteen, resident


async def test_granny_books_her_subsidised_lunch_in_a_browser(client: Any, pages: Pages) -> None:
    c = await canteen(client, title="爱心食堂午餐", price_fen=1500, subsidies={"elderly_alone": 500})
    granny = await resident(client, c.setup, "陈阿婆", groups=["elderly_alone"])
    tab = await pages.open(granny, width=360)

    await tab.goto("/catalog")
    await tab.fill("#q", "axst")  # HTMX swaps the results in as she types
    await tab.wait_for_selector("#results .offering a:has-text('爱心食堂午餐')")
    await pages.shoot(tab, "r-01-search-axst")
    await tab.click("#results .offering a:has-text('爱心食堂午餐')")
    await tab.wait_for_selector("text=还剩")
    await pages.shoot(tab, "r-02-offering")

    await tab.click("text=预约这个时间")
    await tab.wait_for_selector("#price")
    assert await tab.inner_text("#price-fen") == "¥15.00"
    assert await tab.inner_text("#subsidy-fen") == "¥10.00"
    assert await tab.inner_text("#payable-fen") == "¥5.00"
    await pages.shoot(tab, "r-03-confirm-price")

    await tab.click("#confirm-booking")
    await tab.wait_for_url(lambda url: "/bookings" in url)
    assert "预约成功" in await tab.inner_text("main")
    assert "爱心食堂午餐" in await tab.inner_text("#my-bookings")
    await pages.shoot(tab, "r-04-my-bookings")
    assert await db.fetchval("SELECT count(*) FROM bookings") == 1

    # The worker's notice of the booking: the menu counts it, and 我的消息 shows it until she marks it read.
    booking_id = str(await db.fetchval("SELECT id FROM bookings"))
    await notify_booking("event-1", {"booking_id": booking_id, "resident_id": granny.id})
    await tab.goto("/bookings")
    await tab.wait_for_selector(".top .count:has-text('1')")
    await tab.click("text=我的消息")
    await tab.wait_for_selector("#my-messages .message.unread")
    assert "您已成功预约「爱心食堂午餐」。" in await tab.inner_text("#my-messages")
    await pages.shoot(tab, "r-05-my-messages")
    await tab.click("#my-messages button:has-text('标为已读')")
    await tab.wait_for_selector("text=已标为已读。")
    assert await tab.locator(".top .count").count() == 0
    assert await db.fetchval("SELECT read_at IS NOT NULL FROM notifications") is True
