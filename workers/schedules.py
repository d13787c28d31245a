"""Periodic jobs that run once per period however many workers tick.

Each tick computes the period's slot (e.g. "2026-11" for monthly) and claims it in `schedule_runs`; only the
worker whose insert wins sends the actor. Domain packages add `Schedule`s in their tasks modules.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from linli import db, errors
from workers.actor import send

log = structlog.get_logger("linli.schedules")


@dataclass(frozen=True)
class Schedule:
    name: str
    actor_name: str
    # Maps "now" to the period this run belongs to; one run per distinct slot.
    slot: Callable[[datetime], str]


def every_seconds(seconds: int) -> Callable[[datetime], str]:
    return lambda now: str(int(now.timestamp()) // seconds)


SCHEDULES: list[Schedule] = []


def register(schedule: Schedule) -> None:
    if all(s.name != schedule.name for s in SCHEDULES):
        SCHEDULES.append(schedule)


async def tick(now: datetime | None = None) -> list[str]:
    """Claim and send every schedule whose current slot has not run yet; returns the names sent."""
    now = now or datetime.now(UTC)
    fired = []
    for schedule in SCHEDULES:
        slot = schedule.slot(now)
        async with db.unit_of_work():
            claimed = await db.fetchval(
                "INSERT INTO schedule_runs (id, name, slot, claimed_at) VALUES (gen_random_uuid(), $1, $2, now())"
                " ON CONFLICT (name, slot) DO NOTHING RETURNING id",
                schedule.name,
                slot,
            )
            if claimed is None:
                continue
            # Sent inside the claim's transaction: if Redis is down the claim rolls back and the next tick retries.
            await asyncio.to_thread(send, schedule.actor_name, slot, message_id=f"schedule.{schedule.name}.{slot}")
        fired.append(schedule.name)
    return fired


async def run_scheduler(stop: asyncio.Event, *, interval_seconds: float = 5.0) -> None:
    while not stop.is_set():
        try:
            await tick()
        except Exception as exc:
            errors.log_retried(log, "scheduler_tick_failed", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_seconds)
