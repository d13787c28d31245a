"""Batch assignment: the exact optimum of the real rules over many tasks at once.

Variables x[v,t] in {0,1} for the eligible pairs; maximise the total score subject to: per task, at most
`places` volunteers; per volunteer and per task start s, at most one of their eligible tasks whose window
contains s (interval cliques: a volunteer never holds two tasks whose windows intersect, while A and C of a
chain A-B-C may go to the same person); per volunteer and local week, the minutes taken never exceed what is
left of the weekly cap.

Before the solver sees them, pairs that cannot change the optimum are set aside (`_reduce`, exact). A pair is
*free* when no other pair of its volunteer intersects it and its volunteer's cap for that week cannot bind:
it competes only for its task's places. When a task has at least `places` free pairs, every other pair of it
scoring no more than the `places`-th best free one is dropped: in any assignment using such a pair, one of
the task's best free pairs is unused (the task has at most `places` volunteers), and swapping it in keeps
every rule (it touches no other row) and loses no points. Dropping pairs frees others, so this repeats until
nothing changes (the city bench: 101,207 pairs down to about 23,000).

What is left is solved as a binary MILP with `scipy.optimize.milp` (HiGHS); its LP relaxation is tried first
and, when integral (almost always here), is already the proven optimum. When no row couples two pairs any
more, each task simply takes its best `places` volunteers. `overlap_groups` and `greedy` remain for the
greedy baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_matrix

# "No cap" as a number, far above any real minute count, so caps compare as plain integers.
NO_CAP = np.iinfo(np.int64).max // 4


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


@dataclass(frozen=True)
class _Pairs:
    """The candidate pairs as parallel arrays, one entry per pair."""

    task: np.ndarray  # index into `tasks`
    volunteer: np.ndarray  # volunteer code (index into the volunteer list)
    points: np.ndarray
    left: np.ndarray  # minutes the volunteer may still take in the task's week (NO_CAP: no cap)
    cap_group: np.ndarray  # code of the pair's (volunteer, week) when capped, else -1

    def take(self, keep: np.ndarray) -> _Pairs:
        return _Pairs(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})


@dataclass(frozen=True)
class _Tasks:
    """Per-task facts as arrays indexed like `tasks`; times as ranks (same order, small integers)."""

    starts: np.ndarray
    ends: np.ndarray
    minutes: np.ndarray
    places: np.ndarray
    span: int  # every rank is below this


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
    volunteer takes in a week never exceed what is left of their cap. Exact: dominated pairs are set aside
    (see the module docstring), then per-task best `places` when nothing couples the rest, else a binary
    MILP (HiGHS).
    """
    code_of: dict[Hashable, int] = {}
    p_task: list[int] = []
    p_volunteer: list[int] = []
    p_points: list[int] = []
    for i, task in enumerate(tasks):
        for volunteer, points in edges.get(task.task_id, {}).items():
            p_task.append(i)
            p_volunteer.append(code_of.setdefault(volunteer, len(code_of)))
            p_points.append(points)
    return solve_arrays(
        tasks,
        task_index=np.array(p_task, dtype=np.int64),
        volunteer_index=np.array(p_volunteer, dtype=np.int64),
        points=np.array(p_points, dtype=np.int64),
        volunteer_ids=list(code_of),
        cap_left=cap_left,
    )


def solve_arrays(
    tasks: Sequence[BatchTask],
    *,
    task_index: np.ndarray,
    volunteer_index: np.ndarray,
    points: np.ndarray,
    volunteer_ids: Sequence[Hashable],
    cap_left: Callable[[Hashable, date], int | None] | None = None,
) -> list[tuple[Hashable, Hashable, int]]:
    """`solve` with the eligible pairs as parallel arrays, as `score_pairs` returns them.

    Pair k is task `tasks[task_index[k]]` with volunteer `volunteer_ids[volunteer_index[k]]`, worth
    `points[k]`; a batch thus goes from the rules to the solver without building dictionaries.
    """
    if len(set(volunteer_ids)) < len(volunteer_ids):
        # One volunteer listed twice must still be one person for the overlap and cap rows.
        first = {v: j for j, v in reversed(list(enumerate(volunteer_ids)))}
        volunteer_index = np.array([first[v] for v in volunteer_ids], dtype=np.int64)[volunteer_index]
    places = np.array([t.places for t in tasks], dtype=np.int64)
    task_index = np.asarray(task_index, dtype=np.int64)
    keep = (np.asarray(points) > 0) & (places[task_index] > 0) if len(task_index) else np.zeros(0, dtype=bool)
    n = int(keep.sum())
    if not n:
        return []
    pairs = _Pairs(
        task=task_index[keep],
        volunteer=np.asarray(volunteer_index, dtype=np.int64)[keep],
        points=np.asarray(points, dtype=np.int64)[keep],
        left=np.full(n, NO_CAP, dtype=np.int64),
        cap_group=np.full(n, -1, dtype=np.int64),
    )
    facts = _task_facts(tasks)
    if cap_left is not None:
        pairs = _apply_caps(pairs, tasks, facts, volunteer_ids, cap_left)
        if not len(pairs.points):
            return []
    pairs, overlapping = _reduce(pairs, facts)
    clique_rows = _clique_rows(pairs, overlapping, facts)
    binding = _binding(pairs, facts)
    if not clique_rows and not binding.any():
        chosen = _best_per_task(pairs, facts)
    else:
        chosen = _milp(pairs, facts, clique_rows, binding)
    order = sorted(range(len(tasks)), key=lambda i: (tasks[i].starts_at, tasks[i].ends_at))
    rank_of = {i: r for r, i in enumerate(order)}
    task_of, volunteer_of, points_of = pairs.task.tolist(), pairs.volunteer.tolist(), pairs.points.tolist()
    picked = sorted(chosen.tolist(), key=lambda k: (rank_of[task_of[k]], -points_of[k]))
    return [(tasks[task_of[k]].task_id, volunteer_ids[volunteer_of[k]], points_of[k]) for k in picked]


def _task_facts(tasks: Sequence[BatchTask]) -> _Tasks:
    # Ranks of the distinct instants keep the exact order of the datetimes (no rounding) in small integers.
    instants = sorted({t.starts_at for t in tasks} | {t.ends_at for t in tasks})
    rank = {moment: r for r, moment in enumerate(instants)}
    return _Tasks(
        starts=np.array([rank[t.starts_at] for t in tasks], dtype=np.int64),
        ends=np.array([rank[t.ends_at] for t in tasks], dtype=np.int64),
        minutes=np.array([t.minutes for t in tasks], dtype=np.int64),
        places=np.array([t.places for t in tasks], dtype=np.int64),
        span=len(instants) + 1,
    )


def _apply_caps(
    pairs: _Pairs,
    tasks: Sequence[BatchTask],
    facts: _Tasks,
    volunteers: Sequence[Hashable],
    cap_left: Callable[[Hashable, date], int | None],
) -> _Pairs:
    """Look each (volunteer, week) cap up once; drop pairs whose task alone exceeds what is left."""
    weeks = sorted({t.week for t in tasks if t.week is not None})
    if not weeks:
        return pairs
    week_code = {w: c for c, w in enumerate(weeks)}
    task_week = np.array([-1 if t.week is None else week_code[t.week] for t in tasks], dtype=np.int64)
    pair_week = task_week[pairs.task]
    has_week = pair_week >= 0
    keys, group = np.unique(pairs.volunteer[has_week] * len(weeks) + pair_week[has_week], return_inverse=True)
    left_by_key = [cap_left(volunteers[k // len(weeks)], weeks[k % len(weeks)]) for k in keys.tolist()]
    group_left = np.array([NO_CAP if x is None else x for x in left_by_key], dtype=np.int64)
    left = pairs.left.copy()
    left[has_week] = group_left[group]
    cap_group = pairs.cap_group.copy()
    cap_group[has_week] = np.where(group_left[group] < NO_CAP, group, -1)
    capped = _Pairs(pairs.task, pairs.volunteer, pairs.points, left, cap_group)
    return capped.take(facts.minutes[pairs.task] <= left)


def _reduce(pairs: _Pairs, facts: _Tasks) -> tuple[_Pairs, np.ndarray]:
    """Drop dominated pairs until none is left (exact, see the module docstring); also the overlap flags."""
    while True:
        overlapping = _overlapping(pairs, facts)
        free = ~overlapping & ~_binding(pairs, facts)
        drop = _dominated(pairs, free, facts)
        if not drop.any():
            return pairs, overlapping
        pairs = pairs.take(~drop)


def _overlapping(pairs: _Pairs, facts: _Tasks) -> np.ndarray:
    """Per pair: does another pair of the same volunteer intersect it? (Empty windows count as yes.)"""
    n = len(pairs.points)
    starts, ends = facts.starts[pairs.task], facts.ends[pairs.task]
    order = np.lexsort((ends, starts, pairs.volunteer))
    vol, s, e = pairs.volunteer[order], starts[order], ends[order]
    same_as_previous = np.zeros(n, dtype=bool)
    same_as_previous[1:] = vol[1:] == vol[:-1]
    # The latest end among the volunteer's earlier-starting pairs; offsetting by volunteer keeps the running
    # maximum from leaking across volunteers (the pairs are sorted by volunteer).
    running = np.maximum.accumulate(vol * facts.span + e)
    previous_end = np.full(n, -1, dtype=np.int64)
    previous_end[1:] = running[:-1] - vol[1:] * facts.span
    flagged = same_as_previous & (previous_end > s)
    # A later-starting pair intersects iff the very next one (the earliest start after) begins before our end.
    flagged[:-1] |= same_as_previous[1:] & (s[1:] < e[:-1])
    flagged |= s >= e
    out = np.empty(n, dtype=bool)
    out[order] = flagged
    return out


def _binding(pairs: _Pairs, facts: _Tasks) -> np.ndarray:
    """Per pair: could its (volunteer, week) cap bind, i.e. do all their pairs that week exceed what is left?"""
    capped = pairs.cap_group >= 0
    if not capped.any():
        return np.zeros(len(pairs.points), dtype=bool)
    groups = pairs.cap_group[capped]
    used = np.zeros(int(groups.max()) + 1, dtype=np.int64)
    np.add.at(used, groups, facts.minutes[pairs.task[capped]])
    out = np.zeros(len(pairs.points), dtype=bool)
    out[capped] = used[groups] > pairs.left[capped]
    return out


def _dominated(pairs: _Pairs, free: np.ndarray, facts: _Tasks) -> np.ndarray:
    """Per pair: is it no better than its task's `places`-th best free pair (and not one of those)?"""
    n_tasks = len(facts.places)
    free_idx = np.flatnonzero(free)
    free_idx = free_idx[np.lexsort((-pairs.points[free_idx], pairs.task[free_idx]))]  # by task, best first
    task = pairs.task[free_idx]
    first = np.flatnonzero(np.r_[True, task[1:] != task[:-1]]) if len(task) else np.zeros(0, dtype=np.int64)
    rank = np.arange(len(task)) - np.repeat(first, np.diff(np.r_[first, len(task)]))
    places = facts.places[task]
    threshold = np.full(n_tasks, -1, dtype=np.int64)
    at_last_place = rank == places - 1
    threshold[task[at_last_place]] = pairs.points[free_idx[at_last_place]]
    top = np.zeros(len(pairs.points), dtype=bool)
    top[free_idx[rank < places]] = True
    limit = threshold[pairs.task]
    return (limit >= 0) & (pairs.points <= limit) & ~top


def _clique_rows(pairs: _Pairs, overlapping: np.ndarray, facts: _Tasks) -> list[list[int]]:
    """Per volunteer, every maximal set of their pairs sharing a moment (interval cliques at task starts)."""
    idx = np.flatnonzero(overlapping)
    starts, ends = facts.starts[pairs.task[idx]], facts.ends[pairs.task[idx]]
    idx = idx[np.lexsort((pairs.task[idx], ends, starts, pairs.volunteer[idx]))]
    rows: list[list[int]] = []
    active: list[tuple[int, int]] = []  # (pair, end rank) of the volunteer's tasks open at the sweep
    current = -1
    # Sweep over start times; a set of tasks open at one moment is written out only when it is maximal
    # (just before a task of it ends), so dominated rows never reach the solver.
    for k, volunteer, s, e in zip(
        idx.tolist(),
        pairs.volunteer[idx].tolist(),
        facts.starts[pairs.task[idx]].tolist(),
        facts.ends[pairs.task[idx]].tolist(),
        strict=True,
    ):
        if volunteer != current:
            if len(active) >= 2:
                rows.append([a for a, _ in active])
            active, current = [], volunteer
        still = [(a, end) for a, end in active if end > s]
        if len(still) < len(active) and len(active) >= 2:
            rows.append([a for a, _ in active])
        active = [*still, (k, e)]
    if len(active) >= 2:
        rows.append([a for a, _ in active])
    return rows


def _best_per_task(pairs: _Pairs, facts: _Tasks) -> np.ndarray:
    """Without coupling rows each task independently takes its `places` best volunteers (exact)."""
    order = np.lexsort((-pairs.points, pairs.task))
    task = pairs.task[order]
    first = np.flatnonzero(np.r_[True, task[1:] != task[:-1]])
    rank = np.arange(len(task)) - np.repeat(first, np.diff(np.r_[first, len(task)]))
    return np.sort(order[rank < facts.places[task]])


def _milp(pairs: _Pairs, facts: _Tasks, clique_rows: list[list[int]], binding: np.ndarray) -> np.ndarray:
    """Binary x per pair, maximise the total score; rows: places per task, cliques <= 1, binding caps."""
    n = len(pairs.points)
    tasks, task_row = np.unique(pairs.task, return_inverse=True)
    row_parts, col_parts, val_parts = [task_row], [np.arange(n)], [np.ones(n)]
    upper_parts = [facts.places[tasks].astype(float)]
    offset = len(tasks)
    if clique_rows:
        sizes = np.array([len(r) for r in clique_rows])
        row_parts.append(offset + np.repeat(np.arange(len(clique_rows)), sizes))
        col_parts.append(np.fromiter((k for r in clique_rows for k in r), dtype=np.int64, count=int(sizes.sum())))
        val_parts.append(np.ones(int(sizes.sum())))
        upper_parts.append(np.ones(len(clique_rows)))
        offset += len(clique_rows)
    capped = np.flatnonzero(binding)
    if len(capped):
        groups, cap_row = np.unique(pairs.cap_group[capped], return_inverse=True)
        row_parts.append(offset + cap_row)
        col_parts.append(capped)
        val_parts.append(facts.minutes[pairs.task[capped]].astype(float))
        group_left = np.zeros(len(groups))
        group_left[cap_row] = pairs.left[capped]
        upper_parts.append(group_left)
    upper = np.concatenate(upper_parts)
    a = csr_matrix(
        (np.concatenate(val_parts), (np.concatenate(row_parts), np.concatenate(col_parts))), shape=(len(upper), n)
    )
    cost = -pairs.points.astype(float)
    # The LP relaxation first (dual simplex): its optimum bounds the integer one from above, so when it lands
    # on an integral vertex — nearly always here, the rows being mostly interval cliques — that vertex is
    # the optimum and branch and bound is skipped.
    relaxed = linprog(cost, A_ub=a, b_ub=upper, bounds=(0, 1), method="highs-ds")
    if relaxed.status == 0 and relaxed.x is not None and np.all(np.abs(relaxed.x - np.round(relaxed.x)) <= 1e-6):
        return np.flatnonzero(relaxed.x > 0.5)
    # Scores are integers: a gap below 1 proves the incumbent optimal (HiGHS's default 1e-4 would not).
    res = milp(
        c=cost,
        constraints=LinearConstraint(a, -np.inf, upper),
        integrality=np.ones(n),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.5 / (1 + int(pairs.points.sum()))},
    )
    if res.x is None or res.status != 0:
        raise RuntimeError(f"batch assignment MILP failed: {res.message}")
    return np.flatnonzero(res.x > 0.5)


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
    """The total score of an assignment."""
    return sum(points for _, _, points in assignment)
