"""Who may take a task, how well they fit, and the optimal assignment of many tasks at once.

Pure functions over plain data (no database, no HTTP), so the rules can be tested one by one and the solver
benchmarked at city scale. The services load candidates and tasks, call these, and write the offers.

Hard rules (`ineligible_reason`): every required skill at its minimum level; weekly availability covering the
whole window in the community's local time and no day off on those dates; no overlap with an assignment the
volunteer already holds; every required certificate valid (not expired) on each day of the task; the weekly
hour cap not exceeded in the task's local week.

Score (`score`, an integer, higher is better, always >= 1 for an eligible pair):
proximity (same grid 40, unknown 20 / 10, other grid 0), fairness (fewer approved hours in the last 90 days
first, up to 30), reliability (Laplace-smoothed completion rate against no-shows, up to 30) and a language
bonus (10) when the task asks for a dialect the volunteer speaks.

Batch mode (`solve`): the exact optimum of the real rules. Variables x[v,t] in {0,1} for the eligible pairs;
maximise the total score subject to: per task, at most `places` volunteers; per volunteer and per task start
s, at most one of their eligible tasks whose window contains s (interval cliques: a volunteer never holds two
tasks whose windows intersect, while A and C of a chain A-B-C may go to the same person); per volunteer and
local week, the minutes taken never exceed what is left of the weekly cap. Solved as a binary MILP with
`scipy.optimize.milp` (HiGHS); its LP relaxation is tried first and, when integral (almost always here),
is already the proven optimum. Fast path, also exact:
when no volunteer has two intersecting eligible tasks and no cap can bind, the tasks are independent and
each takes its `places` best volunteers. `overlap_groups` and `greedy` remain for the greedy baseline.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix

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
    fairness = FAIRNESS_MAX * max(0, FAIRNESS_HORIZON_MINUTES - recent) // FAIRNESS_HORIZON_MINUTES
    reasons.append({"factor": "fairness", "points": fairness, "note": f"近90天服务 {recent // 60} 小时"})
    reliability = RELIABILITY_MAX * (candidate.completed + 1) // (candidate.completed + candidate.no_shows + 2)
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


# --- batch assignment ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchTask:
    task_id: Hashable
    starts_at: datetime
    ends_at: datetime
    places: int
    week: date | None = None
    minutes: int = 0


def overlap_groups(tasks: Sequence[BatchTask]) -> list[list[int]]:
    """Indices of `tasks` grouped into connected components of window overlap, in time order."""
    order = sorted(range(len(tasks)), key=lambda i: (tasks[i].starts_at, tasks[i].ends_at))
    groups: list[list[int]] = []
    group_end: datetime | None = None
    for i in order:
        t = tasks[i]
        if group_end is not None and t.starts_at < group_end:
            groups[-1].append(i)
            group_end = max(group_end, t.ends_at)
        else:
            groups.append([i])
            group_end = t.ends_at
    return groups


def solve(
    tasks: Sequence[BatchTask],
    edges: Mapping[Any, Mapping[Any, int]],
    *,
    cap_left: Callable[[Hashable, date], int | None] | None = None,
) -> list[tuple[Hashable, Hashable, int]]:
    """The assignment with the best total score under the real rules: [(task_id, volunteer_id, score)].

    `edges[task_id][volunteer_id] = score` lists the eligible pairs (scores > 0). `cap_left(volunteer, week)`
    gives the minutes a volunteer may still take that week (None = no cap). Rules: at most `places`
    volunteers per task, a volunteer never holds two tasks whose windows intersect, and the minutes a
    volunteer takes in a week never exceed what is left of their cap. Exact: per-task best `places` when no
    volunteer has overlapping eligible tasks and no cap can bind, else a binary MILP (HiGHS).
    """
    order = sorted(range(len(tasks)), key=lambda i: (tasks[i].starts_at, tasks[i].ends_at))
    rank_of = {i: r for r, i in enumerate(order)}
    pair_task: list[int] = []
    pair_vol: list[Hashable] = []
    pair_points: list[int] = []
    left_of: dict[tuple[Hashable, date], int | None] = {}
    for i in order:
        task = tasks[i]
        if task.places <= 0:
            continue
        for volunteer, points in edges.get(task.task_id, {}).items():
            if points <= 0:
                continue
            if cap_left is not None and task.week is not None:
                key = (volunteer, task.week)
                if key not in left_of:
                    left_of[key] = cap_left(volunteer, task.week)
                left = left_of[key]
                if left is not None and task.minutes > left:
                    continue
            pair_task.append(i)
            pair_vol.append(volunteer)
            pair_points.append(points)
    if not pair_points:
        return []

    # Rows of the coupling constraints: per volunteer, every maximal set of their tasks sharing a moment
    # (interval cliques at each task start), and per (volunteer, week) the cap when it can bind.
    by_volunteer: dict[Hashable, list[int]] = defaultdict(list)  # volunteer -> pair indices, in time order
    for k, volunteer in enumerate(pair_vol):
        by_volunteer[volunteer].append(k)
    rows: list[list[int]] = []
    cap_rows: list[tuple[list[int], int]] = []
    for pairs in by_volunteer.values():
        # Sweep over start times; a set of tasks open at one moment is written out only when it is maximal
        # (just before a task of it ends), so dominated rows never reach the solver.
        active: list[int] = []
        for k in pairs:
            t = tasks[pair_task[k]]
            still = [a for a in active if tasks[pair_task[a]].ends_at > t.starts_at]
            if len(still) < len(active) and len(active) >= 2:
                rows.append(active)
            active = [*still, k]
        if len(active) >= 2:
            rows.append(active)
        if cap_left is not None:
            by_week: dict[date, list[int]] = defaultdict(list)
            for k in pairs:
                week = tasks[pair_task[k]].week
                if week is not None:
                    by_week[week].append(k)
            for week, ks in by_week.items():
                left = left_of.get((pair_vol[ks[0]], week))
                if left is not None and sum(tasks[pair_task[k]].minutes for k in ks) > left:
                    cap_rows.append((ks, left))

    if not rows and not cap_rows:
        chosen = _best_per_task(pair_task, pair_points, tasks)
    else:
        chosen = _milp(tasks, pair_task, pair_points, rows, cap_rows)
    chosen.sort(key=lambda k: (rank_of[pair_task[k]], -pair_points[k]))
    return [(tasks[pair_task[k]].task_id, pair_vol[k], pair_points[k]) for k in chosen]


def _best_per_task(pair_task: list[int], pair_points: list[int], tasks: Sequence[BatchTask]) -> list[int]:
    """Without coupling constraints each task independently takes its `places` best volunteers (exact)."""
    by_task: dict[int, list[int]] = defaultdict(list)
    for k, i in enumerate(pair_task):
        by_task[i].append(k)
    chosen: list[int] = []
    for i, ks in by_task.items():
        ks.sort(key=lambda k: -pair_points[k])
        chosen.extend(ks[: tasks[i].places])
    return chosen


def _milp(
    tasks: Sequence[BatchTask],
    pair_task: list[int],
    pair_points: list[int],
    clique_rows: list[list[int]],
    cap_rows: list[tuple[list[int], int]],
) -> list[int]:
    """Binary x per eligible pair, maximise the total score; rows: places per task, cliques <= 1, caps."""
    n = len(pair_points)
    task_row: dict[int, int] = {}
    r_idx: list[int] = []
    c_idx: list[int] = []
    vals: list[float] = []
    upper: list[float] = []
    for k, i in enumerate(pair_task):
        if i not in task_row:
            task_row[i] = len(upper)
            upper.append(tasks[i].places)
        r_idx.append(task_row[i])
        c_idx.append(k)
        vals.append(1.0)
    for ks in clique_rows:
        row = len(upper)
        upper.append(1)
        r_idx.extend([row] * len(ks))
        c_idx.extend(ks)
        vals.extend([1.0] * len(ks))
    for ks, left in cap_rows:
        row = len(upper)
        upper.append(left)
        r_idx.extend([row] * len(ks))
        c_idx.extend(ks)
        vals.extend(float(tasks[pair_task[k]].minutes) for k in ks)
    a = csr_matrix((vals, (r_idx, c_idx)), shape=(len(upper), n))
    cost = -np.asarray(pair_points, dtype=float)
    b = np.asarray(upper, dtype=float)
    # The LP relaxation first (dual simplex): its optimum bounds the integer one from above, so when it lands
    # on an integral vertex — nearly always here, the rows being mostly interval cliques — that vertex is
    # the optimum and branch and bound is skipped.
    relaxed = linprog(cost, A_ub=a, b_ub=b, bounds=(0, 1), method="highs-ds")
    if relaxed.status == 0 and relaxed.x is not None and np.all(np.abs(relaxed.x - np.round(relaxed.x)) <= 1e-6):
        return [k for k in range(n) if relaxed.x[k] > 0.5]
    # Scores are integers: a gap below 1 proves the incumbent optimal (HiGHS's default 1e-4 would not).
    res = milp(
        c=cost,
        constraints=LinearConstraint(a, -np.inf, b),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.5 / (1 + sum(pair_points))},
    )
    if res.x is None or res.status != 0:
        raise RuntimeError(f"batch assignment MILP failed: {res.message}")
    return [k for k in range(n) if res.x[k] > 0.5]


def greedy(tasks: Sequence[BatchTask], edges: Mapping[Any, Mapping[Any, int]]) -> list[tuple[Hashable, Hashable, int]]:
    """The baseline a greedy loop would give: best pairs first (used only to compare against `solve`)."""
    group_of: dict[int, int] = {}
    for g, group in enumerate(overlap_groups(tasks)):
        for i in group:
            group_of[i] = g
    index = {t.task_id: i for i, t in enumerate(tasks)}
    pairs = sorted(
        ((points, str(v), tid, v) for tid, row in edges.items() for v, points in row.items() if points > 0),
        key=lambda p: (-p[0], p[1]),
    )
    left = {t.task_id: t.places for t in tasks}
    busy: set[tuple[Hashable, int]] = set()
    out = []
    for points, _, tid, v in pairs:
        if tid not in index or left[tid] <= 0:
            continue
        key = (v, group_of[index[tid]])
        if key in busy:
            continue
        busy.add(key)
        left[tid] -= 1
        out.append((tid, v, points))
    return out


def total(assignment: Iterable[tuple[Hashable, Hashable, int]]) -> int:
    return sum(points for _, _, points in assignment)
