"""Periodic jobs run once per period, however many workers tick at the same moment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import notifications.tasks  # noqa: F401  (registers the actor the schedule sends)
from linli import db
from workers import schedules
from workers.schedules import Schedule, every_seconds


async def test_a_schedule_fires_once_per_slot_across_concurrent_ticks():
    schedules.register(Schedule(name="test.every-minute", actor_name="notifications.welcome", slot=every_seconds(60)))
    try:
        now = datetime(2026, 11, 22, 8, 0, 30, tzinfo=UTC)
        fired = await asyncio.gather(*(schedules.tick(now) for _ in range(8)))
        assert sum(names.count("test.every-minute") for names in fired) == 1
        # Same minute again: nothing; next minute: once more.
        assert "test.every-minute" not in await schedules.tick(now)
        assert "test.every-minute" in await schedules.tick(datetime(2026, 11, 22, 8, 1, 5, tzinfo=UTC))
        assert await db.fetchval("SELECT count(*) FROM schedule_runs WHERE name = 'test.every-minute'") == 2
    finally:
        schedules.SCHEDULES[:] = [s for s in schedules.SCHEDULES if s.name != "test.every-minute"]
