"""Events leave through the outbox: nothing is lost when Redis is down, nothing happens twice."""

from __future__ import annotations

import asyncio
from uuid import UUID

from linli import db, idempotency, outbox
from tests.api import sign_up
from tests.conftest import eventually, next_phone, process_env


async def notifications_of(user_id: str) -> int:
    return await db.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1", UUID(user_id))


async def test_an_event_rolls_back_with_its_change():
    class Boom(Exception):
        pass

    try:
        async with db.unit_of_work():
            await outbox.emit(topic="user.registered", payload={"user_id": "x"})
            raise Boom
    except Boom:
        pass
    assert await db.fetchval("SELECT count(*) FROM outbox_events") == 0


async def test_registration_records_one_event_with_the_user(client):
    person = await sign_up(client, "李奶奶")
    rows = await db.fetch("SELECT topic, payload, sent_at FROM outbox_events")
    assert [r["topic"] for r in rows] == ["user.registered"]
    assert person.id in rows[0]["payload"]
    assert rows[0]["sent_at"] is None


async def test_new_resident_gets_a_welcome_notification_through_a_real_worker(client, start_worker):
    start_worker()
    person = await sign_up(client, "李奶奶")
    await eventually(lambda: notifications_of(person.id))
    inbox = (await client.get("/api/v1/me/notifications", headers=person.headers)).json()
    assert inbox["unread"] == 1
    assert inbox["items"][0]["kind"] == "welcome"
    assert "李奶奶" in inbox["items"][0]["body"]
    # The relay marks rows sent when its batch commits, which can be just after the worker has already acted on
    # them: every row gets there, but not necessarily before the notification shows.
    await eventually(lambda: db.fetchval("SELECT count(*) = 0 FROM outbox_events WHERE sent_at IS NULL"))


async def test_redis_down_loses_nothing_and_delivers_once(client, start_worker, private_redis):
    env = process_env() | {"REDIS_URL": private_redis.url}
    start_worker(env)
    private_redis.stop()  # Redis dies before anyone registers.

    person = await sign_up(client, "王大爷")  # The request still succeeds.
    await eventually(lambda: db.fetchval("SELECT attempts > 0 FROM outbox_events WHERE sent_at IS NULL"), timeout=20)
    assert await notifications_of(person.id) == 0

    private_redis.start()  # Back: the relay catches up and the worker reconnects.
    await eventually(lambda: notifications_of(person.id), timeout=60)
    await asyncio.sleep(1.0)
    assert await notifications_of(person.id) == 1


async def test_relaying_the_same_rows_twice_still_notifies_once(client, start_worker, private_redis):
    env = process_env() | {"REDIS_URL": private_redis.url}
    start_worker(env)
    person = await sign_up(client, "赵阿姨")
    await eventually(lambda: notifications_of(person.id))

    # As if the relay had crashed after sending but before marking the row sent: it sends it again.
    await db.execute("UPDATE outbox_events SET sent_at = NULL")
    await eventually(lambda: db.fetchval("SELECT bool_and(sent_at IS NOT NULL) FROM outbox_events"))
    # A later event on the same queue: once its effect shows, the duplicate ahead of it has been handled too.
    sentinel = await sign_up(client, "钱叔叔")
    await eventually(lambda: notifications_of(sentinel.id))
    await asyncio.sleep(0.5)
    assert await notifications_of(person.id) == 1


async def test_claim_admits_the_first_handler_only():
    async def handle() -> bool:
        async with db.unit_of_work():
            return await idempotency.claim(consumer="test.consumer", key="message-1")

    results = await asyncio.gather(*(handle() for _ in range(10)))
    assert sorted(results) == [False] * 9 + [True]
    assert await handle() is False


async def test_unknown_phone_login_does_not_emit_events(client):
    await client.post("/api/v1/auth/token", json={"phone": next_phone(), "password": "whatever1"})
    assert await db.fetchval("SELECT count(*) FROM outbox_events") == 0
