"""An operator's Prometheus scrapes a worker too: Dramatiq's message counters and durations, on the worker's port."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import eventually, process_env
from tests.harness import free_port
from tests.marketplace_api import book, canteen, resident

ACTOR = {"queue_name": "default", "actor_name": "marketplace.notify_booking"}


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float] | None:
    """Every sample the worker serves, or None while it is not listening yet."""
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
    except httpx.TransportError:
        return None
    assert r.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return samples.get((name, tuple(sorted(ACTOR.items()))), 0.0)


async def test_a_booking_confirmed_by_a_worker_moves_its_dramatiq_counters(client, start_worker):
    port = free_port()
    start_worker(process_env() | {"dramatiq_prom_port": str(port)})
    c = await canteen(client)
    person = await resident(client, c.setup)

    async def listening() -> object:
        return scrape(port)

    before = await eventually(listening)
    assert value(before, "dramatiq_messages_total") == 0
    assert (await book(client, person, c.slot_id)).status_code == 201

    # The booking's outbox event is relayed to the notify actor, which the worker runs once.
    async def counted() -> object:
        samples = scrape(port)
        return samples if samples and value(samples, "dramatiq_messages_total") >= 1 else None

    after = await eventually(counted)
    assert value(after, "dramatiq_messages_total") == 1
    assert value(after, "dramatiq_message_errors_total") == 0
    assert value(after, "dramatiq_message_duration_milliseconds_count") == 1
    assert value(after, "dramatiq_messages_inprogress") == 0


async def test_a_worker_whose_metrics_port_is_taken_still_does_its_work(client, start_worker):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = start_worker(process_env() | {"dramatiq_prom_port": str(port)})
        c = await canteen(client)
        person = await resident(client, c.setup)
        assert (await book(client, person, c.slot_id)).status_code == 201

        async def confirmed() -> bool:
            inbox = (await client.get("/api/v1/me/notifications", headers=person.headers)).json()["items"]
            return [n["kind"] for n in inbox].count("booking.confirmed") == 1

        assert await eventually(confirmed)
    assert "worker_metrics_unavailable" in proc.output()
