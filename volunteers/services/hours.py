"""Check-in, check-out, approval and the append-only hours ledger; totals and star levels.

Hours are counted exactly once: approval moves the assignment `checked_out -> approved` under its row lock and
writes one `approval` ledger entry, which a partial unique index also allows only once per assignment.
Corrections are new signed entries; the ledger refuses UPDATE and DELETE (database trigger).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from community import access
from linli import audit, db, outbox
from linli.auth.security import CurrentUser
from linli.errors import Conflict, DomainError, Forbidden, InvalidTransition
from volunteers import matching, timebank
from volunteers.schemas import (
    ApproveIn,
    AssignmentOut,
    CorrectionIn,
    HoursEntryOut,
    HoursOut,
    PendingHoursOut,
    TeamHoursOut,
    VolunteerHoursRow,
)
from volunteers.services.common import (
    CHECK_IN_CODE_INVALID,
    CHECK_IN_TOO_EARLY,
    REVIEW_REQUIRED,
    SELF_APPROVAL,
    TEAM_NOT_FOUND,
    load_assignment,
    load_task,
    load_volunteer,
    require_coordinator,
    require_own_assignment,
    require_self_or_staff,
)
from volunteers.services.offers import assignment_out
from volunteers.services.profiles import settings_of, star_level

EARLIEST_CHECK_IN = timedelta(hours=1)
# A volunteer still checked in this long after the task's end is checked out by the worker, for review.
FORGOTTEN_CHECK_OUT_AFTER = timedelta(hours=2)


def _check_code(task: asyncpg.Record, code: str | None, now: datetime) -> None:
    if task["check_in_code"] is None:
        return
    valid = task["check_in_code_expires_at"] is not None and task["check_in_code_expires_at"] > now
    if not valid or code != task["check_in_code"]:
        raise DomainError("wrong or expired check-in code", code=CHECK_IN_CODE_INVALID)


async def _own_locked(actor: CurrentUser, assignment_id: UUID) -> tuple[asyncpg.Record, asyncpg.Record]:
    first = await load_assignment(assignment_id)
    await require_own_assignment(actor, first)
    task = await load_task(first["task_id"])
    return await load_assignment(assignment_id, for_update=True), task


async def check_in(
    *, actor: CurrentUser, assignment_id: UUID, code: str | None, now: datetime | None = None
) -> AssignmentOut:
    """accepted -> checked_in (repeating it changes nothing)."""
    now = now or datetime.now(UTC)
    assignment, task = await _own_locked(actor, assignment_id)
    if assignment["status"] == "checked_in":
        return assignment_out(assignment)
    if assignment["status"] != "accepted":
        raise InvalidTransition(entity="assignment", current=assignment["status"], action="check in")
    if now < task["starts_at"] - EARLIEST_CHECK_IN:
        raise Conflict("too early to check in", code=CHECK_IN_TOO_EARLY)
    _check_code(task, code, now)
    row = await db.fetchrow(
        "UPDATE volunteer_assignments SET status = 'checked_in', checked_in_at = $2 WHERE id = $1 RETURNING *",
        assignment_id,
        now,
    )
    assert row is not None
    return assignment_out(row)


async def check_out(
    *, actor: CurrentUser, assignment_id: UUID, code: str | None, now: datetime | None = None
) -> AssignmentOut:
    """checked_in -> checked_out; the recorded minutes are check-out minus check-in."""
    now = now or datetime.now(UTC)
    assignment, task = await _own_locked(actor, assignment_id)
    if assignment["status"] == "checked_out":
        return assignment_out(assignment)
    if assignment["status"] != "checked_in":
        raise InvalidTransition(entity="assignment", current=assignment["status"], action="check out")
    _check_code(task, code, now)
    row = await db.fetchrow(
        "UPDATE volunteer_assignments SET status = 'checked_out', checked_out_at = $2 WHERE id = $1 RETURNING *",
        assignment_id,
        now,
    )
    assert row is not None
    return assignment_out(row)


async def auto_check_out(*, now: datetime | None = None) -> int:
    """Worker: check out volunteers who forgot, at the task's end, flagged for the coordinator's review."""
    now = now or datetime.now(UTC)
    status = await db.execute(
        "UPDATE volunteer_assignments a SET status = 'checked_out',"
        " checked_out_at = greatest(t.ends_at, a.checked_in_at), auto_checked_out = true, needs_review = true"
        " FROM volunteer_tasks t WHERE t.id = a.task_id AND a.status = 'checked_in' AND t.ends_at < $1",
        now - FORGOTTEN_CHECK_OUT_AFTER,
    )
    return int(status.split()[-1])


def _period(moment: datetime, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m")


async def approve(
    *, actor: CurrentUser, assignment_id: UUID, approve_in: ApproveIn, now: datetime | None = None
) -> AssignmentOut:
    """The task's owner or coordinator approves the hours once (`minutes` may correct the record)."""
    now = now or datetime.now(UTC)
    first = await load_assignment(assignment_id)
    task = await load_task(first["task_id"])
    await require_coordinator(actor, task)
    if first["volunteer_user_id"] == actor.id:
        raise Forbidden("nobody approves their own hours", code=SELF_APPROVAL)
    assignment = await load_assignment(assignment_id, for_update=True)
    if assignment["status"] != "checked_out":
        raise InvalidTransition(entity="assignment", current=assignment["status"], action="approve")
    if assignment["needs_review"] and approve_in.minutes is None:
        raise Conflict("checked out automatically: confirm the minutes", code=REVIEW_REQUIRED)
    recorded = matching.minutes_between(assignment["checked_in_at"], assignment["checked_out_at"])
    minutes = recorded if approve_in.minutes is None else approve_in.minutes
    row = await db.fetchrow(
        "UPDATE volunteer_assignments SET status = 'approved', approved_minutes = $2, approved_by = $3,"
        " approved_at = $4, needs_review = false WHERE id = $1 AND status = 'checked_out' RETURNING *",
        assignment_id,
        minutes,
        actor.id,
        now,
    )
    assert row is not None
    tz = await db.fetchval("SELECT timezone FROM communities WHERE id = $1", task["community_id"])
    memo = "" if approve_in.minutes is None or minutes == recorded else f"记录 {recorded} 分钟,审核修正为 {minutes}"
    await db.execute(
        "INSERT INTO volunteer_hours_entries (id, community_id, volunteer_id, assignment_id, task_id, team_id, kind,"
        " minutes, period, memo, created_by, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, 'approval', $6, $7, $8, $9, $10)",
        task["community_id"],
        assignment["volunteer_id"],
        assignment_id,
        task["id"],
        assignment["team_id"],
        minutes,
        _period(task["starts_at"], tz),
        memo,
        actor.id,
        now,
    )
    await timebank.credit_hours(
        community_id=task["community_id"],
        user_id=first["volunteer_user_id"],
        minutes=minutes,
        source_key=f"approval:{assignment_id}",
    )
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer_hours.approved",
        object_type="volunteer_assignment",
        object_id=assignment_id,
        community_id=task["community_id"],
        detail={"minutes": minutes, "recorded_minutes": recorded},
    )
    await outbox.emit(
        topic="volunteers.hours_approved",
        payload={
            "assignment_id": str(assignment_id),
            "volunteer_id": str(assignment["volunteer_id"]),
            "minutes": minutes,
        },
    )
    return assignment_out(row)


async def correct(*, actor: CurrentUser, assignment_id: UUID, correction_in: CorrectionIn) -> HoursEntryOut:
    """A correction of approved hours is a new signed ledger entry (the original is never changed)."""
    first = await load_assignment(assignment_id)
    task = await load_task(first["task_id"])
    await require_coordinator(actor, task)
    if first["volunteer_user_id"] == actor.id:
        raise Forbidden("nobody corrects their own hours", code=SELF_APPROVAL)
    assignment = await load_assignment(assignment_id, for_update=True)
    if assignment["status"] != "approved":
        raise InvalidTransition(entity="assignment", current=assignment["status"], action="correct hours")
    total = await db.fetchval(
        "SELECT coalesce(sum(minutes), 0) FROM volunteer_hours_entries WHERE assignment_id = $1", assignment_id
    )
    if total + correction_in.minutes_delta < 0:
        raise Conflict("hours of an assignment cannot go below zero")
    tz = await db.fetchval("SELECT timezone FROM communities WHERE id = $1", task["community_id"])
    row = await db.fetchrow(
        "INSERT INTO volunteer_hours_entries (id, community_id, volunteer_id, assignment_id, task_id, team_id, kind,"
        " minutes, period, memo, created_by, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, 'correction', $6, $7, $8, $9, now()) RETURNING *",
        task["community_id"],
        assignment["volunteer_id"],
        assignment_id,
        task["id"],
        assignment["team_id"],
        correction_in.minutes_delta,
        _period(task["starts_at"], tz),
        correction_in.reason,
        actor.id,
    )
    assert row is not None
    key = f"correction:{row['id']}"
    if correction_in.minutes_delta > 0:
        await timebank.credit_hours(
            community_id=task["community_id"],
            user_id=first["volunteer_user_id"],
            minutes=correction_in.minutes_delta,
            source_key=key,
        )
    else:
        await timebank.debit_correction(
            community_id=task["community_id"],
            user_id=first["volunteer_user_id"],
            minutes=-correction_in.minutes_delta,
            source_key=key,
            memo=correction_in.reason,
        )
    await audit.record(
        actor_user_id=actor.id,
        action="volunteer_hours.corrected",
        object_type="volunteer_assignment",
        object_id=assignment_id,
        community_id=task["community_id"],
        reason=correction_in.reason,
        detail={"minutes_delta": correction_in.minutes_delta},
    )
    return _entry_out(row)


async def mark_no_show(*, actor: CurrentUser, assignment_id: UUID, now: datetime | None = None) -> AssignmentOut:
    """The coordinator records that an accepted volunteer did not come (counts against reliability)."""
    now = now or datetime.now(UTC)
    first = await load_assignment(assignment_id)
    task = await load_task(first["task_id"])
    await require_coordinator(actor, task)
    assignment = await load_assignment(assignment_id, for_update=True)
    if assignment["status"] != "accepted" or now < task["starts_at"]:
        raise InvalidTransition(entity="assignment", current=assignment["status"], action="mark no-show")
    row = await db.fetchrow(
        "UPDATE volunteer_assignments SET status = 'no_show' WHERE id = $1 RETURNING *", assignment_id
    )
    assert row is not None
    return assignment_out(row)


def _entry_out(row: asyncpg.Record) -> HoursEntryOut:
    return HoursEntryOut(
        id=row["id"],
        assignment_id=row["assignment_id"],
        task_id=row["task_id"],
        kind=row["kind"],
        minutes=row["minutes"],
        period=row["period"],
        memo=row["memo"],
        created_at=row["created_at"],
    )


async def approved_minutes(volunteer_id: UUID) -> int:
    return int(
        await db.fetchval(
            "SELECT coalesce(sum(minutes), 0) FROM volunteer_hours_entries WHERE volunteer_id = $1", volunteer_id
        )
    )


async def hours(*, actor: CurrentUser, volunteer_id: UUID) -> HoursOut:
    """Approved minutes (approvals plus corrections), the star level and totals per month."""
    volunteer = await load_volunteer(volunteer_id)
    await require_self_or_staff(actor, volunteer)
    rows = await db.fetch(
        "SELECT period, sum(minutes)::int AS minutes FROM volunteer_hours_entries WHERE volunteer_id = $1"
        " GROUP BY period ORDER BY period",
        volunteer_id,
    )
    total = sum(r["minutes"] for r in rows)
    thresholds = (await settings_of(volunteer["community_id"])).star_thresholds_hours
    level = star_level(total, thresholds)
    return HoursOut(
        volunteer_id=volunteer_id,
        approved_minutes=total,
        star_level=level,
        next_star_minutes=thresholds[level] * 60 if level < len(thresholds) else None,
        by_month={r["period"]: r["minutes"] for r in rows},
    )


async def ledger(*, actor: CurrentUser, volunteer_id: UUID) -> list[HoursEntryOut]:
    volunteer = await load_volunteer(volunteer_id)
    await require_self_or_staff(actor, volunteer)
    rows = await db.fetch(
        "SELECT * FROM volunteer_hours_entries WHERE volunteer_id = $1 ORDER BY created_at, id", volunteer_id
    )
    return [_entry_out(r) for r in rows]


async def team_hours(*, actor: CurrentUser, team_id: UUID) -> TeamHoursOut:
    team = await db.fetchrow("SELECT * FROM volunteer_teams WHERE id = $1", team_id)
    if team is None:
        raise DomainError("no such team", code=TEAM_NOT_FOUND)
    leader = await load_volunteer(team["leader_volunteer_id"])
    member = await db.fetchval(
        "SELECT 1 FROM volunteer_team_members m JOIN volunteer_profiles v ON v.id = m.volunteer_id"
        " WHERE m.team_id = $1 AND v.user_id = $2",
        team_id,
        actor.id,
    )
    if not member and leader["user_id"] != actor.id:
        await access.require_role(actor, team["community_id"], "staff")
    rows = await db.fetch(
        "SELECT period, sum(minutes)::int AS minutes FROM volunteer_hours_entries WHERE team_id = $1"
        " GROUP BY period ORDER BY period",
        team_id,
    )
    by_month = {r["period"]: r["minutes"] for r in rows}
    return TeamHoursOut(team_id=team_id, approved_minutes=sum(by_month.values()), by_month=by_month)


async def community_hours(*, actor: CurrentUser, community_id: UUID, period: str | None) -> list[VolunteerHoursRow]:
    """Staff: approved minutes per volunteer, all time or for one month (YYYY-MM)."""
    await access.require_role(actor, community_id, "staff")
    rows = await db.fetch(
        "SELECT v.id, u.name, coalesce(sum(e.minutes), 0)::int AS minutes FROM volunteer_profiles v"
        " JOIN users u ON u.id = v.user_id LEFT JOIN volunteer_hours_entries e ON e.volunteer_id = v.id"
        " AND ($2::text IS NULL OR e.period = $2) WHERE v.community_id = $1 GROUP BY v.id, u.name"
        " ORDER BY minutes DESC, u.name",
        community_id,
        period,
    )
    return [VolunteerHoursRow(volunteer_id=r["id"], name=r["name"], approved_minutes=r["minutes"]) for r in rows]


async def awaiting_approval(*, actor: CurrentUser, community_id: UUID, limit: int = 200) -> list[PendingHoursOut]:
    """Served and checked out, not yet approved: what the community's staff approve next, oldest first."""
    await access.require_role(actor, community_id, "staff")
    rows = await db.fetch(
        "SELECT a.id AS assignment_id, a.checked_in_at, a.checked_out_at, a.needs_review,"
        " t.title AS task_title, u.name AS volunteer_name FROM volunteer_assignments a"
        " JOIN volunteer_tasks t ON t.id = a.task_id JOIN volunteer_profiles v ON v.id = a.volunteer_id"
        " JOIN users u ON u.id = v.user_id WHERE a.community_id = $1 AND a.status = 'checked_out'"
        " ORDER BY a.checked_out_at, a.id LIMIT $2",
        community_id,
        limit,
    )
    return [
        PendingHoursOut(
            **dict(r),
            recorded_minutes=matching.minutes_between(r["checked_in_at"], r["checked_out_at"])
            if r["checked_in_at"] and r["checked_out_at"]
            else None,
        )
        for r in rows
    ]
