"""Creating and reading notifications. Callers own the unit of work."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from linli import db
from linli.errors import NotFound
from notifications.channels import channels
from notifications.schemas import NotificationOut, NotificationPage


async def create(
    *, user_id: UUID, kind: str, title: str, body: str, source_key: str, data: dict[str, Any] | None = None
) -> bool:
    """Store a notification once per (user, source); returns False when it already existed."""
    row = await db.fetchrow(
        "INSERT INTO notifications (id, user_id, kind, title, body, data, source_key, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5::jsonb, $6, now())"
        " ON CONFLICT (user_id, source_key) DO NOTHING RETURNING id",
        user_id,
        kind,
        title,
        body,
        json.dumps(data or {}, default=str, ensure_ascii=False),
        source_key,
    )
    if row is None:
        return False
    for channel in channels():
        await channel.deliver(user_id=user_id, title=title, body=body)
    return True


def _out(row: Any) -> NotificationOut:
    return NotificationOut(
        id=row["id"],
        kind=row["kind"],
        title=row["title"],
        body=row["body"],
        data=json.loads(row["data"]),
        created_at=row["created_at"],
        read_at=row["read_at"],
    )


async def get_all(*, user_id: UUID, unread_only: bool = False, limit: int = 50, offset: int = 0) -> NotificationPage:
    rows = await db.fetch(
        "SELECT id, kind, title, body, data, created_at, read_at FROM notifications"
        " WHERE user_id = $1 AND ($2::bool IS FALSE OR read_at IS NULL)"
        " ORDER BY created_at DESC, id LIMIT $3 OFFSET $4",
        user_id,
        unread_only,
        limit,
        offset,
    )
    return NotificationPage(items=[_out(r) for r in rows], unread=await unread_count(user_id=user_id))


async def mark_read(*, user_id: UUID, notification_id: UUID) -> NotificationOut:
    row = await db.fetchrow(
        "UPDATE notifications SET read_at = coalesce(read_at, now()) WHERE id = $1 AND user_id = $2"
        " RETURNING id, kind, title, body, data, created_at, read_at",
        notification_id,
        user_id,
    )
    if row is None:
        raise NotFound("no such notification")
    return _out(row)


async def mark_all_read(*, user_id: UUID) -> int:
    """Mark every unread notification of `user_id` read; returns how many were unread."""
    rows = await db.fetch(
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL RETURNING id", user_id
    )
    return len(rows)


async def unread_count(*, user_id: UUID) -> int:
    return int(await db.fetchval("SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL", user_id))
