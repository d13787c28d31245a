"""Request and response models for slots and weekly schedules."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator, model_validator

from linli.schemas import Input

MAX_CAPACITY = 10_000
DEFAULT_DAYS_AHEAD = 28


class SlotIn(Input):
    """Aware datetimes, or naive ones meaning the community's local time."""

    starts_at: datetime
    ends_at: datetime
    capacity: int = Field(ge=1, le=MAX_CAPACITY)


class CapacityIn(Input):
    capacity: int = Field(ge=1, le=MAX_CAPACITY)


class CancelIn(Input):
    reason: str = Field(default="", max_length=500)


class SlotOut(BaseModel):
    id: UUID
    offering_id: UUID
    partner_id: UUID
    community_id: UUID
    schedule_id: UUID | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    booked: int
    remaining: int
    status: Literal["open", "cancelled"]


class ScheduleIn(Input):
    """Every listed weekday (1 = Monday … 7 = Sunday) from start_time to end_time, community local time."""

    weekdays: list[int] = Field(min_length=1, max_length=7)
    start_time: time
    end_time: time
    capacity: int = Field(ge=1, le=MAX_CAPACITY)
    valid_from: date
    valid_until: date | None = None

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        if any(d < 1 or d > 7 for d in v):
            raise ValueError("weekdays are 1 (Monday) to 7 (Sunday)")
        return sorted(set(v))

    @field_validator("start_time", "end_time")
    @classmethod
    def _naive(cls, v: time) -> time:
        if v.tzinfo is not None:
            raise ValueError("times are local wall-clock times (HH:MM) without a zone")
        return v.replace(second=0, microsecond=0)

    @model_validator(mode="after")
    def _order(self) -> ScheduleIn:
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be after start_time (slots do not cross midnight)")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class ScheduleOut(BaseModel):
    id: UUID
    offering_id: UUID
    community_id: UUID
    weekdays: list[int]
    start_time: time
    end_time: time
    capacity: int
    valid_from: date
    valid_until: date | None
    materialised_until: date | None
    status: Literal["active", "ended"]
    created_at: datetime
