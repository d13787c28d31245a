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

# One encoder for every payload: `json.dumps` with options builds a new JSONEncoder on each call.
_payload_json = json.JSONEncoder(default=str, ensure_ascii=False).encode


def event_values(*, topic: str, payload: dict[str, Any]) -> tuple[UUID, str, str]:
    """(id, topic, JSON payload) of a new event, for `emit` or `insert_event_sql` in a larger statement."""
    return uuid4(), topic, _payload_json(payload)


def insert_event_sql(first_param: int) -> str:
    """An `INSERT … SELECT` of one event whose (id, topic, payload) are parameters `$first_param` … `+2`.

    For a statement that writes a row and announces it at once: `…, event AS (<this> FROM the_cte)` inserts the
    event only if the CTE produced its row.
    """
    i = first_param
    return (
        "INSERT INTO outbox_events (id, topic, payload, created_at, attempts)"
        f" SELECT ${i}::uuid, ${i + 1}::text, ${i + 2}::jsonb, now(), 0"
    )


def insert_events_sql(*, topic_param: int, payload: str, source: str) -> str:
    """An `INSERT … SELECT` of one event per row of `source` (a CTE that wrote rows), topic `$topic_param`.

    For set-based writes that announce every row they make in the same statement; `payload` is an SQL
    expression over the source's columns, ids as text, e.g. `jsonb_build_object('id', made.id::text)`.
    """
    return (
        "INSERT INTO outbox_events (id, topic, payload, created_at, attempts)"
        f" SELECT gen_random_uuid(), ${topic_param}::text, {payload}, now(), 0 FROM {source}"
    )


async def emit(*, topic: str, payload: dict[str, Any]) -> UUID:
    """Record `topic` with a JSON `payload` (ids, not objects) in the current unit of work."""
    values = event_values(topic=topic, payload=payload)
    await db.execute(insert_event_sql(1), *values)
    return values[0]
