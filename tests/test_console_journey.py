"""The whole month in the browser, each person in their own Chromium tab against a live `linli serve` and a
live worker: 陈阿婆 finds 爱心食堂 by typing axst and books her subsidised lunch; the canteen marks it 完成; the
community admin settles the month, watches the progress reach 100 % and sees the canteen's share on the fund
page; anyone signed out sees it on the public page; 何志愿 accepts an offer and downloads his certificate.
Screenshots of every step at 360 and 1280 px are written under test-artifacts/console/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from linli import db
from tests.browser import Pages
from tests.marketplace_api import canteen, resident
from tests.partners_api import local, slot
from tests.volunteers_api import (
    UNDER_WAY,
    act,
    catalog,
    certificate_issuer,
    id_number,
    match,
    real_name,
    task,
    volunteer,
)


async def test_a_month_of_linli_in_the_browser(client: Any, pages: Pages, start_worker: Any) -> None:
    start_worker()
    c = await canteen(client, title="爱心食堂午餐", price_fen=1500, subsidies={"elderly_alone": 500})
    rate = await client.put(
        f"/api/v1/partners/{c.partner.id}/revenue-share",
        json={"rate_bp": 1000, "effective_from": local(days=0).date().isoformat()},
        headers=c.setup.admin.headers,
    )
    assert rate.status_code in (200, 201), rate.text
    # Lunch today, a little later, so it is on the canteen's list of the day.
    soon = max(datetime.now(UTC) + timedelta(minutes=20), local(days=0, hour=0, minute=5))
    lunch = await slot(client, c.partner, c.offering["id"], starts_at=soon, minutes=30)
    granny = await resident(client, c.setup, "陈阿婆", groups=["elderly_alone"])

    # 1. The resident, on her phone.
    tab = await pages.open(granny, width=360)
    await tab.goto("/catalog")
    await tab.fill("#q", "axst")
    await tab.wait_for_selector("#results .offering a:has-text('爱心食堂午餐')")
    await pages.shoot(tab, "j-01-resident-finds-axst")
    await tab.goto(f"/slots/{lunch['id']}/book")
    assert await tab.inner_text("#payable-fen") == "¥5.00"
    await pages.shoot(tab, "j-02-resident-confirms-price")
    await tab.click("#confirm-booking")
    await tab.wait_for_url(lambda url: "/bookings" in url)
    assert "爱心食堂午餐" in await tab.inner_text("#my-bookings")
    await pages.shoot(tab, "j-03-resident-my-bookings")

    # 2. The canteen's staff serve it.
    desk = await pages.open(c.staff)
    await desk.goto(f"/partner/{c.partner.id}")
    await desk.click("#today-bookings button:has-text('完成')")
    await desk.wait_for_selector("#today-bookings .badge.ok")
    await pages.shoot(desk, "j-04-partner-completes")
    assert await db.fetchval("SELECT status FROM bookings") == "completed"

    # 3. The community admin settles the month and sees the share (10 % of 15.00) on the fund page.
    office = await pages.open(c.setup.admin)
    await office.goto(f"/staff/{c.setup.id}/settlement")
    await office.click("#settle")
    await office.wait_for_selector("#run-status[data-status=completed]", timeout=60_000)
    assert await office.get_attribute("#run-progress", "value") == "100"
    assert await office.inner_text("#run-share") == "¥1.50"
    await pages.shoot(office, "j-05-staff-settled")
    await office.goto(f"/staff/{c.setup.id}/fund")
    await office.wait_for_selector("#months-chart svg")
    assert "¥1.50" in await office.inner_text("#shares")
    await pages.shoot(office, "j-06-staff-fund")

    # 4. Anyone, signed out, reads the month on the public page.
    public = await pages.open()
    await public.goto(f"/public/{c.setup.id}")
    period = datetime.now(UTC).astimezone(local(days=0).tzinfo).strftime("%Y-%m")
    assert await public.inner_text(f"#public-months tr[data-period='{period}'] .returned") == "¥1.50"
    await public.wait_for_selector("#public-chart svg")
    await pages.shoot(public, "j-07-public-disclosure")

    # 5. A volunteer accepts an offer and, once his hours are approved, downloads his certificate.
    await catalog(client, c.setup)
    await certificate_issuer(client, c.setup)
    he, profile = await volunteer(client, c.setup, "何志愿")
    await real_name(client, he, profile, "何志愿", id_number("19900307", 123))
    errand = await task(client, c.setup, title="给独居老人送午餐", starts_in=UNDER_WAY)
    (offer,) = await match(client, c.setup, errand["id"])
    mine = await pages.open(he, width=360)
    await mine.goto("/me/volunteer")
    await pages.shoot(mine, "j-08-volunteer-offer")
    await mine.click(f"form[action='/me/volunteer/assignments/{offer['id']}/accept'] button")
    await mine.wait_for_url(lambda url: "offer_accepted" in url)
    await act(client, he, offer["id"], "check-in")
    await act(client, he, offer["id"], "check-out")
    assert (await act(client, c.setup.staff, offer["id"], "approve", {"minutes": 120})).status_code == 200
    issued = await client.post(
        f"/api/v1/volunteers/{profile['id']}/service-certificates", headers=c.setup.staff.headers
    )
    assert issued.status_code == 201, issued.text
    await mine.goto("/me/volunteer")
    async with mine.expect_download() as download_info:
        await mine.click("#my-certificates a")
    download = await download_info.value
    path = await download.path()
    assert path is not None and Path(path).read_bytes()[:4] == b"%PDF"  # noqa: ASYNC240  (a small local file)
    await pages.shoot(mine, "j-09-volunteer-certificate")
