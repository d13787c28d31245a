"""The canteen's staff member at the desk in Chromium (a phone's 360 px): today's lunch booked by a resident
through the API is served with 完成, the month's revenue is drawn as a chart, and the times page shows the
places booked. Screenshots at 360 and 1280 px under test-artifacts/console/ (p-*)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from linli import db
from tests.browser import Pages
from tests.marketplace_api import book, canteen, resident
from tests.partners_api import local, slot


async def test_staff_serve_todays_lunch_and_see_the_months_revenue_drawn(client: Any, pages: Pages) -> None:
    c = await canteen(client, title="爱心食堂午餐", price_fen=1500, subsidies={})
    soon = max(datetime.now(UTC) + timedelta(minutes=20), local(days=0, hour=0, minute=5))
    lunch = await slot(client, c.partner, c.offering["id"], starts_at=soon, minutes=30)
    granny = await resident(client, c.setup, "陈阿婆")
    booking = (await book(client, granny, lunch["id"])).json()

    desk = await pages.open(c.staff, width=360)
    await desk.goto(f"/partner/{c.partner.id}")
    await desk.wait_for_selector(f"li[data-booking='{booking['id']}'] button:has-text('完成')")
    await pages.shoot(desk, "p-01-desk-today")
    await desk.click(f"li[data-booking='{booking['id']}'] button:has-text('完成')")
    await desk.wait_for_selector(f"li[data-booking='{booking['id']}'][data-status=completed] .badge.ok")
    await pages.shoot(desk, "p-02-desk-served")
    served = await client.get(f"/api/v1/bookings/{booking['id']}", headers=granny.headers)
    assert served.json()["status"] == "completed"

    await desk.goto(f"/partner/{c.partner.id}/revenue")
    await desk.wait_for_selector("#revenue-chart svg")
    period = local(days=0).strftime("%Y-%m")
    # Served this month, counted once the community settles it: one booking waiting in the last column.
    assert await desk.inner_text(f"#revenue tr[data-period='{period}'] td:last-child") == "1"
    await pages.shoot(desk, "p-03-revenue-chart")

    await desk.goto(f"/partner/{c.partner.id}/schedules")
    assert await desk.inner_text(f"tr[data-slot='{lunch['id']}'] .booked") == "1"
    await pages.shoot(desk, "p-04-times")
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'completed'") == 1
