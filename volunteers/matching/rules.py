"""The hard rules and the score, pair by pair: the readable reference of who may take a task and how well they fit.

Hard rules (`ineligible_reason`): every required skill at its minimum level; weekly availability covering the
whole window in the community's local time and no day off on those dates; no overlap with an assignment the
volunteer already holds; every required certificate valid (not expired) on each day of the task; the weekly
hour cap not exceeded in the task's local week.

Score (`score`, an integer, higher is better, always >= 1 for an eligible pair):
proximity (same grid 40, unknown 20 / 10, other grid 0), fairness (fewer approved hours in the last 90 days
first, up to 30), reliability (Laplace-smoothed completion rate against no-shows, up to 30) and a language
bonus (10) when the task asks for a dialect the volunteer speaks.

`volunteers.matching.vectorised` applies the same rules to every pair of a batch at once; whenever a rule
changes here it must change there too (tests/test_matching_vectorised.py compares the two on random cases).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

FAIRNESS_HORIZON_MINUTES = 40 * 60  # 40 h in the last 90 days earns no fairness points any more
PROXIMITY_SAME_GRID, PROXIMITY_UNKNOWN, PROXIMITY_NO_HOME = 40, 20, 10
FAIRNESS_MAX, RELIABILITY_MAX, LANGUAGE_BONUS = 30, 30, 10


@dataclass(frozen=True)
class Candidate:
    """One volunteer as the matcher sees them."""

    volunteer_id: Hashable
    skills: Mapping[str, int] = field(default_factory=dict)
    # (weekday 1 = Monday … 7 = Sunday, start minute, end minute) in community local time
    availability: Sequence[tuple[int, int, int]] = ()
    days_off: frozenset[date] = frozenset()
    certificates: Mapping[str, date] = field(default_factory=dict)  # kind -> expires_on (inclusive)
    home_grid_id: Hashable | None = None
    weekly_cap_minutes: int | None = None
    # windows (UTC) of tasks the volunteer already holds (accepted, checked in …)
    committed: Sequence[tuple[datetime, datetime]] = ()
    recent_minutes: int = 0
    completed: int = 0
    no_shows: int = 0
    languages: frozenset[str] = frozenset()

    @cached_property
    def windows(self) -> dict[int, list[tuple[int, int]]]:
        return merged_windows(self.availability)


@dataclass(frozen=True)
class TaskSpec:
    task_id: Hashable
    starts_at: datetime
    ends_at: datetime
    timezone: str = "Asia/Shanghai"
    required_skills: Mapping[str, int] = field(default_factory=dict)  # code -> minimum level
    required_certificates: frozenset[str] = frozenset()
    grid_id: Hashable | None = None
    places: int = 1
    language: str | None = None


@dataclass(frozen=True)
class Scored:
    volunteer_id: Hashable
    score: int
    reasons: list[dict[str, Any]]


# --- time helpers ------------------------------------------------------------------------------------------


def local_segments(starts_at: datetime, ends_at: datetime, tz: str) -> list[tuple[date, int, int]]:
    """Split a UTC window into (local date, start minute, end minute) pieces, one per local day."""
    zone = ZoneInfo(tz)
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    out = []
    cursor = start
    while cursor < end:
        midnight = datetime.combine(cursor.date() + timedelta(days=1), datetime.min.time(), zone)
        piece_end = min(end, midnight)
        s = cursor.hour * 60 + cursor.minute
        e = 1440 if piece_end == midnight else piece_end.hour * 60 + piece_end.minute + (piece_end.second > 0)
        out.append((cursor.date(), s, e))
        cursor = piece_end
    return out


def week_of(moment: datetime, tz: str) -> date:
    """The Monday of `moment`'s local week: the unit of the weekly hour cap."""
    local = moment.astimezone(ZoneInfo(tz)).date()
    return local - timedelta(days=local.isoweekday() - 1)


def minutes_between(starts_at: datetime, ends_at: datetime) -> int:
    return max(0, int((ends_at - starts_at).total_seconds() // 60))


def merged_windows(availability: Iterable[tuple[int, int, int]]) -> dict[int, list[tuple[int, int]]]:
    """Weekday -> sorted, merged (start, end) windows; adjacent windows join (09:00-12:00 + 12:00-14:00)."""
    by_day: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for weekday, start, end in availability:
        by_day[weekday].append((start, end))
    merged: dict[int, list[tuple[int, int]]] = {}
    for weekday, windows in by_day.items():
        windows.sort()
        out: list[tuple[int, int]] = []
        for s, e in windows:
            if out and s <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], e))
            else:
                out.append((s, e))
        merged[weekday] = out
    return merged


# --- rules ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedTask:
    """A task's derived facts, computed once per task rather than once per candidate."""

    spec: TaskSpec
    segments: tuple[tuple[date, int, int], ...]
    week: date
    minutes: int


def prepare(task: TaskSpec) -> PreparedTask:
    """The task's local pieces per day, local week and length, worked out once for all its candidates."""
    return PreparedTask(
        spec=task,
        segments=tuple(local_segments(task.starts_at, task.ends_at, task.timezone)),
        week=week_of(task.starts_at, task.timezone),
        minutes=minutes_between(task.starts_at, task.ends_at),
    )


def ineligible_reason(
    task: TaskSpec | PreparedTask, candidate: Candidate, *, week_minutes: int | None = None
) -> str | None:
    """None if `candidate` may take `task`, else the first rule it breaks (a stable code).

    `week_minutes`: minutes the volunteer already holds in the task's local week (computed from `committed`
    when not given).
    """
    prepared = task if isinstance(task, PreparedTask) else prepare(task)
    spec = prepared.spec
    for code, min_level in spec.required_skills.items():
        level = candidate.skills.get(code)
        if level is None:
            return f"skill_missing:{code}"
        if level < min_level:
            return f"skill_level:{code}"
    windows = candidate.windows
    for day, start, end in prepared.segments:
        if day in candidate.days_off:
            return "day_off"
        if not any(s <= start and end <= e for s, e in windows.get(day.isoweekday(), ())):
            return "unavailable"
    for held_start, held_end in candidate.committed:
        if held_start < spec.ends_at and spec.starts_at < held_end:
            return "overlap"
    last_day = prepared.segments[-1][0] if prepared.segments else spec.starts_at.date()
    for kind in sorted(spec.required_certificates):
        expires_on = candidate.certificates.get(kind)
        if expires_on is None:
            return f"certificate_missing:{kind}"
        if expires_on < last_day:
            return f"certificate_expired:{kind}"
    if candidate.weekly_cap_minutes is not None:
        if week_minutes is None:
            week_minutes = sum(
                minutes_between(s, e) for s, e in candidate.committed if week_of(s, spec.timezone) == prepared.week
            )
        if week_minutes + prepared.minutes > candidate.weekly_cap_minutes:
            return "weekly_cap"
    return None


def fairness_points(recent_minutes: int) -> int:
    """Fewer approved minutes in the last 90 days earn more, from FAIRNESS_MAX down to 0 at the horizon."""
    recent = max(0, recent_minutes)
    return FAIRNESS_MAX * max(0, FAIRNESS_HORIZON_MINUTES - recent) // FAIRNESS_HORIZON_MINUTES


def reliability_points(completed: int, no_shows: int) -> int:
    """Laplace-smoothed completion rate: a newcomer (0 / 0) gets half of RELIABILITY_MAX."""
    return RELIABILITY_MAX * (completed + 1) // (completed + no_shows + 2)


def score(task: TaskSpec | PreparedTask, candidate: Candidate) -> Scored:
    """The fit of an eligible pair, with the reasons that add up to it."""
    spec = task.spec if isinstance(task, PreparedTask) else task
    reasons: list[dict[str, Any]] = []
    if spec.grid_id is None:
        proximity, note = PROXIMITY_UNKNOWN, "任务未指定网格"
    elif candidate.home_grid_id is None:
        proximity, note = PROXIMITY_NO_HOME, "志愿者未登记网格"
    elif candidate.home_grid_id == spec.grid_id:
        proximity, note = PROXIMITY_SAME_GRID, "同一网格"
    else:
        proximity, note = 0, "不同网格"
    reasons.append({"factor": "proximity", "points": proximity, "note": note})
    recent = max(0, candidate.recent_minutes)
    fairness = fairness_points(candidate.recent_minutes)
    reasons.append({"factor": "fairness", "points": fairness, "note": f"近90天服务 {recent // 60} 小时"})
    reliability = reliability_points(candidate.completed, candidate.no_shows)
    reasons.append(
        {
            "factor": "reliability",
            "points": reliability,
            "note": f"完成 {candidate.completed} 次,爽约 {candidate.no_shows} 次",
        }
    )
    total = proximity + fairness + reliability
    if spec.language and spec.language in candidate.languages:
        total += LANGUAGE_BONUS
        reasons.append({"factor": "language", "points": LANGUAGE_BONUS, "note": f"会说{spec.language}"})
    return Scored(volunteer_id=candidate.volunteer_id, score=max(1, total), reasons=reasons)


def rank(task: TaskSpec, candidates: Iterable[Candidate], *, exclude: Iterable[Hashable] = ()) -> list[Scored]:
    """Eligible candidates, best first (ties broken by id so the order is stable)."""
    prepared = prepare(task)
    skip = set(exclude)
    out = [
        score(prepared, c) for c in candidates if c.volunteer_id not in skip and ineligible_reason(prepared, c) is None
    ]
    out.sort(key=lambda s: (-s.score, str(s.volunteer_id)))
    return out
