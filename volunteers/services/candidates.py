"""Loading what the matcher needs from the database: tasks as `TaskSpec`, volunteers as `Candidate`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from linli import db
from volunteers.matching import Candidate, TaskSpec

HELD = ("accepted", "checked_in", "checked_out", "approved")
RECENT_DAYS = 90


def required_skills(task: asyncpg.Record) -> dict[str, int]:
    raw = task["required_skills"]
    items: list[dict[str, Any]] = json.loads(raw) if isinstance(raw, str) else raw
    return {item["code"]: int(item["min_level"]) for item in items}


async def task_spec(task: asyncpg.Record, *, timezone: str | None = None) -> TaskSpec:
    """The task as the matcher sees it; certificates include those its required skills demand."""
    tz = timezone or await db.fetchval("SELECT timezone FROM communities WHERE id = $1", task["community_id"])
    return (await task_specs([task], timezone=tz))[task["id"]]


async def task_specs(tasks: Sequence[asyncpg.Record], *, timezone: str) -> dict[UUID, TaskSpec]:
    """`task_spec` for many tasks (of communities in `timezone`) in two queries rather than two per task."""
    if not tasks:
        return {}
    skills = {t["id"]: required_skills(t) for t in tasks}
    implied: dict[tuple[UUID, str], str] = {
        (r["community_id"], r["code"]): r["requires_certificate"]
        for r in await db.fetch(
            "SELECT community_id, code, requires_certificate FROM volunteer_skills"
            " WHERE community_id = ANY($1::uuid[]) AND code = ANY($2::text[]) AND requires_certificate IS NOT NULL",
            list({t["community_id"] for t in tasks}),
            list({code for wanted in skills.values() for code in wanted}),
        )
    }
    accepted = {
        r["task_id"]: r["n"]
        for r in await db.fetch(
            "SELECT task_id, count(*)::int AS n FROM volunteer_assignments"
            " WHERE task_id = ANY($1::uuid[]) AND status = ANY($2::text[]) GROUP BY task_id",
            [t["id"] for t in tasks],
            list(HELD),
        )
    }
    out = {}
    for task in tasks:
        wanted = skills[task["id"]]
        demanded = {implied[(task["community_id"], code)] for code in wanted if (task["community_id"], code) in implied}
        out[task["id"]] = TaskSpec(
            task_id=task["id"],
            starts_at=task["starts_at"],
            ends_at=task["ends_at"],
            timezone=timezone,
            required_skills=wanted,
            required_certificates=frozenset(set(task["required_certificates"]) | demanded),
            grid_id=task["grid_id"],
            places=max(0, task["volunteers_needed"] - accepted.get(task["id"], 0)),
            language=task["language"],
        )
    return out


async def load(
    community_id: UUID,
    *,
    window: tuple[datetime, datetime],
    volunteer_ids: list[UUID] | None = None,
    skip_task_id: UUID | None = None,
) -> list[Candidate]:
    """Every volunteer of the community (or the listed ones) with what the rules need around `window`."""
    # Committed work is read a week either side so weekly caps see the whole local week.
    lo, hi = window[0] - timedelta(days=8), window[1] + timedelta(days=8)
    ids = volunteer_ids
    profiles = await db.fetch(
        "SELECT id, home_grid_id, weekly_cap_minutes, languages FROM volunteer_profiles"
        " WHERE community_id = $1 AND ($2::uuid[] IS NULL OR id = ANY($2::uuid[]))",
        community_id,
        ids,
    )
    if not profiles:
        return []
    scope = [p["id"] for p in profiles]
    skills: dict[UUID, dict[str, int]] = defaultdict(dict)
    for r in await db.fetch(
        "SELECT volunteer_id, skill_code, level FROM volunteer_profile_skills WHERE volunteer_id = ANY($1::uuid[])",
        scope,
    ):
        skills[r["volunteer_id"]][r["skill_code"]] = r["level"]
    windows: dict[UUID, list[tuple[int, int, int]]] = defaultdict(list)
    for r in await db.fetch(
        "SELECT volunteer_id, weekday, start_minute, end_minute FROM volunteer_availability"
        " WHERE volunteer_id = ANY($1::uuid[])",
        scope,
    ):
        windows[r["volunteer_id"]].append((r["weekday"], r["start_minute"], r["end_minute"]))
    days_off: dict[UUID, set[Any]] = defaultdict(set)
    for r in await db.fetch(
        "SELECT volunteer_id, day FROM volunteer_days_off WHERE volunteer_id = ANY($1::uuid[])"
        " AND day BETWEEN $2::date AND $3::date",
        scope,
        lo.date(),
        hi.date(),
    ):
        days_off[r["volunteer_id"]].add(r["day"])
    certificates: dict[UUID, dict[str, Any]] = defaultdict(dict)
    for r in await db.fetch(
        "SELECT volunteer_id, kind, expires_on FROM volunteer_certificates WHERE volunteer_id = ANY($1::uuid[])",
        scope,
    ):
        certificates[r["volunteer_id"]][r["kind"]] = r["expires_on"]
    committed: dict[UUID, list[tuple[datetime, datetime]]] = defaultdict(list)
    for r in await db.fetch(
        "SELECT a.volunteer_id, t.starts_at, t.ends_at FROM volunteer_assignments a"
        " JOIN volunteer_tasks t ON t.id = a.task_id"
        " WHERE a.volunteer_id = ANY($1::uuid[]) AND a.status = ANY($2::text[])"
        " AND t.ends_at > $3 AND t.starts_at < $4 AND ($5::uuid IS NULL OR t.id <> $5)",
        scope,
        list(HELD),
        lo,
        hi,
        skip_task_id,
    ):
        committed[r["volunteer_id"]].append((r["starts_at"], r["ends_at"]))
    recent = {
        r["volunteer_id"]: r["minutes"]
        for r in await db.fetch(
            "SELECT volunteer_id, sum(minutes)::int AS minutes FROM volunteer_hours_entries"
            " WHERE volunteer_id = ANY($1::uuid[]) AND created_at > now() - make_interval(days => $2)"
            " GROUP BY volunteer_id",
            scope,
            RECENT_DAYS,
        )
    }
    history = {
        r["volunteer_id"]: (r["completed"], r["no_shows"])
        for r in await db.fetch(
            "SELECT volunteer_id, count(*) FILTER (WHERE status = 'approved')::int AS completed,"
            " count(*) FILTER (WHERE status = 'no_show')::int AS no_shows FROM volunteer_assignments"
            " WHERE volunteer_id = ANY($1::uuid[]) GROUP BY volunteer_id",
            scope,
        )
    }
    out = []
    for p in profiles:
        vid = p["id"]
        completed, no_shows = history.get(vid, (0, 0))
        out.append(
            Candidate(
                volunteer_id=vid,
                skills=skills.get(vid, {}),
                availability=windows.get(vid, []),
                days_off=frozenset(days_off.get(vid, set())),
                certificates=certificates.get(vid, {}),
                home_grid_id=p["home_grid_id"],
                weekly_cap_minutes=p["weekly_cap_minutes"],
                committed=committed.get(vid, []),
                recent_minutes=recent.get(vid, 0),
                completed=completed,
                no_shows=no_shows,
                languages=frozenset(p["languages"]),
            )
        )
    return out
