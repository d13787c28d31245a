"""Small helpers so tests read as user stories: people sign up, get roles, and act through the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from linli import db
from tests.conftest import next_phone


@dataclass
class Person:
    id: str
    phone: str
    name: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def sign_up(client: Any, name: str = "张三", *, password: str = "s3cret-pass") -> Person:
    phone = next_phone()
    r = await client.post("/api/v1/auth/register", json={"phone": phone, "password": password, "name": name})
    assert r.status_code == 201, r.text
    user_id = r.json()["id"]
    t = await client.post("/api/v1/auth/token", json={"phone": phone, "password": password})
    assert t.status_code == 200, t.text
    return Person(id=user_id, phone=phone, name=name, password=password, token=t.json()["access_token"])


async def platform_admin(client: Any, name: str = "平台管理员") -> Person:
    person = await sign_up(client, name)
    await db.execute("UPDATE users SET is_platform_admin = true WHERE id = $1", UUID(person.id))
    return person


async def community(client: Any, admin: Person, name: str = "光阳社区") -> str:
    r = await client.post(
        "/api/v1/communities", json={"name": name, "timezone": "Asia/Shanghai"}, headers=admin.headers
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def grant(client: Any, granter: Person, community_id: str, person: Person, role: str) -> None:
    r = await client.post(
        f"/api/v1/communities/{community_id}/members",
        json={"user_id": person.id, "role": role},
        headers=granter.headers,
    )
    assert r.status_code == 201, r.text


@dataclass
class CommunitySetup:
    id: str
    platform: Person
    admin: Person
    staff: Person


async def community_with_staff(client: Any, name: str = "光阳社区") -> CommunitySetup:
    """A community with its own admin and staff member, created by a platform admin."""
    platform = await platform_admin(client)
    cid = await community(client, platform, name)
    admin = await sign_up(client, "社区书记")
    staff = await sign_up(client, "网格员小李")
    await grant(client, platform, cid, admin, "admin")
    await grant(client, admin, cid, staff, "staff")
    return CommunitySetup(id=cid, platform=platform, admin=admin, staff=staff)
