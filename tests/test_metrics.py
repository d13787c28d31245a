"""An operator's Prometheus scrapes /metrics: requests by route template, the pool, the outbox and the totals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from linli.settings import reload_settings
from tests.marketplace_api import assert_problem, book, canteen, resident


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by (name, sorted labels)."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scrape: dict[Any, float], name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


BOOKING = {"method": "POST", "route": "/api/v1/bookings", "status": "201"}


async def test_a_booking_moves_the_request_and_booking_counters_of_two_api_processes(client, live_server):
    c = await canteen(client, capacity=10)
    person = await resident(client, c.setup)
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        before = samples((await http.get("/metrics")).text)
        r = await book(http, person, c.slot_id)
        assert r.status_code == 201, r.text
        booking_id = r.json()["id"]
        assert (await http.get(f"/api/v1/bookings/{booking_id}", headers=person.headers)).status_code == 200
        # Both processes answer scrapes; whichever does adds up the other's files too.
        scrapes = [await http.get("/metrics") for _ in range(4)]
    for scrape in scrapes:
        assert scrape.status_code == 200
        assert scrape.headers["content-type"].startswith("text/plain")
        after = samples(scrape.text)
        assert (
            value(after, "linli_http_requests_total", **BOOKING)
            == value(before, "linli_http_requests_total", **BOOKING) + 1
        )
        assert value(after, "linli_http_request_duration_seconds_count", **BOOKING) >= 1
        assert value(after, "linli_bookings_total") == value(before, "linli_bookings_total") + 1
        assert ("linli_outbox_unsent_events", ()) in after
        assert ("linli_db_pool_connections_in_use", ()) in after
        # Series are per route template: the booking's id never becomes a label.
        assert booking_id not in scrape.text
        assert 'route="/api/v1/bookings/{booking_id}"' in scrape.text


async def test_a_caller_from_another_machine_needs_the_metrics_token(client, monkeypatch):
    # The in-process client calls from 10.1.2.3: not loopback.
    refused = await client.get("/metrics")
    assert_problem(refused, 403, "metrics_forbidden")

    monkeypatch.setenv("LINLI_METRICS_TOKEN", "scrape-secret-123")
    reload_settings()
    try:
        assert_problem(await client.get("/metrics"), 403, "metrics_forbidden")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer guessed"})
        assert_problem(wrong, 403, "metrics_forbidden")
        ok = await client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-123"})
        assert ok.status_code == 200
        assert "linli_outbox_unsent_events" in ok.text
    finally:
        monkeypatch.delenv("LINLI_METRICS_TOKEN")
        reload_settings()


@pytest.fixture
async def loopback_client(app: Any) -> Any:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


async def test_a_scrape_from_this_machine_needs_no_token_unless_one_is_set(loopback_client, monkeypatch):
    assert (await loopback_client.get("/metrics")).status_code == 200
    monkeypatch.setenv("LINLI_METRICS_TOKEN", "scrape-secret-123")
    reload_settings()
    try:
        assert_problem(await loopback_client.get("/metrics"), 403, "metrics_forbidden")
    finally:
        monkeypatch.delenv("LINLI_METRICS_TOKEN")
        reload_settings()


async def test_the_outbox_gauges_tell_unsent_from_sent_but_not_yet_handled(client, live_server):
    from linli import db
    from tests.api import sign_up

    for name in ("李奶奶", "王大爷", "赵阿姨"):
        await sign_up(client, name)
    # No worker runs: one event is as the relay leaves it (sent to Redis), the others wait in the outbox.
    await db.execute(
        "UPDATE outbox_events SET sent_at = now() WHERE id = (SELECT id FROM outbox_events ORDER BY created_at LIMIT 1)"
    )
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        scrape = samples((await http.get("/metrics")).text)
    assert value(scrape, "linli_outbox_unsent_events") == 2
    assert value(scrape, "linli_outbox_undelivered_events") == 1
