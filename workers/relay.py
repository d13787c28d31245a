"""Moves committed outbox rows to Dramatiq, marks them sent, and sends again what a restarted Redis lost.

Safe to run in many processes at once (rows are claimed with SKIP LOCKED) and safe to run twice over the same
rows: message ids are derived from the event id and every subscribed actor is idempotent.

Sent is not delivered: a Redis killed before the worker took its messages comes back without them (with no
persistence, or with the last second of an append-only file missing). Each row therefore remembers the Redis it
went to (`sent_to`, the server's run_id, new after every restart) and which subscribed actors have done their
part (`delivered_actors`, appended by workers.actor after the actor's effect committed). `redeliver_once` sends
the missing actors' messages again for rows that went to an earlier Redis; an actor whose message survived after
all runs twice and, being idempotent, changes nothing the second time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from uuid import UUID

import asyncpg
import redis
import structlog

from linli import db, errors
from workers.actor import SUBSCRIPTIONS, send
from workers.broker import broker_run_id

log = structlog.get_logger("linli.relay")


async def _send(
    rows: Sequence[asyncpg.Record], actors_of: Callable[[asyncpg.Record], list[str]]
) -> tuple[list[UUID], str | None]:
    """Send each row's messages until Redis refuses one; returns the rows sent and the Redis they went to."""
    sent: list[UUID] = []
    run_id: str | None = None
    for row in rows:
        event_id = str(row["id"])
        try:
            if run_id is None:
                run_id = await asyncio.to_thread(broker_run_id)
            payload = json.loads(row["payload"])
            for actor_name in actors_of(row):
                await asyncio.to_thread(send, actor_name, event_id, payload, message_id=f"{event_id}.{actor_name}")
        except Exception as exc:  # Redis down or refusing: keep the row for the next pass.
            log.warning("outbox_relay_failed", event_id=event_id, error=str(exc))
            await db.execute(
                "UPDATE outbox_events SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                row["id"],
                str(exc)[:500],
            )
            break
        sent.append(row["id"])
    return sent, run_id


async def relay_once(*, limit: int = 200) -> int:
    """Relay up to `limit` unsent events; returns how many were marked sent."""
    async with db.unit_of_work():
        rows = await db.fetch(
            "SELECT id, topic, payload FROM outbox_events WHERE sent_at IS NULL"
            " ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        if not rows:
            return 0
        sent, run_id = await _send(rows, lambda row: SUBSCRIPTIONS.get(row["topic"], []))
        if sent:
            # An event nobody subscribes to is delivered the moment it is sent; an actor may already have marked
            # its row (a relay that died before this commit, sending the rows again now), which stays as it is.
            await db.execute(
                "UPDATE outbox_events SET sent_at = now(), sent_to = $2, attempts = attempts + 1,"
                " delivered_at = coalesce(delivered_at, CASE WHEN topic = ANY($3::text[]) THEN NULL ELSE now() END)"
                " WHERE id = ANY($1::uuid[])",
                sent,
                run_id,
                [topic for topic, actors in SUBSCRIPTIONS.items() if actors],
            )
    return len(sent)


async def redeliver_once(*, limit: int = 200) -> int:
    """Send again, to the Redis running now, the actors' messages of events sent to an earlier Redis and not yet
    delivered; returns how many events were sent again. Raises if Redis is unreachable (nothing to do then)."""
    run_id = await asyncio.to_thread(broker_run_id)
    async with db.unit_of_work():
        rows = await db.fetch(
            "SELECT id, topic, payload, delivered_actors FROM outbox_events"
            " WHERE sent_at IS NOT NULL AND delivered_at IS NULL AND sent_to IS DISTINCT FROM $1"
            " ORDER BY sent_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            run_id,
            limit,
        )
        missing = {
            row["id"]: [a for a in SUBSCRIPTIONS.get(row["topic"], []) if a not in row["delivered_actors"]]
            for row in rows
        }
        done = [event_id for event_id, actors in missing.items() if not actors]
        if done:  # every actor did its part (the last one's mark came before a subscriber was removed, say)
            await db.execute("UPDATE outbox_events SET delivered_at = now() WHERE id = ANY($1::uuid[])", done)
        sent, sent_to = await _send([row for row in rows if missing[row["id"]]], lambda row: missing[row["id"]])
        if sent:
            log.warning("outbox_redelivered", events=len(sent), redis_run_id=sent_to)
            await db.execute(
                "UPDATE outbox_events SET sent_at = now(), sent_to = $2, attempts = attempts + 1"
                " WHERE id = ANY($1::uuid[])",
                sent,
                sent_to,
            )
    return len(sent)


async def run_relay(stop: asyncio.Event, *, poll_seconds: float = 0.1, redeliver_seconds: float = 5.0) -> None:
    """Relay until `stop` is set: drain what is pending, then look again every `poll_seconds`; every
    `redeliver_seconds`, send again what a restarted Redis lost."""
    next_redelivery = time.monotonic()
    while not stop.is_set():
        pause = poll_seconds
        try:
            while await relay_once() > 0 and not stop.is_set():
                pass
            if time.monotonic() >= next_redelivery:
                next_redelivery = time.monotonic() + redeliver_seconds
                while await redeliver_once() > 0 and not stop.is_set():
                    pass
        except redis.exceptions.RedisError as exc:  # unreachable for the redelivery pass: try at the next one
            log.warning("outbox_redelivery_error", error=str(exc))
        except Exception as exc:
            pause = max(poll_seconds, 1.0)  # a second between tries while the database is away, not ten
            # Nothing may end the relay: an ended relay leaves every later event unsent until someone restarts the
            # worker (asyncpg reports a connection dropped mid-batch in several ways, some not PostgresErrors).
            errors.log_retried(log, "outbox_relay_error", exc)
        # Waking on `stop` too, so shutdown never waits out a poll.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=pause)
