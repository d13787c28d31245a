"""Against two real API processes: capacity, idempotency and waitlist promotion hold under racing requests."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from linli import db
from tests.api import Person
from tests.marketplace_api import active_quantity, book, booked_places, canteen, count, resident


async def _residents(client: Any, setup: Any, n: int) -> list[Person]:
    return list(await asyncio.gather(*(resident(client, setup, f"居民{i}") for i in range(n))))


async def test_500_concurrent_attempts_at_10_places_make_exactly_10_bookings(client, live_server):
    c = await canteen(client, capacity=10)
    people = await _residents(client, c.setup, 100)
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=live_server, timeout=60, limits=limits) as http:
        attempts = [book(http, people[i % len(people)], c.slot_id) for i in range(500)]
        results = await asyncio.gather(*attempts)
    statuses = [r.status_code for r in results]
    assert statuses.count(201) == 10, sorted(set(statuses))
    assert statuses.count(409) == 490
    assert all(r.json()["code"] == "slot_full" for r in results if r.status_code == 409)
    assert await booked_places(c.slot_id) == 10 == await active_quantity(c.slot_id)
    assert await count("bookings") == 10


async def test_same_idempotency_key_sent_twice_at_once_makes_one_booking(client, live_server):
    c = await canteen(client, capacity=10)
    a = await resident(client, c.setup)
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
        for round_ in range(5):
            headers = {**a.headers, "Idempotency-Key": f"double-tap-{round_}"}
            r1, r2 = await asyncio.gather(
                *(http.post("/api/v1/bookings", json={"slot_id": c.slot_id}, headers=headers) for _ in range(2))
            )
            assert r1.status_code == r2.status_code == 201, (r1.text, r2.text)
            assert r1.json()["id"] == r2.json()["id"]
    assert await count("bookings") == 5
    assert await booked_places(c.slot_id) == 5


async def test_cancellations_racing_bookings_and_promotions_never_lose_or_double_sell(client, live_server):
    capacity = 5
    c = await canteen(client, capacity=capacity)
    holders = await _residents(client, c.setup, capacity)
    waiting = await _residents(client, c.setup, 8)
    walk_ins = await _residents(client, c.setup, 8)
    held = [(await book(client, p, c.slot_id)).json()["id"] for p in holders]
    for p in waiting:
        r = await client.post(f"/api/v1/slots/{c.slot_id}/waitlist", json={"quantity": 1}, headers=p.headers)
        assert r.status_code == 201, r.text
    async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
        cancels = [
            http.post(f"/api/v1/bookings/{bid}/cancel", headers=p.headers) for bid, p in zip(held, holders, strict=True)
        ]
        grabs = [book(http, p, c.slot_id) for p in walk_ins]
        leaves = [http.delete(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=p.headers) for p in waiting[5:]]
        results = await asyncio.gather(*cancels, *grabs, *leaves)
    assert all(r.status_code == 200 for r in results[:capacity]), [r.text for r in results[:capacity]]
    grab_results = results[capacity : capacity + len(walk_ins)]
    assert all(r.status_code in (201, 409) for r in grab_results)
    assert all(r.status_code == 200 for r in results[capacity + len(walk_ins) :])
    # Every place is held exactly once, by the books and by the counter.
    assert await booked_places(c.slot_id) == await active_quantity(c.slot_id) == capacity
    promoted = await db.fetchval(
        "SELECT count(*) FROM waitlist_entries WHERE slot_id = $1::uuid AND status = 'promoted'", c.slot_id
    )
    linked = await db.fetchval(
        "SELECT count(*) FROM waitlist_entries w JOIN bookings b ON b.id = w.booking_id"
        " WHERE w.slot_id = $1::uuid AND b.status = 'confirmed'",
        c.slot_id,
    )
    assert promoted == linked
    # The first five in line were waiting before any cancellation: the freed places went to them (FIFO).
    firsts = await db.fetch(
        "SELECT status FROM waitlist_entries WHERE slot_id = $1::uuid ORDER BY created_at LIMIT 5", c.slot_id
    )
    assert [r["status"] for r in firsts] == ["promoted"] * 5
    # ...so walk-ins never jumped the queue.
    assert sum(1 for r in grab_results if r.status_code == 201) == 0


async def test_held_places_pass_down_the_line_exactly_once_under_racing_requests(client, live_server):
    """A nursery that holds freed places: cancellations, walk-ins, confirmations and declines all at once."""
    capacity = 5
    c = await canteen(client, capacity=capacity, category="childcare", waitlist_hold_minutes=30)
    holders = await _residents(client, c.setup, capacity)
    waiting = await _residents(client, c.setup, 8)
    walk_ins = await _residents(client, c.setup, 6)
    held = [(await book(client, p, c.slot_id)).json()["id"] for p in holders]
    for p in waiting:
        r = await client.post(f"/api/v1/slots/{c.slot_id}/waitlist", json={"quantity": 1}, headers=p.headers)
        assert r.status_code == 201, r.text

    async def offer_of(p: Person) -> str:
        r = await client.get(f"/api/v1/slots/{c.slot_id}/waitlist/me", headers=p.headers)
        assert r.json()["status"] == "offered", r.text
        return str(r.json()["booking_id"])

    async with httpx.AsyncClient(base_url=live_server, timeout=60) as http:
        cancels = [
            http.post(f"/api/v1/bookings/{bid}/cancel", headers=p.headers) for bid, p in zip(held, holders, strict=True)
        ]
        grabs = [book(http, p, c.slot_id) for p in walk_ins[:3]]
        first_wave = await asyncio.gather(*cancels, *grabs)
        assert all(r.status_code == 200 for r in first_wave[:capacity])
        assert all(r.status_code == 409 for r in first_wave[capacity:]), "walk-ins never take a held place"
        offers = [await offer_of(p) for p in waiting[:capacity]]
        # Three parents confirm, two decline, and more walk-ins try their luck, all at once.
        answers = [
            http.post(f"/api/v1/bookings/{b}/confirm", headers=p.headers)
            for b, p in zip(offers[:3], waiting[:3], strict=True)
        ]
        declines = [
            http.post(f"/api/v1/bookings/{b}/cancel", headers=p.headers)
            for b, p in zip(offers[3:], waiting[3:capacity], strict=True)
        ]
        late = [book(http, p, c.slot_id) for p in walk_ins[3:]]
        second_wave = await asyncio.gather(*answers, *declines, *late)
    assert all(r.status_code == 200 for r in second_wave[:capacity]), [r.text for r in second_wave[:capacity]]
    assert all(r.status_code == 409 for r in second_wave[capacity:])
    statuses = await db.fetch(
        "SELECT status FROM waitlist_entries WHERE slot_id = $1::uuid ORDER BY created_at, id", c.slot_id
    )
    assert [r["status"] for r in statuses] == ["promoted"] * 3 + ["declined"] * 2 + ["offered"] * 2 + ["waiting"]
    assert await booked_places(c.slot_id) == await active_quantity(c.slot_id) == capacity
    assert (
        await db.fetchval("SELECT count(*) FROM bookings WHERE slot_id = $1::uuid AND status = 'held'", c.slot_id) == 2
    )
