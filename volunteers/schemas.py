"""Hand-written request and response models of the volunteers API."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from linli.schemas import Input

CODE_PATTERN = r"^[a-z][a-z0-9_]{1,39}$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")


def hhmm_to_minutes(value: str) -> int:
    if not _HHMM.match(value):
        raise ValueError("time must be HH:MM (00:00-24:00)")
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def minutes_to_hhmm(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


class Strict(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- catalog and settings -----------------------------------------------------------------------------------


class SkillIn(Strict):
    code: str = Field(pattern=CODE_PATTERN)
    name_zh: str = Field(min_length=1, max_length=60)
    requires_certificate: str | None = Field(default=None, pattern=CODE_PATTERN)


class SkillPatch(Strict):
    """Only the fields given change; `requires_certificate: null` lifts the requirement. The code is the skill's
    identity (profiles and tasks refer to it) and never changes."""

    name_zh: str | None = Field(default=None, min_length=1, max_length=60)
    requires_certificate: str | None = Field(default=None, pattern=CODE_PATTERN)

    @model_validator(mode="after")
    def _name_not_null(self) -> Self:
        if "name_zh" in self.model_fields_set and self.name_zh is None:
            raise ValueError("name_zh may not be null")
        return self


class SkillOut(BaseModel):
    code: str
    name_zh: str
    requires_certificate: str | None


# More hours than anyone records in a lifetime of service; the settings columns are 32-bit integers.
MAX_SETTING_HOURS = 100_000


class VolunteerSettingsIn(Strict):
    star_thresholds_hours: list[Annotated[int, Field(le=MAX_SETTING_HOURS)]] = Field(min_length=5, max_length=5)
    timebank_cap_hours: int = Field(default=1500, ge=1, le=MAX_SETTING_HOURS)

    @field_validator("star_thresholds_hours")
    @classmethod
    def _ascending(cls, v: list[int]) -> list[int]:
        if any(h <= 0 for h in v) or any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("thresholds must be positive and strictly ascending")
        return v


class VolunteerSettingsOut(BaseModel):
    community_id: UUID
    star_thresholds_hours: list[int]
    timebank_cap_minutes: int


# --- profiles -----------------------------------------------------------------------------------------------


class SkillLevel(Strict):
    code: str = Field(pattern=CODE_PATTERN)
    level: int = Field(ge=1, le=5)


class AvailabilityWindow(Strict):
    weekday: int = Field(ge=1, le=7, description="1 = Monday … 7 = Sunday")
    start: str = Field(description="local HH:MM")
    end: str = Field(description="local HH:MM, after start (24:00 allowed)")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if hhmm_to_minutes(self.end) <= hhmm_to_minutes(self.start):
            raise ValueError("end must be after start")
        return self


class CertificateIn(Strict):
    kind: str = Field(pattern=CODE_PATTERN, description="e.g. first_aid, food_health")
    expires_on: date


class ProfileFields(Strict):
    skills: list[SkillLevel] = Field(default_factory=list, max_length=30)
    availability: list[AvailabilityWindow] = Field(default_factory=list, max_length=60)
    days_off: list[date] = Field(default_factory=list, max_length=366)
    certificates: list[CertificateIn] = Field(default_factory=list, max_length=20)
    home_grid_id: UUID | None = None
    weekly_cap_minutes: int | None = Field(default=None, ge=30, le=7 * 24 * 60)
    languages: list[str] = Field(default_factory=list, max_length=10)
    tags: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("skills")
    @classmethod
    def _unique_skills(cls, v: list[SkillLevel]) -> list[SkillLevel]:
        if len({s.code for s in v}) != len(v):
            raise ValueError("each skill once")
        return v

    @field_validator("languages", "tags")
    @classmethod
    def _short_words(cls, v: list[str]) -> list[str]:
        cleaned = [w.strip() for w in v]
        if any(not w or len(w) > 30 for w in cleaned):
            raise ValueError("entries must be 1-30 characters")
        return sorted(set(cleaned))


class VolunteerIn(ProfileFields):
    community_id: UUID


class VolunteerUpdate(ProfileFields):
    """A full replacement of the editable parts of a profile (community and owner never change)."""


class VolunteerOut(BaseModel):
    id: UUID
    community_id: UUID
    user_id: UUID
    name: str
    skills: list[SkillLevel]
    availability: list[AvailabilityWindow]
    days_off: list[date]
    certificates: list[CertificateIn]
    home_grid_id: UUID | None
    weekly_cap_minutes: int | None
    languages: list[str]
    tags: list[str]
    real_name: str | None = None
    id_number_masked: str | None = Field(default=None, description="e.g. 4601**********123X; never the full number")


class RealNameIn(Strict):
    """The volunteer's real name and 18-digit resident identity number, for service certificates."""

    real_name: str = Field(min_length=1, max_length=50)
    # SecretStr: the number never shows in a repr, a log line or a traceback of this model.
    id_number: SecretStr = Field(min_length=15, max_length=24, description="18 characters; stored masked only")


# --- teams --------------------------------------------------------------------------------------------------


class TeamIn(Strict):
    community_id: UUID
    name: str = Field(min_length=1, max_length=100)


class TeamMemberIn(Strict):
    volunteer_id: UUID


class TeamOut(BaseModel):
    id: UUID
    community_id: UUID
    name: str
    leader_volunteer_id: UUID
    member_volunteer_ids: list[UUID]


class TeamOfferIn(Strict):
    team_id: UUID


class TeamOfferOut(BaseModel):
    id: UUID
    task_id: UUID
    team_id: UUID
    status: str
    expires_at: datetime


class TeamAcceptIn(Strict):
    volunteer_ids: list[UUID] = Field(min_length=1, max_length=100)


# --- tasks --------------------------------------------------------------------------------------------------


class RequiredSkill(Strict):
    code: str = Field(pattern=CODE_PATTERN)
    min_level: int = Field(default=1, ge=1, le=5, validation_alias=AliasChoices("min_level", "level"))


class Recurrence(Strict):
    weekly_count: int = Field(ge=2, le=52, description="the same window every week, this many times")


class TaskIn(Strict):
    community_id: UUID
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    location: str = Field(default="", max_length=200)
    required_skills: list[RequiredSkill] = Field(default_factory=list, max_length=10)
    required_certificates: list[str] = Field(default_factory=list, max_length=10)
    volunteers_needed: int = Field(ge=1, le=500)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    grid_id: UUID | None = None
    urgent: bool = False
    language: str | None = Field(default=None, max_length=30)
    offer_window_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    partner_id: UUID | None = None
    coordinator_user_id: UUID | None = None
    recurrence: Recurrence | None = None

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if (self.ends_at - self.starts_at).total_seconds() > 24 * 3600:
            raise ValueError("a task lasts at most 24 hours")
        if len({s.code for s in self.required_skills}) != len(self.required_skills):
            raise ValueError("each required skill once")
        return self


class TaskOut(BaseModel):
    id: UUID
    community_id: UUID
    kind: str
    title: str
    description: str
    location: str
    owner_user_id: UUID
    partner_id: UUID | None
    coordinator_user_id: UUID | None
    required_skills: list[RequiredSkill]
    required_certificates: list[str]
    volunteers_needed: int
    accepted: int
    starts_at: datetime
    ends_at: datetime
    grid_id: UUID | None
    urgent: bool
    language: str | None
    status: str
    series_id: UUID | None
    series_task_ids: list[UUID] = Field(default_factory=list)


class HelpRequestIn(Strict):
    community_id: UUID
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    location: str = Field(default="", max_length=200)
    skill_code: str | None = Field(default=None, pattern=CODE_PATTERN)
    urgent: bool = False
    starts_at: AwareDatetime | None = None
    duration_minutes: int = Field(default=60, ge=15, le=8 * 60)
    language: str | None = Field(default=None, max_length=30)


class CheckInCodeOut(BaseModel):
    task_id: UUID
    code: str
    expires_at: datetime


class BatchAssignIn(Strict):
    until: AwareDatetime | None = None


# --- offers, assignments, hours ----------------------------------------------------------------------------


class OfferOut(BaseModel):
    id: UUID
    task_id: UUID
    volunteer_id: UUID
    score: int
    reasons: list[dict[str, Any]]
    expires_at: datetime | None


class MatchOut(BaseModel):
    offers: list[OfferOut]


class BatchAssignOut(BaseModel):
    tasks: int
    total_score: int
    offers: list[OfferOut]


class AssignmentOut(BaseModel):
    id: UUID
    task_id: UUID
    volunteer_id: UUID
    team_id: UUID | None
    status: str
    score: int
    expires_at: datetime | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    recorded_minutes: int | None
    auto_checked_out: bool
    needs_review: bool
    approved_minutes: int | None


class CodeIn(Strict):
    code: str | None = Field(default=None, max_length=12)


class ApproveIn(Strict):
    minutes: int | None = Field(default=None, ge=0, le=24 * 60)


class CorrectionIn(Strict):
    minutes_delta: int = Field(ge=-24 * 60, le=24 * 60)
    reason: str = Field(min_length=1, max_length=500)

    @field_validator("minutes_delta")
    @classmethod
    def _non_zero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("a correction changes something")
        return v


class HoursEntryOut(BaseModel):
    id: UUID
    assignment_id: UUID
    task_id: UUID
    kind: str
    minutes: int
    period: str
    memo: str
    created_at: datetime


class HoursOut(BaseModel):
    volunteer_id: UUID
    approved_minutes: int
    star_level: int
    next_star_minutes: int | None
    by_month: dict[str, int]


class PendingHoursOut(BaseModel):
    """Hours a volunteer served and recorded, waiting for staff to approve them."""

    assignment_id: UUID
    task_title: str
    volunteer_name: str
    recorded_minutes: int | None
    checked_in_at: datetime | None
    checked_out_at: datetime | None
    needs_review: bool


class TeamHoursOut(BaseModel):
    team_id: UUID
    approved_minutes: int
    by_month: dict[str, int]


class VolunteerHoursRow(BaseModel):
    volunteer_id: UUID
    name: str
    approved_minutes: int


class CertificateIssuerIn(Strict):
    """Who issues the community's certificates: the organisation (default: street and community) and how
    to reach it (a phone number or address, printed on every certificate)."""

    organisation: str | None = Field(default=None, min_length=2, max_length=100)
    contact: str = Field(min_length=5, max_length=100)


class CertificateIssuerOut(BaseModel):
    community_id: UUID
    organisation: str
    contact: str | None


class ServiceCertificateIn(Strict):
    """The period a certificate covers, local dates inclusive (default: all approved service to date)."""

    period_from: date | None = None
    period_to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.period_from and self.period_to and self.period_to < self.period_from:
            raise ValueError("period_to must not be before period_from")
        return self


class ServiceRecordOut(BaseModel):
    served_on: date | None = Field(description="local date the service began")
    title: str
    organiser: str
    minutes: int


class ServiceCertificateOut(BaseModel):
    id: UUID
    serial_no: str
    check_code: str | None
    verification_url: str | None
    community_id: UUID
    volunteer_id: UUID
    status: Literal["valid", "revoked"]
    period_from: date | None
    period_to: date | None
    approved_minutes: int = Field(description="of the period")
    lifetime_minutes: int | None = Field(description="all approved service at issue; the star level follows it")
    star_level: int
    record_count: int
    holder_name: str | None
    holder_id_masked: str | None
    issuer_organisation: str | None
    issuer_contact: str | None
    issued_by_name: str | None
    issued_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None


class RevokeIn(Strict):
    reason: str = Field(min_length=2, max_length=200)


class CertificateVerificationOut(BaseModel):
    """What anyone holding a certificate's serial number and check code may confirm."""

    serial_no: str
    status: Literal["valid", "revoked"]
    holder_masked_name: str
    period_from: date | None
    period_to: date | None
    approved_minutes: int
    star_level: int
    issuing_community: str
    issuer_organisation: str
    issued_on: date
    revoked_at: datetime | None
    revoke_reason: str | None


# --- time bank ----------------------------------------------------------------------------------------------


class TimeAccountOut(BaseModel):
    community_id: UUID
    user_id: UUID
    balance_minutes: int
    cap_minutes: int


class GiftIn(Strict):
    community_id: UUID
    to_user_id: UUID
    minutes: int = Field(ge=1, le=100_000)
    relationship: str = Field(min_length=1, max_length=30, description="e.g. 母亲, 父亲, 配偶")


class DonationIn(Strict):
    community_id: UUID
    minutes: int = Field(ge=1, le=100_000)
    memo: str = Field(default="", max_length=200)


class TimeTransferOut(BaseModel):
    transaction_id: UUID
    minutes: int
    balance_minutes: int
