"""API processes remember their callers, yet a change to a user reaches every process at once."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import httpx

from linli import db
from linli.auth.callers import CALLERS, CallerCache, keep_fresh
from tests.api import platform_admin, sign_up
from tests.conftest import eventually


async def test_a_demoted_admin_loses_power_on_every_api_process_at_once(client, live_server):
    admin = await platform_admin(client, "区级管理员")
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:

        async def admin_flags() -> list[bool]:
            replies = await asyncio.gather(*(http.get("/api/v1/me", headers=admin.headers) for _ in range(20)))
            return [r.json()["is_platform_admin"] for r in replies]

        assert await admin_flags() == [True] * 20  # now remembered by both processes
        await db.execute("UPDATE users SET is_platform_admin = false WHERE id = $1", UUID(admin.id))

        async def demoted_everywhere() -> bool:
            return not any(await admin_flags())

        # The NOTIFY is delivered when the UPDATE commits: within moments, not at the cache's expiry (60 s).
        await eventually(demoted_everywhere, timeout=3)
        assert not any(await admin_flags())


async def test_without_its_listener_the_cache_is_not_used(client):
    # The in-process app runs without its lifespan; start the listener as `linli serve` does.
    stop = asyncio.Event()
    listener = asyncio.create_task(keep_fresh(stop, check_every_seconds=0.5))
    try:
        person = await sign_up(client, "王阿姨")
        await eventually(_is_live, timeout=10)
        assert (await client.get("/api/v1/me", headers=person.headers)).json()["name"] == "王阿姨"
        assert CALLERS.get(UUID(person.id)) is not None  # remembered
        # The listening connection dies: until it is back, every request reads the database.
        await db.fetch(  # fetch, not fetchval: asyncpg would stop the query after its first row
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'linli-callers' AND datname = current_database()"
        )
        await eventually(_is_not_live, timeout=10)
        await db.execute("ALTER TABLE users DISABLE TRIGGER users_changed")
        try:
            # Nobody announces this change, and still it is seen: nothing is served from memory meanwhile.
            await db.execute("UPDATE users SET name = '王奶奶' WHERE id = $1", UUID(person.id))
            assert (await client.get("/api/v1/me", headers=person.headers)).json()["name"] == "王奶奶"
        finally:
            await db.execute("ALTER TABLE users ENABLE TRIGGER users_changed")
        await eventually(_is_live, timeout=10)  # and it comes back by itself
        # Back in service, a change is heard again.
        assert (await client.get("/api/v1/me", headers=person.headers)).json()["name"] == "王奶奶"
        await db.execute("UPDATE users SET name = '王阿姨' WHERE id = $1", UUID(person.id))
        await eventually(lambda: _name_is(client, person, "王阿姨"), timeout=3)
    finally:
        stop.set()
        await asyncio.wait_for(listener, timeout=10)
    assert not CALLERS.live


async def _name_is(client, person, name: str) -> bool:
    return bool((await client.get("/api/v1/me", headers=person.headers)).json()["name"] == name)


async def _is_live() -> bool:
    return CALLERS.live


async def _is_not_live() -> bool:
    return not CALLERS.live


def test_a_read_that_raced_a_change_is_not_remembered():
    cache = CallerCache()
    cache.set_live(True)
    user_id = uuid4()
    generation = cache.generation  # a request starts reading the user…
    cache.forget(user_id)  # …the user changes meanwhile…
    cache.put(user_id, "the row as it was", generation=generation)  # …so what it read is not kept
    assert cache.get(user_id) is None
    cache.put(user_id, "fresh", generation=cache.generation)
    assert cache.get(user_id) == "fresh"
    cache.set_live(False)
    assert cache.get(user_id) is None


async def test_residents_asking_at_once_each_hear_about_themselves(client, live_server):
    # Every handler's `user` is read from the scope of the request it serves; requests racing on the same API
    # processes (and, in-process, on the same event loop) must never see each other's caller.
    people = [await sign_up(client, f"居民{i}") for i in range(12)]
    asks = [person for person in people for _ in range(5)]
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as http:
        for asker in (http, client):
            replies = await asyncio.gather(*(asker.get("/api/v1/me", headers=p.headers) for p in asks))
            assert [r.status_code for r in replies] == [200] * len(asks)
            assert [r.json()["id"] for r in replies] == [p.id for p in asks]
