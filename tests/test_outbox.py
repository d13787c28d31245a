"""Events leave through the outbox: nothing is lost when Redis is down, nothing happens twice."""

from __future__ import annotations

import asyncio
from uuid import UUID

import server.registry  # noqa: F401  (the actors and their subscriptions, as a worker knows them)
from linli import db, idempotency, outbox
from tests.api import sign_up
from tests.conftest import eventually, next_phone, process_env
from workers import relay
from workers.broker import broker_run_id


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


async def test_an_event_sent_to_a_redis_that_restarted_empty_is_sent_again_and_delivered_once(client, start_worker):
    person = await sign_up(client, "孙奶奶")
    # As if the relay had sent it to a Redis that was killed before any worker took the message: the row says
    # sent, to a server that is no longer the one running, and no actor has marked it.
    await db.execute("UPDATE outbox_events SET sent_at = now(), sent_to = 'a-redis-that-restarted'")
    start_worker()
    await eventually(lambda: notifications_of(person.id), timeout=30)
    await eventually(lambda: db.fetchval("SELECT bool_and(delivered_at IS NOT NULL) FROM outbox_events"))
    row = await db.fetchrow("SELECT delivered_actors, sent_to FROM outbox_events")
    assert row is not None
    assert row["delivered_actors"] == ["notifications.welcome"]
    assert row["sent_to"] != "a-redis-that-restarted"
    await asyncio.sleep(0.5)
    assert await notifications_of(person.id) == 1


async def test_only_what_went_to_an_earlier_redis_is_sent_again(client):
    await sign_up(client, "周大爷")
    await sign_up(client, "吴阿姨")
    await sign_up(client, "郑叔叔")
    running = await asyncio.to_thread(broker_run_id)
    first, second, third = [r["id"] for r in await db.fetch("SELECT id FROM outbox_events ORDER BY created_at")]
    # Still queued in the Redis that runs now: a worker will take it, sending it again would only add work.
    await db.execute("UPDATE outbox_events SET sent_at = now(), sent_to = $2 WHERE id = $1", first, running)
    # Sent to a Redis that restarted since, and no actor did its part: lost with that Redis.
    await db.execute("UPDATE outbox_events SET sent_at = now(), sent_to = 'gone' WHERE id = $1", second)
    # Sent to that Redis too, but its actor had done its part: delivered, only never marked so.
    await db.execute(
        "UPDATE outbox_events SET sent_at = now(), sent_to = 'gone', delivered_actors = '{notifications.welcome}'"
        " WHERE id = $1",
        third,
    )

    assert await relay.redeliver_once() == 1
    rows = {r["id"]: r for r in await db.fetch("SELECT id, sent_to, delivered_at, attempts FROM outbox_events")}
    assert rows[first]["sent_to"] == running and rows[first]["delivered_at"] is None
    assert rows[second]["sent_to"] == running and rows[second]["attempts"] == 1
    assert rows[third]["delivered_at"] is not None
    assert await relay.redeliver_once() == 0
