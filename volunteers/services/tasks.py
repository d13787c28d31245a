"""Tasks and help requests: who may publish them, recurrence, check-in codes, cancel and complete."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import asyncpg

from community import access
from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import BadInput, Forbidden, InvalidTransition, NotFound
from partners import services as partners
from volunteers.schemas import CheckInCodeOut, HelpRequestIn, RequiredSkill, TaskIn, TaskOut
from volunteers.services import offers
from volunteers.services.candidates import HELD, required_skills
from volunteers.services.common import (
    COORDINATOR_NOT_FOUND,
    GRID_NOT_FOUND,
    PARTNER_NOT_ALLOWED,
    TASK_TIMES_INVALID,
    load_task,
    require_coordinator,
)
from volunteers.services.profiles import check_skills

URGENT_OFFER_WINDOW_MINUTES = 5
CHECK_IN_CODE_MINUTES = 15
# Tasks are published for the coming year (as slots are) or, to record work already done, the past one. Far
# beyond that the dates around a task (matching reads a week either side, recurrence adds weeks) leave the
# calendar: such a task could not be stored, or once stored would break matching for its whole community.
MAX_TASK_DISTANCE = timedelta(days=366)


def _check_starts_at(starts_at: datetime, now: datetime) -> None:
    if abs(starts_at - now) > MAX_TASK_DISTANCE:
        raise BadInput("starts_at must be within a year of now", code=TASK_TIMES_INVALID)


async def task_out(task: asyncpg.Record, *, series_task_ids: list[UUID] | None = None) -> TaskOut:
    accepted = await db.fetchval(
        "SELECT count(*) FROM volunteer_assignments WHERE task_id = $1 AND status = ANY($2::text[])",
        task["id"],
        list(HELD),
    )
    return TaskOut(
        id=task["id"],
        community_id=task["community_id"],
        kind=task["kind"],
        title=task["title"],
        description=task["description"],
        location=task["location"],
        owner_user_id=task["owner_user_id"],
        partner_id=task["partner_id"],
        coordinator_user_id=task["coordinator_user_id"],
        required_skills=[RequiredSkill(code=c, min_level=lvl) for c, lvl in required_skills(task).items()],
        required_certificates=list(task["required_certificates"]),
        volunteers_needed=task["volunteers_needed"],
        accepted=accepted,
        starts_at=task["starts_at"],
        ends_at=task["ends_at"],
        grid_id=task["grid_id"],
        urgent=task["urgent"],
        language=task["language"],
        status=task["status"],
        series_id=task["series_id"],
        series_task_ids=series_task_ids or [],
    )


async def _check_grid(community_id: UUID, grid_id: UUID | None) -> None:
    if grid_id is not None and not await db.fetchval(
        "SELECT 1 FROM community_grids WHERE id = $1 AND community_id = $2", grid_id, community_id
    ):
        raise NotFound("no such grid in this community", code=GRID_NOT_FOUND)


async def _check_coordinator(community_id: UUID, partner_id: UUID | None, user_id: UUID | None) -> None:
    """A named coordinator approves the task's hours: they must be the community's (any role) or the task's
    partner's, never a stranger picked by id (an outsider gets the answer an unknown id gets)."""
    if user_id is None or await access.roles_in(user_id=user_id, community_id=community_id):
        return
    if partner_id is not None and await partners.member_role(partner_id=partner_id, user_id=user_id):
        return
    raise NotFound("the coordinator is not a member of this community", code=COORDINATOR_NOT_FOUND)


async def _insert(
    *,
    task_in: TaskIn,
    owner: UUID,
    partner_id: UUID | None,
    kind: str = "task",
    requester: UUID | None = None,
    starts_at: datetime,
    ends_at: datetime,
    series_id: UUID | None,
) -> asyncpg.Record:
    row = await db.fetchrow(
        "INSERT INTO volunteer_tasks (id, community_id, kind, title, description, location, owner_user_id,"
        " partner_id, coordinator_user_id, requester_user_id, required_skills, required_certificates, language,"
        " volunteers_needed, starts_at, ends_at, grid_id, urgent, offer_window_minutes, series_id, status,"
        " created_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11, $12, $13,"
        " $14, $15, $16, $17, $18, $19, 'open', now()) RETURNING *",
        task_in.community_id,
        kind,
        task_in.title,
        task_in.description,
        task_in.location,
        owner,
        partner_id,
        task_in.coordinator_user_id,
        requester,
        json.dumps([s.model_dump() for s in task_in.required_skills]),
        sorted(set(task_in.required_certificates)),
        task_in.language,
        task_in.volunteers_needed,
        starts_at,
        ends_at,
        task_in.grid_id,
        task_in.urgent,
        task_in.offer_window_minutes,
        series_id,
    )
    assert row is not None
    return row


async def create(*, actor: CurrentUser, task_in: TaskIn, now: datetime | None = None) -> TaskOut:
    """Community staff, or an admin of an approved partner of that community, publish a task.

    It starts within a year of now, either way. A recurring task (`recurrence.weekly_count`) becomes that many
    tasks a week apart sharing a `series_id`.
    """
    _check_starts_at(task_in.starts_at, now or datetime.now(UTC))
    await access.require_community(task_in.community_id)
    partner_id = task_in.partner_id
    if not await access.has_role(actor, task_in.community_id, "staff"):
        partner_id = await partners.administered_partner(
            user_id=actor.id, community_id=task_in.community_id, partner_id=task_in.partner_id
        )
        if partner_id is None:
            raise Forbidden("community staff or a partner admin of this community", code=PARTNER_NOT_ALLOWED)
    elif partner_id is not None and not await partners.in_community(
        partner_id=partner_id, community_id=task_in.community_id
    ):
        raise NotFound("no such partner in this community", code="partner_not_found")
    await check_skills(task_in.community_id, [s.code for s in task_in.required_skills])
    await _check_grid(task_in.community_id, task_in.grid_id)
    await _check_coordinator(task_in.community_id, partner_id, task_in.coordinator_user_id)
    count = task_in.recurrence.weekly_count if task_in.recurrence else 1
    series_id = uuid4() if count > 1 else None
    rows = [
        await _insert(
            task_in=task_in,
            owner=actor.id,
            partner_id=partner_id,
            starts_at=task_in.starts_at + timedelta(weeks=k),
            ends_at=task_in.ends_at + timedelta(weeks=k),
            series_id=series_id,
        )
        for k in range(count)
    ]
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer_task.created",
        object_type="volunteer_task",
        object_id=rows[0]["id"],
        community_id=task_in.community_id,
        detail={"occurrences": count, "partner_id": partner_id},
    )
    return await task_out(rows[0], series_task_ids=[r["id"] for r in rows] if count > 1 else None)


async def get(*, actor: CurrentUser, task_id: UUID) -> TaskOut:
    """Tasks are visible to the members of their community."""
    task = await load_task(task_id)
    if not await access.has_role(actor, task["community_id"], "resident") and not await access.has_role(
        actor, task["community_id"], "staff"
    ):
        is_volunteer = await db.fetchval(
            "SELECT 1 FROM volunteer_profiles WHERE community_id = $1 AND user_id = $2",
            task["community_id"],
            actor.id,
        )
        if not is_volunteer and actor.id != task["owner_user_id"]:
            raise NotFound("no such task", code="task_not_found")
    return await task_out(task)


async def get_open(*, actor: CurrentUser, community_id: UUID, limit: int = 100) -> list[TaskOut]:
    """The community's tasks still to be done (open or full), soonest first, for its staff."""
    await access.require_role(actor, community_id, "staff")
    rows = await db.fetch(
        "SELECT * FROM volunteer_tasks WHERE community_id = $1 AND status IN ('open', 'full')"
        " ORDER BY starts_at, id LIMIT $2",
        community_id,
        limit,
    )
    return [await task_out(r) for r in rows]


async def create_help_request(*, actor: CurrentUser, help_in: HelpRequestIn, now: datetime | None = None) -> TaskOut:
    """A resident asks for help (帮帮团 / 一键呼叫): a task offered at once.

    Urgent requests go to the nearest available volunteers (same grid first) with a short answer window;
    if nobody can be offered, or nobody accepts in time, community staff are alerted.
    """
    now = now or datetime.now(UTC)
    await access.require_role(actor, help_in.community_id, "resident")
    if help_in.starts_at is not None:
        _check_starts_at(help_in.starts_at, now)
    skills = [RequiredSkill(code=help_in.skill_code, min_level=1)] if help_in.skill_code else []
    await check_skills(help_in.community_id, [s.code for s in skills])
    resident = await db.fetchrow(
        "SELECT r.grid_id, g.worker_user_id FROM community_residents r"
        " LEFT JOIN community_grids g ON g.id = r.grid_id WHERE r.community_id = $1 AND r.user_id = $2",
        help_in.community_id,
        actor.id,
    )
    starts_at = help_in.starts_at or now
    task_in = TaskIn(
        community_id=help_in.community_id,
        title=help_in.title,
        description=help_in.description,
        location=help_in.location,
        required_skills=skills,
        volunteers_needed=1,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=help_in.duration_minutes),
        grid_id=resident["grid_id"] if resident else None,
        urgent=help_in.urgent,
        language=help_in.language,
        offer_window_minutes=URGENT_OFFER_WINDOW_MINUTES if help_in.urgent else 60,
        coordinator_user_id=resident["worker_user_id"] if resident else None,
    )
    row = await _insert(
        task_in=task_in,
        owner=actor.id,
        partner_id=None,
        kind="help_request",
        requester=actor.id,
        starts_at=task_in.starts_at,
        ends_at=task_in.ends_at,
        series_id=None,
    )
    made = await offers.offer_next(row, now=now)
    if not made:
        await offers.escalate_if_unanswered(row["id"], now=now)
    return await task_out(await load_task(row["id"]))


async def issue_check_in_code(*, actor: CurrentUser, task_id: UUID, now: datetime | None = None) -> CheckInCodeOut:
    """The coordinator shows a short-lived code; while one is set, check-in and check-out require it."""
    now = now or datetime.now(UTC)
    task = await load_task(task_id, for_update=True)
    await require_coordinator(actor, task)
    code = f"{secrets.randbelow(1_000_000):06d}"
    expires_at = now + timedelta(minutes=CHECK_IN_CODE_MINUTES)
    await db.execute(
        "UPDATE volunteer_tasks SET check_in_code = $2, check_in_code_expires_at = $3 WHERE id = $1",
        task_id,
        code,
        expires_at,
    )
    return CheckInCodeOut(task_id=task_id, code=code, expires_at=expires_at)


async def transition(*, actor: CurrentUser, task_id: UUID, action: str) -> TaskOut:
    """`cancel` (open|full -> cancelled, outstanding offers withdrawn) or `complete` (open|full -> completed)."""
    task = await load_task(task_id, for_update=True)
    await require_coordinator(actor, task)
    if task["status"] not in ("open", "full"):
        raise InvalidTransition(entity="task", current=task["status"], action=action)
    new_status = "cancelled" if action == "cancel" else "completed"
    await db.execute("UPDATE volunteer_tasks SET status = $2 WHERE id = $1", task_id, new_status)
    await offers.withdraw_outstanding(task_id)
    if action == "cancel":
        await db.execute(
            "UPDATE volunteer_assignments SET status = 'cancelled' WHERE task_id = $1 AND status = 'accepted'",
            task_id,
        )
    await audit.record(
        actor_user_id=actor.id,
        action=f"volunteer_task.{new_status}",
        object_type="volunteer_task",
        object_id=task_id,
        community_id=task["community_id"],
    )
    return await task_out(await load_task(task_id))
