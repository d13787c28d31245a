"""Settlement actors: the fan-out per run, one job per partner, and the monthly schedule.

Every actor is idempotent: the fan-out only starts a queued run, a partner batch only runs once (its status
and the advisory lock), and `settlement_lines` refuses a booking twice whatever happens above.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from linli import db
from welfare import periods
from welfare.services import settlement
from workers.actor import actor
from workers.schedules import Schedule, register

# Monthly slots follow the street office's clock (China Standard Time): a month is settled once it is over.
SCHEDULE_TIMEZONE = "Asia/Shanghai"


@actor(name="welfare.settlement_fan_out", topics=(settlement.TOPIC_REQUESTED,))
async def fan_out(event_id: str, payload: dict[str, Any]) -> None:
    async with db.unit_of_work():
        await settlement.fan_out(run_id=UUID(payload["run_id"]))


@actor(name="welfare.settle_partner", topics=(settlement.TOPIC_PARTNER_DUE,))
async def settle_partner(event_id: str, payload: dict[str, Any]) -> None:
    async with db.unit_of_work():
        await settlement.settle_partner(batch_id=UUID(payload["batch_id"]))


def previous_month_slot(now: datetime) -> str:
    """The slot of a monthly settlement is the month it settles: the one before `now` in China time."""
    return periods.previous(now.astimezone(ZoneInfo(SCHEDULE_TIMEZONE)).strftime("%Y-%m"))


@actor(name="welfare.monthly_settlement")
async def monthly_settlement(slot: str) -> None:
    async with db.unit_of_work():
        await settlement.request_all(period=periods.check_format(slot))


register(Schedule(name="welfare.monthly_settlement", actor_name="welfare.monthly_settlement", slot=previous_month_slot))
