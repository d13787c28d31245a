"""Load for the chaos run: a community with canteens and many slots, many residents, and a bounded burst of
booking requests sent by an async httpx client (no more than `concurrency` in flight, optionally paced).

Tokens are minted in the test process with the live servers' secret (the same `create_access_token` the sign-in
endpoint calls): the burst is about booking, not about 1,000 sign-ins.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import httpx

from linli import db
from linli.auth.security import create_access_token
from tests.api import CommunitySetup, Person, community_with_staff
from tests.conftest import next_phone
from tests.partners_api import approved_partner, local, published_offering, slot


@dataclass
class World:
    setup: CommunitySetup
    slot_ids: list[str]
    capacity: int
    residents: list[Person]
    partner_admins: list[Person] = field(default_factory=list)


async def register(http: httpx.AsyncClient, community_id: str, gate: asyncio.Semaphore, index: int) -> Person:
    async with gate:
        phone = next_phone()
        r = await http.post(
            "/api/v1/auth/register",
            json={"phone": phone, "password": "s3cret-pass", "name": f"居民{index}", "community_id": community_id},
        )
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        return Person(id=user_id, phone=phone, name=f"居民{index}", password="s3cret-pass", token="")


async def build_world(
    client: Any, base_url: str, *, residents: int, partners: int, slots_per_partner: int, capacity: int
) -> World:
    """A community whose `partners` canteens each publish a meal with `slots_per_partner` slots of `capacity`,
    and `residents` residents who signed up into it through the live API (a fifth of them elderly, subsidised)."""
    setup = await community_with_staff(client, "压力测试社区")
    slot_ids: list[str] = []
    admins: list[Person] = []
    for k in range(partners):
        p = await approved_partner(client, setup, name=f"近邻食堂{k}")
        admins.append(p.admin)
        o = await published_offering(client, p, title=f"爱心午餐{k}", price_fen=1500, subsidies={"elderly": 1000})
        for j in range(slots_per_partner):
            s = await slot(client, p, o["id"], starts_at=local(days=1 + j, hour=11 + k % 3), capacity=capacity)
            slot_ids.append(str(s["id"]))
    gate = asyncio.Semaphore(32)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        people = list(await asyncio.gather(*(register(http, setup.id, gate, i) for i in range(residents))))
    for person in people:
        person.token = create_access_token(UUID(person.id))
    elderly = [UUID(p.id) for p in people[::5]]
    # What staff's PUT …/priority-groups writes, for 200 residents at once (the burst is about booking).
    await db.execute(
        "INSERT INTO community_residents (id, community_id, user_id, priority_groups, updated_at)"
        " SELECT gen_random_uuid(), $1, u, ARRAY['elderly'], now() FROM unnest($2::uuid[]) AS u",
        UUID(setup.id),
        elderly,
    )
    return World(setup=setup, slot_ids=slot_ids, capacity=capacity, residents=people, partner_admins=admins)


@dataclass
class Answer:
    started: float  # seconds since the burst began
    seconds: float
    status: int  # 0: no HTTP answer (transport error or client timeout)
    code: str | None = None
    booking_id: str | None = None
    content_type: str = ""
    error: str | None = None


@dataclass
class Burst:
    answers: list[Answer]
    seconds: float

    @property
    def statuses(self) -> Counter[int]:
        return Counter(a.status for a in self.answers)

    @property
    def codes(self) -> Counter[str]:
        return Counter(f"{a.status} {a.code}" for a in self.answers if a.code)

    @property
    def created(self) -> set[str]:
        return {a.booking_id for a in self.answers if a.status == 201 and a.booking_id}

    def slowest(self) -> float:
        return max((a.seconds for a in self.answers), default=0.0)

    def percentile(self, q: float) -> float:
        ordered = sorted(a.seconds for a in self.answers)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def booking_requests(world: World, count: int, *, seed: int = 15) -> list[tuple[Person, str]]:
    """`count` (resident, slot) pairs: every resident books the same number of times, at random slots."""
    rng = random.Random(seed)
    return [(world.residents[i % len(world.residents)], rng.choice(world.slot_ids)) for i in range(count)]


async def _book(http: httpx.AsyncClient, person: Person, slot_id: str, t0: float) -> Answer:
    started = time.monotonic()
    try:
        r = await http.post(
            "/api/v1/bookings",
            json={"slot_id": slot_id, "quantity": 1},
            headers={"Authorization": f"Bearer {person.token}"},
        )
    except httpx.HTTPError as exc:
        return Answer(started - t0, time.monotonic() - started, 0, error=f"{type(exc).__name__}: {exc}"[:200])
    body: dict[str, Any] = {}
    try:
        parsed = r.json()
        body = parsed if isinstance(parsed, dict) else {}
    except ValueError:
        pass
    return Answer(
        started - t0,
        time.monotonic() - started,
        r.status_code,
        code=body.get("code"),
        booking_id=body.get("id") if r.status_code == 201 else None,
        content_type=r.headers.get("content-type", ""),
        error=None if r.status_code < 500 else r.text[:300],
    )


async def burst(
    base_url: str,
    requests: list[tuple[Person, str]],
    *,
    concurrency: int = 48,
    per_second: float | None = None,
    timeout: float = 30.0,
    during: Callable[[], Coroutine[Any, Any, Any]] | None = None,
) -> tuple[Burst, Any]:
    """Send every request, at most `concurrency` in flight and (if given) no faster than `per_second`, while
    `during` (a fault scenario) runs beside; returns the answers and what `during` returned."""
    queue: asyncio.Queue[tuple[int, Person, str]] = asyncio.Queue()
    for i, (person, slot_id) in enumerate(requests):
        queue.put_nowait((i, person, slot_id))
    answers: list[Answer | None] = [None] * len(requests)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    t0 = time.monotonic()

    async def sender(http: httpx.AsyncClient) -> None:
        while True:
            try:
                i, person, slot_id = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if per_second:
                delay = t0 + i / per_second - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            answers[i] = await _book(http, person, slot_id, t0)

    async with httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits) as http:
        fault = asyncio.create_task(during()) if during else None
        await asyncio.gather(*(sender(http) for _ in range(concurrency)))
        elapsed = time.monotonic() - t0
        scenario = await fault if fault else None
    done = [a for a in answers if a is not None]
    assert len(done) == len(requests)
    return Burst(done, elapsed), scenario


async def overbooked_slots(slot_ids: list[str]) -> int:
    """Slots whose counter passed their capacity or disagrees with the bookings that hold places."""
    return int(
        await db.fetchval(
            "SELECT count(*) FROM slots s WHERE s.id = ANY($1::uuid[]) AND (s.booked > s.capacity OR s.booked <>"
            " (SELECT coalesce(sum(b.quantity), 0) FROM bookings b WHERE b.slot_id = s.id"
            "  AND b.status IN ('held', 'confirmed', 'accepted', 'completed')))",
            [UUID(s) for s in slot_ids],
        )
    )


async def booking_ids(slot_ids: list[str]) -> set[str]:
    rows = await db.fetch("SELECT id FROM bookings WHERE slot_id = ANY($1::uuid[])", [UUID(s) for s in slot_ids])
    return {str(r["id"]) for r in rows}


async def confirmed_events() -> dict[str, int]:
    """booking id -> number of `booking.confirmed` outbox events announcing it."""
    rows = await db.fetch(
        "SELECT payload->>'booking_id' AS booking_id, count(*) AS n FROM outbox_events"
        " WHERE topic = 'booking.confirmed' GROUP BY 1"
    )
    return {r["booking_id"]: int(r["n"]) for r in rows}


async def unsent_events() -> int:
    return int(await db.fetchval("SELECT count(*) FROM outbox_events WHERE sent_at IS NULL"))


async def sent_undelivered() -> int:
    """Events sent to Redis that no actor has yet marked done (in the broker, in a worker, or lost)."""
    return int(
        await db.fetchval("SELECT count(*) FROM outbox_events WHERE sent_at IS NOT NULL AND delivered_at IS NULL")
    )


async def confirmation_notices() -> dict[str, int]:
    """booking id -> notifications 'booking.confirmed' its resident received (the delivered effect)."""
    rows = await db.fetch(
        "SELECT data->>'booking_id' AS booking_id, count(*) AS n FROM notifications"
        " WHERE kind = 'booking.confirmed' GROUP BY 1"
    )
    return {r["booking_id"]: int(r["n"]) for r in rows}


def scrape(port: int) -> dict[str, float] | None:
    """The worker's Dramatiq counters per actor (`metric{actor}` -> value), None while it is not listening."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except httpx.TransportError:
        return None
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            if "actor_name" in s.labels:
                key = f"{s.name}{{{s.labels['actor_name']}}}"
                out[key] = out.get(key, 0.0) + s.value
    return out


DELIVERED = {"unsent_events": 0, "undelivered_events": 0, "bookings_without_notice": 0, "duplicate_notices": 0}


async def delivery_state(created: set[str]) -> dict[str, int]:
    """Where the events of `created` bookings are, by the outbox (not yet relayed; relayed, no actor's mark yet)
    and by their effect (a booking without its notice, or with two): everything delivered once is `DELIVERED`."""
    notices = await confirmation_notices()
    return {
        "unsent_events": await unsent_events(),
        "undelivered_events": await sent_undelivered(),
        "bookings_without_notice": len(created - set(notices)),
        "duplicate_notices": sum(1 for b, n in notices.items() if b in created and n > 1),
    }


async def wait_delivered(created: set[str], *, timeout: float) -> dict[str, int]:
    """Wait until every event is relayed and handled and every booking's notice exists; the last state either
    way (compare it with `DELIVERED`)."""
    deadline = time.monotonic() + timeout
    while True:
        state = await delivery_state(created)
        if state["unsent_events"] == state["undelivered_events"] == state["bookings_without_notice"] == 0:
            return state
        if time.monotonic() > deadline:
            return state
        await asyncio.sleep(0.25)
