"""The matcher's rules and solver as pure functions: each hard rule keeps an ineligible volunteer out, and the
batch solver's total equals a true brute-force optimum (every assignment enumerated) on small random cases."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from volunteers import matching
from volunteers.matching import BatchTask, Candidate, TaskSpec

# Monday 2026-11-23 09:00-11:00 Shanghai time = 01:00-03:00 UTC
MON_9 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
MON_11 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def _task(**kw: Any) -> TaskSpec:
    base: dict[str, Any] = dict(task_id="t", starts_at=MON_9, ends_at=MON_11, required_skills={"meal_delivery": 2})
    base.update(kw)
    return TaskSpec(**base)


def _volunteer(**kw: Any) -> Candidate:
    base: dict[str, Any] = dict(volunteer_id="v", skills={"meal_delivery": 3}, availability=[(1, 8 * 60, 12 * 60)])
    base.update(kw)
    return Candidate(**base)


def test_a_qualified_available_volunteer_is_eligible():
    assert matching.ineligible_reason(_task(), _volunteer()) is None


def test_skill_below_minimum_level_is_refused():
    assert matching.ineligible_reason(_task(), _volunteer(skills={"meal_delivery": 1})) == "skill_level:meal_delivery"
    assert matching.ineligible_reason(_task(), _volunteer(skills={"haircut": 5})) == "skill_missing:meal_delivery"


def test_availability_must_cover_the_whole_window_in_local_time():
    # Available 09:30-12:00 local: misses the first half hour.
    assert matching.ineligible_reason(_task(), _volunteer(availability=[(1, 570, 720)])) == "unavailable"
    # Available on Tuesday only.
    assert matching.ineligible_reason(_task(), _volunteer(availability=[(2, 0, 1440)])) == "unavailable"
    # Two adjacent windows join up.
    joined = _volunteer(availability=[(1, 540, 600), (1, 600, 660)])
    assert matching.ineligible_reason(_task(), joined) is None
    # The same UTC hours are 01:00-03:00 in UTC: a 08:00-12:00 UTC volunteer is not available then.
    assert matching.ineligible_reason(_task(timezone="UTC"), _volunteer()) == "unavailable"


def test_a_day_off_makes_a_volunteer_unavailable():
    assert matching.ineligible_reason(_task(), _volunteer(days_off=frozenset({date(2026, 11, 23)}))) == "day_off"


def test_an_overlapping_assignment_is_refused():
    held = [(MON_9 + timedelta(hours=1), MON_11 + timedelta(hours=1))]
    assert matching.ineligible_reason(_task(), _volunteer(committed=held)) == "overlap"
    back_to_back = [(MON_11, MON_11 + timedelta(hours=1))]
    assert matching.ineligible_reason(_task(), _volunteer(committed=back_to_back)) is None


def test_a_certificate_expired_before_the_task_day_is_refused():
    task = _task(required_certificates=frozenset({"first_aid"}))
    assert matching.ineligible_reason(task, _volunteer()) == "certificate_missing:first_aid"
    expired = _volunteer(certificates={"first_aid": date(2026, 11, 22)})
    assert matching.ineligible_reason(task, expired) == "certificate_expired:first_aid"
    valid_that_day = _volunteer(certificates={"first_aid": date(2026, 11, 23)})
    assert matching.ineligible_reason(task, valid_that_day) is None


def test_weekly_cap_counts_hours_already_held_that_week():
    # 3 h held on Tuesday + 2 h task > 4 h cap.
    tuesday = MON_9 + timedelta(days=1)
    v = _volunteer(weekly_cap_minutes=240, committed=[(tuesday, tuesday + timedelta(hours=3))])
    assert matching.ineligible_reason(_task(), v) == "weekly_cap"
    # Held the week before: does not count.
    last_week = MON_9 - timedelta(days=3)
    v = _volunteer(weekly_cap_minutes=240, committed=[(last_week, last_week + timedelta(hours=3))])
    assert matching.ineligible_reason(_task(), v) is None


def test_score_prefers_same_grid_fewer_recent_hours_and_reliability_and_explains_itself():
    task = _task(grid_id="g1", language="粤语")
    near = matching.score(task, _volunteer(home_grid_id="g1", languages=frozenset({"粤语"})))
    far = matching.score(task, _volunteer(home_grid_id="g2"))
    busy = matching.score(task, _volunteer(home_grid_id="g1", recent_minutes=40 * 60))
    flaky = matching.score(task, _volunteer(home_grid_id="g1", completed=1, no_shows=5))
    assert near.score > far.score
    assert near.score > busy.score
    assert near.score > flaky.score
    assert {r["factor"] for r in near.reasons} == {"proximity", "fairness", "reliability", "language"}
    assert sum(r["points"] for r in near.reasons) == near.score


def test_rank_never_lists_an_ineligible_volunteer():
    ok = _volunteer(volunteer_id="ok")
    low = _volunteer(volunteer_id="low", skills={"meal_delivery": 1})
    ranked = matching.rank(_task(), [low, ok])
    assert [s.volunteer_id for s in ranked] == ["ok"]


# --- batch solver against brute force -----------------------------------------------------------------------


Case = tuple[list[BatchTask], dict[Any, dict[Any, int]], dict[tuple[Any, date], int | None]]


def _overlaps(a: BatchTask, b: BatchTask) -> bool:
    return a.starts_at < b.ends_at and b.starts_at < a.ends_at


def _feasible(tasks: list[BatchTask], pairs: list[tuple[Any, Any]], caps: dict[tuple[Any, date], int | None]) -> bool:
    """The real rules, checked directly: places per task, no task twice, no two intersecting windows, caps."""
    by_id = {t.task_id: t for t in tasks}
    if len(set(pairs)) != len(pairs):
        return False
    for t in tasks:
        if sum(1 for tid, _ in pairs if tid == t.task_id) > t.places:
            return False
    held: dict[Any, list[BatchTask]] = {}
    for tid, v in pairs:
        held.setdefault(v, []).append(by_id[tid])
    for v, mine in held.items():
        if any(_overlaps(x, y) for x, y in itertools.combinations(mine, 2)):
            return False
        used: dict[date, int] = {}
        for t in mine:
            if t.week is not None:
                used[t.week] = used.get(t.week, 0) + t.minutes
        for week, minutes in used.items():
            left = caps.get((v, week))
            if left is not None and minutes > left:
                return False
    return True


def _options(t: BatchTask, edges: dict[Any, dict[Any, int]]) -> list[tuple[Any, ...]]:
    eligible = list(edges.get(t.task_id, {}))
    return [c for size in range(t.places + 1) for c in itertools.combinations(eligible, size)]


def _brute_force(tasks: list[BatchTask], edges: dict[Any, dict[Any, int]], caps: dict) -> int:
    """Best total over EVERY assignment (each task: any subset of its eligible volunteers up to its places)."""
    best = 0
    for choice in itertools.product(*(_options(t, edges) for t in tasks)):
        pairs = [(t.task_id, v) for t, chosen in zip(tasks, choice, strict=True) for v in chosen]
        value = sum(edges[tid][v] for tid, v in pairs)
        if value > best and _feasible(tasks, pairs, caps):
            best = value
    return best


def _random_case(seed: int) -> Case:
    """<= 6 volunteers, <= 5 tasks with half-hour windows over a few hours (chains are common), places 1-2,
    some tasks a week later, and weekly caps small enough to bind."""
    rng = random.Random(seed)
    base = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Monday 09:00 Shanghai
    tasks = []
    for i in range(rng.randint(1, 5)):
        start = base + timedelta(minutes=30 * rng.randint(0, 10), days=7 * (rng.random() < 0.2))
        minutes = 30 * rng.randint(1, 6)
        week = matching.week_of(start, "Asia/Shanghai")
        tasks.append(BatchTask(f"t{i}", start, start + timedelta(minutes=minutes), rng.randint(1, 2), week, minutes))
    volunteers = [f"v{j}" for j in range(rng.randint(1, 6))]
    edges: dict[Any, dict[Any, int]] = {
        t.task_id: {v: rng.randint(1, 100) for v in volunteers if rng.random() < 0.6} for t in tasks
    }
    caps: dict[tuple[Any, date], int | None] = {
        (v, t.week): rng.choice([None, None, 60, 120, 150, 240, 300]) for v in volunteers for t in tasks if t.week
    }
    # keep the enumeration small
    while len(tasks) > 1 and _count(tasks, edges) > 20_000:
        tasks.pop()
    return tasks, edges, caps


def _count(tasks: list[BatchTask], edges: dict[Any, dict[Any, int]]) -> int:
    n = 1
    for t in tasks:
        n *= len(_options(t, edges))
    return n


def _cap_left(caps: dict[tuple[Any, date], int | None]) -> Callable[[Any, date], int | None]:
    return lambda v, week: caps.get((v, week))


def test_batch_assignment_equals_a_true_brute_force_optimum_on_random_small_cases():
    chained = capped = 0
    for seed in range(300):
        tasks, edges, caps = _random_case(seed)
        got = matching.solve(tasks, edges, cap_left=_cap_left(caps))
        assert matching.total(got) == _brute_force(tasks, edges, caps), f"seed {seed}"
        assert _feasible(tasks, [(tid, v) for tid, v, _ in got], caps), f"seed {seed}"
        for tid, v, points in got:
            assert edges[tid][v] == points
        # the cases exercise what the old per-group model got wrong: one volunteer with two tasks of one group
        group_of = {tasks[i].task_id: g for g, grp in enumerate(matching.overlap_groups(tasks)) for i in grp}
        per_group = [(v, group_of[tid]) for tid, v, _ in got]
        chained += len(per_group) != len(set(per_group))
        capped += matching.total(got) < matching.total(matching.solve(tasks, edges))
    assert chained >= 5 and capped >= 5, (chained, capped)


def test_one_volunteer_takes_both_ends_of_a_chain_of_overlaps():
    # A 09-11 overlaps B 10-12, B overlaps C 11-13, A and C only touch: v does A and C, w does B.
    start = datetime(2026, 11, 23, 1, tzinfo=UTC)
    a = BatchTask("A", start, start + timedelta(hours=2), 1)
    b = BatchTask("B", start + timedelta(hours=1), start + timedelta(hours=3), 1)
    c = BatchTask("C", start + timedelta(hours=2), start + timedelta(hours=4), 1)
    edges = {"A": {"v": 50}, "B": {"v": 60, "w": 10}, "C": {"v": 50}}
    got = matching.solve([a, b, c], edges)
    assert sorted(got) == [("A", "v", 50), ("B", "w", 10), ("C", "v", 50)]
    # v alone: A + C (100) beats B (60), and v never holds two intersecting tasks
    got = matching.solve([a, b, c], {"A": {"v": 50}, "B": {"v": 60}, "C": {"v": 50}})
    assert sorted(got) == [("A", "v", 50), ("C", "v", 50)]


def test_a_binding_weekly_cap_picks_the_best_tasks_that_fit_not_the_earliest():
    start = datetime(2026, 11, 23, 1, tzinfo=UTC)
    week = matching.week_of(start, "Asia/Shanghai")
    early = BatchTask("early", start, start + timedelta(hours=3), 1, week, 180)
    late1 = BatchTask("late1", start + timedelta(hours=5), start + timedelta(hours=7), 1, week, 120)
    late2 = BatchTask("late2", start + timedelta(days=1), start + timedelta(days=1, hours=2), 1, week, 120)
    next_week = BatchTask(
        "next", start + timedelta(days=7), start + timedelta(days=7, hours=3), 1, week + timedelta(7), 180
    )
    edges = {"early": {"v": 70}, "late1": {"v": 40}, "late2": {"v": 40}, "next": {"v": 5}}
    got = matching.solve([early, late1, late2, next_week], edges, cap_left=lambda v, w: 240)
    assert sorted(got) == [("late1", "v", 40), ("late2", "v", 40), ("next", "v", 5)]


def test_overlap_groups_are_connected_components_of_intersecting_windows():
    base = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)

    def bt(name: str, start_h: int, end_h: int) -> BatchTask:
        return BatchTask(name, base + timedelta(hours=start_h), base + timedelta(hours=end_h), 1)

    # a-b overlap, b-c overlap (a and c do not): one group by chaining; d touches c's end: separate
    tasks = [bt("c", 3, 5), bt("a", 0, 2), bt("d", 5, 6), bt("b", 1, 4)]
    groups = [[tasks[i].task_id for i in g] for g in matching.overlap_groups(tasks)]
    assert groups == [["a", "b", "c"], ["d"]]


def test_greedy_can_lose_where_the_solver_does_not():
    # v1 is best for both tasks; greedy gives v1 the first and leaves t2 to nobody.
    start = datetime(2026, 11, 23, 1, tzinfo=UTC)
    tasks = [
        BatchTask("t1", start, start + timedelta(hours=2), 1),
        BatchTask("t2", start, start + timedelta(hours=2), 1),
    ]
    edges = {"t1": {"v1": 90, "v2": 80}, "t2": {"v1": 85}}
    assert matching.total(matching.greedy(tasks, edges)) == 90
    assert matching.total(matching.solve(tasks, edges)) == 80 + 85
    assert matching.total(matching.greedy(tasks, edges)) < 80 + 85


def test_non_overlapping_tasks_may_share_a_volunteer_but_overlapping_ones_may_not():
    start = datetime(2026, 11, 23, 1, tzinfo=UTC)
    morning = BatchTask("am", start, start + timedelta(hours=2), 1)
    clash = BatchTask("clash", start + timedelta(hours=1), start + timedelta(hours=3), 1)
    evening = BatchTask("pm", start + timedelta(hours=8), start + timedelta(hours=9), 1)
    edges = {"am": {"v": 10}, "clash": {"v": 10}, "pm": {"v": 10}}
    got = matching.solve([morning, clash, evening], edges)
    assert matching.total(got) == 20
    assert ("pm", "v", 10) in got


def test_weekly_cap_is_respected_across_groups_in_one_batch():
    start = datetime(2026, 11, 23, 1, tzinfo=UTC)
    week = matching.week_of(start, "Asia/Shanghai")
    tasks = [
        BatchTask(f"t{i}", start + timedelta(hours=4 * i), start + timedelta(hours=4 * i + 2), 1, week, 120)
        for i in range(3)
    ]
    edges = {t.task_id: {"v": 50} for t in tasks}
    got = matching.solve(tasks, edges, cap_left=lambda v, w: 250)
    assert len(got) == 2  # 2 x 120 min fit under 250, a third would not
