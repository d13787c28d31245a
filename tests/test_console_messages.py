"""我的消息: a resident sees what Linli told them, newest first and unread set apart, with a count in the menu,
and marks messages read one by one or all at once; nobody else's messages are theirs to read."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from linli import db
from marketplace.tasks import notify_booking
from tests.console_helpers import signed_in
from tests.marketplace_api import book, canteen, resident


async def _unread_in_menu(tab: Any) -> str:
    return (await tab.get("/messages/unread")).text.strip()


async def test_granny_reads_that_her_lunch_is_booked_and_marks_it_read(app: Any, client: Any) -> None:
    c = await canteen(client, title="爱心午餐")
    granny = await resident(client, c.setup, "陈阿婆")
    first = (await book(client, granny, c.slot_id)).json()
    second = (await book(client, granny, c.slot_id)).json()
    # What the worker does with the bookings' events.
    for n, booking in enumerate((first, second)):
        await notify_booking(f"event-{n}", {"booking_id": booking["id"], "resident_id": granny.id})

    async with signed_in(app, granny) as tab:
        home = await tab.get("/")
        assert 'hx-get="/messages/unread"' in home.text  # the menu asks for its count once the page shows
        assert ">2<" in await _unread_in_menu(tab)
        page = await tab.get("/messages")
        assert page.status_code == 200
        assert page.text.count("预约成功") == 2 and "您已成功预约「爱心午餐」。" in page.text
        assert page.text.count('class="message unread"') == 2 and 'href="/bookings"' in page.text

        one = await db.fetchval("SELECT id FROM notifications ORDER BY created_at LIMIT 1")
        r = await tab.submit("/messages", f"/messages/{one}/read", {})
        assert r.status_code == 303 and r.headers["location"] == "/messages?notice=message_read"
        assert ">1<" in await _unread_in_menu(tab)
        again = await tab.submit("/messages", f"/messages/{one}/read", {})  # a double tap changes nothing
        assert again.status_code == 303

        r = await tab.submit("/messages", "/messages/read-all", {})
        assert r.headers["location"] == "/messages?notice=messages_read"
        assert await _unread_in_menu(tab) == ""
        page = await tab.get("/messages?notice=messages_read")
        assert "全部标为已读。" in page.text and 'class="message unread"' not in page.text
        assert await db.fetchval("SELECT count(*) FROM notifications WHERE read_at IS NULL") == 0


async def test_no_messages_yet_says_what_will_come_and_in_english_too(app: Any, client: Any) -> None:
    c = await canteen(client)
    granny = await resident(client, c.setup, "陈阿婆")
    async with signed_in(app, granny) as tab:
        page = await tab.get("/messages")
        assert "还没有消息" in page.text and "全部标为已读" not in page.text
        english = await tab.get("/messages", headers={"Accept-Language": "en"})
        assert "My messages" in english.text and "No messages yet" in english.text


async def test_someone_elses_message_cannot_be_marked_read(app: Any, client: Any) -> None:
    c = await canteen(client)
    granny, neighbour = await resident(client, c.setup, "陈阿婆"), await resident(client, c.setup, "林阿伯")
    booking = (await book(client, granny, c.slot_id)).json()
    await notify_booking("event-x", {"booking_id": booking["id"], "resident_id": granny.id})
    hers = await db.fetchval("SELECT id FROM notifications WHERE user_id = $1", UUID(granny.id))
    async with signed_in(app, neighbour) as tab:
        r = await tab.submit("/messages", f"/messages/{hers}/read", {})
        assert r.status_code == 404
        r = await tab.submit("/messages", "/messages/read-all", {})  # marks the neighbour's own, none of hers
        assert r.status_code == 303
        assert "您已成功预约" not in (await tab.get("/messages")).text
    assert await db.fetchval("SELECT read_at FROM notifications WHERE id = $1", hers) is None
