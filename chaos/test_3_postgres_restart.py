"""3. PostgreSQL stopped and started again while residents keep booking.

While the database is away every request gets a quick 503 problem+json with Retry-After (no hang, no 500, no
traceback); once it is back the same API processes serve again on their own (the pool reconnects), and nothing
is half-written: each booking has its place counted in its slot and its one event in the outbox.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from chaos.load import (
    DELIVERED,
    Answer,
    booking_ids,
    booking_requests,
    build_world,
    burst,
    confirmed_events,
    overbooked_slots,
    wait_delivered,
)
from chaos.results import Results
from chaos.services import PrivatePostgres
from tests.conftest import process_env

REQUESTS, RESIDENTS, PARTNERS, SLOTS_EACH, CAPACITY = 4_000, 400, 2, 10, 100
PER_SECOND = 100.0  # 40 s of requests: before, during and well after the outage
DOWN_AT_SECONDS, DOWN_FOR_SECONDS = 8.0, 10.0
SERVES_AGAIN_WITHIN_SECONDS = 10.0


async def _while_down(base_url: str, community_id: str) -> dict[str, Any]:
    """What a probe and a person at the console see while the database is away."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        ready = await http.get("/health/ready")
        page = await http.get(f"/public/{community_id}")
    return {"ready": (ready.status_code, ready.json()), "page": (page.status_code, page.text)}


def _is_problem_503(a: Answer) -> bool:
    return (
        a.status == 503 and a.content_type.startswith("application/problem+json") and a.code == ("service_unavailable")
    )


async def test_postgres_restarted_under_load_answers_503_while_down_and_serves_again_without_an_api_restart(
    client, live_server, start_worker, pg: PrivatePostgres, results: Results
):
    start_worker(process_env())
    world = await build_world(
        client, live_server, residents=RESIDENTS, partners=PARTNERS, slots_per_partner=SLOTS_EACH, capacity=CAPACITY
    )
    requests = booking_requests(world, REQUESTS, seed=3)
    timeline: dict[str, Any] = {}

    async def outage() -> None:
        t0 = time.monotonic()
        await asyncio.sleep(DOWN_AT_SECONDS)
        timeline["stopping_at"] = time.monotonic() - t0
        await asyncio.to_thread(pg.stop, "fast")  # sessions are terminated, in-flight transactions roll back
        timeline["down_at"] = time.monotonic() - t0
        await asyncio.sleep(2)
        timeline["seen_while_down"] = await _while_down(live_server, world.setup.id)
        await asyncio.sleep(max(0.0, timeline["down_at"] + DOWN_FOR_SECONDS - (time.monotonic() - t0)))
        timeline["starting_at"] = time.monotonic() - t0
        await asyncio.to_thread(pg.start)
        timeline["up_at"] = time.monotonic() - t0

    answers, _ = await burst(live_server, requests, concurrency=32, per_second=PER_SECOND, during=outage)
    down_at, up_at = timeline["down_at"], timeline["up_at"]
    assert answers.seconds > up_at + SERVES_AGAIN_WITHIN_SECONDS + 5, "the burst ended too soon after the restart"

    # Never a hang or a bare failure: every request got an HTTP answer, and no 500.
    assert [a.error for a in answers.answers if a.status == 0][:3] == []
    assert {a.status for a in answers.answers} <= {201, 409, 503}, answers.statuses
    assert all(_is_problem_503(a) for a in answers.answers if a.status == 503)
    # Down from when `pg_ctl stop` returned until `pg_ctl start` began.
    while_down = [
        a for a in answers.answers if down_at <= a.started and a.started + a.seconds <= timeline["starting_at"]
    ]
    assert while_down and all(_is_problem_503(a) for a in while_down), [
        a for a in while_down if not _is_problem_503(a)
    ][:3]
    status, body = timeline["seen_while_down"]["ready"]
    assert status == 503 and body["checks"]["postgres"].startswith("down")
    status, page = timeline["seen_while_down"]["page"]
    assert status == 503 and "服务暂不可用" in page and "Traceback" not in page

    # Serving again by itself: whatever starts 10 s after PostgreSQL's return is answered as usual.
    after = [a for a in answers.answers if a.started >= up_at + SERVES_AGAIN_WITHIN_SECONDS]
    assert after and {a.status for a in after} <= {201, 409}, [a.status for a in after][:20]
    first_served = min(a.started + a.seconds for a in answers.answers if a.status == 201 and a.started >= up_at)

    # Nothing half-written: places counted match the bookings, each booking has its one event, every 201 is there.
    assert await overbooked_slots(world.slot_ids) == 0
    in_database = await booking_ids(world.slot_ids)
    created = answers.created
    assert created <= in_database
    # A booking whose COMMIT reached the server just as it shut down is kept while its request got a 503; the
    # resident retrying with the same Idempotency-Key gets it back. It is whole all the same.
    committed_but_answered_503 = in_database - created
    events = await confirmed_events()
    assert {b: events.get(b, 0) for b in in_database} == dict.fromkeys(in_database, 1)
    state = await wait_delivered(in_database, timeout=120)
    assert state == DELIVERED, state

    results.record(
        "postgres_restart",
        requests=REQUESTS,
        postgres_down_seconds=round(timeline["starting_at"] - down_at, 1),
        requests_sent_while_down=len(while_down),
        answered_503_problem_json=answers.statuses[503],
        answered_500=0,
        requests_without_an_answer=0,
        slowest_answer_while_down_ms=round(max(a.seconds for a in while_down) * 1000),
        seconds_from_postgres_return_to_first_booking=round(max(0.0, first_served - up_at), 1),
        answered_201=answers.statuses[201],
        answered_409=answers.statuses[409],
        overbooked_slots=0,
        bookings_half_written=0,
        committed_while_answered_503=len(committed_but_answered_503),
        api_restarts=0,
    )
