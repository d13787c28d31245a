"""Hand-written request and response models for partners, members, revenue share and offerings."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator, model_validator

from community.priority import PRIORITY_GROUPS
from linli.schemas import Input

PartnerKind = Literal["canteen", "childcare", "elderly_daycare", "housekeeping", "parcel", "repair", "health", "other"]
PartnerStatus = Literal["pending", "approved", "rejected", "suspended"]
MemberRole = Literal["admin", "staff"]
Category = Literal["meal", "childcare", "elderly_daycare", "housekeeping", "parcel", "repair", "health", "other"]
OfferingStatus = Literal["draft", "published", "paused", "archived"]

CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]

# Prices: at least 1 fen (a typo must not give a service away) and at most 10,000 yuan per unit.
MAX_PRICE_FEN = 1_000_000
MAX_NOTICE_MINUTES = 60 * 24 * 60  # 60 days
MAX_DAILY_LIMIT = 100
# A waitlist hold long enough to see a message and answer it, short enough that the line keeps moving.
MIN_HOLD_MINUTES, MAX_HOLD_MINUTES = 5, 24 * 60


def _clean(v: str) -> str:
    return unicodedata.normalize("NFC", v).strip()


def _not_blank(v: str) -> str:
    v = _clean(v)
    if not v:
        raise ValueError("must not be blank")
    return v


class PartnerIn(Input):
    name: str = Field(min_length=1, max_length=100)
    kind: PartnerKind
    community_id: UUID
    description: str = Field(default="", max_length=2000)
    contact_phone: str = Field(default="", max_length=20, pattern=r"^[0-9+\- ]*$")

    _name = field_validator("name")(classmethod(lambda cls, v: _not_blank(v)))
    _desc = field_validator("description", "contact_phone")(classmethod(lambda cls, v: _clean(v)))


class PartnerOut(BaseModel):
    id: UUID
    community_id: UUID
    name: str
    kind: PartnerKind
    status: PartnerStatus
    description: str
    contact_phone: str
    created_by: UUID
    created_at: datetime
    updated_at: datetime


class PartnerPage(BaseModel):
    items: list[PartnerOut]
    total: int
    limit: int
    offset: int


class ReasonIn(Input):
    """Why a partner's status changes; required when rejecting or suspending."""

    reason: str = Field(default="", max_length=500)

    _reason = field_validator("reason")(classmethod(lambda cls, v: _clean(v)))


class MemberIn(Input):
    user_id: UUID
    role: MemberRole


class MemberOut(BaseModel):
    partner_id: UUID
    user_id: UUID
    name: str
    role: MemberRole
    created_at: datetime


class RevenueShareIn(Input):
    rate_bp: int = Field(ge=0, le=10_000)
    effective_from: date
    # None: every category of the partner's offerings.
    category: Category | None = None


class RevenueShareOut(BaseModel):
    id: UUID
    partner_id: UUID
    community_id: UUID
    rate_bp: int
    category: Category | None
    effective_from: date
    version: int
    created_by: UUID
    created_at: datetime


def _check_subsidies(v: dict[str, int]) -> dict[str, int]:
    unknown = sorted(g for g in v if g not in PRIORITY_GROUPS)
    if unknown:
        raise ValueError(f"unknown priority groups: {', '.join(unknown[:5])}")
    return dict(sorted(v.items()))


class OfferingIn(Input):
    title: str = Field(min_length=1, max_length=100)
    category: Category
    description: str = Field(default="", max_length=2000)
    price_fen: int = Field(ge=1, le=MAX_PRICE_FEN)
    # priority group code -> subsidised unit price in fen (what such a resident pays), each <= price_fen.
    subsidies: dict[str, int] = Field(default_factory=dict, max_length=len(PRIORITY_GROUPS))
    on_demand: bool = False
    min_notice_minutes: int = Field(default=0, ge=0, le=MAX_NOTICE_MINUTES)
    cancel_cutoff_minutes: int = Field(default=0, ge=0, le=MAX_NOTICE_MINUTES)
    per_resident_daily_limit: int | None = Field(default=None, ge=1, le=MAX_DAILY_LIMIT)
    # None: waitlist promotion books automatically; minutes: the place is offered and held that long.
    waitlist_hold_minutes: int | None = Field(default=None, ge=MIN_HOLD_MINUTES, le=MAX_HOLD_MINUTES)
    accepts_time_credits: bool = False

    _title = field_validator("title")(classmethod(lambda cls, v: _not_blank(v)))
    _desc = field_validator("description")(classmethod(lambda cls, v: _clean(v)))
    _subsidies = field_validator("subsidies")(classmethod(lambda cls, v: _check_subsidies(v)))

    @model_validator(mode="after")
    def _subsidy_within_price(self) -> OfferingIn:
        check_subsidy_prices(self.subsidies, self.price_fen)
        return self


def check_subsidy_prices(subsidies: dict[str, int], price_fen: int) -> None:
    bad = sorted(g for g, p in subsidies.items() if p < 0 or p > price_fen)
    if bad:
        raise ValueError(f"subsidised prices must be between 0 and price_fen: {', '.join(bad)}")


NULLABLE_IN_PATCH = frozenset({"per_resident_daily_limit", "waitlist_hold_minutes"})


class OfferingPatch(Input):
    """Only the fields given change; `per_resident_daily_limit: null` removes the limit and
    `waitlist_hold_minutes: null` returns to automatic booking from the waitlist."""

    title: str | None = Field(default=None, min_length=1, max_length=100)
    category: Category | None = None
    description: str | None = Field(default=None, max_length=2000)
    price_fen: int | None = Field(default=None, ge=1, le=MAX_PRICE_FEN)
    subsidies: dict[str, int] | None = Field(default=None, max_length=len(PRIORITY_GROUPS))
    on_demand: bool | None = None
    min_notice_minutes: int | None = Field(default=None, ge=0, le=MAX_NOTICE_MINUTES)
    cancel_cutoff_minutes: int | None = Field(default=None, ge=0, le=MAX_NOTICE_MINUTES)
    per_resident_daily_limit: int | None = Field(default=None, ge=1, le=MAX_DAILY_LIMIT)
    waitlist_hold_minutes: int | None = Field(default=None, ge=MIN_HOLD_MINUTES, le=MAX_HOLD_MINUTES)
    accepts_time_credits: bool | None = None

    _title = field_validator("title")(classmethod(lambda cls, v: None if v is None else _not_blank(v)))
    _desc = field_validator("description")(classmethod(lambda cls, v: None if v is None else _clean(v)))
    _subsidies = field_validator("subsidies")(classmethod(lambda cls, v: None if v is None else _check_subsidies(v)))

    @model_validator(mode="after")
    def _no_nulls(self) -> OfferingPatch:
        for name in self.model_fields_set:
            if name not in NULLABLE_IN_PATCH and getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


class OfferingOut(BaseModel):
    id: UUID
    partner_id: UUID
    community_id: UUID
    title: str
    category: Category
    description: str
    price_fen: int
    subsidies: dict[str, int]
    status: OfferingStatus
    on_demand: bool
    min_notice_minutes: int
    cancel_cutoff_minutes: int
    per_resident_daily_limit: int | None
    waitlist_hold_minutes: int | None
    accepts_time_credits: bool
    created_at: datetime
    updated_at: datetime


class CatalogItem(OfferingOut):
    partner_name: str
    partner_kind: PartnerKind


class CatalogPage(BaseModel):
    items: list[CatalogItem]
    total: int
    limit: int
    offset: int
