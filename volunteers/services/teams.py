"""Teams (志愿服务队): a leader and members; a task offered to a team is accepted by its leader, who names
the members who go (each must be eligible, and the task's places are respected)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg

from community import access
from linli import audit, db, outbox
from linli.auth.security import CurrentUser
from linli.errors import Conflict, Forbidden, InvalidTransition, NotFound
from volunteers.schemas import AssignmentOut, TeamAcceptIn, TeamIn, TeamMemberIn, TeamOfferIn, TeamOfferOut, TeamOut
from volunteers.services import offers
from volunteers.services.common import (
    NOT_TEAM_MEMBER,
    OFFER_EXPIRED,
    TASK_FULL,
    TEAM_NAME_TAKEN,
    TEAM_NOT_FOUND,
    load_task,
    load_volunteer,
    require_coordinator,
    volunteer_of,
)


async def _team(team_id: UUID) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT t.*, v.user_id AS leader_user_id FROM volunteer_teams t"
        " JOIN volunteer_profiles v ON v.id = t.leader_volunteer_id WHERE t.id = $1",
        team_id,
    )
    if row is None:
        raise NotFound("no such team", code=TEAM_NOT_FOUND)
    return row


async def _team_out(team: asyncpg.Record) -> TeamOut:
    members = await db.fetch(
        "SELECT volunteer_id FROM volunteer_team_members WHERE team_id = $1 ORDER BY created_at, volunteer_id",
        team["id"],
    )
    return TeamOut(
        id=team["id"],
        community_id=team["community_id"],
        name=team["name"],
        leader_volunteer_id=team["leader_volunteer_id"],
        member_volunteer_ids=[m["volunteer_id"] for m in members],
    )


async def create(*, actor: CurrentUser, team_in: TeamIn) -> TeamOut:
    """A volunteer founds a team and leads it (and is its first member)."""
    leader = await volunteer_of(actor, team_in.community_id)
    team = await db.fetchrow(
        "INSERT INTO volunteer_teams (id, community_id, name, leader_volunteer_id, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, now()) ON CONFLICT (community_id, name) DO NOTHING RETURNING *",
        team_in.community_id,
        team_in.name,
        leader["id"],
    )
    if team is None:
        raise Conflict("team name taken", code=TEAM_NAME_TAKEN)
    await db.execute(
        "INSERT INTO volunteer_team_members (id, team_id, community_id, volunteer_id, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, now())",
        team["id"],
        team_in.community_id,
        leader["id"],
    )
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer_team.created",
        object_type="volunteer_team",
        object_id=team["id"],
        community_id=team_in.community_id,
    )
    return await _team_out(team)


async def add_member(*, actor: CurrentUser, team_id: UUID, member_in: TeamMemberIn) -> TeamOut:
    """The leader adds a volunteer of the same community."""
    team = await _team(team_id)
    if team["leader_user_id"] != actor.id:
        if await _is_member(team_id, actor.id):
            raise Forbidden("only the team leader adds members")
        raise NotFound("no such team", code=TEAM_NOT_FOUND)
    volunteer = await load_volunteer(member_in.volunteer_id)
    if volunteer["community_id"] != team["community_id"]:
        raise NotFound("no such volunteer", code="volunteer_not_found")
    await db.execute(
        "INSERT INTO volunteer_team_members (id, team_id, community_id, volunteer_id, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, now()) ON CONFLICT (team_id, volunteer_id) DO NOTHING",
        team_id,
        team["community_id"],
        member_in.volunteer_id,
    )
    return await _team_out(team)


async def _is_member(team_id: UUID, user_id: UUID) -> bool:
    return bool(
        await db.fetchval(
            "SELECT 1 FROM volunteer_team_members m JOIN volunteer_profiles v ON v.id = m.volunteer_id"
            " WHERE m.team_id = $1 AND v.user_id = $2",
            team_id,
            user_id,
        )
    )


async def get(*, actor: CurrentUser, team_id: UUID) -> TeamOut:
    team = await _team(team_id)
    if not await access.has_role(actor, team["community_id"], "resident") and not await _is_member(team_id, actor.id):
        raise NotFound("no such team", code=TEAM_NOT_FOUND)
    return await _team_out(team)


def _offer_out(row: asyncpg.Record) -> TeamOfferOut:
    return TeamOfferOut(
        id=row["id"], task_id=row["task_id"], team_id=row["team_id"], status=row["status"], expires_at=row["expires_at"]
    )


async def offer_to_team(
    *, actor: CurrentUser, task_id: UUID, offer_in: TeamOfferIn, now: datetime | None = None
) -> TeamOfferOut:
    now = now or datetime.now(UTC)
    task = await load_task(task_id, for_update=True)
    await require_coordinator(actor, task)
    if task["status"] != "open":
        raise InvalidTransition(entity="task", current=task["status"], action="offer to a team")
    team = await _team(offer_in.team_id)
    if team["community_id"] != task["community_id"]:
        raise NotFound("no such team", code=TEAM_NOT_FOUND)
    row = await db.fetchrow(
        "INSERT INTO volunteer_team_offers (id, task_id, community_id, team_id, status, offered_at, expires_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, 'offered', $4, $5) ON CONFLICT (task_id, team_id) DO NOTHING"
        " RETURNING *",
        task_id,
        task["community_id"],
        team["id"],
        now,
        now + timedelta(minutes=task["offer_window_minutes"]),
    )
    if row is None:
        row = await db.fetchrow(
            "SELECT * FROM volunteer_team_offers WHERE task_id = $1 AND team_id = $2", task_id, team["id"]
        )
    else:
        await outbox.emit(
            topic="volunteers.team_offered",
            payload={
                "team_offer_id": str(row["id"]),
                "task_id": str(task_id),
                "leader_user_id": str(team["leader_user_id"]),
            },
        )
    assert row is not None
    return _offer_out(row)


async def _leaders_offer(actor: CurrentUser, offer_id: UUID) -> tuple[asyncpg.Record, asyncpg.Record]:
    offer = await db.fetchrow("SELECT * FROM volunteer_team_offers WHERE id = $1", offer_id)
    if offer is None:
        raise NotFound("no such team offer", code="assignment_not_found")
    team = await _team(offer["team_id"])
    if team["leader_user_id"] != actor.id:
        raise NotFound("no such team offer", code="assignment_not_found")
    return offer, team


async def accept_team_offer(
    *, actor: CurrentUser, offer_id: UUID, accept_in: TeamAcceptIn, now: datetime | None = None
) -> list[AssignmentOut]:
    """The leader accepts for the team and names who goes; each named member gets an accepted assignment."""
    now = now or datetime.now(UTC)
    offer, team = await _leaders_offer(actor, offer_id)
    task = await load_task(offer["task_id"], for_update=True)
    offer = await db.fetchrow("SELECT * FROM volunteer_team_offers WHERE id = $1 FOR UPDATE", offer_id)
    assert offer is not None
    if offer["status"] != "offered":
        if offer["status"] == "withdrawn" and task["status"] == "full":
            raise Conflict("the task is full", code=TASK_FULL)
        raise InvalidTransition(entity="team offer", current=offer["status"], action="accept")
    if offer["expires_at"] <= now:
        raise Conflict("the offer has expired", code=OFFER_EXPIRED)
    if task["status"] != "open":
        raise Conflict("the task is full", code=TASK_FULL)
    members = {
        r["volunteer_id"]
        for r in await db.fetch("SELECT volunteer_id FROM volunteer_team_members WHERE team_id = $1", team["id"])
    }
    named = list(dict.fromkeys(accept_in.volunteer_ids))
    if any(v not in members for v in named):
        raise Conflict("every named volunteer must be a member of the team", code=NOT_TEAM_MEMBER)
    held = await db.fetchval(
        "SELECT count(*) FROM volunteer_assignments WHERE task_id = $1"
        " AND status IN ('accepted', 'checked_in', 'checked_out', 'approved')",
        task["id"],
    )
    if held + len(named) > task["volunteers_needed"]:
        raise Conflict(f"only {task['volunteers_needed'] - held} places left", code=TASK_FULL)
    out = []
    for volunteer_id in sorted(named):
        await load_volunteer(volunteer_id, for_update=True)
        await offers.ensure_eligible(task, volunteer_id)
        row = await db.fetchrow(
            "INSERT INTO volunteer_assignments (id, task_id, community_id, volunteer_id, team_id, status, score,"
            " reasons, offered_at, responded_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, 'accepted', 0, '[]',"
            " $5, $5) ON CONFLICT (task_id, volunteer_id) DO UPDATE SET status = 'accepted', team_id = $4,"
            " responded_at = $5 WHERE volunteer_assignments.status = 'offered' RETURNING *",
            task["id"],
            task["community_id"],
            volunteer_id,
            team["id"],
            now,
        )
        if row is None:
            raise Conflict("a named volunteer already answered this task")
        out.append(offers.assignment_out(row))
    await db.execute(
        "UPDATE volunteer_team_offers SET status = 'accepted', responded_at = $2 WHERE id = $1", offer_id, now
    )
    await offers.mark_full_if_filled(task)
    return out


async def decline_team_offer(*, actor: CurrentUser, offer_id: UUID, now: datetime | None = None) -> TeamOfferOut:
    now = now or datetime.now(UTC)
    offer, _ = await _leaders_offer(actor, offer_id)
    await load_task(offer["task_id"], for_update=True)
    row = await db.fetchrow(
        "UPDATE volunteer_team_offers SET status = 'declined', responded_at = $2"
        " WHERE id = $1 AND status = 'offered' RETURNING *",
        offer_id,
        now,
    )
    if row is None:
        raise InvalidTransition(entity="team offer", current=offer["status"], action="decline")
    return _offer_out(row)
