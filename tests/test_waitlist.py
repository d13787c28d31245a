"""Residents queue for a full slot; a freed place goes to the first in line whose request fits, once."""

from __future__ import annotations

import json
import uuid
from uuid import UUID

from linli import db
from marketplace.tasks import notify_booking
from tests.marketplace_api import (
    active_quantity,
    assert_problem,
    book,
    booked_places,
    canteen,
    count,
    resident,
)


async def join(client, person, slot_id, quantity=1):
    return await client.post(f"/api/v1/slots/{slot_id}/waitlist", json={"quantity": quantity}, headers=person.headers)


async def test_waitlist_only_when_full_and_once_per_resident(client):
    c = await canteen(client, capacity=2)
    a = await resident(client, c.setup, "甲")
    b = await resident(client, c.setup, "乙")
    assert_problem(await join(client, b, c.slot_id), 409, "slot_has_places")
    assert (await book(client, a, c.slot_id, quantity=2)).status_code == 201
    r = await join(client, b, c.slot_id)
    assert r.status_code == 201, r.text
    assert (r.json()["status"], r.json()["position"]) == ("waiting", 1)
    assert_problem(await join(client, b, c.slot_id), 409, "already_waitlisted")
    assert await count("waitlist_entries") == 1


async def test_freed_place_goes_to_first_in_line_automatically_and_is_notified(client):
    c = await canteen(client, capacity=1, price_fen=1500, subsidies={"elderly": 500})
    holder = await resident(client, c.setup, "先约的")
    first = await resident(client, c.setup, "第一位候补", groups=["elderly"])
    second = await resident(client, c.setup, "第二位候补")
    booking = (await book(client, holder, c.slot_id)).json()
    assert (await join(client, first, c.slot_id)).status_code == 201
    r = await join(client, second, c.slot_id)
    assert r.json()["position"] == 2

    r = await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=holder.headers)
    assert r.status_code == 200, r.text

    mine = await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=first.headers)
    assert mine.json()["status"] == "promoted" and mine.json()["position"] is None
    promoted = await client.get(f"/api/v1/bookings/{mine.json()['booking_id']}", headers=first.headers)
    assert promoted.status_code == 200
    # Priced at promotion time for the promoted resident.
    assert (promoted.json()["status"], promoted.json()["payable_fen"]) == ("confirmed", 500)
    assert await booked_places(c.slot_id) == 1 == await active_quantity(c.slot_id)
    still = await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=second.headers)
    assert (still.json()["status"], still.json()["position"]) == ("waiting", 1)

    # The promotion reached the resident's inbox (the actor, fed the outbox event, as a worker would).
    event = await db.fetchrow(
        "SELECT id, payload FROM outbox_events WHERE topic = 'booking.confirmed' AND payload->>'via' = 'waitlist'"
    )
    assert event is not None
    payload = json.loads(event["payload"])
    await notify_booking(str(event["id"]), payload)
    await notify_booking(str(event["id"]), payload)  # redelivered: still one notification
    inbox = await client.get("/api/v1/me/notifications", headers=first.headers)
    kinds = [n["kind"] for n in inbox.json()["items"]]
    assert kinds.count("waitlist.promoted") == 1


async def test_first_entry_whose_quantity_fits_is_promoted(client):
    c = await canteen(client, capacity=3)
    holder = await resident(client, c.setup, "占位")
    big = await resident(client, c.setup, "要三份")
    small = await resident(client, c.setup, "要一份")
    b1 = (await book(client, holder, c.slot_id, quantity=1)).json()
    filler = await resident(client, c.setup, "另一位")
    assert (await book(client, filler, c.slot_id, quantity=2)).status_code == 201
    assert (await join(client, big, c.slot_id, quantity=3)).status_code == 201
    assert (await join(client, small, c.slot_id, quantity=1)).status_code == 201
    await client.post(f"/api/v1/bookings/{b1['id']}/cancel", headers=holder.headers)
    # One place freed: the family of three still waits, the single diner gets it.
    big_entry = (await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=big.headers)).json()
    small_entry = (await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=small.headers)).json()
    assert big_entry["status"] == "waiting" and small_entry["status"] == "promoted"
    assert await booked_places(c.slot_id) == 3


async def test_leaving_the_waitlist(client):
    c = await canteen(client, capacity=1)
    a = await resident(client, c.setup, "甲")
    b = await resident(client, c.setup, "乙")
    booking = (await book(client, a, c.slot_id)).json()
    await join(client, b, c.slot_id)
    r = await client.delete(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=b.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert_problem(
        await client.delete(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=b.headers), 409, "invalid_transition"
    )
    await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=a.headers)
    assert await booked_places(c.slot_id) == 0
    # They may queue again later.
    assert (await book(client, a, c.slot_id)).status_code == 201
    assert (await join(client, b, c.slot_id)).status_code == 201


async def test_waitlist_bad_input_and_strangers(client):
    c = await canteen(client, capacity=1)
    a = await resident(client, c.setup)
    for q in (0, -1, 10**9, "x"):
        assert_problem(await join(client, a, c.slot_id, quantity=q), 422)
    assert_problem(await join(client, a, str(uuid.uuid4())), 404, "slot_not_found")
    r = await client.post("/api/v1/slots/nope/waitlist", json={"quantity": 1}, headers=a.headers)
    assert 400 <= r.status_code < 500
    assert_problem(
        await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=a.headers), 404, "waitlist_entry_not_found"
    )
    assert await count("waitlist_entries") == 0
    _ = UUID


async def test_partner_sees_the_line_and_strangers_do_not(client):
    c = await canteen(client, capacity=1)
    a = await resident(client, c.setup, "甲")
    b = await resident(client, c.setup, "乙")
    d = await resident(client, c.setup, "丙")
    await book(client, a, c.slot_id)
    await join(client, b, c.slot_id)
    await join(client, d, c.slot_id)
    r = await client.get(f"/api/v1/slots/{c.slot_id}/waitlist", headers=c.staff.headers)
    assert r.status_code == 200, r.text
    assert [(e["resident_id"], e["position"]) for e in r.json()] == [(b.id, 1), (d.id, 2)]
    other = await canteen(client, name="别的社区")
    for who in (b, other.staff, other.setup.staff):
        r = await client.get(f"/api/v1/slots/{c.slot_id}/waitlist", headers=who.headers)
        assert r.status_code in (403, 404), r.text


async def test_no_promotion_while_the_offering_is_paused(client):
    c = await canteen(client, capacity=1)
    a = await resident(client, c.setup, "甲")
    b = await resident(client, c.setup, "乙")
    booking = (await book(client, a, c.slot_id)).json()
    await join(client, b, c.slot_id)
    r = await client.post(f"/api/v1/offerings/{c.offering['id']}/pause", headers=c.partner.headers)
    assert r.status_code == 200, r.text
    await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=a.headers)
    entry = (await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=b.headers)).json()
    assert entry["status"] == "waiting"
    assert await booked_places(c.slot_id) == 0 == await active_quantity(c.slot_id)
    # Published again: the next booking attempt first gives the free place to the line.
    r = await client.post(f"/api/v1/offerings/{c.offering['id']}/publish", headers=c.partner.headers)
    assert r.status_code == 200, r.text
    walk_in = await resident(client, c.setup, "丙")
    # The quote says so before the booking does: no price shown for a place that cannot be had.
    quote = await client.post("/api/v1/bookings/quote", json={"slot_id": c.slot_id}, headers=walk_in.headers)
    assert_problem(quote, 409, "slot_full")
    assert_problem(await book(client, walk_in, c.slot_id), 409, "slot_full")
    assert (await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=b.headers)).json()["status"] == (
        "waiting"
    )
    # The periodic job hands the place to the line, once however often it runs.
    from marketplace.tasks import promote_waitlists

    assert len(await promote_waitlists("t1")) == 1
    assert await promote_waitlists("t2") == []
    entry = (await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=b.headers)).json()
    assert entry["status"] == "promoted"
    assert await booked_places(c.slot_id) == 1 == await active_quantity(c.slot_id)
