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


# 代办, the one rule: community staff may act for any resident of the community (a resident role, or a resident
# record staff keep), a grid worker for the residents of their own grids, nobody else for anybody. $1 community,
# $2 the actor, $3 whether the actor is the community's staff, $4 one resident (NULL: all of them).
_PROXY_RESIDENTS_SQL = (
    "WITH residents AS (SELECT user_id FROM community_memberships WHERE community_id = $1 AND role = 'resident'"
    " UNION SELECT user_id FROM community_residents WHERE community_id = $1)"
    " SELECT u.id, u.name FROM residents x JOIN users u ON u.id = x.user_id"
    " WHERE u.id <> $2 AND ($4::uuid IS NULL OR u.id = $4) AND ($3 OR EXISTS (SELECT 1 FROM community_residents r"
    "  JOIN community_grids g ON g.id = r.grid_id WHERE r.community_id = $1 AND r.user_id = u.id"
    "  AND g.worker_user_id = $2))"
    " ORDER BY u.name, u.id"
)


async def _proxy_residents(actor: CurrentUser, community_id: UUID, resident_id: UUID | None) -> tuple[bool, list[Any]]:
    is_staff = await community_access.has_role(actor, community_id, "staff")
    return is_staff, list(await db.fetch(_PROXY_RESIDENTS_SQL, community_id, actor.id, is_staff, resident_id))


async def require_proxy(actor: CurrentUser, *, community_id: UUID, resident_id: UUID) -> None:
    """代办: community staff, or the resident's grid worker, may act for a resident of this community."""
    is_staff, rows = await _proxy_residents(actor, community_id, resident_id)
    if rows:
        return
    if not is_staff:  # a grid worker's own residents are residents by their record: anything else is not theirs
        raise Forbidden("only community staff or the resident's grid worker may book for a resident")
    raise NotFound("no such resident in this community", code=RESIDENT_NOT_FOUND)


async def proxy_residents(*, actor: CurrentUser, community_id: UUID) -> list[tuple[UUID, str]]:
    """(user id, name) of the residents `actor` may book for in the community, by the rule `require_proxy`
    checks: every resident for its staff, the residents of their own grids for a grid worker, nobody else."""
    _, rows = await _proxy_residents(actor, community_id, None)
    return [(r["id"], r["name"]) for r in rows]
