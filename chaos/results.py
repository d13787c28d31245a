"""The figures of a chaos run, written to chaos/results/latest.json and latest.md ("what Linli survives").

Each part records its counts and times as it runs; a run of some parts only replaces those parts' figures and
keeps the others' (each part says when it ran). Times come from a shared 2-core machine with other test runs
beside this one: they are noisy, and no test asserts on them.
"""

from __future__ import annotations

import json
import os
import platform
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


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
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
