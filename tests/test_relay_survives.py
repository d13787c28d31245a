"""The outbox relay outlives the database dropping its connection mid-batch: it relays again on the next pass
instead of ending, which left every later event unsent (seen in the chaos suite, PostgreSQL stopped under load)."""

from __future__ import annotations

import os
import signal
from uuid import UUID

import asyncpg

from linli import db
from tests.api import sign_up
from tests.conftest import eventually, process_env

# The relay between claiming its rows and marking them sent: its transaction open, waiting on Redis.
_RELAY_CLAIMING = (
    "SELECT pid FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE 'SELECT id, topic, payload%'"
)


async def welcomed(person_id: str) -> int:
    return await db.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1", UUID(person_id))


async def test_residents_who_sign_up_after_the_relays_connection_was_cut_mid_batch_are_still_welcomed(
    client, start_worker, private_redis
):
    start_worker(process_env() | {"REDIS_URL": private_redis.url})
    first = await sign_up(client, "陈奶奶")
    await eventually(lambda: welcomed(first.id), timeout=30)  # the relay is at work

    # Redis stalls while the relay sends a batch; PostgreSQL drops the relay's connection meanwhile, as a stopping
    # server does. When Redis answers, the relay's next statement meets a closed connection: asyncpg's
    # InterfaceError, not a PostgreSQL error.
    assert private_redis.proc is not None
    watcher = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        os.kill(private_redis.proc.pid, signal.SIGSTOP)
        try:
            second = await sign_up(client, "林大爷")
            relay_pid = await eventually(lambda: watcher.fetchval(_RELAY_CLAIMING), timeout=30)
            assert await watcher.fetchval("SELECT pg_terminate_backend($1, 5000)", relay_pid)
        finally:
            os.kill(private_redis.proc.pid, signal.SIGCONT)
    finally:
        await watcher.close()

    third = await sign_up(client, "黄阿姨")
    await eventually(lambda: welcomed(third.id), timeout=30)
    await eventually(lambda: welcomed(second.id), timeout=30)
    await eventually(lambda: db.fetchval("SELECT bool_and(sent_at IS NOT NULL) FROM outbox_events"), timeout=30)
