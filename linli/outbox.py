"""The outbox: events are rows written in the caller's unit of work, relayed to Dramatiq after commit.

Because the row commits or rolls back with the change it announces, Redis being down (or the process dying
right after commit) loses nothing: the relay (workers.relay) picks the row up later.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from linli import db

NOTIFY_CHANNEL = "linli_outbox"


async def emit(*, topic: str, payload: dict[str, Any]) -> UUID:
    """Record `topic` with a JSON `payload` (ids, not objects) in the current unit of work."""
    event_id = uuid4()
    async with db.connection() as conn:
        await conn.execute(
            "INSERT INTO outbox_events (id, topic, payload, created_at, attempts) VALUES ($1, $2, $3::jsonb, now(), 0)",
            event_id,
            topic,
            json.dumps(payload, default=str, ensure_ascii=False),
        )
        # Delivered at commit only; wakes the relay without waiting for its poll.
        await conn.execute("SELECT pg_notify($1, '')", NOTIFY_CHANNEL)
    return event_id
