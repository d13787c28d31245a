"""Who may see and act on a booking. Partner-side rights come from `partners.services` (one rule for all).

A booking is visible to its resident, to whoever booked it on the resident's behalf, and to the partner side:
the partner's admins and staff, its community's staff and the platform admin (see `partners.services`).
Everyone else gets 404 — a booking's existence is private.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from community import access as community_access
from linli import db
from linli.auth.security import CurrentUser
from linli.errors import Forbidden, NotFound
from marketplace.errors import BOOKING_NOT_FOUND, RESIDENT_NOT_FOUND
from marketplace.services.placing import BOOKING_COLUMNS
from partners import services as partners


@dataclass(frozen=True)
class Seen:
    row: Any
    resident_side: bool
    partner_side: bool

    def require_partner_side(self) -> None:
        if not self.partner_side:
            raise Forbidden("only the partner's staff may do this")

    def require_resident_side(self) -> None:
        if not self.resident_side:
            raise Forbidden("only the resident (or whoever booked for them) may do this")


async def partner_side(actor: CurrentUser, partner_id: UUID) -> bool:
    """Partner admins/staff, the partner community's staff and the platform admin."""
    partner = await partners.get(partner_id=partner_id)
    return await partners.can_act(actor, partner, "staff")


async def booking_for(actor: CurrentUser, booking_id: UUID, *, for_update: bool = False) -> Seen:
    """The booking if `actor` may see it (404 otherwise), with which side they are on."""
    lock = " FOR UPDATE" if for_update else ""
    row = await db.fetchrow(
        f"SELECT {BOOKING_COLUMNS}, (SELECT starts_at FROM slots s WHERE s.id = b.slot_id) AS slot_starts_at,"
        " cancelled_by FROM bookings b WHERE id = $1" + lock,
        booking_id,
    )
    if row is None:
        raise NotFound("no such booking", code=BOOKING_NOT_FOUND)
    resident_side = actor.id in (row["resident_id"], row["booked_by"])
    partner = await partner_side(actor, row["partner_id"])
    if not (resident_side or partner):
        raise NotFound("no such booking", code=BOOKING_NOT_FOUND)
    return Seen(row=row, resident_side=resident_side, partner_side=partner)


async def require_proxy(actor: CurrentUser, *, community_id: UUID, resident_id: UUID) -> None:
    """代办: community staff, or the resident's grid worker, may act for a resident of this community."""
    is_staff = await community_access.has_role(actor, community_id, "staff")
    if not is_staff:
        grid_worker = await db.fetchval(
            "SELECT 1 FROM community_residents r JOIN community_grids g ON g.id = r.grid_id"
            " WHERE r.community_id = $1 AND r.user_id = $2 AND g.worker_user_id = $3",
            community_id,
            resident_id,
            actor.id,
        )
        if not grid_worker:
            raise Forbidden("only community staff or the resident's grid worker may book for a resident")
    is_resident = await db.fetchval(
        "SELECT EXISTS (SELECT 1 FROM community_memberships WHERE community_id = $1 AND user_id = $2"
        " AND role = 'resident') OR EXISTS (SELECT 1 FROM community_residents WHERE community_id = $1"
        " AND user_id = $2)",
        community_id,
        resident_id,
    )
    if not is_resident:
        raise NotFound("no such resident in this community", code=RESIDENT_NOT_FOUND)


async def proxy_residents(*, actor: CurrentUser, community_id: UUID) -> list[tuple[UUID, str]]:
    """(user id, name) of the residents `actor` may book for in the community (the rule of `require_proxy`):
    every resident for its staff, the residents of their own grids for a grid worker, nobody for anyone else."""
    if await community_access.has_role(actor, community_id, "staff"):
        rows = await db.fetch(
            "SELECT DISTINCT u.id, u.name FROM community_memberships m JOIN users u ON u.id = m.user_id"
            " WHERE m.community_id = $1 AND m.role = 'resident' AND u.id <> $2 ORDER BY u.name, u.id",
            community_id,
            actor.id,
        )
    else:
        rows = await db.fetch(
            "SELECT u.id, u.name FROM community_residents r JOIN community_grids g ON g.id = r.grid_id"
            " JOIN users u ON u.id = r.user_id WHERE r.community_id = $1 AND g.worker_user_id = $2"
            " ORDER BY u.name, u.id",
            community_id,
            actor.id,
        )
    return [(r["id"], r["name"]) for r in rows]
