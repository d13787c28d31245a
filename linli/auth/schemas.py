from __future__ import annotations

import re
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from linli.schemas import Input

# Mainland China mobile numbers: 11 digits starting 13–19.
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def _phone(v: str) -> str:
    v = v.strip().replace(" ", "").replace("-", "")
    if v.startswith("+86"):
        v = v[3:]
    if not _MOBILE.match(v):
        raise ValueError("must be a mainland China mobile number (11 digits, starting 13–19)")
    return v


class RegisterIn(Input):
    phone: str = Field(max_length=20)
    password: str = Field(min_length=8, max_length=128)
    name: str = Field(min_length=1, max_length=50)
    # Optional: join this community as a resident straight away.
    community_id: UUID | None = None

    _check_phone = field_validator("phone")(classmethod(lambda cls, v: _phone(v)))

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("name must not be blank")
        return v


class TokenIn(Input):
    phone: str = Field(max_length=20)
    password: str = Field(min_length=1, max_length=128)

    _check_phone = field_validator("phone")(classmethod(lambda cls, v: _phone(v)))


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserOut(BaseModel):
    id: UUID
    phone: str
    name: str
