"""Helpers for marketplace stories: residents with priority groups, bookings, orders, and direct reads of state.

Partners, offerings and slots are set up through the partners/scheduling HTTP API (tests.partners_api).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from linli import db
from tests.api import CommunitySetup, Person, community_with_staff, grant, sign_up
from tests.partners_api import (
    PartnerSetup,
    approved_partner,
    partner_staff,
    published_offering,
    slot,
)

PROBLEM = "application/problem+json"


async def resident(
    client: Any, setup: CommunitySetup, name: str = "陈阿婆", *, groups: list[str] | None = None
) -> Person:
    """A resident of the community, with priority groups set by staff when given."""
    person = await sign_up(client, name)
    await grant(client, setup.admin, setup.id, person, "resident")
    if groups is not None:
        r = await client.put(
            f"/api/v1/communities/{setup.id}/residents/{person.id}/priority-groups",
            json={"groups": groups},
            headers=setup.staff.headers,
        )
        assert r.status_code == 200, r.text
    return person


@dataclass
class Canteen:
    """A community with an approved canteen, its staff member, a published meal and a slot."""

    setup: CommunitySetup
    partner: PartnerSetup
    staff: Person
    offering: dict[str, Any]
    slot: dict[str, Any]

    @property
    def slot_id(self) -> str:
        return str(self.slot["id"])


async def canteen(
    client: Any, *, capacity: int = 10, setup: CommunitySetup | None = None, name: str = "光阳社区", **offering: Any
) -> Canteen:
    setup = setup or await community_with_staff(client, name)
    p = await approved_partner(client, setup)
    staff = await partner_staff(client, p)
    o = await published_offering(client, p, **offering)
    s = await slot(client, p, o["id"], capacity=capacity)
    return Canteen(setup=setup, partner=p, staff=staff, offering=o, slot=s)


async def book(client: Any, person: Person, slot_id: str, quantity: int = 1, **extra: Any) -> Any:
    return await client.post(
        "/api/v1/bookings", json={"slot_id": slot_id, "quantity": quantity, **extra}, headers=person.headers
    )


async def booked_places(slot_id: str) -> int:
    return int(await db.fetchval("SELECT booked FROM slots WHERE id = $1", UUID(slot_id)))


async def active_quantity(slot_id: str) -> int:
    """Places held by bookings that hold places, counted from the bookings themselves."""
    return int(
        await db.fetchval(
            "SELECT coalesce(sum(quantity), 0) FROM bookings WHERE slot_id = $1"
            " AND status IN ('held', 'confirmed', 'accepted', 'completed')",
            UUID(slot_id),
        )
    )


async def count(table: str) -> int:
    return int(await db.fetchval(f"SELECT count(*) FROM {table}"))


async def topics() -> list[str]:
    rows = await db.fetch("SELECT topic FROM outbox_events ORDER BY created_at, id")
    return [r["topic"] for r in rows]


def assert_problem(r: Any, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    if code is not None:
        assert r.json()["code"] == code, r.json()
