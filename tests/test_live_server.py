"""Two real API processes: rules that live in PostgreSQL hold whichever process answers."""

from __future__ import annotations

import asyncio

import httpx

from linli import db
from tests.conftest import next_phone


async def test_fifty_simultaneous_registrations_of_one_phone_make_one_account(live_server):
    phone = next_phone()
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        responses = await asyncio.gather(
            *(
                http.post("/api/v1/auth/register", json={"phone": phone, "password": "abcdefgh", "name": f"抢注{i}"})
                for i in range(50)
            )
        )
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1
    assert codes.count(409) == 49
    assert all(r.json()["code"] == "phone_taken" for r in responses if r.status_code == 409)
    assert await db.fetchval("SELECT count(*) FROM users WHERE phone = $1", phone) == 1
    assert await db.fetchval("SELECT count(*) FROM outbox_events") == 1


async def test_login_throttle_is_shared_by_every_process(live_server):
    phone = next_phone()
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        await http.post("/api/v1/auth/register", json={"phone": phone, "password": "abcdefgh", "name": "被试"})
        codes = [
            (await http.post("/api/v1/auth/token", json={"phone": phone, "password": "wrong-guess"})).status_code
            for _ in range(8)
        ]
    # Requests land on either process; the count lives in Redis, so the sixth failure is refused anyway.
    assert codes[:5] == [401] * 5
    assert set(codes[5:]) == {429}


async def test_health_and_schema_are_served(live_server):
    async with httpx.AsyncClient(base_url=live_server) as http:
        assert (await http.get("/health/live")).json() == {"status": "ok"}
        ready = (await http.get("/health/ready")).json()
        assert ready["checks"] == {"postgres": "ok", "redis": "ok"}
        schema = (await http.get("/schema/openapi.json")).json()
        assert "/api/v1/bookings" in schema["paths"] or "/api/v1/auth/register" in schema["paths"]
        assert (await http.get("/schema")).status_code == 200


async def _idle_after(base: str, request: bytes) -> float | None:
    """Send `request`, read its answer, then wait: seconds until the server closed the idle connection."""
    import time
    from urllib.parse import urlsplit

    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(request)
        await writer.drain()
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        answered = time.monotonic()
        try:
            while await asyncio.wait_for(reader.read(65536), timeout=15):
                pass  # the rest of the answer's body
        except TimeoutError:
            return None
        return time.monotonic() - answered
    finally:
        writer.close()


async def test_a_connection_that_never_finishes_its_request_is_closed_and_others_are_served(log_dir):
    from chaos.abuse import silent, slow_head, trickle
    from tests.conftest import process_env
    from tests.harness import live_api

    env = process_env() | {
        "LINLI_HTTP_HEAD_TIMEOUT_SECONDS": "1",
        "LINLI_HTTP_BODY_TIMEOUT_SECONDS": "2",
        "LINLI_HTTP_KEEP_ALIVE_SECONDS": "3",
    }
    with live_api(env, log_dir, workers=1) as base:
        host = base.removeprefix("http://")
        request = f"GET /health/live HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        head_cut, silence_cut, idle_cut = await asyncio.gather(
            trickle(base, *slow_head(host), every_seconds=0.2, give_up_after=15),
            silent(base, give_up_after=15),
            _idle_after(base, request),  # one whole request, then the connection kept alive and idle
        )
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            assert (await http.get("/health/live")).status_code == 200
    # Plain uvicorn keeps both open for as long as the client likes (server/http.py).
    assert head_cut is not None and 1 <= head_cut < 15
    assert silence_cut is not None and 1 <= silence_cut < 15
    # An idle kept-alive connection is closed by LINLI_HTTP_KEEP_ALIVE_SECONDS, not by uvicorn's own 5 s.
    assert idle_cut is not None and 2.5 <= idle_cut < 4.5
