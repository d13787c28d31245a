"""Actors that turn outbox events into notifications."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from linli import db
from notifications import services
from workers.actor import actor


@actor(name="notifications.welcome", topics=("user.registered",))
async def send_welcome(event_id: str, payload: dict[str, Any]) -> None:
    async with db.unit_of_work():
        await services.create(
            user_id=UUID(payload["user_id"]),
            kind="welcome",
            title="欢迎加入邻里",
            body=f"{payload.get('name', '')},您好!在这里可以预约社区服务、参加志愿活动。",
            source_key=f"event:{event_id}",
        )
