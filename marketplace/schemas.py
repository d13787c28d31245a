"""Hand-written request and response models of the marketplace (never table rows)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from linli.schemas import Input

# A slot holds at most this many places in one booking; anything larger is bad input, not a conflict.
MAX_QUANTITY = 1000

BookingStatus = Literal["held", "confirmed", "accepted", "completed", "cancelled", "no_show"]


def _strip(v: str) -> str:
    return v.strip()


class BookingIn(Input):
    slot_id: UUID
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)
    # 代办: community staff or the resident's grid worker books for a resident of their community.
    resident_id: UUID | None = None


class BookingQuoteOut(BaseModel):
    """What a booking would cost now, before it is made (nothing is reserved by asking)."""

    slot_id: UUID
    offering_id: UUID
    resident_id: UUID
    starts_at: datetime
    remaining: int
    quantity: int
    list_price_fen: int
    unit_price_fen: int
    price_fen: int
    subsidy_fen: int
    payable_fen: int
    subsidised_quantity: int
    priority_group: str | None


class CancelIn(Input):
    reason: str = Field(default="", max_length=500)

    _s = field_validator("reason")(_strip)


class BookingOut(BaseModel):
    id: UUID
    kind: Literal["slot", "order"]
    status: BookingStatus
    community_id: UUID
    partner_id: UUID
    offering_id: UUID
    slot_id: UUID | None
    category: str
    resident_id: UUID
    booked_by: UUID
    quantity: int
    unit_price_fen: int
    price_fen: int
    subsidy_fen: int
    payable_fen: int
    subsidised_quantity: int
    priority_group: str | None
    created_at: datetime
    accepted_at: datetime | None
    completed_at: datetime | None
    completed_period: str | None
    agreement_id: UUID | None
    share_rate_bp: int | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    # While `held`: confirm before this, or the place passes to the next in line.
    hold_expires_at: datetime | None = None
    slot_starts_at: datetime | None = None


class BookingPage(BaseModel):
    items: list[BookingOut]
    total: int


class WaitlistIn(Input):
    quantity: int = Field(default=1, ge=1, le=MAX_QUANTITY)


class WaitlistOut(BaseModel):
    id: UUID
    slot_id: UUID
    resident_id: UUID
    quantity: int
    status: Literal["waiting", "offered", "promoted", "declined", "expired", "cancelled"]
    # 1-based place in line among waiting entries; None once promoted or cancelled.
    position: int | None
    booking_id: UUID | None
    created_at: datetime


class OrderIn(Input):
    offering_id: UUID
    address: str = Field(min_length=1, max_length=200)
    note: str = Field(default="", max_length=500)
    resident_id: UUID | None = None

    _s = field_validator("address", "note")(_strip)

    @field_validator("address")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v:
            raise ValueError("address must not be blank")
        return v


class OrderOut(BookingOut):
    address: str
    note: str
    dispatched_at: datetime
    accept_target_seconds: int
    arrive_target_seconds: int
    dispatch_round: int
    escalated_at: datetime | None
    arrived_at: datetime | None


class SlaFigures(BaseModel):
    orders: int
    accepted: int
    accepted_in_time: int
    arrived: int
    arrived_in_time: int
    # Shares of all orders dispatched in the period, in basis points (10000 = all).
    accepted_in_time_bp: int
    arrived_in_time_bp: int
    median_accept_minutes: float | None
    median_arrive_minutes: float | None


class PartnerSla(SlaFigures):
    partner_id: UUID


class SlaReport(BaseModel):
    period: str | None
    accept_target_seconds: int
    arrive_target_seconds: int
    total: SlaFigures
    partners: list[PartnerSla]


class ReviewIn(Input):
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=500)

    _s = field_validator("comment")(_strip)


class ReviewOut(BaseModel):
    id: UUID
    booking_id: UUID
    partner_id: UUID
    offering_id: UUID
    rating: int
    comment: str
    created_at: datetime


ComplaintStatus = Literal["filed", "handled", "resolved"]


class ComplaintIn(Input):
    booking_id: UUID
    content: str = Field(min_length=1, max_length=1000)

    _s = field_validator("content")(_strip)

    @field_validator("content")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v:
            raise ValueError("content must not be blank")
        return v


class ComplaintHandleIn(Input):
    note: str = Field(min_length=1, max_length=1000)

    _s = field_validator("note")(_strip)

    @field_validator("note")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v:
            raise ValueError("note must not be blank")
        return v


class ComplaintResolveIn(Input):
    satisfaction: Literal["satisfied", "unsatisfied"]


class ComplaintOut(BaseModel):
    id: UUID
    booking_id: UUID
    community_id: UUID
    partner_id: UUID
    resident_id: UUID
    content: str
    status: ComplaintStatus
    handled_by: UUID | None
    handling_note: str | None
    handled_at: datetime | None
    satisfaction: Literal["satisfied", "unsatisfied"] | None
    resolved_at: datetime | None
    created_at: datetime


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    total: int


class QualityFigures(BaseModel):
    reviews: int
    average_rating: float | None
    complaints: int
    handled: int
    resolved: int
    satisfied: int
    # 办结率 = resolved / complaints; 满意率 = satisfied / resolved; in basis points, None when undefined.
    closure_rate_bp: int | None
    satisfaction_rate_bp: int | None


class PartnerQuality(QualityFigures):
    partner_id: UUID


class QualityReport(BaseModel):
    period: str | None
    total: QualityFigures
    partners: list[PartnerQuality]


class CompletedBooking(BaseModel):
    """What settlement needs of a completed booking (revenue recognised at completion)."""

    booking_id: UUID
    community_id: UUID
    partner_id: UUID
    category: str
    gross_fen: int
    subsidy_fen: int
    payable_fen: int
    completed_at: datetime
    completed_period: str
    agreement_id: UUID | None
    share_rate_bp: int | None
