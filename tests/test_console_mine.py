"""Residents in the web console: find a service, see what they will pay, book once, manage their bookings;
call for help; and staff booking for a resident (代办), visibly so."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid4

from linli import db
from tests.api import community_with_staff, grant, sign_up
from tests.console_helpers import signed_in
from tests.marketplace_api import book, booked_places, canteen, count, resident

_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


async def _elderly_canteen(client: Any, capacity: int = 10) -> Any:
    return await canteen(
        client, capacity=capacity, title="爱心食堂午餐", price_fen=1500, subsidies={"elderly_alone": 500}
    )


async def test_granny_finds_the_canteen_by_initials_books_a_subsidised_meal_once_and_sees_it(
    app: Any, client: Any
) -> None:
    c = await _elderly_canteen(client)
    granny = await resident(client, c.setup, "陈阿婆", groups=["elderly_alone"])
    async with signed_in(app, granny) as tab:
        found = await tab.get("/catalog?q=axst")
        assert found.status_code == 200 and "爱心食堂午餐" in found.text
        assert f"/offerings/{c.offering['id']}" in found.text
        offering = await tab.get(f"/offerings/{c.offering['id']}")
        assert "还剩" in offering.text and f"/slots/{c.slot_id}/book" in offering.text

        confirm = await tab.get(f"/slots/{c.slot_id}/book?quantity=2")
        assert confirm.status_code == 200
        # 15.00 a meal, 5.00 for her: the page says so before she presses the button.
        assert "¥30.00" in confirm.text and "¥20.00" in confirm.text and "¥10.00" in confirm.text
        key = _KEY.search(confirm.text).group(1)  # type: ignore[union-attr]
        token = await tab.csrf(f"/slots/{c.slot_id}/book")
        form = {"_csrf_token": token, "idempotency_key": key, "quantity": "2"}
        first = await tab.client.post(f"/slots/{c.slot_id}/book", data=form)
        again = await tab.client.post(f"/slots/{c.slot_id}/book", data=form)  # a double tap
        assert first.status_code == again.status_code == 303
        assert first.headers["location"] == "/bookings?notice=booked"
        assert await booked_places(c.slot_id) == 2
        assert await count("bookings") == 1

        mine = await tab.get("/bookings?notice=booked")
        assert "预约成功" in mine.text and "爱心食堂午餐" in mine.text and "¥10.00" in mine.text
        booking_id = await db.fetchval("SELECT id FROM bookings")
        r = await tab.submit("/bookings", f"/bookings/{booking_id}/cancel", {})
        assert r.status_code == 303
        assert await db.fetchval("SELECT status FROM bookings") == "cancelled"
        assert await booked_places(c.slot_id) == 0


async def test_bad_booking_input_is_shown_next_to_the_field_and_writes_nothing(app: Any, client: Any) -> None:
    c = await _elderly_canteen(client, capacity=3)
    granny = await resident(client, c.setup, "陈阿婆")
    async with signed_in(app, granny) as tab:
        for quantity, words in (("0", "提交的数据不符合要求"), ("abc", "请输入整数"), ("5", "超过")):
            r = await tab.submit(f"/slots/{c.slot_id}/book", f"/slots/{c.slot_id}/book", {"quantity": quantity})
            assert r.status_code in (400, 422), (quantity, r.status_code)
            assert 'id="e-quantity"' in r.text or "form-error" in r.text, quantity
            if quantity != "5":
                assert words in r.text, quantity
        assert (await tab.get(f"/slots/{uuid4()}/book")).status_code == 404
    assert await count("bookings") == 0 and await booked_places(c.slot_id) == 0


async def test_nobody_cancels_someone_elses_booking_from_the_console(app: Any, client: Any) -> None:
    c = await _elderly_canteen(client)
    granny = await resident(client, c.setup, "陈阿婆")
    neighbour = await resident(client, c.setup, "林阿伯")
    booking = (await book(client, granny, c.slot_id)).json()
    async with signed_in(app, neighbour) as tab:
        r = await tab.submit("/bookings", f"/bookings/{booking['id']}/cancel", {})
        assert r.status_code == 404 and "陈阿婆" not in r.text
        assert booking["id"] not in (await tab.get("/bookings")).text
    assert await db.fetchval("SELECT status FROM bookings") == "confirmed"


async def test_a_full_slot_offers_the_waiting_list_and_a_freed_place_is_confirmed(app: Any, client: Any) -> None:
    c = await canteen(client, capacity=1, waitlist_hold_minutes=30)
    first = await resident(client, c.setup, "林阿伯")
    granny = await resident(client, c.setup, "陈阿婆")
    taken = (await book(client, first, c.slot_id)).json()
    async with signed_in(app, granny) as tab:
        offering = await tab.get(f"/offerings/{c.offering['id']}")
        assert "已约满" in offering.text and "排队候补" in offering.text
        r = await tab.submit(f"/offerings/{c.offering['id']}", f"/slots/{c.slot_id}/waitlist", {"quantity": "1"})
        assert r.status_code == 303 and r.headers["location"] == "/bookings?notice=waitlisted"
        cancelled = await client.post(f"/api/v1/bookings/{taken['id']}/cancel", headers=first.headers)
        assert cancelled.status_code == 200
        mine = await tab.get("/bookings")
        assert "确认这个名额" in mine.text
        held = await db.fetchval("SELECT id FROM bookings WHERE resident_id = $1", UUID(granny.id))
        r = await tab.submit("/bookings", f"/bookings/{held}/confirm", {})
        assert r.status_code == 303
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1", held) == "confirmed"


async def test_staff_book_for_a_resident_visibly_and_others_may_not(app: Any, client: Any) -> None:
    c = await _elderly_canteen(client)
    granny = await resident(client, c.setup, "陈阿婆", groups=["elderly_alone"])
    async with signed_in(app, c.setup.staff) as tab:
        residents = await tab.get("/proxy")
        assert "陈阿婆" in residents.text
        start = await tab.get(f"/proxy/{c.setup.id}/{granny.id}")
        assert start.status_code == 303
        catalog = await tab.get(start.headers["location"])
        assert "代办模式" in catalog.text and "陈阿婆" in catalog.text
        confirm = await tab.get(f"/slots/{c.slot_id}/book?resident_id={granny.id}")
        assert "代办模式" in confirm.text and "¥5.00" in confirm.text  # her price, not the staff member's
        key = _KEY.search(confirm.text).group(1)  # type: ignore[union-attr]
        r = await tab.submit(
            f"/slots/{c.slot_id}/book?resident_id={granny.id}",
            f"/slots/{c.slot_id}/book",
            {"quantity": "1", "resident_id": granny.id, "idempotency_key": key},
        )
        assert r.status_code == 303 and r.headers["location"].startswith(f"/proxy/{c.setup.id}/{granny.id}")
    row = await db.fetchrow("SELECT resident_id, booked_by, payable_fen FROM bookings")
    assert row is not None
    assert str(row["resident_id"]) == granny.id and str(row["booked_by"]) == c.setup.staff.id
    assert row["payable_fen"] == 500

    neighbour = await resident(client, c.setup, "林阿伯")
    async with signed_in(app, neighbour) as tab:
        assert "陈阿婆" not in (await tab.get("/proxy")).text
        assert (await tab.get(f"/proxy/{c.setup.id}/{granny.id}")).status_code == 403
        r = await tab.get(f"/slots/{c.slot_id}/book?resident_id={granny.id}")
        assert r.status_code == 403 and "¥" not in r.text
    assert await count("bookings") == 1


async def test_one_press_calls_for_help(app: Any, client: Any) -> None:
    setup = await community_with_staff(client, "光阳社区")
    granny = await sign_up(client, "陈阿婆")
    await grant(client, setup.admin, setup.id, granny, "resident")
    async with signed_in(app, granny) as tab:
        page = await tab.get("/help")
        key = _KEY.search(page.text).group(1)  # type: ignore[union-attr]
        form = {"community_id": setup.id, "urgent": "on", "idempotency_key": key, "title": "买菜送饭"}
        r = await tab.submit("/help", "/help", form)
        again = await tab.submit("/help", "/help", form)
        assert r.status_code == again.status_code == 303
        assert "已经通知志愿者和社区" in (await tab.get(r.headers["location"])).text
    task = await db.fetchrow("SELECT title, urgent, owner_user_id FROM volunteer_tasks")
    assert task is not None
    assert task["title"] == "买菜送饭" and task["urgent"] and str(task["owner_user_id"]) == granny.id
    assert await count("volunteer_tasks") == 1

    outsider = await sign_up(client, "外人")
    async with signed_in(app, outsider) as tab:
        assert "您还没有加入社区" in (await tab.get("/help")).text
        # Someone outside the community asking it for help is refused as the API refuses them (403), whole.
        r = await tab.submit("/help", "/help", {"community_id": setup.id, "idempotency_key": "k1"})
        assert r.status_code == 403 and "无权进行此操作" in r.text
    assert await count("volunteer_tasks") == 1


async def test_a_proxy_typo_keeps_the_page_the_residents_and_books_nothing(app: Any, client: Any) -> None:
    c = await _elderly_canteen(client)
    granny = await resident(client, c.setup, "陈阿婆", groups=["elderly_alone"])
    page = f"/slots/{c.slot_id}/book?resident_id={granny.id}"
    async with signed_in(app, c.setup.staff) as tab:
        r = await tab.submit(page, f"/slots/{c.slot_id}/book", {"quantity": "0", "resident_id": granny.id})
        assert r.status_code == 400
        assert 'id="e-quantity"' in r.text and "数值太小" in r.text
        # Still her page: her banner, her price for one meal, her id in the form the next press sends.
        assert "代办模式" in r.text and "陈阿婆" in r.text and "¥5.00" in r.text
        assert f'name="resident_id" value="{granny.id}"' in r.text
        r = await tab.submit(page, f"/slots/{c.slot_id}/book", {"quantity": "1", "resident_id": "not-an-id"})
        assert r.status_code == 404
    assert await count("bookings") == 0


async def test_a_changed_number_of_places_shows_its_price_before_anything_is_booked(app: Any, client: Any) -> None:
    c = await _elderly_canteen(client)
    granny = await resident(client, c.setup, "陈阿婆", groups=["elderly_alone"])
    async with signed_in(app, granny) as tab:
        confirm = await tab.get(f"/slots/{c.slot_id}/book")
        key = _KEY.search(confirm.text).group(1)  # type: ignore[union-attr]
        assert 'name="quoted_quantity" value="1"' in confirm.text
        action = f"/slots/{c.slot_id}/book"
        # She typed 2 but pressed 确认预约 without 重新计算: she sees the price of two first.
        r = await tab.submit(action, action, {"quantity": "2", "quoted_quantity": "1", "idempotency_key": key})
        assert r.status_code == 200 and "份数改了" in r.text and "¥30.00" in r.text and "¥20.00" in r.text
        assert await count("bookings") == 0
        r = await tab.submit(action, action, {"quantity": "3", "recalculate": "1", "idempotency_key": key})
        assert r.status_code == 200 and "¥45.00" in r.text and "¥15.00" in r.text and "份数改了" not in r.text
        assert await count("bookings") == 0
        key = _KEY.search(r.text).group(1)  # type: ignore[union-attr]
        r = await tab.submit(action, action, {"quantity": "3", "quoted_quantity": "3", "idempotency_key": key})
        assert r.status_code == 303
    assert await booked_places(c.slot_id) == 3
    assert await db.fetchval("SELECT payable_fen FROM bookings") == 1500  # three meals at her 5.00


async def test_unknown_slots_and_other_peoples_bookings_are_not_found(app: Any, client: Any) -> None:
    c = await canteen(client, capacity=1, waitlist_hold_minutes=30)
    first = await resident(client, c.setup, "林阿伯")
    granny = await resident(client, c.setup, "陈阿婆")
    neighbour = await resident(client, c.setup, "王大爷")
    taken = (await book(client, first, c.slot_id)).json()
    joined = await client.post(f"/api/v1/slots/{c.slot_id}/waitlist", json={"quantity": 1}, headers=granny.headers)
    assert joined.status_code == 201, joined.text
    assert (await client.post(f"/api/v1/bookings/{taken['id']}/cancel", headers=first.headers)).status_code == 200
    held = await db.fetchval("SELECT id FROM bookings WHERE resident_id = $1", UUID(granny.id))
    async with signed_in(app, neighbour) as tab:
        unknown = f"/slots/{uuid4()}/book"
        r = await tab.submit("/catalog", unknown, {"quantity": "1", "idempotency_key": "k-unknown"})
        assert r.status_code == 404
        r = await tab.submit("/bookings", f"/bookings/{held}/confirm", {})
        assert r.status_code == 404 and "陈阿婆" not in r.text
        r = await tab.submit("/bookings", f"/slots/{c.slot_id}/waitlist/leave", {})
        assert r.status_code == 404
        r = await tab.get(f"/slots/{c.slot_id}/book?quantity=0")
        assert r.status_code == 400 and 'id="e-quantity"' in r.text and "数值太小" in r.text
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1", held) == "held"
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE resident_id = $1", UUID(neighbour.id)) == 0


async def test_too_few_places_left_is_said_next_to_the_number_and_offers_the_line(app: Any, client: Any) -> None:
    c = await canteen(client, capacity=3)
    first = await resident(client, c.setup, "林阿伯")
    granny = await resident(client, c.setup, "陈阿婆")
    assert (await book(client, first, c.slot_id, quantity=2)).status_code == 201
    async with signed_in(app, granny) as tab:
        confirm = await tab.get(f"/slots/{c.slot_id}/book?quantity=2")
        assert 'id="remaining">1<' in confirm.text and 'id="join-waitlist"' in confirm.text
        key = _KEY.search(confirm.text).group(1)  # type: ignore[union-attr]
        action = f"/slots/{c.slot_id}/book"
        r = await tab.submit(action, action, {"quantity": "2", "quoted_quantity": "2", "idempotency_key": key})
        assert r.status_code == 409
        assert '<p class="error" role="alert" id="e-quantity">该时段已约满</p>' in r.text
    assert await booked_places(c.slot_id) == 2 and await count("bookings") == 1


async def test_a_resident_sees_her_place_in_line_leaves_and_joins_again(app: Any, client: Any) -> None:
    c = await canteen(client, capacity=1)
    first = await resident(client, c.setup, "林阿伯")
    granny = await resident(client, c.setup, "陈阿婆")
    assert (await book(client, first, c.slot_id)).status_code == 201
    offering = f"/offerings/{c.offering['id']}"
    async with signed_in(app, granny) as tab:
        for _round in range(2):
            page = await tab.get(offering)
            key = _KEY.search(page.text).group(1)  # type: ignore[union-attr]
            join = {"quantity": "1", "idempotency_key": key}
            r = await tab.submit(offering, f"/slots/{c.slot_id}/waitlist", join)
            again = await tab.submit(offering, f"/slots/{c.slot_id}/waitlist", join)  # a double tap
            assert r.status_code == again.status_code == 303
            waiting = "SELECT count(*) FROM waitlist_entries WHERE status = 'waiting'"
            assert await db.fetchval(waiting) == 1
            mine = await tab.get("/bookings")
            assert "正在排队候补" in mine.text and "排队位置:1" in mine.text
            r = await tab.submit("/bookings", f"/slots/{c.slot_id}/waitlist/leave", {})
            assert r.status_code == 303 and r.headers["location"] == "/bookings?notice=left_waitlist"
            assert await db.fetchval(waiting) == 0
            assert "正在排队候补" not in (await tab.get("/bookings")).text
    assert await count("waitlist_entries") == 2  # joined twice, left twice: each join was a new place in line


async def test_typing_in_the_search_box_gets_only_the_results(app: Any, client: Any) -> None:
    await _elderly_canteen(client)
    granny = await sign_up(client, "陈阿婆")
    async with signed_in(app, granny) as tab:
        part = await tab.get("/catalog?q=axst", headers={"HX-Request": "true"})
        assert part.status_code == 200 and "爱心食堂午餐" in part.text
        assert part.text.lstrip().startswith(("{#", '<section id="results"')) and "<html" not in part.text
        restored = await tab.get(
            "/catalog?q=axst", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
        )
        assert "<html" in restored.text and 'id="q"' in restored.text
        nothing = await tab.get("/catalog?q=zzzzqx")
        assert "没有找到" in nothing.text and 'type="submit"' in nothing.text  # the button works without JS
