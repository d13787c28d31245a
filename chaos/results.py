"""The figures of a chaos run, written to chaos/results/latest.json and latest.md ("what Linli survives").

Each part records its counts and times as it runs; a run of some parts only replaces those parts' figures and
keeps the others' (each part says when it ran). Times come from a shared 2-core machine with other test runs
beside this one: they are noisy, and no test asserts on them.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# part key -> (title in the table, what is claimed)
PARTS: dict[str, tuple[str, str]] = {
    "burst": ("1. Booking burst", "0 overbookings, every 201 in the database, every event relayed and delivered once"),
    "redis_down": ("2. Redis down 30 s mid-burst", "0 bookings refused for Redis, 0 events lost, each delivered once"),
    "postgres_restart": ("3. PostgreSQL restarted under load", "503 problem+json while down, serving again ≤ 10 s"),
    "worker_kill": ("4. Worker SIGKILL ×3 mid-settlement and mid-relay", "ledger exact, each booking settled once"),
    "fuzzing": ("5. Schemathesis fuzzing", "0 5xx, 0 response schema violations"),
    "bola": ("6. BOLA matrix", "every outsider 403/404, database unchanged"),
    "abuse": ("7. Abuse", "429 + Retry-After, 413, slow-loris cut, 1 MB string → 4xx"),
}


@dataclass
class Results:
    directory: Path
    figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, dict[str, str]] = field(default_factory=dict)

    def record(self, part: str, **figures: Any) -> None:
        assert part in PARTS, part
        self.figures.setdefault(part, {}).update(figures)

    def outcome(self, module: str, test: str, outcome: str) -> None:
        part = next((p for p in PARTS if module.endswith(p) or f"_{p}" in module), None)
        if part is not None:
            self.outcomes.setdefault(part, {})[test] = outcome

    def write(self, *, full: bool) -> None:
        if not self.outcomes:
            return
        path = self.directory / "latest.json"
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"parts": {}}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for part, tests in self.outcomes.items():
            data["parts"][part] = {
                "run_at": now,
                "full": full,
                "passed": all(o == "passed" for o in tests.values()),
                "tests": tests,
                "figures": self.figures.get(part, {}),
            }
        data["machine"] = {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "note": "a shared 2-core machine with other engineers' tests running beside: times are noisy",
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
        (self.directory / "latest.md").write_text(markdown(data))
        update_readme(self.directory.parent.parent / "README.md", data)


def _n(figures: dict[str, Any], key: str) -> str:
    return _fmt(figures.get(key, "?"))


# part -> the figures that matter, in a sentence for the README's table (the whole set is in latest.md)
SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "burst": lambda f: (
        f"{_n(f, 'requests')} requests by {_n(f, 'residents')} residents for {_n(f, 'places')} places:"
        f" {_n(f, 'answered_201')} × 201, {_n(f, 'answered_409_slot_full')} × 409, {_n(f, 'other_answers')} other;"
        f" {_n(f, 'overbooked_slots')} slots overbooked; {_n(f, 'events_relayed_once')} events each delivered once;"
        f" p99 {_n(f, 'p99_ms')} ms"
    ),
    "redis_down": lambda f: (
        f"Redis killed for {_n(f, 'redis_down_seconds')} s while"
        f" {_n(f, 'requests_sent_while_down')} requests were sent: {_n(f, 'refused_for_redis')} refused for it,"
        " sign-in degrades open;"
        f" {_n(f, 'outbox_backlog_when_redis_returned')} events waited in the outbox and"
        f" {_n(f, 'events_the_killed_redis_held_sent_again')} the killed Redis held were sent again; all"
        f" {_n(f, 'events_delivered_once')} delivered once"
        f" {_n(f, 'seconds_from_redis_return_to_all_delivered')} s after"
    ),
    "postgres_restart": lambda f: (
        f"PostgreSQL stopped {_n(f, 'postgres_down_seconds')} s under 100 bookings/s:"
        f" {_n(f, 'answered_503_problem_json')} × 503 problem+json"
        f" (slowest {_n(f, 'slowest_answer_while_down_ms')} ms),"
        f" {_n(f, 'answered_500')} × 500, {_n(f, 'requests_without_an_answer')} unanswered; booking again"
        f" {_n(f, 'seconds_from_postgres_return_to_first_booking')} s after its return, {_n(f, 'api_restarts')} API"
        f" restarts, {_n(f, 'bookings_half_written')} bookings half-written"
    ),
    "worker_kill": lambda f: (
        f"{_n(f, 'sigkills')} SIGKILLs while settling {_n(f, 'bookings')} bookings of"
        f" {_n(f, 'partners')} partners (at {f.get('lines_settled_at_each_kill', '?')} lines) and relaying"
        f" {_n(f, 'sign_ups_during')} sign-ups: {_n(f, 'bookings_settled_twice')} settled twice,"
        f" {_n(f, 'unbalanced_transactions')} unbalanced transactions, `linli reconcile` exit"
        f" {_n(f, 'reconcile_exit_code')}, each sign-up welcomed once; all settled"
        f" {_n(f, 'seconds_from_last_kill_to_settled')} s after the last kill"
    ),
    "fuzzing": lambda f: (
        f"{_n(f, 'requests_admin')} requests as a platform admin and {_n(f, 'requests_resident')} as a"
        f" resident over {_n(f, 'operations')} operations: {_n(f, 'answers_5xx')} × 5xx,"
        f" {_n(f, 'schema_violations')} schema violations"
    ),
    "bola": lambda f: (
        f"{_n(f, 'calls')} requests over {_n(f, 'routes_with_ids')} routes with ids by"
        f" {_n(f, 'callers')} kinds of outsider: {_n(f, 'refused_403')} × 403, {_n(f, 'refused_404')} × 404,"
        f" {_n(f, 'allowed_by_rule')} open by a stated rule; {_n(f, 'rows_changed')} rows changed"
    ),
    "abuse": lambda f: (
        f"{_n(f, 'guesses_allowed_per_phone')} guesses per phone, {_n(f, 'guesses_allowed_per_address')}"
        f" per address, then 429 with Retry-After (30 fired at once: {_n(f, 'of_those_checked')} checked); 2 MB bodies"
        f" 413 with or without a length; a 1 MB string {f.get('string_of_1_mb', '?')};"
        f" {_n(f, 'slow_loris_connections')} slow-loris connections cut in ≤ {_n(f, 'slowest_cut_seconds_body')} s"
        " while others were served"
    ),
}


def readme_table(data: dict[str, Any]) -> str:
    """The README's "What Linli survives" table: one row a fault, its outcome and figures, and when it ran."""
    lines = ["| fault | outcome | figures of the latest run | ran |", "|---|---|---|---|"]
    for part, (title, claim) in PARTS.items():
        entry = data["parts"].get(part)
        if entry is None:
            lines.append(f"| {title} | not run | {claim} | |")
            continue
        result = "survived" if entry["passed"] else "**FAILED**"
        ran = entry["run_at"][:10] + (" (--full)" if entry.get("full") else "")
        lines.append(f"| {title} | {result} | {SUMMARIES[part](entry['figures'])} | {ran} |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, data: dict[str, Any]) -> None:
    """Replace the table between the README's chaos markers, if it has them."""
    if not readme.exists():
        return
    text = readme.read_text()
    begin, end = "<!-- chaos:begin -->\n", "<!-- chaos:end -->"
    if begin not in text or end not in text:
        return
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(end)
    readme.write_text(head + begin + readme_table(data) + end + tail)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def markdown(data: dict[str, Any]) -> str:
    lines = [
        "# What Linli survives",
        "",
        "Figures of the latest `make chaos` run (chaos/), against `linli serve --workers 2` and `linli worker`",
        "on a PostgreSQL cluster and a Redis of the run's own. Times are from a shared 2-core machine with other",
        "test runs beside it: noisy, and never asserted on.",
        "",
        "| fault | claim | result | figures | ran |",
        "|---|---|---|---|---|",
    ]
    for part, (title, claim) in PARTS.items():
        entry = data["parts"].get(part)
        if entry is None:
            lines.append(f"| {title} | {claim} | not run | | |")
            continue
        figures = "; ".join(f"{k.replace('_', ' ')}: {_fmt(v)}" for k, v in entry["figures"].items())
        result = "passed" if entry["passed"] else "FAILED"
        lines.append(f"| {title} | {claim} | {result} | {figures} | {entry['run_at']} |")
    return "\n".join(lines) + "\n"
