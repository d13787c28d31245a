"""Moves committed outbox rows to Dramatiq and marks them sent.

Safe to run in many processes at once (rows are claimed with SKIP LOCKED) and safe to run twice over the same
rows: message ids are derived from the event id and every subscribed actor is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import asyncpg
import structlog

from linli import db
from workers.actor import SUBSCRIPTIONS, send

log = structlog.get_logger("linli.relay")


async def relay_once(*, limit: int = 200) -> int:
    """Relay up to `limit` unsent events; returns how many were marked sent."""
    async with db.unit_of_work():
        rows = await db.fetch(
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
                await db.execute(
                    "UPDATE outbox_events SET attempts = attempts + 1, last_error = $2 WHERE id = $1",
                    row["id"],
                    str(exc)[:500],
                )
                break
            sent.append(row["id"])
        if sent:
            await db.execute(
                "UPDATE outbox_events SET sent_at = now(), attempts = attempts + 1 WHERE id = ANY($1::uuid[])",
                sent,
            )
    return len(sent)


async def run_relay(stop: asyncio.Event, *, poll_seconds: float = 0.1) -> None:
    """Relay until `stop` is set: drain what is pending, then look again every `poll_seconds`."""
    while not stop.is_set():
        try:
            while await relay_once() > 0 and not stop.is_set():
                pass
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("outbox_relay_error", error=str(exc))
        # Waking on `stop` too, so shutdown never waits out a poll.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=poll_seconds)
