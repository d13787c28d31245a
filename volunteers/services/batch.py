"""Batch mode: offer every open place of a community's upcoming tasks at once, with the best total score."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Hashable
from datetime import UTC, date, datetime
from uuid import UUID

from community import access
from linli import db
from linli.auth.security import CurrentUser
from linli.errors import BadInput
from volunteers import matching
from volunteers.schemas import BatchAssignOut
from volunteers.services import candidates
from volunteers.services.common import BATCH_WINDOW_INVALID
from volunteers.services.offers import insert_offers, offer_out, standings


async def batch_assign(
    *, actor: CurrentUser, community_id: UUID, until: datetime | None = None, now: datetime | None = None
) -> BatchAssignOut:
    """Offer every open place of the community's upcoming open tasks (those starting before `until`, when
    given: e.g. this week's) at once, with the best total score.

    Eligibility and scores come from `matching.score_pairs` (every task x volunteer pair at once, the same
    rules as `matching.ineligible_reason` / `matching.score`); the assignment from `matching.solve_arrays`
    (exact). Only the offers made get their reasons written out, by `matching.score`.
    """
    now = now or datetime.now(UTC)
    await access.require_role(actor, community_id, "staff")
    if until is not None and until <= now:
        raise BadInput("until must be in the future", code=BATCH_WINDOW_INVALID)
    tasks = await db.fetch(
        "SELECT * FROM volunteer_tasks WHERE community_id = $1 AND status = 'open' AND starts_at > $2"
        " AND ($3::timestamptz IS NULL OR starts_at < $3) ORDER BY starts_at, id FOR UPDATE",
        community_id,
        now,
        until,
    )
    if not tasks:
        return BatchAssignOut(tasks=0, total_score=0, offers=[])
    tz = await db.fetchval("SELECT timezone FROM communities WHERE id = $1", community_id)
    window = (min(t["starts_at"] for t in tasks), max(t["ends_at"] for t in tasks))
    pool = await candidates.load(community_id, window=window)
    specs = await candidates.task_specs(tasks, timezone=tz)
    rows_by_id = {t["id"]: t for t in tasks}
    batch: list[matching.BatchTask] = []
    prepared: list[matching.PreparedTask] = []
    exclude: dict[Hashable, Collection[Hashable]] = {}
    standing = await standings([t["id"] for t in tasks])
    for task in tasks:
        s = standing[task["id"]]
        places = task["volunteers_needed"] - s.held - s.outstanding
        if places <= 0:
            continue
        p = matching.prepare(specs[task["id"]])
        prepared.append(p)
        batch.append(matching.batch_task(p, places=places))
        exclude[task["id"]] = s.excluded
    if not batch:
        return BatchAssignOut(tasks=0, total_score=0, offers=[])
    pairs = matching.score_pairs(prepared, pool, exclude=exclude)

    week_held: dict[tuple[Hashable, date], int] = defaultdict(int)
    for c in pool:
        for held_start, held_end in c.committed:
            week_held[(c.volunteer_id, matching.week_of(held_start, tz))] += matching.minutes_between(
                held_start, held_end
            )
    by_id = {c.volunteer_id: c for c in pool}

    def cap_left(volunteer: Hashable, week: date) -> int | None:
        cap = by_id[volunteer].weekly_cap_minutes
        return None if cap is None else cap - week_held[(volunteer, week)]

    chosen = pairs.solve(batch, pool, cap_left=cap_left)
    prepared_by_id = {p.spec.task_id: p for p in prepared}
    offers = [
        (rows_by_id[task_id], matching.score(prepared_by_id[task_id], by_id[volunteer_id]))
        for task_id, volunteer_id, _points in chosen
    ]
    made = [offer_out(row) for row in await insert_offers(offers, now=now)]
    return BatchAssignOut(tasks=len(batch), total_score=matching.total(chosen), offers=made)
