"""Partners (社区合伙人): applications, the approval state machine, members, access and revenue share.

Callers own the unit of work. Other packages use `get`, `require_partner_role`, `is_selling`,
`member_user_ids` and `agreement_in_force`; offerings live in `partners.offerings`.

Who may act for a partner (`require_partner_role`):
- `"admin"`: the partner's admins, and the platform admin. Community staff may NOT manage a partner's
  offerings, slots or members: the partner runs its own business.
- `"staff"`: the partner's admins and staff, plus community staff/admins of the partner's own community and
  the platform admin — the community oversees service delivery (e.g. completing or cancelling a booking for a
  partner that cannot, handling complaints). Staff of another community never pass.
A caller who may not see a non-approved partner gets 404 (existence is not leaked); a caller who may see the
partner but lacks the role gets 403.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from community import access
from community import services as community
from linli import audit, db, outbox
from linli.auth.security import CurrentUser
from linli.errors import BadInput, Forbidden, InvalidTransition, NotFound, register_code
from partners.schemas import (
    MemberIn,
    MemberOut,
    PartnerIn,
    PartnerOut,
    PartnerPage,
    RevenueShareIn,
    RevenueShareOut,
)

PARTNER_NOT_FOUND = register_code("partner_not_found", 404, "合伙人不存在", "No such partner")
PARTNER_NOT_SELLING = register_code(
    "partner_not_selling", 409, "合伙人未获批准或已暂停,不能上架或销售", "This partner is not approved to sell"
)
EFFECTIVE_FROM_IN_PAST = register_code(
    "effective_from_in_past", 422, "生效日期不能早于今天", "effective_from may not be in the past"
)
REASON_REQUIRED = register_code("reason_required", 422, "请填写原因", "A reason is required")
USER_NOT_FOUND = register_code("user_not_found", 404, "用户不存在", "No such user")

_COLUMNS = "id, community_id, name, kind, status, description, contact_phone, created_by, created_at, updated_at"

# action -> (allowed from, to, reason required)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "approve": (("pending",), "approved", False),
    "reject": (("pending",), "rejected", True),
    "suspend": (("approved",), "suspended", True),
    "reinstate": (("suspended",), "approved", False),
}


async def get(*, partner_id: UUID) -> PartnerOut:
    """The partner, whatever its status (404 `partner_not_found`). No access check: for services."""
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM partners WHERE id = $1", partner_id)
    if row is None:
        raise NotFound("no such partner", code=PARTNER_NOT_FOUND)
    return PartnerOut(**dict(row))


async def is_selling(partner_id: UUID) -> bool:
    """True only for an approved partner: pending, rejected and suspended partners cannot publish or sell."""
    status = await db.fetchval("SELECT status FROM partners WHERE id = $1", partner_id)
    return status == "approved"


async def member_role(*, partner_id: UUID, user_id: UUID) -> str | None:
    """`admin`, `staff` or None."""
    return await db.fetchval(
        "SELECT role FROM partner_members WHERE partner_id = $1 AND user_id = $2", partner_id, user_id
    )


async def member_user_ids(*, partner_id: UUID, role: str | None = None) -> list[UUID]:
    """Users who work for the partner (admins and staff, or only `role`), e.g. to dispatch an order to."""
    rows = await db.fetch(
        "SELECT user_id FROM partner_members WHERE partner_id = $1 AND ($2::text IS NULL OR role = $2)"
        " ORDER BY created_at, user_id",
        partner_id,
        role,
    )
    return [r["user_id"] for r in rows]


async def administered_partner(*, user_id: UUID, community_id: UUID, partner_id: UUID | None = None) -> UUID | None:
    """The approved partner of this community that `user_id` administers: `partner_id` if it is one, else the
    oldest such (None when there is none)."""
    return await db.fetchval(
        "SELECT p.id FROM partner_members m JOIN partners p ON p.id = m.partner_id"
        " WHERE m.user_id = $1 AND m.role = 'admin' AND p.community_id = $2 AND p.status = 'approved'"
        " AND ($3::uuid IS NULL OR p.id = $3) ORDER BY p.created_at LIMIT 1",
        user_id,
        community_id,
        partner_id,
    )


async def in_community(*, partner_id: UUID, community_id: UUID) -> bool:
    """Whether the partner exists and belongs to this community (any status)."""
    return bool(
        await db.fetchval("SELECT 1 FROM partners WHERE id = $1 AND community_id = $2", partner_id, community_id)
    )


async def can_act(user: CurrentUser, partner: PartnerOut, role: str) -> bool:
    """May `user` act as partner `role` ("staff" | "admin") for `partner`? See the module docstring."""
    if user.is_platform_admin:
        return True
    held = await member_role(partner_id=partner.id, user_id=user.id)
    if held == "admin" or (held == "staff" and role == "staff"):
        return True
    return role == "staff" and await access.has_role(user, partner.community_id, "staff")


async def can_view(user: CurrentUser | None, partner: PartnerOut) -> bool:
    """Approved partners are public; others only to their members and their community's staff."""
    if partner.status == "approved":
        return True
    return user is not None and await can_act(user, partner, "staff")


async def require_partner_role(user: CurrentUser, partner_id: UUID, role: str) -> PartnerOut:
    """Return the partner if `user` may act as its `role` ("staff" | "admin"); else 404 or 403."""
    partner = await get(partner_id=partner_id)
    if await can_act(user, partner, role):
        return partner
    if not await can_view(user, partner):
        raise NotFound("no such partner", code=PARTNER_NOT_FOUND)
    raise Forbidden(f"requires partner role {role}")


async def get_visible(*, actor: CurrentUser | None, partner_id: UUID) -> PartnerOut:
    partner = await get(partner_id=partner_id)
    if not await can_view(actor, partner):
        raise NotFound("no such partner", code=PARTNER_NOT_FOUND)
    return partner


async def create(*, actor: CurrentUser, partner_in: PartnerIn) -> PartnerOut:
    """Apply as a partner of a community: status `pending`, the caller becomes its admin."""
    await community.get(community_id=partner_in.community_id)
    row = await db.fetchrow(
        "INSERT INTO partners (id, community_id, name, kind, status, description, contact_phone, created_by,"
        " created_at, updated_at) VALUES (gen_random_uuid(), $1, $2, $3, 'pending', $4, $5, $6, now(), now())"
        f" RETURNING {_COLUMNS}",
        partner_in.community_id,
        partner_in.name,
        partner_in.kind,
        partner_in.description,
        partner_in.contact_phone,
        actor.id,
    )
    assert row is not None
    await db.execute(
        "INSERT INTO partner_members (id, partner_id, community_id, user_id, role, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, 'admin', now())",
        row["id"],
        partner_in.community_id,
        actor.id,
    )
    await audit.record(
        actor_user_id=actor.id,
        action="partner.applied",
        object_type="partner",
        object_id=row["id"],
        community_id=partner_in.community_id,
        detail={"name": partner_in.name, "kind": partner_in.kind},
    )
    return PartnerOut(**dict(row))


async def get_all(
    *,
    actor: CurrentUser | None,
    community_id: UUID | None,
    status: str | None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> PartnerPage:
    """Community staff (of `community_id`) see every status; everyone else sees approved partners only."""
    staff = actor is not None and community_id is not None and await access.has_role(actor, community_id, "staff")
    statuses = [status] if status else ["pending", "approved", "rejected", "suspended"]
    if not staff:
        statuses = [s for s in statuses if s == "approved"]
    rows = await db.fetch(
        f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM partners"
        " WHERE ($1::uuid IS NULL OR community_id = $1) AND status = ANY($2::text[])"
        " AND ($3::text IS NULL OR kind = $3)"
        " ORDER BY created_at DESC, id LIMIT $4 OFFSET $5",
        community_id,
        statuses,
        kind,
        limit,
        offset,
    )
    total = rows[0]["total"] if rows else 0
    if not rows and offset > 0:
        total = await db.fetchval(
            "SELECT count(*) FROM partners WHERE ($1::uuid IS NULL OR community_id = $1)"
            " AND status = ANY($2::text[]) AND ($3::text IS NULL OR kind = $3)",
            community_id,
            statuses,
            kind,
        )
    items = [PartnerOut(**{k: v for k, v in dict(r).items() if k != "total"}) for r in rows]
    return PartnerPage(items=items, total=total, limit=limit, offset=offset)


async def transition(*, actor: CurrentUser, partner_id: UUID, action: str, reason: str) -> PartnerOut:
    """approve / reject / suspend / reinstate by staff of the partner's community; audited; 409 otherwise."""
    allowed_from, target, needs_reason = TRANSITIONS[action]
    partner = await get(partner_id=partner_id)
    if not await access.has_role(actor, partner.community_id, "staff"):
        if await can_view(actor, partner):
            raise Forbidden("requires community staff of the partner's community")
        raise NotFound("no such partner", code=PARTNER_NOT_FOUND)
    # Lock the row so two staff members acting at once cannot both pass the state check.
    current = await db.fetchval("SELECT status FROM partners WHERE id = $1 FOR UPDATE", partner_id)
    if current not in allowed_from:
        raise InvalidTransition(entity="partner", current=current, action=action)
    if needs_reason and not reason:
        raise BadInput(f"a reason is required to {action} a partner", code=REASON_REQUIRED)
    row = await db.fetchrow(
        f"UPDATE partners SET status = $2, updated_at = now() WHERE id = $1 RETURNING {_COLUMNS}",
        partner_id,
        target,
    )
    assert row is not None
    await audit.record(
        actor_user_id=actor.id,
        action=f"partner.{action}",
        object_type="partner",
        object_id=partner_id,
        community_id=partner.community_id,
        reason=reason,
        detail={"from": current, "to": target},
    )
    await outbox.emit(
        topic="partner.status_changed",
        payload={
            "partner_id": str(partner_id),
            "community_id": str(partner.community_id),
            "from": current,
            "to": target,
        },
    )
    return PartnerOut(**dict(row))


# --- members -------------------------------------------------------------------------------------------------


async def add_member(*, actor: CurrentUser, partner_id: UUID, member_in: MemberIn) -> MemberOut:
    """A partner admin invites a user as admin or staff (re-inviting changes the role)."""
    partner = await require_partner_role(actor, partner_id, "admin")
    if not await db.fetchval("SELECT 1 FROM users WHERE id = $1", member_in.user_id):
        raise NotFound("no such user", code=USER_NOT_FOUND)
    before = await member_role(partner_id=partner_id, user_id=member_in.user_id)
    await db.execute(
        "INSERT INTO partner_members (id, partner_id, community_id, user_id, role, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, now())"
        " ON CONFLICT (partner_id, user_id) DO UPDATE SET role = EXCLUDED.role",
        partner_id,
        partner.community_id,
        member_in.user_id,
        member_in.role,
    )
    if before != member_in.role:
        await audit.record(
            actor_user_id=actor.id,
            action="partner.member_set",
            object_type="user",
            object_id=member_in.user_id,
            community_id=partner.community_id,
            detail={"partner_id": str(partner_id), "before": before, "after": member_in.role},
        )
    return (await _members(partner_id, member_in.user_id))[0]


async def _members(partner_id: UUID, user_id: UUID | None = None) -> list[MemberOut]:
    rows = await db.fetch(
        "SELECT m.partner_id, m.user_id, u.name, m.role, m.created_at FROM partner_members m"
        " JOIN users u ON u.id = m.user_id WHERE m.partner_id = $1 AND ($2::uuid IS NULL OR m.user_id = $2)"
        " ORDER BY m.role, m.created_at, m.user_id",
        partner_id,
        user_id,
    )
    return [MemberOut(**dict(r)) for r in rows]


async def get_members(*, actor: CurrentUser, partner_id: UUID) -> list[MemberOut]:
    await require_partner_role(actor, partner_id, "staff")
    return await _members(partner_id)


async def workplaces(*, user: CurrentUser) -> list[tuple[PartnerOut, str]]:
    """The partners `user` works for, each with their role there (the console's start page lists them)."""
    rows = await db.fetch(
        "SELECT " + ", ".join(f"p.{c.strip()}" for c in _COLUMNS.split(",")) + ", m.role AS member_role"
        " FROM partner_members m"
        " JOIN partners p ON p.id = m.partner_id WHERE m.user_id = $1 ORDER BY p.name",
        user.id,
    )
    return [(PartnerOut(**{k: v for k, v in dict(r).items() if k != "member_role"}), r["member_role"]) for r in rows]


# --- revenue share -------------------------------------------------------------------------------------------

_AGREEMENT_COLUMNS = "id, partner_id, community_id, rate_bp, category, effective_from, version, created_by, created_at"


async def local_today(community_id: UUID) -> date:
    tz = await community.timezone_of(community_id=community_id)
    return datetime.now(ZoneInfo(tz)).date()


async def set_revenue_share(*, actor: CurrentUser, partner_id: UUID, share_in: RevenueShareIn) -> RevenueShareOut:
    """A community admin records a new agreement version; it may start today or later, never in the past."""
    partner = await get(partner_id=partner_id)
    if not await access.has_role(actor, partner.community_id, "admin"):
        if await can_view(actor, partner):
            raise Forbidden("requires an admin of the partner's community")
        raise NotFound("no such partner", code=PARTNER_NOT_FOUND)
    if share_in.effective_from < await local_today(partner.community_id):
        raise BadInput("effective_from is before today in the community's time zone", code=EFFECTIVE_FROM_IN_PAST)
    # Serialise versions per partner.
    await db.execute("SELECT 1 FROM partners WHERE id = $1 FOR UPDATE", partner_id)
    version = await db.fetchval(
        "SELECT coalesce(max(version), 0) + 1 FROM revenue_share_agreements WHERE partner_id = $1", partner_id
    )
    row = await db.fetchrow(
        "INSERT INTO revenue_share_agreements (id, partner_id, community_id, rate_bp, category, effective_from,"
        " version, created_by, created_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, now())"
        f" RETURNING {_AGREEMENT_COLUMNS}",
        partner_id,
        partner.community_id,
        share_in.rate_bp,
        share_in.category,
        share_in.effective_from,
        version,
        actor.id,
    )
    assert row is not None
    await audit.record(
        actor_user_id=actor.id,
        action="partner.revenue_share_set",
        object_type="partner",
        object_id=partner_id,
        community_id=partner.community_id,
        detail={
            "version": version,
            "rate_bp": share_in.rate_bp,
            "category": share_in.category,
            "effective_from": share_in.effective_from.isoformat(),
        },
    )
    return RevenueShareOut(**dict(row))


async def get_revenue_share_history(*, actor: CurrentUser, partner_id: UUID) -> list[RevenueShareOut]:
    """Every version, newest first: readable by the partner's staff and its community's staff."""
    await require_partner_role(actor, partner_id, "staff")
    rows = await db.fetch(
        f"SELECT {_AGREEMENT_COLUMNS} FROM revenue_share_agreements WHERE partner_id = $1 ORDER BY version DESC",
        partner_id,
    )
    return [RevenueShareOut(**dict(r)) for r in rows]


async def agreement_in_force(*, partner_id: UUID, category: str | None, on_date: date) -> tuple[UUID, int] | None:
    """(agreement_id, rate_bp) in force for `category` on `on_date` (community-local date), or None.

    A version for this very category beats the all-categories one; among candidates the latest
    `effective_from` on or before the date wins, then the highest version.
    """
    row = await db.fetchrow(
        "SELECT id, rate_bp FROM revenue_share_agreements"
        " WHERE partner_id = $1 AND effective_from <= $3 AND (category IS NULL OR category = $2)"
        " ORDER BY (category IS NOT NULL) DESC, effective_from DESC, version DESC LIMIT 1",
        partner_id,
        category,
        on_date,
    )
    return (row["id"], row["rate_bp"]) if row else None
