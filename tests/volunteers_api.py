"""Helpers for volunteer stories: a catalog, volunteers with skills, tasks, offers and their lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from linli import db
from tests.api import CommunitySetup, Person, grant, sign_up

ALL_WEEK = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(1, 8)]
SKILLS = {
    "meal_delivery": "助餐配送",
    "escort_clinic": "陪诊",
    "haircut": "理发",
    "appliance_repair": "家电维修",
    "counselling": "心理疏导",
    "first_aid": "急救",
}


def at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def catalog(client: Any, setup: CommunitySetup) -> None:
    """The stories' skills in the community's catalogue (a new community already has most of them by default)."""
    r = await client.get(f"/api/v1/communities/{setup.id}/skills", headers=setup.staff.headers)
    assert r.status_code == 200, r.text
    present = {s["code"] for s in r.json()}
    for code, name in SKILLS.items():
        if code in present:
            continue
        body = {"code": code, "name_zh": name}
        r = await client.post(f"/api/v1/communities/{setup.id}/skills", json=body, headers=setup.staff.headers)
        assert r.status_code == 201, r.text


async def volunteer(
    client: Any,
    setup: CommunitySetup,
    name: str = "志愿者",
    *,
    skills: dict[str, int] | None = None,
    availability: list[dict[str, Any]] | None = None,
    person: Person | None = None,
    **extra: Any,
) -> tuple[Person, dict[str, Any]]:
    """A resident who registers as a volunteer (all week available unless told otherwise)."""
    person = person or await sign_up(client, name)
    await grant(client, setup.admin, setup.id, person, "resident")
    body = {
        "community_id": setup.id,
        "skills": [{"code": c, "level": lvl} for c, lvl in (skills or {"meal_delivery": 3}).items()],
        "availability": ALL_WEEK if availability is None else availability,
        **extra,
    }
    r = await client.post("/api/v1/volunteers", json=body, headers=person.headers)
    assert r.status_code == 201, r.text
    return person, r.json()


# A task that began half an hour ago: service done and approved now is dated today by the community's calendar
# whatever the hour the tests run (one starting in 30 minutes is tomorrow's from 23:30 local, and a certificate
# "to date" rightly leaves it out).
UNDER_WAY = timedelta(minutes=-30)


async def task(
    client: Any,
    setup: CommunitySetup,
    *,
    by: Person | None = None,
    needed: int = 1,
    skills: dict[str, int] | None = None,
    starts_in: timedelta = timedelta(minutes=30),
    minutes: int = 120,
    **extra: Any,
) -> dict[str, Any]:
    body = {
        "community_id": setup.id,
        "title": extra.pop("title", "助餐配送"),
        "required_skills": [{"code": c, "min_level": lvl} for c, lvl in (skills or {"meal_delivery": 2}).items()],
        "volunteers_needed": needed,
        "starts_at": at(starts_in),
        "ends_at": at(starts_in + timedelta(minutes=minutes)),
        **extra,
    }
    r = await client.post("/api/v1/tasks", json=body, headers=(by or setup.staff).headers)
    assert r.status_code == 201, r.text
    return r.json()


async def match(client: Any, setup: CommunitySetup, task_id: str, by: Person | None = None) -> list[dict[str, Any]]:
    r = await client.post(f"/api/v1/tasks/{task_id}/match", headers=(by or setup.staff).headers)
    assert r.status_code == 200, r.text
    return r.json()["offers"]


async def act(client: Any, person: Person, assignment_id: str, action: str, body: Any = None) -> Any:
    return await client.post(f"/api/v1/assignments/{assignment_id}/{action}", json=body, headers=person.headers)


async def ledger_count(assignment_id: str) -> int:
    return int(
        await db.fetchval("SELECT count(*) FROM volunteer_hours_entries WHERE assignment_id = $1", UUID(assignment_id))
    )


async def accepted_offer(client: Any, setup: CommunitySetup, person: Person, **task_kw: Any) -> tuple[dict, str]:
    """A task matched to `person` (the only candidate) and accepted; returns (task, assignment id)."""
    t = await task(client, setup, **task_kw)
    offers = await match(client, setup, t["id"])
    assert len(offers) == 1, offers
    r = await act(client, person, offers[0]["id"], "accept")
    assert r.status_code == 200, r.text
    return t, offers[0]["id"]


def id_number(birth: str = "19900307", sequence: int = 123, region: str = "460108") -> str:
    """A well-formed 18-digit resident identity number (GB 11643 check character) for test people."""
    body = f"{region}{birth}{sequence:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


async def real_name(client: Any, person: Person, profile: dict[str, Any], name: str, number: str) -> Any:
    r = await client.put(
        f"/api/v1/volunteers/{profile['id']}/real-name",
        json={"real_name": name, "id_number": number},
        headers=person.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


async def certificate_issuer(client: Any, setup: CommunitySetup, contact: str = "0898-6529 1234") -> None:
    r = await client.put(
        f"/api/v1/communities/{setup.id}/certificate-issuer",
        json={"organisation": "光阳社区居民委员会", "contact": contact},
        headers=setup.admin.headers,
    )
    assert r.status_code == 200, r.text
