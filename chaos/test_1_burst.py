"""1. Booking burst: 10,000 booking requests from 1,000 residents at 50 slots across two API processes.

Nothing is oversold, every 201 is a booking in the database (and nothing else is), and every booking's
`booking.confirmed` event leaves the outbox and reaches the notification actor exactly once.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence

from chaos.load import (
    DELIVERED,
    booking_ids,
    booking_requests,
    build_world,
    burst,
    confirmed_events,
    overbooked_slots,
    scrape,
    wait_delivered,
)
from chaos.results import Results
from tests.conftest import process_env
from tests.harness import free_port

REQUESTS, RESIDENTS, PARTNERS, SLOTS_EACH, CAPACITY = 10_000, 1_000, 5, 10, 100
NOTIFY = "dramatiq_messages_total{marketplace.notify_booking}"


def places_sold(requests: Sequence[tuple[object, str]], capacity: int) -> int:
    """How many requests can succeed: each slot fills up to its capacity from the requests aimed at it."""
    return sum(min(capacity, n) for n in Counter(slot_id for _, slot_id in requests).values())


async def delivered_once(port: int, created: set[str]) -> float:
    """Wait until every booking's event is relayed, handled and its notice exists, once; returns how long."""
    t0 = time.monotonic()
    state = await wait_delivered(created, timeout=120)
    assert state == DELIVERED, state
    samples = scrape(port) or {}
    # The actor ran once per event: a relay that sent an event twice would show here, not in the notices
    # (which are keyed by event and so stay single anyway).
    assert samples.get(NOTIFY) == len(created), samples.get(NOTIFY)
    return time.monotonic() - t0


async def test_ten_thousand_booking_requests_oversell_nothing_and_every_event_is_delivered_once(
    client, live_server, start_worker, results: Results
):
    port = free_port()
    start_worker(process_env() | {"dramatiq_prom_port": str(port)})
    t_setup = time.monotonic()
    world = await build_world(
        client, live_server, residents=RESIDENTS, partners=PARTNERS, slots_per_partner=SLOTS_EACH, capacity=CAPACITY
    )
    setup_seconds = time.monotonic() - t_setup
    requests = booking_requests(world, REQUESTS)

    answers, _ = await burst(live_server, requests, concurrency=48)

    statuses = answers.statuses
    assert set(statuses) <= {201, 409}, (answers.codes, [a.error for a in answers.answers if a.error][:5])
    assert set(answers.codes) == {"409 slot_full"}
    created = answers.created
    assert len(created) == statuses[201] == places_sold(requests, CAPACITY)
    assert await overbooked_slots(world.slot_ids) == 0
    assert await booking_ids(world.slot_ids) == created
    events = await confirmed_events()
    assert {b: n for b, n in events.items() if b in created} == dict.fromkeys(created, 1)
    assert set(events) == created
    drain_seconds = await delivered_once(port, created)

    results.record(
        "burst",
        requests=REQUESTS,
        residents=RESIDENTS,
        slots=len(world.slot_ids),
        places=len(world.slot_ids) * CAPACITY,
        answered_201=statuses[201],
        answered_409_slot_full=statuses[409],
        other_answers=len(answers.answers) - statuses[201] - statuses[409],
        overbooked_slots=0,
        bookings_in_database=len(created),
        events_relayed_once=len(created),
        burst_seconds=round(answers.seconds, 1),
        requests_per_second=round(REQUESTS / answers.seconds),
        p50_ms=round(answers.percentile(0.5) * 1000),
        p99_ms=round(answers.percentile(0.99) * 1000),
        slowest_ms=round(answers.slowest() * 1000),
        all_delivered_seconds_after_burst=round(drain_seconds, 1),
        setup_seconds=round(setup_seconds, 1),
    )
