"""Volunteers' actors: offer expiry and forgotten check-outs (periodic), notifications from outbox events.

Every actor is idempotent: the periodic ones act only on rows still in the state they change, and the
notification ones use the notifications' (user, source_key) uniqueness.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from community import services as community_services
from linli import db
from notifications import services as notifications
from volunteers.services import hours, offers
from workers.actor import actor
from workers.schedules import Schedule, every_seconds, register


@actor(name="volunteers.sweep")
async def sweep(slot: str) -> None:
    """Every minute: expire unanswered offers (passing places on, escalating urgent calls), and check out
    volunteers who forgot, flagged for review."""
    await offers.expire_offers()
    async with db.unit_of_work():
        await hours.auto_check_out()


register(Schedule(name="volunteers.sweep", actor_name="volunteers.sweep", slot=every_seconds(60)))


async def _task_title(task_id: str) -> str:
    return str(await db.fetchval("SELECT title FROM volunteer_tasks WHERE id = $1", UUID(task_id)) or "")


@actor(name="volunteers.notify_offer", topics=("volunteers.offered",))
async def notify_offer(event_id: str, payload: dict[str, Any]) -> None:
    async with db.unit_of_work():
        user_id = await db.fetchval(
            "SELECT user_id FROM volunteer_profiles WHERE id = $1", UUID(payload["volunteer_id"])
        )
        if user_id is None:
            return
        title = await _task_title(payload["task_id"])
        await notifications.create(
            user_id=user_id,
            kind="volunteer_offer",
            title="新的志愿服务邀请",
            body=f"「{title}」邀请您参加,请尽快确认。",
            source_key=f"event:{event_id}",
            data={"assignment_id": payload["assignment_id"], "task_id": payload["task_id"]},
        )


@actor(name="volunteers.notify_team_offer", topics=("volunteers.team_offered",))
async def notify_team_offer(event_id: str, payload: dict[str, Any]) -> None:
    async with db.unit_of_work():
        title = await _task_title(payload["task_id"])
        await notifications.create(
            user_id=UUID(payload["leader_user_id"]),
            kind="volunteer_team_offer",
            title="服务队收到任务邀请",
            body=f"「{title}」邀请您的服务队参加,请确认并指派队员。",
            source_key=f"event:{event_id}",
            data={"team_offer_id": payload["team_offer_id"], "task_id": payload["task_id"]},
        )


@actor(name="volunteers.escalate_help", topics=("volunteers.help_escalated",))
async def escalate_help(event_id: str, payload: dict[str, Any]) -> None:
    """Nobody answered an urgent call: every staff member of the community is alerted."""
    async with db.unit_of_work():
        staff = await community_services.staff_user_ids(community_id=UUID(payload["community_id"]))
        for user_id in staff:
            await notifications.create(
                user_id=user_id,
                kind="help_escalated",
                title="紧急求助无人响应",
                body=f"「{payload.get('title', '')}」暂无志愿者接单,请尽快安排。",
                source_key=f"event:{event_id}",
                data={"task_id": payload["task_id"]},
            )
