"""The matcher's rules and solver as pure functions: each hard rule keeps an ineligible volunteer out, and the
batch solver's total equals a brute-force optimum on small random cases."""

from __future__ import annotations

import itertools
import random
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


def _brute_force(tasks: list[BatchTask], edges: dict) -> int:
    """Best total under the same model: places per task, one task per volunteer per overlap group."""
    groups = matching.overlap_groups(tasks)
    group_of = {tasks[i].task_id: g for g, grp in enumerate(groups) for i in grp}
    slots = [t.task_id for t in tasks for _ in range(t.places)]
    best = 0

    def options(tid):
        return [None, *edges.get(tid, {}).keys()]

    for choice in itertools.product(*(options(tid) for tid in slots)):
        seen_task: set = set()
        seen_group: set = set()
        ok, value = True, 0
        for tid, v in zip(slots, choice, strict=True):
            if v is None:
                continue
            if (tid, v) in seen_task or (v, group_of[tid]) in seen_group:
                ok = False
                break
            seen_task.add((tid, v))
            seen_group.add((v, group_of[tid]))
            value += edges[tid][v]
        if ok:
            best = max(best, value)
    return best


def _random_case(seed: int) -> tuple[list[BatchTask], dict[Any, dict[Any, int]]]:
    rng = random.Random(seed)
    base = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    tasks = []
    for i in range(rng.randint(1, 5)):
        start = base + timedelta(hours=rng.randint(0, 6))
        tasks.append(BatchTask(f"t{i}", start, start + timedelta(hours=rng.randint(1, 3)), rng.randint(1, 3)))
    # keep the brute force small
    while sum(t.places for t in tasks) > 6:
        tasks.pop()
    volunteers = [f"v{j}" for j in range(rng.randint(1, 4))]
    edges: dict[Any, dict[Any, int]] = {
        t.task_id: {v: rng.randint(1, 100) for v in volunteers if rng.random() < 0.7} for t in tasks
    }
    return tasks, edges


def test_batch_assignment_equals_brute_force_optimum_on_random_small_cases():
    for seed in range(400):
        tasks, edges = _random_case(seed)
        got = matching.solve(tasks, edges)
        assert matching.total(got) == _brute_force(tasks, edges), f"seed {seed}"
        # and the answer is feasible: places respected, scores real, no volunteer twice in a group
        groups = matching.overlap_groups(tasks)
        group_of = {tasks[i].task_id: g for g, grp in enumerate(groups) for i in grp}
        per_task: dict = {}
        seen = set()
        for tid, v, points in got:
            assert edges[tid][v] == points
            per_task[tid] = per_task.get(tid, 0) + 1
            assert (v, group_of[tid]) not in seen, f"seed {seed}"
            seen.add((v, group_of[tid]))
        for t in tasks:
            assert per_task.get(t.task_id, 0) <= t.places


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
