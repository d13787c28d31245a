"""Moves committed outbox rows to Dramatiq and marks them sent.

Safe to run in many processes at once (rows are claimed with SKIP LOCKED) and safe to run twice over the same
rows: message ids are derived from the event id and every subscribed actor is idempotent.
"""

from __future__ import annotations

import asyncio
import json

import asyncpg
import structlog

from linli import db
from linli.outbox import NOTIFY_CHANNEL
from workers.actor import SUBSCRIPTIONS, send

log = structlog.get_logger("linli.relay")


async def relay_once(*, limit: int = 200) -> int:
    """Relay up to `limit` unsent events; returns how many were marked sent."""
    async with db.unit_of_work() as conn:
        rows = await conn.fetch(
            "SELECT id, topic, payload FROM outbox_events WHERE sent_at IS NULL"
            " ORDER BY created_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
            limit,
        )
        sent = []
        for row in rows:
            event_id = str(row["id"])
            payload = json.loads(row["payload"])
            try:
                for actor_name in SUBSCRIPTIONS.get(row["topic"], []):
                    await asyncio.to_thread(send, actor_name, event_id, payload, message_id=f"{event_id}.{actor_name}")
            except Exception as exc:  # Redis down or refusing: keep the row for the next pass.
                log.warning("outbox_relay_failed", event_id=event_id, error=str(exc))
                await conn.execute(
                    "UPDATE outbox_events SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                    row["id"],
                    str(exc)[:500],
                )
                break
            sent.append(row["id"])
        if sent:
            await conn.execute(
                "UPDATE outbox_events SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1::uuid[])",
                sent,
            )
    return len(sent)


async def run_relay(stop: asyncio.Event, *, poll_seconds: float = 1.0) -> None:
    """Relay until `stop` is set, waking on NOTIFY and polling as a safety net."""
    wake = asyncio.Event()
    listener: asyncpg.Connection | None = None

    def on_notify(*_: object) -> None:
        wake.set()

    while not stop.is_set():
        try:
            if listener is None or listener.is_closed():
                listener = await db.engine().get_new_connection()
                await listener.add_listener(NOTIFY_CHANNEL, on_notify)
            while await relay_once() > 0 and not stop.is_set():
                pass
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("outbox_relay_error", error=str(exc))
            listener = None
        wake.clear()
        waiters = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())]
        await asyncio.wait(waiters, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()
    if listener is not None and not listener.is_closed():
        await listener.close()
