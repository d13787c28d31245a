from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID
from zoneinfo import available_timezones

from pydantic import BaseModel, Field, field_validator

from community.priority import PRIORITY_GROUPS
from linli.schemas import Input

Role = Literal["resident", "staff", "admin"]


class CommunityIn(Input):
    name: str = Field(min_length=1, max_length=100)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    street: str = Field(default="", max_length=100)

    @field_validator("name", "street")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        if v not in _ZONES:
            raise ValueError("unknown IANA time zone")
        return v


_ZONES = available_timezones()


class CommunityOut(BaseModel):
    id: UUID
    name: str
    timezone: str
    street: str
    created_at: datetime


class MemberIn(Input):
    user_id: UUID
    role: Role


class MemberOut(BaseModel):
    community_id: UUID
    user_id: UUID
    name: str
    phone: str
    roles: list[Role]


class PriorityGroupsIn(Input):
    groups: list[str] = Field(max_length=len(PRIORITY_GROUPS))

    @field_validator("groups")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = [g for g in v if g not in PRIORITY_GROUPS]
        if unknown:
            raise ValueError(f"unknown priority groups: {', '.join(unknown[:5])}")
        return sorted(set(v))


class ResidentOut(BaseModel):
    community_id: UUID
    user_id: UUID
    priority_groups: list[str]
    grid_id: UUID | None


class PriorityGroupOut(BaseModel):
    code: str
    name_zh: str
    name_en: str


class GridIn(Input):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    worker_user_id: UUID | None = None


class GridOut(BaseModel):
    id: UUID
    community_id: UUID
    name: str
    description: str
    worker_user_id: UUID | None


class ResidentGridIn(Input):
    grid_id: UUID | None


class CommunityRoles(BaseModel):
    community_id: UUID
    community_name: str
    roles: list[Role]
    priority_groups: list[str]


class MeOut(BaseModel):
    id: UUID
    phone: str
    name: str
    is_platform_admin: bool
    communities: list[CommunityRoles]
