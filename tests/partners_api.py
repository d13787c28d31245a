"""Helpers for stories about partners, offerings and slots (also used by marketplace and welfare tests).

setup = await community_with_staff(client)
canteen = await approved_partner(client, setup)                 # a canteen whose admin is canteen.admin
meal = await published_offering(client, canteen, price_fen=1500, subsidies={"elderly_alone": 500})
lunch = await slot(client, canteen, meal["id"], capacity=10)    # tomorrow 11:30–12:30 Asia/Shanghai
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.api import CommunitySetup, Person, sign_up

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass
class PartnerSetup:
    id: str
    community_id: str
    admin: Person
    body: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return self.admin.headers


async def partner(
    client: Any,
    setup: CommunitySetup,
    *,
    name: str = "光阳爱心食堂",
    kind: str = "canteen",
    admin: Person | None = None,
) -> PartnerSetup:
    """A pending partner applied for by `admin` (a new user by default)."""
    admin = admin or await sign_up(client, "黄老板")
    r = await client.post(
        "/api/v1/partners",
        json={"name": name, "kind": kind, "community_id": setup.id, "description": "社区合伙人"},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    return PartnerSetup(id=body["id"], community_id=setup.id, admin=admin, body=body)


async def approved_partner(client: Any, setup: CommunitySetup, **kwargs: Any) -> PartnerSetup:
    """A partner approved by the community's staff."""
    p = await partner(client, setup, **kwargs)
    r = await client.post(f"/api/v1/partners/{p.id}/approve", json={"reason": "资质齐全"}, headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    p.body = r.json()
    return p


async def partner_staff(client: Any, p: PartnerSetup, name: str = "服务员小周", role: str = "staff") -> Person:
    """A new user made staff (or admin) of the partner by its admin."""
    person = await sign_up(client, name)
    r = await client.post(
        f"/api/v1/partners/{p.id}/members", json={"user_id": person.id, "role": role}, headers=p.headers
    )
    assert r.status_code == 201, r.text
    return person


def offering_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "爱心午餐",
        "category": "meal",
        "description": "两荤一素一汤,少油少盐",
        "price_fen": 1500,
        "subsidies": {"elderly_alone": 500, "elderly": 1000},
    }
    body.update(overrides)
    return body


async def offering(client: Any, p: PartnerSetup, **overrides: Any) -> dict[str, Any]:
    """A draft offering of partner `p`."""
    r = await client.post(f"/api/v1/partners/{p.id}/offerings", json=offering_body(**overrides), headers=p.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def published_offering(client: Any, p: PartnerSetup, **overrides: Any) -> dict[str, Any]:
    """A published offering of (approved) partner `p`."""
    o = await offering(client, p, **overrides)
    r = await client.post(f"/api/v1/offerings/{o['id']}/publish", headers=p.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def local(days: int = 1, hour: int = 11, minute: int = 30, tz: ZoneInfo = SHANGHAI) -> datetime:
    """An aware local datetime `days` from today at hour:minute."""
    day = datetime.now(tz).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


async def slot(
    client: Any,
    p: PartnerSetup,
    offering_id: str,
    *,
    starts_at: datetime | None = None,
    minutes: int = 60,
    capacity: int = 10,
) -> dict[str, Any]:
    """A one-off slot (tomorrow 11:30 local by default) created by the partner's admin."""
    starts_at = starts_at or local()
    r = await client.post(
        f"/api/v1/offerings/{offering_id}/slots",
        json={
            "starts_at": starts_at.isoformat(),
            "ends_at": (starts_at + timedelta(minutes=minutes)).isoformat(),
            "capacity": capacity,
        },
        headers=p.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def weekly_schedule(
    client: Any, p: PartnerSetup, offering_id: str, *, valid_from: date | None = None, capacity: int = 20
) -> dict[str, Any]:
    """Lunch 11:30–12:30 every Monday, Wednesday and Friday from `valid_from` (tomorrow by default), made by the
    partner's admin."""
    r = await client.post(
        f"/api/v1/offerings/{offering_id}/schedules",
        json={
            "weekdays": [1, 3, 5],
            "start_time": "11:30",
            "end_time": "12:30",
            "capacity": capacity,
            "valid_from": (valid_from or local().date()).isoformat(),
        },
        headers=p.headers,
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def bookable_slot(
    client: Any, setup: CommunitySetup, *, capacity: int = 10, **offering_overrides: Any
) -> tuple[PartnerSetup, dict[str, Any], dict[str, Any]]:
    """(approved partner, published offering, open slot) in one call."""
    p = await approved_partner(client, setup)
    o = await published_offering(client, p, **offering_overrides)
    s = await slot(client, p, o["id"], capacity=capacity)
    return p, o, s


def utc_now() -> datetime:
    return datetime.now(UTC)
