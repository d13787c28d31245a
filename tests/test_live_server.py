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
