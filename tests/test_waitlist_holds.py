"""Childcare holds a freed place for the first parent in line: they confirm it, decline it, or let it pass on."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from uuid import UUID

from linli import db
from marketplace.tasks import expire_holds, notify_hold
from tests.marketplace_api import (
    Canteen,
    active_quantity,
    assert_problem,
    book,
    booked_places,
    canteen,
    resident,
)
from tests.partners_api import slot, utc_now

HOLD_MINUTES = 30


async def join(client, person, slot_id, quantity=1):
    r = await client.post(f"/api/v1/slots/{slot_id}/waitlist", json={"quantity": quantity}, headers=person.headers)
    assert r.status_code == 201, r.text
    return r.json()


async def entry_of(client, person, slot_id):
    return (await client.get(f"/api/v1/slots/{slot_id}/waitlist/me", headers=person.headers)).json()


async def booking_of(client, person, booking_id):
    r = await client.get(f"/api/v1/bookings/{booking_id}", headers=person.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def full_nursery(client, *, capacity: int = 1) -> tuple[Canteen, dict]:
    """A childcare offering that holds waitlist places, with its one slot fully booked by a first parent."""
    c = await canteen(
        client, capacity=capacity, title="普惠托育半日班", category="childcare", waitlist_hold_minutes=HOLD_MINUTES
    )
    holder = await resident(client, c.setup, "先约的家长")
    booking = (await book(client, holder, c.slot_id, quantity=capacity)).json()
    return c, {"person": holder, "booking": booking}


async def line_up(client, c, *names):
    """Residents who queue, in this order, for the full slot of `c`."""
    people = [await resident(client, c.setup, name) for name in names]
    for person in people:
        await join(client, person, c.slot_id)
    return people


async def free_the_place(client, first):
    r = await client.post(f"/api/v1/bookings/{first['booking']['id']}/cancel", headers=first["person"].headers)
    assert r.status_code == 200, r.text


async def places_agree(slot_id: str) -> bool:
    return await booked_places(slot_id) == await active_quantity(slot_id)


async def test_a_freed_place_is_held_for_the_first_in_line_until_they_confirm(client):
    c, first = await full_nursery(client)
    (parent,) = await line_up(client, c, "候补家长")
    await free_the_place(client, first)

    entry = await entry_of(client, parent, c.slot_id)
    assert entry["status"] == "offered"
    held = await booking_of(client, parent, entry["booking_id"])
    assert held["status"] == "held"
    expires = datetime.fromisoformat(held["hold_expires_at"])
    assert timedelta(minutes=HOLD_MINUTES - 1) < expires - utc_now() <= timedelta(minutes=HOLD_MINUTES)
    # The held place is taken: nobody walks in on it.
    walk_in = await resident(client, c.setup, "路过的家长")
    assert_problem(await book(client, walk_in, c.slot_id), 409, "slot_full")
    assert await booked_places(c.slot_id) == 1 and await places_agree(c.slot_id)

    # The parent hears about it, with the deadline in local time, once however often the event is delivered.
    event = await db.fetchrow("SELECT id, payload FROM outbox_events WHERE topic = 'booking.held'")
    assert event is not None
    for _ in range(2):
        await notify_hold(str(event["id"]), json.loads(event["payload"]))
    inbox = (await client.get("/api/v1/me/notifications", headers=parent.headers)).json()["items"]
    offered = [n for n in inbox if n["kind"] == "waitlist.offered"]
    assert len(offered) == 1 and "保留至" in offered[0]["body"]

    r = await client.post(f"/api/v1/bookings/{held['id']}/confirm", headers=parent.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "confirmed"
    assert (await entry_of(client, parent, c.slot_id))["status"] == "promoted"
    assert_problem(
        await client.post(f"/api/v1/bookings/{held['id']}/confirm", headers=parent.headers), 409, "invalid_transition"
    )
    # Confirmed is confirmed: the expiry job leaves it alone.
    past = "UPDATE bookings SET hold_expires_at = now() - interval '1 minute' WHERE id = $1"
    await db.execute(past, UUID(held["id"]))
    assert await expire_holds("after-confirm") == []
    assert (await booking_of(client, parent, held["id"]))["status"] == "confirmed"


async def test_declining_a_held_place_offers_it_to_the_next_in_line(client):
    c, first = await full_nursery(client)
    a, b = await line_up(client, c, "第一位候补", "第二位候补")
    await free_the_place(client, first)
    offered = await entry_of(client, a, c.slot_id)

    # Declining is cancelling the held booking, allowed whatever the cancellation cutoff.
    r = await client.post(f"/api/v1/bookings/{offered['booking_id']}/cancel", headers=a.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    assert (await entry_of(client, a, c.slot_id))["status"] == "declined"
    next_entry = await entry_of(client, b, c.slot_id)
    assert next_entry["status"] == "offered"
    assert (await booking_of(client, b, next_entry["booking_id"]))["status"] == "held"
    assert await booked_places(c.slot_id) == 1 and await places_agree(c.slot_id)


async def test_an_unconfirmed_hold_expires_and_passes_on_exactly_once(client):
    c, first = await full_nursery(client)
    a, b = await line_up(client, c, "没回消息的家长", "下一位家长")
    await free_the_place(client, first)
    held_id = (await entry_of(client, a, c.slot_id))["booking_id"]

    # Thirty minutes go by.
    await db.execute("UPDATE bookings SET hold_expires_at = now() - interval '1 second' WHERE id = $1", UUID(held_id))
    assert_problem(await client.post(f"/api/v1/bookings/{held_id}/confirm", headers=a.headers), 409, "hold_expired")

    assert await expire_holds("tick-1") == [held_id]
    assert await expire_holds("tick-2") == []
    expired = await booking_of(client, a, held_id)
    assert expired["status"] == "cancelled" and expired["cancel_reason"]
    assert (await entry_of(client, a, c.slot_id))["status"] == "expired"
    assert (await entry_of(client, b, c.slot_id))["status"] == "offered"
    assert await booked_places(c.slot_id) == 1 and await places_agree(c.slot_id)
    assert await db.fetchval("SELECT count(*) FROM outbox_events WHERE topic = 'booking.hold_expired'") == 1


async def test_a_hold_never_outlasts_the_start_of_the_slot(client):
    c = await canteen(client, capacity=1, category="childcare", waitlist_hold_minutes=24 * 60)
    soon = await slot(client, c.partner, c.offering["id"], starts_at=utc_now() + timedelta(hours=2), capacity=1)
    holder = await resident(client, c.setup, "甲")
    waiting = await resident(client, c.setup, "乙")
    booking = (await book(client, holder, soon["id"])).json()
    await join(client, waiting, soon["id"])
    await client.post(f"/api/v1/bookings/{booking['id']}/cancel", headers=holder.headers)
    held = await booking_of(client, waiting, (await entry_of(client, waiting, soon["id"]))["booking_id"])
    assert datetime.fromisoformat(held["hold_expires_at"]) == datetime.fromisoformat(soon["starts_at"])


async def test_only_the_parent_may_confirm_their_held_place(client):
    c, first = await full_nursery(client)
    (parent,) = await line_up(client, c, "候补家长")
    await free_the_place(client, first)
    held_id = (await entry_of(client, parent, c.slot_id))["booking_id"]
    stranger = await resident(client, c.setup, "别人")
    assert_problem(await client.post(f"/api/v1/bookings/{held_id}/confirm", headers=stranger.headers), 404)
    assert_problem(await client.post(f"/api/v1/bookings/{held_id}/confirm", headers=c.staff.headers), 403)
    # A held place is not yet a visit: the partner can neither accept it nor record a no-show.
    assert_problem(
        await client.post(f"/api/v1/bookings/{held_id}/accept", headers=c.staff.headers), 409, "invalid_transition"
    )
    assert (await booking_of(client, parent, held_id))["status"] == "held"
    # Confirming an ordinary booking is not a thing either.
    assert_problem(
        await client.post(f"/api/v1/bookings/{first['booking']['id']}/confirm", headers=first["person"].headers),
        409,
        "invalid_transition",
    )


async def test_hold_minutes_are_validated_and_null_returns_to_automatic_booking(client):
    c = await canteen(client, capacity=1)
    for bad in (0, 4, 24 * 60 + 1, -5, "半小时"):
        r = await client.patch(
            f"/api/v1/offerings/{c.offering['id']}", json={"waitlist_hold_minutes": bad}, headers=c.partner.headers
        )
        assert_problem(r, 422)
    r = await client.patch(
        f"/api/v1/offerings/{c.offering['id']}", json={"waitlist_hold_minutes": 15}, headers=c.partner.headers
    )
    assert r.status_code == 200 and r.json()["waitlist_hold_minutes"] == 15
    r = await client.patch(
        f"/api/v1/offerings/{c.offering['id']}", json={"waitlist_hold_minutes": None}, headers=c.partner.headers
    )
    assert r.status_code == 200 and r.json()["waitlist_hold_minutes"] is None


async def test_a_confirmation_racing_the_expiry_job_has_one_outcome(client):
    """At the deadline, the parent's confirm and the expiry job race; each round ends one way, and no place is lost."""
    for round_no in range(12):
        c, first = await full_nursery(client)
        parent, nxt = await line_up(client, c, f"家长{round_no}", f"下一位{round_no}")
        await free_the_place(client, first)
        held_id = (await entry_of(client, parent, c.slot_id))["booking_id"]
        deadline = datetime.now(UTC) + timedelta(milliseconds=40 + 10 * (round_no % 4))
        await db.execute("UPDATE bookings SET hold_expires_at = $2 WHERE id = $1", UUID(held_id), deadline)
        await asyncio.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds() - 0.005))

        confirm, expired = await asyncio.gather(
            client.post(f"/api/v1/bookings/{held_id}/confirm", headers=parent.headers), expire_holds(f"race-{round_no}")
        )
        await expire_holds(f"sweep-{round_no}")  # the next tick finishes whatever the race left
        status = (await booking_of(client, parent, held_id))["status"]
        if confirm.status_code == 200:
            assert status == "confirmed" and expired == []
            assert (await entry_of(client, nxt, c.slot_id))["status"] == "waiting"
        else:
            assert_problem(confirm, 409, "hold_expired")
            assert status == "cancelled"
            assert (await entry_of(client, nxt, c.slot_id))["status"] == "offered"
        assert await booked_places(c.slot_id) == 1 and await places_agree(c.slot_id)


async def test_a_real_worker_tells_the_parent_and_passes_an_expired_hold_on(client, start_worker):
    from tests.conftest import eventually, process_env

    c, first = await full_nursery(client)
    a, b = await line_up(client, c, "没看到消息的家长", "下一位家长")
    start_worker({**process_env(), "LINLI_ORDER_ESCALATION_EVERY_SECONDS": "1"})
    await free_the_place(client, first)

    async def kinds(person) -> list[str]:
        inbox = (await client.get("/api/v1/me/notifications", headers=person.headers)).json()["items"]
        return [n["kind"] for n in inbox]

    assert await eventually(lambda: _has(kinds(a), "waitlist.offered"))
    held_id = (await entry_of(client, a, c.slot_id))["booking_id"]
    await db.execute("UPDATE bookings SET hold_expires_at = now() WHERE id = $1", UUID(held_id))
    assert await eventually(lambda: _has(kinds(a), "waitlist.hold_expired"))
    assert await eventually(lambda: _has(kinds(b), "waitlist.offered"))
    assert (await entry_of(client, a, c.slot_id))["status"] == "expired"
    assert await booked_places(c.slot_id) == 1 and await places_agree(c.slot_id)


async def _has(kinds, kind: str) -> bool:
    return kind in await kinds
