"""2. Redis down for 30 s in the middle of a 10,000-request booking burst.

Bookings never need Redis (capacity, idempotency and the outbox live in PostgreSQL), so none is refused for its
sake. Sign-in keeps working: login throttling degrades OPEN while Redis is away (linli.auth.ratelimit: failures
are neither counted nor enforced, and the attempt goes through), because locking every resident out when a
cache is down is worse than a slower attacker. Events pile up in the outbox while the relay cannot reach Redis,
and every one is delivered exactly once when it returns, including those the killed Redis held when it died: the
relay sends again what went to the earlier Redis (its run_id) and no actor has marked delivered.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from chaos.load import (
    DELIVERED,
    booking_ids,
    booking_requests,
    build_world,
    burst,
    confirmed_events,
    overbooked_slots,
    scrape,
    sent_undelivered,
    unsent_events,
    wait_delivered,
)
from chaos.results import Results
from chaos.services import ChaosRedis
from chaos.test_1_burst import CAPACITY, NOTIFY, PARTNERS, REQUESTS, RESIDENTS, SLOTS_EACH, places_sold
from tests.conftest import process_env
from tests.harness import free_port

DOWN_AT_SECONDS, DOWN_FOR_SECONDS = 8.0, 30.0
# Slow enough that the burst outlasts the outage: 10,000 requests take at least 50 s.
PER_SECOND = 200.0


async def _sign_ins_while_down(base_url: str, phone: str, password: str) -> dict[str, Any]:
    """What a resident signing in sees while Redis is down: the right password works, wrong ones are 401s."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        wrong = [
            (await http.post("/api/v1/auth/token", json={"phone": phone, "password": "wrong-guess"})).status_code
            for _ in range(8)
        ]
        right = await http.post("/api/v1/auth/token", json={"phone": phone, "password": password})
        ready = await http.get("/health/ready")
    return {"wrong": wrong, "right": right.status_code, "ready": ready.status_code, "checks": ready.json()}


async def test_redis_down_thirty_seconds_mid_burst_refuses_no_booking_and_loses_no_event(
    client, live_server, start_worker, redis_server: ChaosRedis, results: Results
):
    port = free_port()
    worker = start_worker(process_env() | {"dramatiq_prom_port": str(port)})
    world = await build_world(
        client, live_server, residents=RESIDENTS, partners=PARTNERS, slots_per_partner=SLOTS_EACH, capacity=CAPACITY
    )
    requests = booking_requests(world, REQUESTS, seed=2)
    someone = world.residents[0]
    timeline: dict[str, Any] = {}

    async def outage() -> None:
        t0 = time.monotonic()
        await asyncio.sleep(DOWN_AT_SECONDS)
        redis_server.stop()  # SIGKILL: whatever it held in memory is gone (no persistence: --save '')
        redis_server.wait_down()
        timeline["down_at"] = time.monotonic() - t0
        await asyncio.sleep(3)
        timeline["sign_in"] = await _sign_ins_while_down(live_server, someone.phone, someone.password)
        await asyncio.sleep(max(0.0, DOWN_AT_SECONDS + DOWN_FOR_SECONDS - (time.monotonic() - t0)))
        timeline["backlog_at_return"] = await unsent_events()
        timeline["lost_with_redis"] = await sent_undelivered()
        redis_server.start()
        timeline["up_at"] = time.monotonic() - t0
        timeline["returned"] = time.monotonic()

    answers, _ = await burst(live_server, requests, concurrency=48, per_second=PER_SECOND, during=outage)
    assert answers.seconds > timeline["up_at"], "the burst ended before Redis came back"

    statuses = answers.statuses
    assert set(answers.codes) == {"409 slot_full"}, (answers.codes, [a.error for a in answers.answers if a.error][:5])
    assert set(statuses) == {201, 409}
    during = [a for a in answers.answers if timeline["down_at"] <= a.started <= timeline["up_at"]]
    assert len(during) > 1000 and {a.status for a in during} <= {201, 409}
    created = answers.created
    assert len(created) == places_sold(requests, CAPACITY)
    assert await overbooked_slots(world.slot_ids) == 0
    assert await booking_ids(world.slot_ids) == created
    assert await confirmed_events() == dict.fromkeys(created, 1)

    sign_in = timeline["sign_in"]
    assert sign_in["wrong"] == [401] * 8  # not throttled: degrades open
    assert sign_in["right"] == 200
    assert sign_in["ready"] == 503 and sign_in["checks"]["checks"]["redis"].startswith("down")

    state = await wait_delivered(created, timeout=120)
    recovered = time.monotonic() - timeline["returned"]
    assert state == DELIVERED, (state, worker.output()[-3000:])
    # The actor ran at least once per event; more where a message the worker had already taken from the killed
    # Redis was sent again as well (one notice each, above, shows that a second run changed nothing).
    samples = scrape(port) or {}
    actor_runs = int(samples.get(NOTIFY, 0))
    assert actor_runs >= len(created), actor_runs

    results.record(
        "redis_down",
        requests=REQUESTS,
        redis_down_seconds=round(timeline["up_at"] - timeline["down_at"], 1),
        requests_sent_while_down=len(during),
        refused_for_redis=0,
        answered_201=statuses[201],
        answered_409_slot_full=statuses[409],
        overbooked_slots=0,
        sign_in_while_down="right password 200, 8 wrong ones 401 (throttling degrades open), /health/ready 503",
        outbox_backlog_when_redis_returned=timeline["backlog_at_return"],
        events_the_killed_redis_held_sent_again=timeline["lost_with_redis"],
        actor_runs_beyond_one_per_event=actor_runs - len(created),
        events_lost=0,
        events_delivered_once=len(created),
        seconds_from_redis_return_to_all_delivered=round(recovered, 1),
        burst_seconds=round(answers.seconds, 1),
        slowest_ms=round(answers.slowest() * 1000),
    )
