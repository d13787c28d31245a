"""The periodic job that keeps weekly schedules materialised ahead (idempotent: unique offering/start)."""

from __future__ import annotations

import structlog

from linli import db
from scheduling import services
from workers.actor import actor
from workers.schedules import Schedule, every_seconds, register

log = structlog.get_logger("scheduling.tasks")


@actor(name="scheduling.materialise_schedules")
async def materialise_schedules(slot: str = "") -> int:
    """Materialise every active schedule, one transaction each, so one bad schedule cannot block the rest."""
    created = 0
    for schedule_id in await services.active_schedule_ids():
        async with db.unit_of_work():
            created += await services.materialise(schedule_id=schedule_id)
    log.info("schedules_materialised", slots_created=created, run=slot)
    return created


register(
    Schedule(name="scheduling.materialise", actor_name="scheduling.materialise_schedules", slot=every_seconds(3600))
)
