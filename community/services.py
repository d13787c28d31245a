"""Communities, memberships, grids and residents' priority groups. Callers own the unit of work."""

from __future__ import annotations

from uuid import UUID

from community import access
from community.schemas import (
    CommunityIn,
    CommunityOut,
    CommunityRoles,
    GridIn,
    GridOut,
    MemberOut,
    MeOut,
    ResidentOut,
)
from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import Conflict, NotFound, register_code

COMMUNITY_NOT_FOUND = register_code("community_not_found", 404, "社区不存在", "No such community")
USER_NOT_FOUND = register_code("user_not_found", 404, "用户不存在", "No such user")
GRID_NOT_FOUND = register_code("grid_not_found", 404, "网格不存在", "No such grid")
GRID_NAME_TAKEN = register_code("grid_name_taken", 409, "网格名称已存在", "A grid with this name exists")
MEMBER_NOT_FOUND = register_code("member_not_found", 404, "该用户不是本社区成员", "Not a member of this community")


async def create(*, actor: CurrentUser, community_in: CommunityIn) -> CommunityOut:
    access.require_platform_admin(actor)
    row = await db.fetchrow(
        "INSERT INTO communities (id, name, timezone, street, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, now()) RETURNING id, name, timezone, street, created_at",
        community_in.name,
        community_in.timezone,
        community_in.street,
    )
    assert row is not None
    await audit.record(
        actor_user_id=actor.id,
        action="community.created",
        object_type="community",
        object_id=row["id"],
        community_id=row["id"],
    )
    return CommunityOut(**dict(row))


async def get(*, community_id: UUID) -> CommunityOut:
    row = await db.fetchrow(
        "SELECT id, name, timezone, street, created_at FROM communities WHERE id = $1", community_id
    )
    if row is None:
        raise NotFound("no such community", code=COMMUNITY_NOT_FOUND)
    return CommunityOut(**dict(row))


async def get_all(*, limit: int = 100, offset: int = 0) -> list[CommunityOut]:
    rows = await db.fetch(
        "SELECT id, name, timezone, street, created_at FROM communities ORDER BY name, id LIMIT $1 OFFSET $2",
        limit,
        offset,
    )
    return [CommunityOut(**dict(r)) for r in rows]


async def timezone_of(*, community_id: UUID) -> str:
    return (await get(community_id=community_id)).timezone


async def _member(community_id: UUID, user_id: UUID) -> MemberOut:
    row = await db.fetchrow(
        "SELECT u.id, u.name, u.phone, coalesce(array_agg(m.role ORDER BY m.role)"
        " FILTER (WHERE m.role IS NOT NULL), '{}') AS roles"
        " FROM users u LEFT JOIN community_memberships m ON m.user_id = u.id AND m.community_id = $1"
        " WHERE u.id = $2 GROUP BY u.id",
        community_id,
        user_id,
    )
    if row is None:
        raise NotFound("no such user", code=USER_NOT_FOUND)
    return MemberOut(
        community_id=community_id, user_id=row["id"], name=row["name"], phone=row["phone"], roles=row["roles"]
    )


async def grant_role(*, actor: CurrentUser, community_id: UUID, user_id: UUID, role: str) -> MemberOut:
    """Give `user_id` a role in the community (granting twice is a no-op)."""
    await access.require_role(actor, community_id, "admin")
    if not await db.fetchval("SELECT 1 FROM users WHERE id = $1", user_id):
        raise NotFound("no such user", code=USER_NOT_FOUND)
    inserted = await db.fetchval(
        "INSERT INTO community_memberships (id, community_id, user_id, role, granted_by, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, now())"
        " ON CONFLICT (community_id, user_id, role) DO NOTHING RETURNING id",
        community_id,
        user_id,
        role,
        actor.id,
    )
    if inserted:
        await audit.record(
            actor_user_id=actor.id,
            action="member.role_granted",
            object_type="user",
            object_id=user_id,
            community_id=community_id,
            detail={"role": role},
        )
    return await _member(community_id, user_id)


async def revoke_role(*, actor: CurrentUser, community_id: UUID, user_id: UUID, role: str) -> MemberOut:
    await access.require_role(actor, community_id, "admin")
    if role == "admin" and user_id == actor.id and not actor.is_platform_admin:
        raise Conflict("an admin cannot remove their own admin role")
    deleted = await db.fetchval(
        "DELETE FROM community_memberships WHERE community_id = $1 AND user_id = $2 AND role = $3 RETURNING id",
        community_id,
        user_id,
        role,
    )
    if not deleted and not await access.roles_in(user_id=user_id, community_id=community_id):
        # Someone with no role here is not this community's to show: their name and phone stay theirs.
        raise NotFound("not a member of this community", code=MEMBER_NOT_FOUND)
    if deleted:
        await audit.record(
            actor_user_id=actor.id,
            action="member.role_revoked",
            object_type="user",
            object_id=user_id,
            community_id=community_id,
            detail={"role": role},
        )
    return await _member(community_id, user_id)


async def get_members(
    *, actor: CurrentUser, community_id: UUID, role: str | None, limit: int, offset: int
) -> list[MemberOut]:
    await access.require_role(actor, community_id, "staff")
    rows = await db.fetch(
        "SELECT u.id, u.name, u.phone, array_agg(m.role ORDER BY m.role) AS roles"
        " FROM community_memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.community_id = $1 GROUP BY u.id"
        " HAVING $2::text IS NULL OR $2 = ANY(array_agg(m.role))"
        " ORDER BY u.name, u.id LIMIT $3 OFFSET $4",
        community_id,
        role,
        limit,
        offset,
    )
    return [
        MemberOut(community_id=community_id, user_id=r["id"], name=r["name"], phone=r["phone"], roles=r["roles"])
        for r in rows
    ]


async def _ensure_resident(community_id: UUID, user_id: UUID) -> None:
    """A resident record needs the user to belong to the community as a resident."""
    if not await db.fetchval("SELECT 1 FROM users WHERE id = $1", user_id):
        raise NotFound("no such user", code=USER_NOT_FOUND)
    await db.execute(
        "INSERT INTO community_memberships (id, community_id, user_id, role, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, 'resident', now()) ON CONFLICT DO NOTHING",
        community_id,
        user_id,
    )


async def set_priority_groups(
    *, actor: CurrentUser, community_id: UUID, user_id: UUID, groups: list[str]
) -> ResidentOut:
    """Staff mark a resident's priority groups (they decide subsidised prices); audited."""
    await access.require_role(actor, community_id, "staff")
    await _ensure_resident(community_id, user_id)
    before = await db.fetchval(
        "SELECT priority_groups FROM community_residents WHERE community_id = $1 AND user_id = $2",
        community_id,
        user_id,
    )
    row = await db.fetchrow(
        "INSERT INTO community_residents (id, community_id, user_id, priority_groups, updated_by, updated_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, now())"
        " ON CONFLICT (community_id, user_id) DO UPDATE"
        " SET priority_groups = EXCLUDED.priority_groups, updated_by = EXCLUDED.updated_by, updated_at = now()"
        " RETURNING community_id, user_id, priority_groups, grid_id",
        community_id,
        user_id,
        groups,
        actor.id,
    )
    assert row is not None
    await audit.record(
        actor_user_id=actor.id,
        action="resident.priority_groups_set",
        object_type="user",
        object_id=user_id,
        community_id=community_id,
        detail={"before": list(before or []), "after": groups},
    )
    return ResidentOut(**dict(row))


async def get_resident(*, actor: CurrentUser, community_id: UUID, user_id: UUID) -> ResidentOut:
    if actor.id != user_id:
        await access.require_role(actor, community_id, "staff")
    row = await db.fetchrow(
        "SELECT community_id, user_id, priority_groups, grid_id FROM community_residents"
        " WHERE community_id = $1 AND user_id = $2",
        community_id,
        user_id,
    )
    if row is None:
        await get(community_id=community_id)
        return ResidentOut(community_id=community_id, user_id=user_id, priority_groups=[], grid_id=None)
    return ResidentOut(**dict(row))


async def priority_groups_of(*, community_id: UUID, user_id: UUID) -> list[str]:
    """The groups that price a resident's bookings in this community (empty when none)."""
    groups = await db.fetchval(
        "SELECT priority_groups FROM community_residents WHERE community_id = $1 AND user_id = $2",
        community_id,
        user_id,
    )
    return list(groups or [])


async def staff_user_ids(*, community_id: UUID) -> list[UUID]:
    """Everyone who holds staff or admin in the community, e.g. to alert them."""
    rows = await db.fetch(
        "SELECT DISTINCT user_id FROM community_memberships WHERE community_id = $1 AND role IN ('staff', 'admin')"
        " ORDER BY user_id",
        community_id,
    )
    return [r["user_id"] for r in rows]


async def create_grid(*, actor: CurrentUser, community_id: UUID, grid_in: GridIn) -> GridOut:
    await access.require_role(actor, community_id, "admin")
    if grid_in.worker_user_id is not None:
        await _require_staff_member(community_id, grid_in.worker_user_id)
    if await db.fetchval(
        "SELECT 1 FROM community_grids WHERE community_id = $1 AND name = $2", community_id, grid_in.name
    ):
        raise Conflict("grid name taken", code=GRID_NAME_TAKEN)
    row = await db.fetchrow(
        "INSERT INTO community_grids (id, community_id, name, description, worker_user_id, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, now())"
        " RETURNING id, community_id, name, description, worker_user_id",
        community_id,
        grid_in.name,
        grid_in.description,
        grid_in.worker_user_id,
    )
    return GridOut(**dict(row))  # type: ignore[arg-type]


async def _require_staff_member(community_id: UUID, user_id: UUID) -> None:
    if not await db.fetchval(
        "SELECT 1 FROM community_memberships WHERE community_id = $1 AND user_id = $2 AND role IN ('staff','admin')",
        community_id,
        user_id,
    ):
        raise Conflict("a grid worker must be staff of this community")


async def get_grids(*, actor: CurrentUser, community_id: UUID) -> list[GridOut]:
    await access.require_role(actor, community_id, "staff")
    rows = await db.fetch(
        "SELECT id, community_id, name, description, worker_user_id FROM community_grids"
        " WHERE community_id = $1 ORDER BY name",
        community_id,
    )
    return [GridOut(**dict(r)) for r in rows]


async def set_resident_grid(
    *, actor: CurrentUser, community_id: UUID, user_id: UUID, grid_id: UUID | None
) -> ResidentOut:
    await access.require_role(actor, community_id, "staff")
    if grid_id is not None and not await db.fetchval(
        "SELECT 1 FROM community_grids WHERE id = $1 AND community_id = $2", grid_id, community_id
    ):
        raise NotFound("no such grid in this community", code=GRID_NOT_FOUND)
    await _ensure_resident(community_id, user_id)
    row = await db.fetchrow(
        "INSERT INTO community_residents (id, community_id, user_id, priority_groups, grid_id, updated_by, updated_at)"
        " VALUES (gen_random_uuid(), $1, $2, '{}', $3, $4, now())"
        " ON CONFLICT (community_id, user_id) DO UPDATE"
        " SET grid_id = EXCLUDED.grid_id, updated_by = EXCLUDED.updated_by, updated_at = now()"
        " RETURNING community_id, user_id, priority_groups, grid_id",
        community_id,
        user_id,
        grid_id,
        actor.id,
    )
    return ResidentOut(**dict(row))  # type: ignore[arg-type]


async def me(*, user: CurrentUser) -> MeOut:
    rows = await db.fetch(
        "SELECT c.id, c.name, array_agg(DISTINCT m.role) AS roles,"
        " coalesce((SELECT r.priority_groups FROM community_residents r"
        "   WHERE r.community_id = c.id AND r.user_id = $1), '{}') AS groups"
        " FROM community_memberships m JOIN communities c ON c.id = m.community_id"
        " WHERE m.user_id = $1 GROUP BY c.id ORDER BY c.name",
        user.id,
    )
    return MeOut(
        id=user.id,
        phone=user.phone,
        name=user.name,
        is_platform_admin=user.is_platform_admin,
        communities=[
            CommunityRoles(
                community_id=r["id"],
                community_name=r["name"],
                roles=sorted(r["roles"]),
                priority_groups=list(r["groups"]),
            )
            for r in rows
        ],
    )
