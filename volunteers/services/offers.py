"""Offers: per-task matching, batch assignment, accept / decline, expiry, withdrawal and escalation.

Locking order everywhere: the task row, then the volunteer's profile row, then the assignment. Accepts of one
task serialise on the task row (so places are never over-filled across API processes); a volunteer's accepts
serialise on their profile row (so two overlapping tasks cannot both be accepted).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import asyncpg

from linli import db, outbox
from linli.auth.security import CurrentUser
from linli.errors import Conflict, InvalidTransition
from volunteers import matching
from volunteers.schemas import AssignmentOut, MatchOut, OfferOut
from volunteers.services import candidates
from volunteers.services.candidates import HELD
from volunteers.services.common import (
    NO_LONGER_ELIGIBLE,
    OFFER_EXPIRED,
    TASK_FULL,
    load_assignment,
    load_task,
    load_volunteer,
    require_coordinator,
    require_own_assignment,
)

# An urgent call goes to this many volunteers per open place at once; the first to accept takes it.
URGENT_FANOUT = 3


def offer_out(row: asyncpg.Record) -> OfferOut:
    reasons = row["reasons"]
    return OfferOut(
        id=row["id"],
        task_id=row["task_id"],
        volunteer_id=row["volunteer_id"],
        score=row["score"],
        reasons=json.loads(reasons) if isinstance(reasons, str) else reasons,
        expires_at=row["expires_at"],
    )


def assignment_out(row: asyncpg.Record) -> AssignmentOut:
    recorded = None
    if row["checked_in_at"] is not None and row["checked_out_at"] is not None:
        recorded = matching.minutes_between(row["checked_in_at"], row["checked_out_at"])
    return AssignmentOut(
        id=row["id"],
        task_id=row["task_id"],
        volunteer_id=row["volunteer_id"],
        team_id=row["team_id"],
        status=row["status"],
        score=row["score"],
        expires_at=row["expires_at"],
        checked_in_at=row["checked_in_at"],
        checked_out_at=row["checked_out_at"],
        recorded_minutes=recorded,
        auto_checked_out=row["auto_checked_out"],
        needs_review=row["needs_review"],
        approved_minutes=row["approved_minutes"],
    )


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a task stands: places held, offers still open, and who may not be asked (again)."""

    held: int
    outstanding: int
    excluded: frozenset[Hashable]


async def standings(task_ids: Sequence[UUID]) -> dict[UUID, Standing]:
    """`Standing` of each task, in one query however many tasks (batch mode asks for a thousand at once).

    Excluded are the volunteers already asked for the task (whatever they answered) and the person who asked
    for help, when they are a volunteer themselves.
    """
    rows = await db.fetch(
        "SELECT t.id,"
        " count(a.id) FILTER (WHERE a.status = ANY($2::text[]))::int AS held,"
        " count(a.id) FILTER (WHERE a.status = 'offered')::int AS outstanding,"
        " array_remove(array_agg(a.volunteer_id), NULL) AS asked,"
        " (SELECT p.id FROM volunteer_profiles p"
        "   WHERE p.community_id = t.community_id AND p.user_id = t.requester_user_id) AS requester"
        " FROM volunteer_tasks t LEFT JOIN volunteer_assignments a ON a.task_id = t.id"
        " WHERE t.id = ANY($1::uuid[]) GROUP BY t.id",
        list(task_ids),
        list(HELD),
    )
    return {
        r["id"]: Standing(
            held=r["held"],
            outstanding=r["outstanding"],
            excluded=frozenset([*r["asked"], *([r["requester"]] if r["requester"] is not None else [])]),
        )
        for r in rows
    }


async def counts(task_id: UUID) -> tuple[int, int]:
    """(places held, offers outstanding) of one task."""
    standing = (await standings([task_id]))[task_id]
    return standing.held, standing.outstanding


async def insert_offers(
    offers: Sequence[tuple[asyncpg.Record, matching.Scored]], *, now: datetime
) -> list[asyncpg.Record]:
    """Offer each (task, scored volunteer) pair, with its `volunteers.offered` event, in one statement.

    A pair already asked is skipped (the unique (task, volunteer) index). Rows come back in the given order.
    """
    if not offers:
        return []
    rows = await db.fetch(
        "WITH made AS (INSERT INTO volunteer_assignments (id, task_id, community_id, volunteer_id, team_id, status,"
        " score, reasons, offered_at, expires_at)"
        " SELECT gen_random_uuid(), o.task_id, o.community_id, o.volunteer_id, NULL, 'offered', o.score,"
        " o.reasons::jsonb, $6::timestamptz, $6::timestamptz + make_interval(mins => o.window_minutes)"
        " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::int[], $5::text[], $7::int[])"
        "   AS o(task_id, community_id, volunteer_id, score, reasons, window_minutes)"
        " ON CONFLICT (task_id, volunteer_id) DO NOTHING RETURNING *),"
        " events AS ("
        + outbox.insert_events_sql(
            topic_param=8,
            payload="jsonb_build_object('assignment_id', made.id::text, 'task_id', made.task_id::text,"
            " 'volunteer_id', made.volunteer_id::text)",
            source="made",
        )
        + ") SELECT * FROM made",
        [task["id"] for task, _ in offers],
        [task["community_id"] for task, _ in offers],
        [scored.volunteer_id for _, scored in offers],
        [scored.score for _, scored in offers],
        [json.dumps(scored.reasons, ensure_ascii=False) for _, scored in offers],
        now,
        [task["offer_window_minutes"] for task, _ in offers],
        "volunteers.offered",
    )
    order = {(task["id"], scored.volunteer_id): i for i, (task, scored) in enumerate(offers)}
    return sorted(rows, key=lambda r: order[(r["task_id"], r["volunteer_id"])])


async def offer_next(task: asyncpg.Record, *, now: datetime) -> list[OfferOut]:
    """Offer the task's open places to the best eligible volunteers not asked yet (caller holds the task lock)."""
    if task["status"] != "open" or task["ends_at"] <= now:
        return []
    standing = (await standings([task["id"]]))[task["id"]]
    open_places = task["volunteers_needed"] - standing.held - standing.outstanding
    if task["urgent"]:
        open_places = (task["volunteers_needed"] - standing.held) * URGENT_FANOUT - standing.outstanding
    if open_places <= 0:
        return []
    spec = await candidates.task_spec(task)
    pool = await candidates.load(task["community_id"], window=(task["starts_at"], task["ends_at"]))
    ranked = matching.rank(spec, pool, exclude=standing.excluded)
    if task["urgent"]:
        # Nearest first: proximity decides, the rest of the score breaks ties.
        def proximity(s: matching.Scored) -> int:
            return next((r["points"] for r in s.reasons if r["factor"] == "proximity"), 0)

        ranked.sort(key=lambda s: (-proximity(s), -s.score, str(s.volunteer_id)))
    rows = await insert_offers([(task, scored) for scored in ranked[:open_places]], now=now)
    return [offer_out(row) for row in rows]


async def match(*, actor: CurrentUser, task_id: UUID, now: datetime | None = None) -> MatchOut:
    """`POST /tasks/{id}/match`: fill open places with offers; returns every outstanding offer of the task."""
    now = now or datetime.now(UTC)
    task = await load_task(task_id, for_update=True)
    await require_coordinator(actor, task)
    if task["status"] != "open":
        raise InvalidTransition(entity="task", current=task["status"], action="match")
    await offer_next(task, now=now)
    rows = await db.fetch(
        "SELECT * FROM volunteer_assignments WHERE task_id = $1 AND status = 'offered' ORDER BY score DESC, id",
        task_id,
    )
    return MatchOut(offers=[offer_out(r) for r in rows])


async def withdraw_outstanding(task_id: UUID) -> None:
    await db.execute(
        "UPDATE volunteer_assignments SET status = 'withdrawn', responded_at = now()"
        " WHERE task_id = $1 AND status = 'offered'",
        task_id,
    )
    await db.execute(
        "UPDATE volunteer_team_offers SET status = 'withdrawn', responded_at = now()"
        " WHERE task_id = $1 AND status = 'offered'",
        task_id,
    )


async def mark_full_if_filled(task: asyncpg.Record) -> None:
    held, _ = await counts(task["id"])
    if held >= task["volunteers_needed"] and task["status"] == "open":
        await db.execute("UPDATE volunteer_tasks SET status = 'full' WHERE id = $1", task["id"])
        await withdraw_outstanding(task["id"])


async def ensure_eligible(task: asyncpg.Record, volunteer_id: UUID) -> None:
    """Re-check the hard rules at the moment of commitment (things change between offer and answer)."""
    spec = await candidates.task_spec(task)
    found = await candidates.load(
        task["community_id"],
        window=(task["starts_at"], task["ends_at"]),
        volunteer_ids=[volunteer_id],
        skip_task_id=task["id"],
    )
    reason = matching.ineligible_reason(spec, found[0]) if found else "not_a_volunteer"
    if reason is not None:
        raise Conflict(f"no longer eligible: {reason}", code=NO_LONGER_ELIGIBLE, reason=reason)


async def accept(*, actor: CurrentUser, assignment_id: UUID, now: datetime | None = None) -> AssignmentOut:
    """The offered volunteer takes the place (idempotent: accepting twice returns the same assignment)."""
    now = now or datetime.now(UTC)
    first = await load_assignment(assignment_id)
    await require_own_assignment(actor, first)
    task = await load_task(first["task_id"], for_update=True)
    await load_volunteer(first["volunteer_id"], for_update=True)
    assignment = await load_assignment(assignment_id, for_update=True)
    if assignment["status"] == "accepted":
        return assignment_out(assignment)
    if assignment["status"] != "offered":
        if assignment["status"] == "withdrawn" and task["status"] == "full":
            raise Conflict("the task is full", code=TASK_FULL)
        raise InvalidTransition(entity="assignment", current=assignment["status"], action="accept")
    if assignment["expires_at"] is not None and assignment["expires_at"] <= now:
        raise Conflict("the offer has expired", code=OFFER_EXPIRED)
    if task["status"] != "open":
        raise (
            Conflict("the task is full", code=TASK_FULL)
            if task["status"] == "full"
            else InvalidTransition(entity="task", current=task["status"], action="accept")
        )
    await ensure_eligible(task, assignment["volunteer_id"])
    held, _ = await counts(task["id"])
    if held >= task["volunteers_needed"]:
        raise Conflict("the task is full", code=TASK_FULL)
    row = await db.fetchrow(
        "UPDATE volunteer_assignments SET status = 'accepted', responded_at = $2 WHERE id = $1 RETURNING *",
        assignment_id,
        now,
    )
    assert row is not None
    await mark_full_if_filled(task)
    await outbox.emit(
        topic="volunteers.accepted",
        payload={"assignment_id": str(assignment_id), "task_id": str(task["id"])},
    )
    return assignment_out(row)


async def decline(*, actor: CurrentUser, assignment_id: UUID, now: datetime | None = None) -> AssignmentOut:
    """The offered volunteer says no; the place passes to the next candidate at once."""
    now = now or datetime.now(UTC)
    first = await load_assignment(assignment_id)
    await require_own_assignment(actor, first)
    task = await load_task(first["task_id"], for_update=True)
    assignment = await load_assignment(assignment_id, for_update=True)
    if assignment["status"] == "declined":
        return assignment_out(assignment)
    if assignment["status"] != "offered":
        raise InvalidTransition(entity="assignment", current=assignment["status"], action="decline")
    row = await db.fetchrow(
        "UPDATE volunteer_assignments SET status = 'declined', responded_at = $2 WHERE id = $1 RETURNING *",
        assignment_id,
        now,
    )
    assert row is not None
    await offer_next(task, now=now)
    await escalate_if_unanswered(task["id"], now=now)
    return assignment_out(row)


async def cancel(*, actor: CurrentUser, assignment_id: UUID, now: datetime | None = None) -> AssignmentOut:
    """The volunteer gives back an accepted place before checking in; it reopens and passes to the next candidate."""
    now = now or datetime.now(UTC)
    first = await load_assignment(assignment_id)
    await require_own_assignment(actor, first)
    task = await load_task(first["task_id"], for_update=True)
    assignment = await load_assignment(assignment_id, for_update=True)
    if assignment["status"] == "cancelled":
        return assignment_out(assignment)
    if assignment["status"] != "accepted":
        raise InvalidTransition(entity="assignment", current=assignment["status"], action="cancel")
    row = await db.fetchrow(
        "UPDATE volunteer_assignments SET status = 'cancelled', responded_at = $2 WHERE id = $1 RETURNING *",
        assignment_id,
        now,
    )
    assert row is not None
    if task["status"] == "full":
        task = await db.fetchrow("UPDATE volunteer_tasks SET status = 'open' WHERE id = $1 RETURNING *", task["id"])
        assert task is not None
    await offer_next(task, now=now)
    return assignment_out(row)


async def escalate_if_unanswered(task_id: UUID, *, now: datetime) -> bool:
    """An urgent task nobody holds and nobody is still considering goes to community staff (once)."""
    task = await load_task(task_id)
    if not task["urgent"] or task["status"] != "open":
        return False
    held, outstanding = await counts(task_id)
    if held > 0 or outstanding > 0:
        return False
    claimed = await db.fetchval(
        "UPDATE volunteer_tasks SET escalated_at = $2 WHERE id = $1 AND escalated_at IS NULL RETURNING id",
        task_id,
        now,
    )
    if claimed is None:
        return False
    await outbox.emit(
        topic="volunteers.help_escalated",
        payload={"task_id": str(task_id), "community_id": str(task["community_id"]), "title": task["title"]},
    )
    return True


async def expire_offers(*, now: datetime | None = None, limit: int = 200) -> int:
    """Worker: offers past their answer window expire and pass to the next candidate. Returns offers expired.

    Tasks are locked before their offers (same order as accept), and `SKIP LOCKED` lets several workers share
    the work; running it twice expires nothing twice.
    """
    now = now or datetime.now(UTC)
    task_ids = [
        r["task_id"]
        for r in await db.fetch(
            "SELECT DISTINCT task_id FROM volunteer_assignments WHERE status = 'offered' AND expires_at <= $1"
            " UNION SELECT DISTINCT task_id FROM volunteer_team_offers WHERE status = 'offered' AND expires_at <= $1"
            " LIMIT $2",
            now,
            limit,
        )
    ]
    expired = 0
    for task_id in task_ids:
        async with db.unit_of_work():
            task = await db.fetchrow("SELECT * FROM volunteer_tasks WHERE id = $1 FOR UPDATE SKIP LOCKED", task_id)
            if task is None:
                continue
            status = await db.execute(
                "UPDATE volunteer_assignments SET status = 'expired', responded_at = $2"
                " WHERE task_id = $1 AND status = 'offered' AND expires_at <= $2",
                task_id,
                now,
            )
            await db.execute(
                "UPDATE volunteer_team_offers SET status = 'expired', responded_at = $2"
                " WHERE task_id = $1 AND status = 'offered' AND expires_at <= $2",
                task_id,
                now,
            )
            expired += int(status.split()[-1])
            await offer_next(task, now=now)
            await escalate_if_unanswered(task_id, now=now)
    return expired


async def get_assignment(*, actor: CurrentUser, assignment_id: UUID) -> AssignmentOut:
    assignment = await load_assignment(assignment_id)
    if assignment["volunteer_user_id"] != actor.id:
        await require_coordinator(actor, await load_task(assignment["task_id"]))
    return assignment_out(assignment)


async def task_assignments(*, actor: CurrentUser, task_id: UUID) -> list[AssignmentOut]:
    task = await load_task(task_id)
    await require_coordinator(actor, task)
    rows = await db.fetch("SELECT * FROM volunteer_assignments WHERE task_id = $1 ORDER BY offered_at, id", task_id)
    return [assignment_out(r) for r in rows]


async def get_mine(*, actor: CurrentUser, statuses: Sequence[str]) -> list[AssignmentOut]:
    """The caller's own offers and assignments in `statuses`, soonest task first."""
    rows = await db.fetch(
        "SELECT a.* FROM volunteer_assignments a JOIN volunteer_profiles v ON v.id = a.volunteer_id"
        " JOIN volunteer_tasks t ON t.id = a.task_id WHERE v.user_id = $1 AND a.status = ANY($2::text[])"
        " ORDER BY t.starts_at, a.id LIMIT 200",
        actor.id,
        list(statuses),
    )
    return [assignment_out(r) for r in rows]
