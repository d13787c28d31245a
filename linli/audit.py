"""Audit records, written in the caller's unit of work next to the change they describe."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from linli import db


async def record(
    *,
    actor_user_id: UUID | None,
    action: str,
    object_type: str,
    object_id: UUID | None,
    community_id: UUID | None = None,
    reason: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    await db.execute(
        "INSERT INTO audit_events (id, community_id, actor_user_id, action, object_type, object_id, reason,"
        " detail, created_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7::jsonb, now())",
        community_id,
        actor_user_id,
        action,
        object_type,
        object_id,
        reason,
        json.dumps(detail or {}, default=str, ensure_ascii=False),
    )
