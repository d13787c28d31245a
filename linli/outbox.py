"""The outbox: events are rows written in the caller's unit of work, relayed to Dramatiq after commit.

Because the row commits or rolls back with the change it announces, Redis being down (or the process dying
right after commit) loses nothing: the relay (workers.relay) picks the row up later.

There is deliberately no NOTIFY here: PostgreSQL serialises the commits of every notifying transaction on one
global lock (held across the WAL flush), which halved booking throughput under load. The relay polls a partial
index of unsent rows instead, every `LINLI_OUTBOX_POLL_SECONDS` (0.1 s by default).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from linli import db


async def emit(*, topic: str, payload: dict[str, Any]) -> UUID:
    """Record `topic` with a JSON `payload` (ids, not objects) in the current unit of work."""
    event_id = uuid4()
    await db.execute(
        "INSERT INTO outbox_events (id, topic, payload, created_at, attempts) VALUES ($1, $2, $3::jsonb, now(), 0)",
        event_id,
        topic,
        json.dumps(payload, default=str, ensure_ascii=False),
    )
    return event_id
