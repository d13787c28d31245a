"""Partner staff at their desk (console/desk_partner.py and the desk's start page): today's bookings served or
marked absent, as the API then tells the resident; every offering's times on one page, with a weekly schedule
and a one-off time added by the partner's admin, bad input shown next to its field in the API's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from linli import db
from tests.console_helpers import signed_in
from tests.marketplace_api import book, canteen, resident
from tests.partners_api import local, partner_staff, published_offering, slot


def _today_soon() -> datetime:
    # Later today in the community's time, however close to midnight the suite runs.
    return max(datetime.now(UTC) + timedelta(minutes=20), local(days=0, hour=0, minute=5))


async def test_a_booking_made_in_the_api_is_served_at_the_desk_and_a_no_show_waits_for_the_start(
    app: Any, client: Any
) -> None:
    c = await canteen(client, price_fen=1200)
    lunch = await slot(client, c.partner, c.offering["id"], starts_at=_today_soon(), minutes=30)
    granny = await resident(client, c.setup, "陈阿婆")
    grandpa = await resident(client, c.setup, "林阿伯")
    served = (await book(client, granny, lunch["id"])).json()
    absent = (await book(client, grandpa, lunch["id"])).json()
    desk = f"/partner/{c.partner.id}"
    async with signed_in(app, c.staff) as tab:
        page = await tab.get(desk)
        assert page.status_code == 200 and page.text.count('data-status="confirmed"') == 2
        assert "完成" in page.text and "未到" in page.text
        r = await tab.submit(desk, f"{desk}/bookings/{served['id']}/complete", {})
        assert r.status_code == 303 and r.headers["location"] == f"{desk}?notice=served"
        shown = await tab.get(r.headers["location"])
        assert "已标记为完成" in shown.text and f'data-booking="{served["id"]}" data-status="completed"' in shown.text

        # Before the lunch starts, nobody can be "absent": the API's words next to that booking, nothing written.
        early = await tab.submit(desk, f"{desk}/bookings/{absent['id']}/no-show", {})
        assert early.status_code == 409 and 'role="alert"' in early.text
        assert await db.fetchval("SELECT status FROM bookings WHERE id = $1", absent["id"]) == "confirmed"
        await db.execute(  # the lunch has begun (times only; the booking is untouched)
            "UPDATE slots SET starts_at = now() - interval '1 minute' WHERE id = $1", lunch["id"]
        )
        r = await tab.submit(desk, f"{desk}/bookings/{absent['id']}/no-show", {})
        assert r.status_code == 303 and r.headers["location"].endswith("notice=absent")
        r = await tab.submit(desk, f"{desk}/bookings/{served['id']}/explode", {})
        assert r.status_code in (403, 404)
    api = await client.get(f"/api/v1/bookings/{served['id']}", headers=granny.headers)
    assert api.json()["status"] == "completed"
    api = await client.get(f"/api/v1/bookings/{absent['id']}", headers=grandpa.headers)
    assert api.json()["status"] == "no_show"


async def test_staff_of_another_partner_and_residents_cannot_serve_a_booking(app: Any, client: Any) -> None:
    c = await canteen(client)
    other = await canteen(client, name="白龙社区")
    lunch = await slot(client, c.partner, c.offering["id"], starts_at=_today_soon(), minutes=30)
    granny = await resident(client, c.setup, "陈阿婆")
    booking = (await book(client, granny, lunch["id"])).json()
    for person in (other.staff, other.partner.admin, granny):
        async with signed_in(app, person) as tab:
            page = await tab.get(f"/partner/{c.partner.id}")
            assert page.status_code in (403, 404) and booking["id"] not in page.text
            own = await tab.csrf("/account")
            for target in (f"/partner/{c.partner.id}", f"/partner/{other.partner.id}"):  # theirs, or as if it were
                r = await tab.client.post(f"{target}/bookings/{booking['id']}/complete", data={"_csrf_token": own})
                assert r.status_code in (403, 404), (person.name, target)
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1", booking["id"]) == "confirmed"


async def test_the_admin_adds_a_weekly_schedule_and_a_one_off_time_with_bad_input_shown_by_each_field(
    app: Any, client: Any
) -> None:
    c = await canteen(client, title="爱心午餐")
    breakfast = await published_offering(client, c.partner, title="爱心早餐", price_fen=500, subsidies={})
    page = f"/partner/{c.partner.id}/schedules"
    tomorrow = local(days=1).date().isoformat()
    async with signed_in(app, c.partner.admin) as tab:
        shown = await tab.get(page)
        assert shown.status_code == 200 and "爱心午餐" in shown.text and "爱心早餐" in shown.text
        assert f'id="slots-{c.offering["id"]}"' in shown.text and 'id="weekly-form"' in shown.text

        weekly = f"{page}/weekly"
        r = await tab.submit(page, weekly, {"offering_id": breakfast["id"], "start_time": "07:00", "capacity": "0"})
        assert r.status_code == 400
        for field in ("weekdays", "end_time", "capacity", "valid_from"):
            assert f'id="e-{field}"' in r.text, field
        assert "请填写此项" in r.text and "Input should" not in r.text  # plain words, not pydantic's
        assert 'value="07:00"' in r.text  # what was typed stays
        r = await tab.submit(
            page,
            weekly,
            {
                "offering_id": breakfast["id"],
                "weekdays": "1",
                "start_time": "08:00",
                "end_time": "07:00",
                "capacity": "10",
                "valid_from": tomorrow,
            },
        )
        assert r.status_code == 400 and 'id="e-end_time"' in r.text
        r = await tab.submit(
            page,
            weekly,
            {
                "offering_id": str(uuid4()),  # an offering that does not exist
                "weekdays": "1",
                "start_time": "07:00",
                "end_time": "08:00",
                "capacity": "10",
                "valid_from": tomorrow,
            },
        )
        assert r.status_code == 400 and 'id="e-offering_id"' in r.text
        assert await db.fetchval("SELECT count(*) FROM schedules") == 0

        good = {
            "offering_id": breakfast["id"],
            "weekdays": [str(d) for d in range(1, 8)],
            "start_time": "07:00",
            "end_time": "08:00",
            "capacity": "15",
            "valid_from": tomorrow,
            "idempotency_key": "weekly-1",
        }
        for _ in range(2):  # a double tap saves one schedule
            r = await tab.submit(page, weekly, good)
            assert r.status_code == 303 and r.headers["location"].endswith("notice=weekly_added")
        assert await db.fetchval("SELECT count(*) FROM schedules") == 1
        made = await db.fetchval("SELECT count(*) FROM slots WHERE offering_id = $1", breakfast["id"])
        assert made >= 7

        one_off = f"{page}/slots"
        for bad, field, words in (
            (
                {"slot_date": "", "slot_start": "11:00", "slot_end": "12:00", "slot_capacity": "5"},
                "slot_date",
                "请填写",
            ),
            (
                {
                    "slot_date": local(days=-1).date().isoformat(),
                    "slot_start": "11:00",
                    "slot_end": "12:00",
                    "slot_capacity": "5",
                },
                "slot_start",
                "不能创建已开始或已过去的时段",
            ),
            (
                {"slot_date": tomorrow, "slot_start": "13:00", "slot_end": "12:00", "slot_capacity": "5"},
                "slot_end",
                "时段的起止时间无效",
            ),
            (
                {"slot_date": tomorrow, "slot_start": "13:00", "slot_end": "14:00", "slot_capacity": "0"},
                "slot_capacity",
                "数值太小",
            ),
            (
                {"slot_date": tomorrow, "slot_start": "13:00", "slot_end": "14:00", "slot_capacity": "lots"},
                "slot_capacity",
                "请输入整数",
            ),
        ):
            r = await tab.submit(page, one_off, {"slot_offering_id": c.offering["id"], **bad})
            assert r.status_code == 400 and f'id="e-{field}"' in r.text and words in r.text, (bad, r.text[-3000:])
        r = await tab.submit(
            page,
            one_off,
            {
                "slot_offering_id": c.offering["id"],
                "slot_date": tomorrow,
                "slot_start": "17:00",
                "slot_end": "18:30",
                "slot_capacity": "8",
                "idempotency_key": "slot-1",
            },
        )
        assert r.status_code == 303 and r.headers["location"].endswith("notice=slot_added")
        again = await tab.submit(
            page,
            one_off,
            {
                "slot_offering_id": c.offering["id"],
                "slot_date": tomorrow,
                "slot_start": "17:00",
                "slot_end": "18:30",
                "slot_capacity": "8",
            },
        )
        assert again.status_code == 400 and "该时间已有时段" in again.text  # the same time twice, in the API's words

    api = await client.get(
        f"/api/v1/offerings/{c.offering['id']}/slots", params={"from": tomorrow, "to": local(days=2).date().isoformat()}
    )
    evening = [s for s in api.json() if s["capacity"] == 8]
    assert len(evening) == 1 and evening[0]["starts_at"].startswith(f"{tomorrow}T09:00")  # 17:00 Shanghai in UTC
    granny = await resident(client, c.setup, "陈阿婆")
    assert (await book(client, granny, evening[0]["id"], quantity=3)).status_code == 201
    async with signed_in(app, c.staff) as tab:  # staff see the times, places booked and left; only admins add
        shown = await tab.get(page)
        row = shown.text.split(f'data-slot="{evening[0]["id"]}"')[1].split("</tr>")[0]
        assert "17:00—18:30" in row and '<td class="booked">3</td>' in row and '<td class="remaining">5</td>' in row
        assert 'id="slot-form"' not in shown.text
        r = await tab.client.post(
            f"{page}/slots",
            data={
                "_csrf_token": await tab.csrf(page),
                "slot_offering_id": c.offering["id"],
                "slot_date": tomorrow,
                "slot_start": "19:00",
                "slot_end": "20:00",
                "slot_capacity": "8",
            },
        )
        assert r.status_code == 403 and "无权进行此操作" in r.text
    assert await db.fetchval("SELECT count(*) FROM slots WHERE capacity = 8") == 1


async def test_the_times_page_is_the_partners_own(app: Any, client: Any) -> None:
    c = await canteen(client)
    other = await canteen(client, name="白龙社区")
    page = f"/partner/{c.partner.id}/schedules"
    for person in (other.partner.admin, await resident(client, c.setup, "陈阿婆")):
        async with signed_in(app, person) as tab:
            r = await tab.get(page)
            assert r.status_code in (403, 404) and c.offering["title"] not in r.text and "slots-" not in r.text
            r = await tab.client.post(
                f"{page}/slots",
                data={
                    "_csrf_token": await tab.csrf("/account"),
                    "slot_offering_id": c.offering["id"],
                    "slot_date": local(days=1).date().isoformat(),
                    "slot_start": "19:00",
                    "slot_end": "20:00",
                    "slot_capacity": "8",
                },
            )
            assert r.status_code in (403, 404)
    # Partner B's admin cannot add a time to partner A's offering through B's own page either.
    async with signed_in(app, other.partner.admin) as tab:
        mine = f"/partner/{other.partner.id}/schedules"
        r = await tab.submit(
            mine,
            f"{mine}/slots",
            {
                "slot_offering_id": c.offering["id"],
                "slot_date": local(days=1).date().isoformat(),
                "slot_start": "19:00",
                "slot_end": "20:00",
                "slot_capacity": "8",
            },
        )
        assert r.status_code == 400 and 'id="e-slot_offering_id"' in r.text
    assert await db.fetchval("SELECT count(*) FROM slots") == 2
    staff = await partner_staff(client, c.partner, name="服务员小李")
    async with signed_in(app, staff) as tab:
        assert (await tab.get(page)).status_code == 200
