"""The batch pass (`score_pairs`, numpy) admits exactly the pairs the scalar rules admit, with the same scores,
and the solver fed its arrays reaches the same optimum as an independently written MILP of the rules.

The random streets are built to hit the edges of every rule: tasks crossing local midnight (and DST in New
York), days off on either day of such a task, certificates expiring the day before / on the last day, weekly
caps reached exactly or missed by a minute, committed windows overlapping or just touching the task, unknown
grids on either side, adjacent and overlapping availability windows, and windows ending at 24:00.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from volunteers import matching
from volunteers.matching import BatchTask, Candidate, TaskSpec

ZONES = ["Asia/Shanghai", "UTC", "America/New_York"]
SKILLS = ["meal_delivery", "haircut", "escort", "repair"]
# Monday 2026-11-23 00:00 UTC; New York leaves DST on 2026-11-01, so tasks a few weeks earlier cross it.
BASE = datetime(2026, 11, 23, tzinfo=UTC)


def _task(rng: random.Random, i: int, zone: str) -> TaskSpec:
    start = BASE + timedelta(days=rng.randint(-24, 10), minutes=15 * rng.randint(0, 95), seconds=rng.choice([0, 0, 30]))
    minutes = rng.choice([30, 60, 90, 120, 180, 300, 600, 1500])  # 600 and 1500 often cross local midnight
    return TaskSpec(
        task_id=f"t{i}",
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        timezone=zone,
        required_skills={s: rng.randint(0, 4) for s in rng.sample(SKILLS, rng.randint(0, 2))},
        required_certificates=frozenset(rng.sample(["first_aid", "food_safety"], rng.choice([0, 0, 1, 2]))),
        grid_id=rng.choice([None, "g1", "g2", "g3"]),
        places=rng.randint(1, 3),
        language=rng.choice([None, None, "粤语", "闽南语"]),
    )


def _availability(rng: random.Random) -> list[tuple[int, int, int]]:
    out = []
    for _ in range(rng.randint(0, 7)):
        weekday, start = rng.randint(1, 7), 30 * rng.randint(0, 47)
        end = min(1440, start + 30 * rng.randint(1, 30))
        out.append((weekday, start, end))
        if rng.random() < 0.4:  # an adjacent or overlapping window the same day
            out.append((weekday, end - 30 * rng.randint(0, 2), min(1440, end + 30 * rng.randint(1, 12))))
    if rng.random() < 0.2:
        out.extend((weekday, 0, 1440) for weekday in rng.sample(range(1, 8), 3))
    return out


def _volunteer(rng: random.Random, j: int, tasks: list[TaskSpec]) -> Candidate:
    near = [t for t in tasks if rng.random() < 0.5]
    local_days = {
        d for t in near for d, _, _ in matching.local_segments(t.starts_at, t.ends_at, t.timezone) if rng.random() < 0.3
    }
    committed = []
    for t in near[:3]:
        shift = timedelta(minutes=rng.choice([-120, -60, 0, 30, 60, 120, 60 * 24 * 2]))
        length = t.ends_at - t.starts_at if rng.random() < 0.5 else timedelta(minutes=60)
        committed.append((t.starts_at + shift, t.starts_at + shift + length))  # overlaps, touches or misses
    certificates = {}
    for kind in ("first_aid", "food_safety"):
        if rng.random() < 0.7 and tasks:
            t = rng.choice(tasks)
            last = matching.local_segments(t.starts_at, t.ends_at, t.timezone)[-1][0]
            certificates[kind] = last + timedelta(days=rng.choice([-1, 0, 0, 1, 30]))
    cap = rng.choice([None, None, 60, 120, 300, 600])
    if near and rng.random() < 0.4:
        # A cap reached exactly by one task (or missed by a minute) given what is held that week.
        t = rng.choice(near)
        prepared = matching.prepare(t)
        held = sum(
            matching.minutes_between(s, e) for s, e in committed if matching.week_of(s, t.timezone) == prepared.week
        )
        cap = held + prepared.minutes + rng.choice([-1, 0, 0, 1])
    return Candidate(
        volunteer_id=f"v{j}",
        skills={s: rng.randint(0, 5) for s in rng.sample(SKILLS, rng.randint(0, 4))},
        availability=_availability(rng),
        days_off=frozenset(local_days),
        certificates=certificates,
        home_grid_id=rng.choice([None, "g1", "g2", "g3"]),
        weekly_cap_minutes=cap,
        committed=committed,
        recent_minutes=rng.choice([-5, 0, 600, 2399, 2400, 5000]),
        completed=rng.randint(0, 20),
        no_shows=rng.randint(0, 5),
        languages=frozenset(rng.sample(["粤语", "闽南语", "普通话"], rng.randint(0, 2))),
    )


def _street(seed: int) -> tuple[list[TaskSpec], list[Candidate], dict[Any, set[Any]]]:
    rng = random.Random(seed)
    tasks = [_task(rng, i, rng.choice(ZONES)) for i in range(rng.randint(1, 12))]
    volunteers = [_volunteer(rng, j, tasks) for j in range(rng.randint(1, 25))]
    exclude = {t.task_id: {f"v{rng.randrange(len(volunteers))}"} for t in tasks if rng.random() < 0.3}
    return tasks, volunteers, exclude


def test_the_batch_pass_admits_and_scores_exactly_like_the_scalar_rules():
    reasons: Counter[str] = Counter()
    exact_cap = crossing_midnight = 0
    for seed in range(400):
        tasks, volunteers, exclude = _street(seed)
        expected: dict[tuple[int, int], int] = {}
        for t, task in enumerate(tasks):
            prepared = matching.prepare(task)
            crossing_midnight += len(prepared.segments) > 1
            for j, v in enumerate(volunteers):
                reason = matching.ineligible_reason(prepared, v)
                reasons[(reason or "eligible").split(":")[0]] += 1
                if reason is None and v.weekly_cap_minutes is not None:
                    held = sum(
                        matching.minutes_between(s, e)
                        for s, e in v.committed
                        if matching.week_of(s, task.timezone) == prepared.week
                    )
                    exact_cap += held + prepared.minutes == v.weekly_cap_minutes
                if reason is None and v.volunteer_id not in exclude.get(task.task_id, ()):
                    expected[(t, j)] = matching.score(prepared, v).score
        pairs = matching.score_pairs(tasks, volunteers, exclude=exclude)
        got = dict(
            zip(
                zip(pairs.task_index.tolist(), pairs.candidate_index.tolist(), strict=True),
                pairs.points.tolist(),
                strict=True,
            )
        )
        assert got == expected, f"seed {seed}"
        assert len(got) == len(pairs)  # no pair twice
    # Every rule refused someone and many pairs passed, so the comparison covered each of them.
    for code in ("eligible", "skill_missing", "skill_level", "unavailable", "day_off", "overlap"):
        assert reasons[code] >= 20, reasons
    for code in ("certificate_missing", "certificate_expired", "weekly_cap"):
        assert reasons[code] >= 20, reasons
    assert exact_cap >= 5 and crossing_midnight >= 50, (exact_cap, crossing_midnight)


def test_a_night_shift_needs_both_evenings_and_no_day_off_on_the_second_date():
    # 22:00 Monday to 02:00 Tuesday in Shanghai.
    start = datetime(2026, 11, 23, 14, tzinfo=UTC)
    task = TaskSpec(task_id="night", starts_at=start, ends_at=start + timedelta(hours=4))
    both = Candidate(volunteer_id="both", availability=[(1, 1200, 1440), (2, 0, 180)])
    monday_only = Candidate(volunteer_id="monday", availability=[(1, 1200, 1440)])
    off_tuesday = Candidate(
        volunteer_id="off", availability=[(1, 1200, 1440), (2, 0, 180)], days_off=frozenset({date(2026, 11, 24)})
    )
    street = [both, monday_only, off_tuesday]
    assert matching.score_pairs([task], street).edges([task], street) == {
        "night": {"both": matching.score(task, both).score}
    }


def test_an_empty_street_has_no_pairs():
    task = TaskSpec(task_id="t", starts_at=BASE, ends_at=BASE + timedelta(hours=1))
    assert len(matching.score_pairs([], [Candidate(volunteer_id="v")])) == 0
    assert len(matching.score_pairs([task], [])) == 0


# --- the solver on the batch pass's arrays, against an independent MILP ---------------------------------------


def _independent_optimum(batch: list[BatchTask], edges: dict[Any, dict[Any, int]], caps: dict[Any, int | None]) -> int:
    """x[t,v] in {0,1}; per task <= places; per volunteer and task start, <= 1 task containing it; per volunteer
    and week, minutes <= cap. Written without the solver's reductions, straight from the rules."""
    var = [(i, v, p) for i, t in enumerate(batch) for v, p in edges[t.task_id].items()]
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    upper: list[float] = []

    def row(members: list[int], weights: list[float], bound: float) -> None:
        rows.extend([len(upper)] * len(members))
        cols.extend(members)
        vals.extend(weights)
        upper.append(bound)

    for i, t in enumerate(batch):
        row([k for k, (ti, _, _) in enumerate(var) if ti == i], [1.0] * sum(1 for x in var if x[0] == i), t.places)
    mine: dict[Any, list[int]] = defaultdict(list)
    for k, (_, v, _) in enumerate(var):
        mine[v].append(k)
    for v, ks in mine.items():
        for s in {batch[var[k][0]].starts_at for k in ks}:
            inside = [k for k in ks if batch[var[k][0]].starts_at <= s < batch[var[k][0]].ends_at]
            row(inside, [1.0] * len(inside), 1)
        if caps[v] is not None:
            for week in {batch[var[k][0]].week for k in ks}:
                in_week = [k for k in ks if batch[var[k][0]].week == week]
                row(in_week, [float(batch[var[k][0]].minutes) for k in in_week], caps[v])  # type: ignore[arg-type]
    if not var:
        return 0
    a = coo_matrix((vals, (rows, cols)), shape=(len(upper), len(var))).tocsr()
    weights = [p for _, _, p in var]
    res = milp(
        -np.array(weights, dtype=float),
        constraints=LinearConstraint(a, -np.inf, np.array(upper)),
        integrality=np.ones(len(var)),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.5 / (1 + sum(weights))},
    )
    assert res.status == 0, res.message
    return round(-res.fun)


def test_the_solver_on_the_batch_arrays_reaches_the_independent_optimum():
    for seed in range(40):
        rng = random.Random(1000 + seed)
        # A crowded fortnight: many overlapping and chained tasks per volunteer, caps that bind.
        tasks = []
        for i in range(rng.randint(10, 40)):
            start = BASE + timedelta(days=rng.choice([0, 1, 2, 7, 8]), minutes=30 * rng.randint(16, 40))
            tasks.append(
                TaskSpec(
                    task_id=f"t{i}",
                    starts_at=start,
                    ends_at=start + timedelta(minutes=rng.choice([60, 90, 120, 180])),
                    required_skills={s: rng.randint(1, 3) for s in rng.sample(SKILLS, rng.randint(0, 1))},
                    grid_id=rng.choice([None, "g1", "g2"]),
                    places=rng.randint(1, 3),
                )
            )
        volunteers = [
            Candidate(
                volunteer_id=f"v{j}",
                skills={s: rng.randint(1, 4) for s in rng.sample(SKILLS, rng.randint(1, 4))},
                availability=[(d, 0, 1440) for d in range(1, 8)],
                home_grid_id=rng.choice([None, "g1", "g2"]),
                weekly_cap_minutes=rng.choice([None, 120, 180, 300, 600]),
                recent_minutes=rng.randint(0, 3000),
                completed=rng.randint(0, 10),
                no_shows=rng.randint(0, 3),
            )
            for j in range(rng.randint(5, 30))
        ]
        prepared = [matching.prepare(t) for t in tasks]
        batch = [matching.batch_task(p) for p in prepared]
        pairs = matching.score_pairs(prepared, volunteers)
        caps = {v.volunteer_id: v.weekly_cap_minutes for v in volunteers}
        got = pairs.solve(batch, volunteers, cap_left=_whole_cap_left(caps))
        edges = pairs.edges(tasks, volunteers)
        assert matching.total(got) == _independent_optimum(batch, edges, caps), f"seed {seed}"
        by_dict = matching.solve(batch, edges, cap_left=_whole_cap_left(caps))
        assert matching.total(by_dict) == matching.total(got)
        assert all(edges[t][v] == points for t, v, points in got)
        _assert_feasible(batch, got, caps)


def _whole_cap_left(caps: dict[Any, int | None]) -> Callable[[Any, date], int | None]:
    """Nothing is held yet: the whole cap is left every week."""
    return lambda volunteer, _week: caps[volunteer]


def _assert_feasible(batch: list[BatchTask], got: list[tuple[Any, Any, int]], caps: dict[Any, int | None]) -> None:
    by_id = {t.task_id: t for t in batch}
    assert len({(t, v) for t, v, _ in got}) == len(got)
    for t in batch:
        assert sum(1 for tid, _, _ in got if tid == t.task_id) <= t.places
    held: dict[Any, list[BatchTask]] = defaultdict(list)
    for tid, v, _ in got:
        held[v].append(by_id[tid])
    for v, mine in held.items():
        for a in mine:
            assert not any(b is not a and a.starts_at < b.ends_at and b.starts_at < a.ends_at for b in mine)
        cap = caps[v]
        for week in {t.week for t in mine}:
            assert cap is None or sum(t.minutes for t in mine if t.week == week) <= cap
