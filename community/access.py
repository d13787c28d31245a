"""Object-level access: may this caller act on *this* community?

Every endpoint that touches a community's object resolves the object's community first and then asks here;
holding a role somewhere is never enough. Roles: `resident`, `staff`, `admin` per community; `admin` may do
everything `staff` may; the platform admin may do what a community admin may, in every community.
"""

from __future__ import annotations

from uuid import UUID

from linli import db
from linli.auth.security import CurrentUser
from linli.errors import Forbidden, NotFound

ROLES = ("resident", "staff", "admin")
# What each role implies: asking for "staff" admits admins too.
_IMPLIED = {"resident": {"resident"}, "staff": {"staff", "admin"}, "admin": {"admin"}}


async def roles_in(*, user_id: UUID, community_id: UUID) -> set[str]:
    rows = await db.fetch(
        "SELECT role FROM community_memberships WHERE user_id = $1 AND community_id = $2",
        user_id,
        community_id,
    )
    return {r["role"] for r in rows}


async def has_role(user: CurrentUser, community_id: UUID, role: str) -> bool:
    if user.is_platform_admin:
        return True
    return bool(_IMPLIED[role] & await roles_in(user_id=user.id, community_id=community_id))


async def require_community(community_id: UUID) -> None:
    """404 `community_not_found` unless the community exists."""
    if not await db.fetchval("SELECT 1 FROM communities WHERE id = $1", community_id):
        raise NotFound("no such community", code="community_not_found")


async def require_role(user: CurrentUser, community_id: UUID, role: str) -> None:
    """Raise 403 unless `user` holds `role` (or a higher one) in `community_id`, which must exist."""
    await require_community(community_id)
    if not await has_role(user, community_id, role):
        raise Forbidden(f"requires role {role} in this community")


def require_platform_admin(user: CurrentUser) -> None:
    if not user.is_platform_admin:
        raise Forbidden("requires a platform admin")
