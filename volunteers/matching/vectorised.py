"""The hard rules and the score for every task x volunteer pair of a batch at once (numpy).

`score_pairs` gives exactly the pairs for which `rules.ineligible_reason(...)` is None and, for each, exactly
`rules.score(...).score` (tests/test_matching_vectorised.py compares the two on seeded random cases) — without
the reasons, which `rules.score` still writes for the few pairs that become offers. The rules themselves are
documented in `rules`; this module only changes how they are evaluated:

- the cheap, selective rules run on a dense tasks x volunteers boolean matrix (10 MB for 1,000 x 10,000):
  one volunteer vector per distinct (skill, minimum level) from a skill-level matrix, one per distinct local
  piece of a task (weekday, start, end) from the merged weekly windows padded to the most a volunteer has
  on one day, one per required certificate (expiry against the task's last local day), each ANDed into
  the rows of the tasks that need it;
- the rules that need a volunteer's own dates run only on the pairs that survive: days off (by date),
  overlap with committed windows (joined volunteer by volunteer) and the weekly cap (minutes already held
  in the task's local week, added up once per volunteer and week);
- the score is per-volunteer points (fairness + reliability, the same functions `rules.score` uses) plus
  proximity by grid code plus the language bonus.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from volunteers.matching.rules import (
    LANGUAGE_BONUS,
    PROXIMITY_NO_HOME,
    PROXIMITY_SAME_GRID,
    PROXIMITY_UNKNOWN,
    Candidate,
    PreparedTask,
    TaskSpec,
    fairness_points,
    minutes_between,
    prepare,
    reliability_points,
    week_of,
)
from volunteers.matching.solver import BatchTask, solve_arrays

_EPOCH_AWARE = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
# An empty window slot opens after and closes before every minute, so it covers nothing.
_NEVER_OPEN, _NEVER_CLOSED = np.iinfo(np.int64).max, np.iinfo(np.int64).min
_DATE_KEY = 1 << 22  # above every date ordinal (9999-12-31 is 3,652,059): volunteer * _DATE_KEY + ordinal


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (datetimes carry no finer resolution), for integer comparisons."""
    return (moment - (_EPOCH_NAIVE if moment.tzinfo is None else _EPOCH_AWARE)) // _MICROSECOND


@dataclass(frozen=True)
class PairScores:
    """The eligible pairs of a batch with their scores, as parallel arrays in task order."""

    task_index: np.ndarray  # position in the `tasks` given to `score_pairs`
    candidate_index: np.ndarray  # position in the `candidates` given
    points: np.ndarray

    def __len__(self) -> int:
        return len(self.points)

    def solve(
        self,
        tasks: Sequence[BatchTask],
        candidates: Sequence[Candidate],
        *,
        cap_left: Callable[[Hashable, date], int | None] | None = None,
    ) -> list[tuple[Hashable, Hashable, int]]:
        """The best assignment of these pairs (`solve_arrays`); `tasks` and `candidates` as given to `score_pairs`."""
        return solve_arrays(
            tasks,
            task_index=self.task_index,
            volunteer_index=self.candidate_index,
            points=self.points,
            volunteer_ids=[c.volunteer_id for c in candidates],
            cap_left=cap_left,
        )

    def edges(
        self, tasks: Sequence[TaskSpec | PreparedTask], candidates: Sequence[Candidate]
    ) -> dict[Hashable, dict[Hashable, int]]:
        """`{task_id: {volunteer_id: score}}`, the shape `solve` takes (every task present, maybe empty)."""
        task_ids = [(t.spec if isinstance(t, PreparedTask) else t).task_id for t in tasks]
        out: dict[Hashable, dict[Hashable, int]] = {tid: {} for tid in task_ids}
        volunteer_ids = [c.volunteer_id for c in candidates]
        for t, v, points in zip(
            self.task_index.tolist(), self.candidate_index.tolist(), self.points.tolist(), strict=True
        ):
            out[task_ids[t]][volunteer_ids[v]] = points
        return out


def batch_task(task: PreparedTask, *, places: int | None = None) -> BatchTask:
    """The solver's view of a prepared task (`places` still open; all of them unless given)."""
    spec = task.spec
    return BatchTask(
        spec.task_id, spec.starts_at, spec.ends_at, spec.places if places is None else places, task.week, task.minutes
    )


def score_pairs(
    tasks: Sequence[TaskSpec | PreparedTask],
    candidates: Sequence[Candidate],
    *,
    exclude: Mapping[Hashable, Collection[Hashable]] | None = None,
) -> PairScores:
    """Every (task, candidate) pair that passes the hard rules, with its score (same as the scalar rules).

    `exclude[task_id]` lists volunteers not to consider for that task (already asked, the requester).
    """
    prepared = [t if isinstance(t, PreparedTask) else prepare(t) for t in tasks]
    if not prepared or not candidates:
        empty = np.zeros(0, dtype=np.int64)
        return PairScores(empty, empty, empty)
    ok = np.ones((len(prepared), len(candidates)), dtype=bool)
    _require_skills(ok, prepared, candidates)
    _require_availability(ok, prepared, candidates)
    _require_certificates(ok, prepared, candidates)
    if exclude:
        _exclude(ok, prepared, candidates, exclude)
    # flatnonzero + divmod is several times faster than a 2-D nonzero; the order stays task-major.
    task_index, candidate_index = np.divmod(np.flatnonzero(ok), len(candidates))
    keep = _not_on_day_off(task_index, candidate_index, prepared, candidates)
    keep &= _no_committed_overlap(task_index, candidate_index, prepared, candidates)
    keep &= _within_weekly_cap(task_index, candidate_index, prepared, candidates)
    task_index, candidate_index = task_index[keep], candidate_index[keep]
    points = _points(task_index, candidate_index, prepared, candidates)
    return PairScores(task_index.astype(np.int64), candidate_index.astype(np.int64), points)


# --- rules on the dense matrix -------------------------------------------------------------------------------


def _require_skills(ok: np.ndarray, prepared: list[PreparedTask], candidates: Sequence[Candidate]) -> None:
    codes = sorted({code for p in prepared for code in p.spec.required_skills})
    if not codes:
        return
    column = {code: c for c, code in enumerate(codes)}
    # Below every minimum asked for, so a missing skill never passes.
    missing = min(level for p in prepared for level in p.spec.required_skills.values()) - 1
    levels = np.full((len(codes), len(candidates)), missing, dtype=np.int64)
    per_candidate = [len(c.skills) for c in candidates]
    held_column = np.array([column.get(code, -1) for c in candidates for code in c.skills], dtype=np.int64)
    held_level = np.array([level for c in candidates for level in c.skills.values()], dtype=np.int64)
    holder = np.repeat(np.arange(len(candidates)), per_candidate)
    wanted = held_column >= 0
    levels[held_column[wanted], holder[wanted]] = held_level[wanted]
    qualified: dict[tuple[str, int], np.ndarray] = {}  # (skill, minimum) -> who has it at that level
    for t, p in enumerate(prepared):
        for code, min_level in p.spec.required_skills.items():
            if (code, min_level) not in qualified:
                qualified[(code, min_level)] = levels[column[code]] >= min_level
            ok[t] &= qualified[(code, min_level)]


def _weekly_windows(candidates: Sequence[Candidate]) -> tuple[np.ndarray, np.ndarray]:
    """Merged weekly windows as (start, end) arrays indexed [weekday - 1, slot, volunteer].

    The merge is `rules.merged_windows` on arrays: per volunteer and weekday, sorted by (start, end), a
    window joins the current one when it starts no later than the current end (adjacent windows join).
    """
    per_candidate = [len(c.availability) for c in candidates]
    flat = np.array([x for c in candidates for window in c.availability for x in window], dtype=np.int64)
    weekday, start, end = flat.reshape(-1, 3).T
    volunteer = np.repeat(np.arange(len(candidates)), per_candidate)
    real = (weekday >= 1) & (weekday <= 7)
    if not real.any():
        return np.full((7, 1, len(candidates)), _NEVER_OPEN), np.full((7, 1, len(candidates)), _NEVER_CLOSED)
    volunteer, weekday, start, end = volunteer[real], weekday[real] - 1, start[real], end[real]
    order = np.lexsort((end, start, weekday, volunteer))
    volunteer, weekday, start, end = volunteer[order], weekday[order], start[order], end[order]
    group = volunteer * 7 + weekday
    first_of_group = np.r_[True, group[1:] != group[:-1]]
    # The latest end so far within the group: ranks of the ends, offset by group so maxima never cross groups.
    end_values, end_rank = np.unique(end, return_inverse=True)
    running = np.maximum.accumulate(group * (len(end_values) + 1) + end_rank.reshape(-1))
    previous_end = end_values[running[:-1] - group[:-1] * (len(end_values) + 1)]  # of the group of k - 1
    opens = first_of_group.copy()
    opens[1:] |= start[1:] > previous_end
    window_first = np.flatnonzero(opens)
    window_group_first = np.maximum.accumulate(np.where(first_of_group, np.arange(len(group)), 0))[window_first]
    slot = np.arange(len(window_first)) - np.searchsorted(window_first, window_group_first)
    starts = np.full((7, int(slot.max()) + 1, len(candidates)), _NEVER_OPEN, dtype=np.int64)
    ends = np.full(starts.shape, _NEVER_CLOSED, dtype=np.int64)
    starts[weekday[window_first], slot, volunteer[window_first]] = start[window_first]
    ends[weekday[window_first], slot, volunteer[window_first]] = np.maximum.reduceat(end, window_first)
    return starts, ends


def _require_availability(ok: np.ndarray, prepared: list[PreparedTask], candidates: Sequence[Candidate]) -> None:
    """Each local piece of the task (weekday, start, end) inside one merged window of that weekday."""
    starts, ends = _weekly_windows(candidates)
    covered: dict[tuple[int, int, int], np.ndarray] = {}  # (weekday - 1, start, end) -> who covers it
    for t, p in enumerate(prepared):
        for day, start, end in p.segments:
            key = (day.isoweekday() - 1, start, end)
            if key not in covered:
                weekday = key[0]
                covered[key] = np.any((starts[weekday] <= start) & (end <= ends[weekday]), axis=0)
            ok[t] &= covered[key]


def _last_day_ordinal(p: PreparedTask) -> int:
    return (p.segments[-1][0] if p.segments else p.spec.starts_at.date()).toordinal()


def _require_certificates(ok: np.ndarray, prepared: list[PreparedTask], candidates: Sequence[Candidate]) -> None:
    needs: dict[str, list[int]] = defaultdict(list)
    for t, p in enumerate(prepared):
        for kind in p.spec.required_certificates:
            needs[kind].append(t)
    for kind, task_list in needs.items():
        # Ordinals start at 1: a missing certificate (-1) is expired before any day.
        expires = np.array(
            [c.certificates[kind].toordinal() if kind in c.certificates else -1 for c in candidates], dtype=np.int64
        )
        last_day = np.array([_last_day_ordinal(prepared[t]) for t in task_list], dtype=np.int64)
        ok[np.array(task_list)] &= expires[None, :] >= last_day[:, None]


def _exclude(
    ok: np.ndarray,
    prepared: list[PreparedTask],
    candidates: Sequence[Candidate],
    exclude: Mapping[Hashable, Collection[Hashable]],
) -> None:
    positions: dict[Hashable, list[int]] = defaultdict(list)
    for j, c in enumerate(candidates):
        positions[c.volunteer_id].append(j)
    for t, p in enumerate(prepared):
        for volunteer in exclude.get(p.spec.task_id, ()):
            ok[t, positions.get(volunteer, [])] = False


# --- rules on the surviving pairs ----------------------------------------------------------------------------


def _not_on_day_off(
    task_index: np.ndarray, candidate_index: np.ndarray, prepared: list[PreparedTask], candidates: Sequence[Candidate]
) -> np.ndarray:
    keep = np.ones(len(task_index), dtype=bool)
    off = np.array(
        [j * _DATE_KEY + day.toordinal() for j, c in enumerate(candidates) for day in c.days_off], dtype=np.int64
    )
    if not len(off) or not len(task_index):
        return keep
    most = max(len(p.segments) for p in prepared)
    for n in range(most):
        # The n-th local day of each task (0 where the task has fewer days: no date matches it).
        day = np.array([p.segments[n][0].toordinal() if n < len(p.segments) else 0 for p in prepared])
        keep &= ~np.isin(candidate_index * _DATE_KEY + day[task_index], off)
    return keep


def _pairs_per_entry(candidate_index: np.ndarray, entry_candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Join entries (committed windows) to the pairs of the same candidate: (entry no, pair no) per match."""
    order = np.argsort(candidate_index, kind="stable")
    sorted_candidates = candidate_index[order]
    lo = np.searchsorted(sorted_candidates, entry_candidate, side="left")
    counts = np.searchsorted(sorted_candidates, entry_candidate, side="right") - lo
    entry = np.repeat(np.arange(len(entry_candidate)), counts)
    within = np.arange(len(entry)) - np.repeat(np.cumsum(counts) - counts, counts)
    return entry, order[np.repeat(lo, counts) + within]


def _no_committed_overlap(
    task_index: np.ndarray, candidate_index: np.ndarray, prepared: list[PreparedTask], candidates: Sequence[Candidate]
) -> np.ndarray:
    keep = np.ones(len(task_index), dtype=bool)
    held = [(j, micros(s), micros(e)) for j, c in enumerate(candidates) for s, e in c.committed]
    if not held or not len(task_index):
        return keep
    held_candidate, held_start, held_end = (np.array(x, dtype=np.int64) for x in zip(*held, strict=True))
    entry, pair = _pairs_per_entry(candidate_index, held_candidate)
    task_start = np.array([micros(p.spec.starts_at) for p in prepared], dtype=np.int64)[task_index[pair]]
    task_end = np.array([micros(p.spec.ends_at) for p in prepared], dtype=np.int64)[task_index[pair]]
    clash = (held_start[entry] < task_end) & (task_start < held_end[entry])
    keep[pair[clash]] = False
    return keep


def _within_weekly_cap(
    task_index: np.ndarray, candidate_index: np.ndarray, prepared: list[PreparedTask], candidates: Sequence[Candidate]
) -> np.ndarray:
    keep = np.ones(len(task_index), dtype=bool)
    capped = np.array([c.weekly_cap_minutes is not None for c in candidates], dtype=bool)
    if not capped.any() or not len(task_index):
        return keep
    cap = np.array([c.weekly_cap_minutes or 0 for c in candidates], dtype=np.int64)
    task_minutes = np.array([p.minutes for p in prepared], dtype=np.int64)
    task_week = np.array([p.week.toordinal() for p in prepared], dtype=np.int64)
    task_zone = [p.spec.timezone for p in prepared]
    held_minutes = np.zeros(len(task_index), dtype=np.int64)
    for zone in set(task_zone):
        # Minutes already held per (volunteer, local week of this zone), as the scalar rule adds them up.
        held: dict[int, int] = defaultdict(int)
        for j, c in enumerate(candidates):
            if c.weekly_cap_minutes is not None:
                for s, e in c.committed:
                    held[j * _DATE_KEY + week_of(s, zone).toordinal()] += minutes_between(s, e)
        if not held:
            continue
        keys = np.array(sorted(held), dtype=np.int64)
        minutes = np.array([held[k] for k in keys.tolist()], dtype=np.int64)
        in_zone = np.array([z == zone for z in task_zone], dtype=bool)[task_index]
        pair_key = candidate_index[in_zone] * _DATE_KEY + task_week[task_index[in_zone]]
        at = np.minimum(np.searchsorted(keys, pair_key), len(keys) - 1)
        held_minutes[in_zone] = np.where(keys[at] == pair_key, minutes[at], 0)
    over = held_minutes + task_minutes[task_index] > cap[candidate_index]
    return keep & ~(capped[candidate_index] & over)


# --- score ---------------------------------------------------------------------------------------------------


def _points(
    task_index: np.ndarray, candidate_index: np.ndarray, prepared: list[PreparedTask], candidates: Sequence[Candidate]
) -> np.ndarray:
    """`rules.score(...).score` for every pair: proximity + fairness + reliability (+ language), at least 1."""
    personal = np.array(
        [fairness_points(c.recent_minutes) + reliability_points(c.completed, c.no_shows) for c in candidates],
        dtype=np.int64,
    )
    grid_code: dict[Hashable, int] = {}
    task_grid = np.array(
        [-1 if p.spec.grid_id is None else grid_code.setdefault(p.spec.grid_id, len(grid_code)) for p in prepared]
    )
    home_grid = np.array(
        [-1 if c.home_grid_id is None else grid_code.setdefault(c.home_grid_id, len(grid_code)) for c in candidates]
    )
    pair_task_grid, pair_home_grid = task_grid[task_index], home_grid[candidate_index]
    proximity = np.where(
        pair_task_grid < 0,
        PROXIMITY_UNKNOWN,
        np.where(
            pair_home_grid < 0, PROXIMITY_NO_HOME, np.where(pair_home_grid == pair_task_grid, PROXIMITY_SAME_GRID, 0)
        ),
    )
    total = proximity + personal[candidate_index]
    languages = sorted({p.spec.language for p in prepared if p.spec.language})
    if languages:
        task_language = np.array([languages.index(p.spec.language) if p.spec.language else -1 for p in prepared])
        speaks = np.array([[lang in c.languages for c in candidates] for lang in languages], dtype=bool)
        pair_language = task_language[task_index]
        bonus = (pair_language >= 0) & speaks[np.maximum(pair_language, 0), candidate_index]
        total = total + LANGUAGE_BONUS * bonus
    return np.maximum(1, total).astype(np.int64)
