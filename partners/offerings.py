"""Offerings: what a partner sells — create, edit, publish / pause / archive. Callers own the unit of work.

Other packages use `get(offering_id=)` and `require_bookable(offering_id=)`; pricing (which subsidy applies)
belongs to the marketplace, this module only stores `subsidies`.

State machine: draft -> published; published <-> paused; draft|published|paused -> archived (final).
Only an approved partner can publish (409 `partner_not_selling`).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import BadInput, Conflict, InvalidTransition, NotFound, register_code
from partners import search_text
from partners import services as partners
from partners.schemas import OfferingIn, OfferingOut, OfferingPatch, check_subsidy_prices

OFFERING_NOT_FOUND = register_code("offering_not_found", 404, "服务项目不存在", "No such offering")
OFFERING_NOT_BOOKABLE = register_code(
    "offering_not_bookable", 409, "该服务项目当前不可预约", "This offering cannot be booked now"
)

COLUMNS = (
    "id, partner_id, community_id, title, category, description, price_fen, subsidies, status, on_demand,"
    " min_notice_minutes, cancel_cutoff_minutes, per_resident_daily_limit, waitlist_hold_minutes,"
    " accepts_time_credits, created_at, updated_at"
)

# action -> (allowed from, to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "publish": (("draft", "paused"), "published"),
    "pause": (("published",), "paused"),
    "archive": (("draft", "published", "paused"), "archived"),
}


def to_out(row: Any) -> OfferingOut:
    data = {k: row[k] for k in OfferingOut.model_fields}
    if isinstance(data["subsidies"], str):
        data["subsidies"] = json.loads(data["subsidies"])
    return OfferingOut(**data)


async def get(*, offering_id: UUID) -> OfferingOut:
    """The offering whatever its status (404 `offering_not_found`). No access check: for services."""
    row = await db.fetchrow(f"SELECT {COLUMNS} FROM offerings WHERE id = $1", offering_id)
    if row is None:
        raise NotFound("no such offering", code=OFFERING_NOT_FOUND)
    return to_out(row)


async def is_public(offering: OfferingOut) -> bool:
    """Published offerings of approved partners are in the public catalog."""
    return offering.status == "published" and await partners.is_selling(offering.partner_id)


async def require_bookable(*, offering_id: UUID) -> OfferingOut:
    """The offering if residents may book it now (published, partner approved); 409 otherwise."""
    offering = await get(offering_id=offering_id)
    if offering.status != "published":
        raise Conflict(f"offering is {offering.status}", code=OFFERING_NOT_BOOKABLE)
    if not await partners.is_selling(offering.partner_id):
        raise Conflict("the partner is not approved to sell", code=partners.PARTNER_NOT_SELLING)
    return offering


async def get_visible(*, actor: CurrentUser | None, offering_id: UUID) -> OfferingOut:
    """Public offerings to anyone; drafts, paused and archived ones only to the partner's staff (else 404)."""
    offering = await get(offering_id=offering_id)
    if await is_public(offering):
        return offering
    partner = await partners.get(partner_id=offering.partner_id)
    if actor is None or not await partners.can_act(actor, partner, "staff"):
        raise NotFound("no such offering", code=OFFERING_NOT_FOUND)
    return offering


async def require_offering_role(actor: CurrentUser, offering_id: UUID, role: str) -> OfferingOut:
    """The offering if `actor` may act as partner `role` for its partner; 404 if they may not even see it."""
    offering = await get(offering_id=offering_id)
    partner = await partners.get(partner_id=offering.partner_id)
    if await partners.can_act(actor, partner, role):
        return offering
    if not await is_public(offering) and not await partners.can_act(actor, partner, "staff"):
        raise NotFound("no such offering", code=OFFERING_NOT_FOUND)
    await partners.require_partner_role(actor, offering.partner_id, role)  # raises 403
    return offering


async def create(*, actor: CurrentUser, partner_id: UUID, offering_in: OfferingIn) -> OfferingOut:
    """A partner admin adds an offering as a draft (any partner status: publishing needs approval)."""
    partner = await partners.require_partner_role(actor, partner_id, "admin")
    if partner.status == "rejected":
        raise InvalidTransition(entity="partner", current="rejected", action="add offerings")
    row = await db.fetchrow(
        "INSERT INTO offerings (id, partner_id, community_id, title, category, description, price_fen, subsidies,"
        " status, on_demand, min_notice_minutes, cancel_cutoff_minutes, per_resident_daily_limit,"
        " accepts_time_credits, search_text, search_grams, waitlist_hold_minutes, created_at, updated_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7::jsonb, 'draft', $8, $9, $10, $11, $12, $13, $14,"
        f" $15, now(), now()) RETURNING {COLUMNS}",
        partner_id,
        partner.community_id,
        offering_in.title,
        offering_in.category,
        offering_in.description,
        offering_in.price_fen,
        json.dumps(offering_in.subsidies),
        offering_in.on_demand,
        offering_in.min_notice_minutes,
        offering_in.cancel_cutoff_minutes,
        offering_in.per_resident_daily_limit,
        offering_in.accepts_time_credits,
        search_text.search_text(offering_in.title, offering_in.description, partner.name),
        search_text.search_grams(offering_in.title, offering_in.description, partner.name),
        offering_in.waitlist_hold_minutes,
    )
    assert row is not None
    await audit.record(
        actor_user_id=actor.id,
        action="offering.created",
        object_type="offering",
        object_id=row["id"],
        community_id=partner.community_id,
        detail={"title": offering_in.title, "price_fen": offering_in.price_fen},
    )
    return to_out(row)


async def get_all_of_partner(*, actor: CurrentUser, partner_id: UUID) -> list[OfferingOut]:
    """Every offering of a partner, any status, for its staff."""
    await partners.require_partner_role(actor, partner_id, "staff")
    rows = await db.fetch(
        f"SELECT {COLUMNS} FROM offerings WHERE partner_id = $1 ORDER BY created_at DESC, id", partner_id
    )
    return [to_out(r) for r in rows]


async def update(*, actor: CurrentUser, offering_id: UUID, patch: OfferingPatch) -> OfferingOut:
    """Edit an offering (not an archived one). Bookings keep their price snapshot; search text follows."""
    await require_offering_role(actor, offering_id, "admin")
    row = await db.fetchrow(f"SELECT {COLUMNS} FROM offerings WHERE id = $1 FOR UPDATE", offering_id)
    assert row is not None
    partner = await partners.get(partner_id=row["partner_id"])
    current = to_out(row)
    if current.status == "archived":
        raise InvalidTransition(entity="offering", current="archived", action="edit")
    changes = patch.model_dump(exclude_unset=True)
    merged = current.model_copy(update=changes)
    try:
        check_subsidy_prices(merged.subsidies, merged.price_fen)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    row = await db.fetchrow(
        "UPDATE offerings SET title = $2, category = $3, description = $4, price_fen = $5, subsidies = $6::jsonb,"
        " on_demand = $7, min_notice_minutes = $8, cancel_cutoff_minutes = $9, per_resident_daily_limit = $10,"
        " accepts_time_credits = $11, search_text = $12, search_grams = $13, waitlist_hold_minutes = $14,"
        " updated_at = now()"
        f" WHERE id = $1 RETURNING {COLUMNS}",
        offering_id,
        merged.title,
        merged.category,
        merged.description,
        merged.price_fen,
        json.dumps(merged.subsidies),
        merged.on_demand,
        merged.min_notice_minutes,
        merged.cancel_cutoff_minutes,
        merged.per_resident_daily_limit,
        merged.accepts_time_credits,
        search_text.search_text(merged.title, merged.description, partner.name),
        search_text.search_grams(merged.title, merged.description, partner.name),
        merged.waitlist_hold_minutes,
    )
    assert row is not None
    if changes:
        await audit.record(
            actor_user_id=actor.id,
            action="offering.updated",
            object_type="offering",
            object_id=offering_id,
            community_id=current.community_id,
            detail={"changes": changes},
        )
    return to_out(row)


async def transition(*, actor: CurrentUser, offering_id: UUID, action: str) -> OfferingOut:
    """publish / pause / archive by a partner admin; a partner that is not approved cannot publish."""
    allowed_from, target = TRANSITIONS[action]
    offering = await require_offering_role(actor, offering_id, "admin")
    current = await db.fetchval("SELECT status FROM offerings WHERE id = $1 FOR UPDATE", offering_id)
    if current not in allowed_from:
        raise InvalidTransition(entity="offering", current=current, action=action)
    if target == "published" and not await partners.is_selling(offering.partner_id):
        raise Conflict("only an approved partner can publish", code=partners.PARTNER_NOT_SELLING)
    row = await db.fetchrow(
        f"UPDATE offerings SET status = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}",
        offering_id,
        target,
    )
    await audit.record(
        actor_user_id=actor.id,
        action=f"offering.{action}",
        object_type="offering",
        object_id=offering_id,
        community_id=offering.community_id,
        detail={"from": current, "to": target},
    )
    return to_out(row)
