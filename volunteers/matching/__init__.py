"""Who may take a task, how well they fit, and the optimal assignment of many tasks at once.

Pure functions over plain data (no database, no HTTP), so the rules can be tested one by one and the solver
benchmarked at city scale. The services load candidates and tasks, call these, and write the offers.

- `rules`: the hard rules (`ineligible_reason`) and the score with its reasons (`score`), pair by pair — the
  readable reference, used for one task's ranking and for the reasons shown to staff;
- `vectorised`: the same rules and scores for every task x volunteer pair of a batch at once (numpy);
- `solver`: the exact optimum of a batch (`solve`), and the greedy baseline it is compared with.
"""

from volunteers.matching.rules import (
    FAIRNESS_HORIZON_MINUTES,
    FAIRNESS_MAX,
    LANGUAGE_BONUS,
    PROXIMITY_NO_HOME,
    PROXIMITY_SAME_GRID,
    PROXIMITY_UNKNOWN,
    RELIABILITY_MAX,
    Candidate,
    PreparedTask,
    Scored,
    TaskSpec,
    fairness_points,
    ineligible_reason,
    local_segments,
    merged_windows,
    minutes_between,
    prepare,
    rank,
    reliability_points,
    score,
    week_of,
)
from volunteers.matching.solver import BatchTask, greedy, overlap_groups, solve, solve_arrays, total
from volunteers.matching.vectorised import PairScores, batch_task, score_pairs

__all__ = [
    "FAIRNESS_HORIZON_MINUTES",
    "FAIRNESS_MAX",
    "LANGUAGE_BONUS",
    "PROXIMITY_NO_HOME",
    "PROXIMITY_SAME_GRID",
    "PROXIMITY_UNKNOWN",
    "RELIABILITY_MAX",
    "BatchTask",
    "Candidate",
    "PairScores",
    "PreparedTask",
    "Scored",
    "TaskSpec",
    "batch_task",
    "fairness_points",
    "greedy",
    "ineligible_reason",
    "local_segments",
    "merged_windows",
    "minutes_between",
    "overlap_groups",
    "prepare",
    "rank",
    "reliability_points",
    "score",
    "score_pairs",
    "solve",
    "solve_arrays",
    "total",
    "week_of",
]
