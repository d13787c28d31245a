"""Bookings of slots: create (capacity, price snapshot, 代办), read, and the lifecycle state machine.

    confirmed ──accept──▶ accepted ──complete──▶ completed
        │  └──────────────complete (slot bookings)──▲
        ├──cancel──▶ cancelled      (also from accepted)
        └──no_show─▶ no_show        (also from accepted; once the slot has started)

Completing a confirmed *slot* booking accepts it implicitly (a canteen serving the meal has accepted it);
on-demand orders must be accepted first. Anything else is 409 `invalid_transition`. Callers own the unit of work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import BadInput, Conflict, InvalidTransition, NotFound
from marketplace import pricing, sms
from marketplace.errors import CANCEL_CUTOFF_PASSED, SLOT_FULL, SLOT_NOT_FOUND, SLOT_NOT_STARTED
from marketplace.schemas import BookingIn, BookingOut, BookingPage, BookingQuoteOut
from marketplace.services import access, holds, waitlist
from marketplace.services.placing import (
    BOOKING_COLUMNS,
    booking_out,
    check_bookable,
    emit_booking_event,
    lock_slot,
    reload,
    slot_context,
    take_places,
)
from partners import services as partners

# Bookings that hold places and may still be cancelled; a held one is an offer not yet confirmed.
ACTIVE = ("held", "confirmed", "accepted")


async def _bookable_context(actor: CurrentUser, booking_in: BookingIn, *, lock_slot: bool) -> tuple[Any, UUID, bool]:
    """(slot context, resident, by proxy) of a booking `actor` may make now: the slot exists, 代办 is allowed,
    the slot's booking rules hold and its free places are not the waitlist's (capacity itself is decided by the
    atomic UPDATE alone). `lock_slot`: the waitlist check locks the slot row, as a booking must."""
    resident_id = booking_in.resident_id or actor.id
    ctx = await slot_context(booking_in.slot_id, resident_id)
    if ctx is None:
        raise NotFound("no such slot", code=SLOT_NOT_FOUND)
    proxy = resident_id != actor.id
    if proxy:
        await access.require_proxy(actor, community_id=ctx["community_id"], resident_id=resident_id)
    check_bookable(ctx, quantity=booking_in.quantity, now=datetime.now(UTC))
    if ctx["has_waitlist"] and await waitlist.reserved_for_line(slot_id=ctx["slot_id"], lock=lock_slot):
        # Places freed while promotion could not run (e.g. the offering was paused) belong to the line; the
        # periodic promotion job hands them out.
        raise Conflict("the free places are kept for the waitlist", code=SLOT_FULL)
    return ctx, resident_id, proxy


async def create(*, actor: CurrentUser, booking_in: BookingIn) -> BookingOut:
    """Book places of a slot for the caller, or (代办) for a resident of the slot's community; 409 `slot_full`."""
    ctx, resident_id, proxy = await _bookable_context(actor, booking_in, lock_slot=True)
    row = await take_places(
        ctx=ctx,
        resident_id=resident_id,
        booked_by=actor.id,
        quantity=booking_in.quantity,
        via="direct",
        # A booking for oneself ends here: usually one statement, with no transaction block around it.
        last=not proxy,
    )
    if proxy:
        await audit.record(
            actor_user_id=actor.id,
            action="booking.booked_on_behalf",
            object_type="booking",
            object_id=row["id"],
            community_id=ctx["community_id"],
            detail={"resident_id": str(resident_id), "slot_id": str(ctx["slot_id"])},
        )
        # The resident did not press the button: they are texted and may confirm (Y) or cancel (N) until the
        # cutoff, after which they could not cancel anyway (marketplace.sms).
        await sms.open_prompt(
            kind=sms.PROXY_BOOKING,
            booking_id=row["id"],
            community_id=ctx["community_id"],
            resident_id=resident_id,
            expires_at=ctx["starts_at"] - timedelta(minutes=ctx["cancel_cutoff_minutes"]),
        )
    return booking_out(row, slot_starts_at=ctx["starts_at"])


async def preview(*, actor: CurrentUser, booking_in: BookingIn) -> BookingQuoteOut:
    """What booking `booking_in` would cost the resident now (price, subsidy, payable), by the rules `create`
    applies, writing nothing: the page a resident confirms on, and the API's quote."""
    ctx, resident_id, _proxy = await _bookable_context(actor, booking_in, lock_slot=False)
    quote = await pricing.quote_for(
        resident_id=resident_id,
        offering_id=ctx["offering_id"],
        list_price_fen=ctx["price_fen"],
        subsidies=pricing.parse_subsidies(ctx["subsidies"]),
        groups=ctx["groups"] or [],
        quantity=booking_in.quantity,
        daily_limit=ctx["per_resident_daily_limit"],
        service_day=ctx["starts_at"].astimezone(ZoneInfo(ctx["timezone"])).date(),
        timezone=ctx["timezone"],
    )
    return BookingQuoteOut(
        slot_id=ctx["slot_id"],
        offering_id=ctx["offering_id"],
        resident_id=resident_id,
        starts_at=ctx["starts_at"],
        remaining=max(0, ctx["capacity"] - ctx["booked"]),
        quantity=quote.quantity,
        list_price_fen=quote.list_price_fen,
        unit_price_fen=quote.unit_price_fen,
        price_fen=quote.price_fen,
        subsidy_fen=quote.subsidy_fen,
        payable_fen=quote.payable_fen,
        subsidised_quantity=quote.subsidised_quantity,
        priority_group=quote.priority_group,
    )


async def get(*, actor: CurrentUser, booking_id: UUID) -> BookingOut:
    """A booking its resident, booker or partner side may see (404 for anyone else)."""
    seen = await access.booking_for(actor, booking_id)
    return booking_out(seen.row)


_LIST_SQL = (
    f"SELECT {BOOKING_COLUMNS}, (SELECT starts_at FROM slots s WHERE s.id = b.slot_id) AS slot_starts_at,"
    " count(*) OVER () AS total FROM bookings b WHERE {where}"
    " ORDER BY created_at DESC, id LIMIT $2 OFFSET $3"
)


async def get_mine(*, actor: CurrentUser, status: str | None, limit: int, offset: int) -> BookingPage:
    rows = await db.fetch(
        _LIST_SQL.format(where="resident_id = $1 AND ($4::text IS NULL OR status = $4)"),
        actor.id,
        limit,
        offset,
        status,
    )
    return BookingPage(items=[booking_out(r) for r in rows], total=rows[0]["total"] if rows else 0)


async def get_for_partner(
    *, actor: CurrentUser, partner_id: UUID, status: str | None, slot_id: UUID | None, limit: int, offset: int
) -> BookingPage:
    """A partner's bookings, for its staff and its community's staff."""
    await partners.require_partner_role(actor, partner_id, "staff")
    rows = await db.fetch(
        _LIST_SQL.format(
            where="partner_id = $1 AND ($4::text IS NULL OR status = $4) AND ($5::uuid IS NULL OR slot_id = $5)"
        ),
        partner_id,
        limit,
        offset,
        status,
        slot_id,
    )
    return BookingPage(items=[booking_out(r) for r in rows], total=rows[0]["total"] if rows else 0)


async def accept(*, actor: CurrentUser, booking_id: UUID) -> BookingOut:
    """Partner staff accept a confirmed booking or order."""
    seen = await access.booking_for(actor, booking_id, for_update=True)
    seen.require_partner_side()
    if seen.row["status"] != "confirmed":
        raise InvalidTransition(entity="booking", current=seen.row["status"], action="accept")
    await db.execute("UPDATE bookings SET status = 'accepted', accepted_at = now() WHERE id = $1", booking_id)
    await emit_booking_event("booking.accepted", seen.row, accepted_by=actor.id)
    return await reload(booking_id)


async def complete(*, actor: CurrentUser, booking_id: UUID) -> BookingOut:
    """Partner staff complete a booking: revenue is recognised now, under the agreement in force today.

    Fixes `completed_at`, `completed_period` (month of completion in community time) and the revenue-share
    agreement and rate in force on the community-local completion date; settlement reads exactly these.
    """
    seen = await access.booking_for(actor, booking_id, for_update=True)
    seen.require_partner_side()
    row = seen.row
    allowed = ("confirmed", "accepted") if row["kind"] == "slot" else ("accepted",)
    if row["status"] not in allowed:
        raise InvalidTransition(entity="booking", current=row["status"], action="complete")
    tz = await db.fetchval("SELECT timezone FROM communities WHERE id = $1", row["community_id"])
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(tz))
    agreement = await partners.agreement_in_force(
        partner_id=row["partner_id"], category=row["category"], on_date=local.date()
    )
    await db.execute(
        "UPDATE bookings SET status = 'completed', completed_at = $2, accepted_at = coalesce(accepted_at, $2),"
        " completed_period = $3, agreement_id = $4, share_rate_bp = $5 WHERE id = $1",
        booking_id,
        now,
        local.strftime("%Y-%m"),
        agreement[0] if agreement else None,
        agreement[1] if agreement else None,
    )
    await emit_booking_event("booking.completed", row, completed_by=actor.id, period=local.strftime("%Y-%m"))
    return await reload(booking_id)


async def cancel(*, actor: CurrentUser, booking_id: UUID, reason: str) -> BookingOut:
    """Cancel and free the places, promoting the waitlist in the same transaction.

    The resident (or whoever booked for them) may cancel until the offering's cutoff before the slot starts;
    the partner side may cancel at any time but must give a reason.
    """
    seen = await access.booking_for(actor, booking_id)
    # Lock order slot → booking, the same as booking and promotion, so racing cancellations never deadlock.
    slot = await lock_slot(seen.row["slot_id"])
    seen = await access.booking_for(actor, booking_id, for_update=True)
    row = seen.row
    if row["status"] not in ACTIVE:
        raise InvalidTransition(entity="booking", current=row["status"], action="cancel")
    by_partner = not seen.resident_side
    if by_partner and not reason:
        raise BadInput("the partner must give a reason to cancel", code=partners.REASON_REQUIRED)
    # Declining a held place is always allowed: the resident never took it, and the next in line should get it.
    if not by_partner and slot is not None and row["status"] != "held":
        cutoff = await db.fetchval("SELECT cancel_cutoff_minutes FROM offerings WHERE id = $1", row["offering_id"])
        if datetime.now(UTC) > slot["starts_at"] - timedelta(minutes=cutoff):
            raise Conflict("too late to cancel this booking", code=CANCEL_CUTOFF_PASSED)
    await db.execute(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2, cancel_reason = $3"
        " WHERE id = $1",
        booking_id,
        actor.id,
        reason or None,
    )
    if row["status"] == "held":
        await holds.close_offer(booking_id=booking_id, entry_status="cancelled" if by_partner else "declined")
    if slot is not None:
        await db.execute("UPDATE slots SET booked = booked - $2 WHERE id = $1", slot["id"], row["quantity"])
        await waitlist.promote(slot_id=slot["id"])
    if by_partner:
        await audit.record(
            actor_user_id=actor.id,
            action="booking.cancelled_by_partner",
            object_type="booking",
            object_id=booking_id,
            community_id=row["community_id"],
            reason=reason,
        )
    await emit_booking_event("booking.cancelled", row, cancelled_by=actor.id, by_partner=by_partner, reason=reason)
    return await reload(booking_id)


async def no_show(*, actor: CurrentUser, booking_id: UUID) -> BookingOut:
    """Partner staff record that the resident did not come (only once the slot has started)."""
    seen = await access.booking_for(actor, booking_id)
    seen.require_partner_side()
    slot = await lock_slot(seen.row["slot_id"])
    seen = await access.booking_for(actor, booking_id, for_update=True)
    row = seen.row
    if row["status"] not in ("confirmed", "accepted"):
        raise InvalidTransition(entity="booking", current=row["status"], action="mark no-show")
    if slot is not None and slot["starts_at"] > datetime.now(UTC):
        raise Conflict("a no-show can only be recorded once the slot has started", code=SLOT_NOT_STARTED)
    await db.execute("UPDATE bookings SET status = 'no_show' WHERE id = $1", booking_id)
    if slot is not None:
        # The place is no longer held; the slot has started, so nobody is promoted into it.
        await db.execute("UPDATE slots SET booked = booked - $2 WHERE id = $1", slot["id"], row["quantity"])
    await emit_booking_event("booking.no_show", row, recorded_by=actor.id)
    return await reload(booking_id)


async def cancel_all_for_slot(*, slot_id: UUID, cancelled_by: UUID | None, reason: str) -> list[UUID]:
    """The partner cancelled a slot: cancel its active bookings and waiting entries, free the places.

    Run by a worker on `slot.cancelled`; idempotent (only active bookings change), so redelivery is harmless.
    """
    slot = await lock_slot(slot_id)
    if slot is None:
        return []
    rows = await db.fetch(
        "UPDATE bookings SET status = 'cancelled', cancelled_at = now(), cancelled_by = $2, cancel_reason = $3"
        " WHERE slot_id = $1 AND status IN ('held', 'confirmed', 'accepted')"
        " RETURNING id, resident_id, partner_id, community_id, kind, quantity",
        slot_id,
        cancelled_by,
        reason or "slot cancelled",
    )
    freed = sum(r["quantity"] for r in rows)
    if freed:
        await db.execute("UPDATE slots SET booked = booked - $2 WHERE id = $1", slot_id, freed)
    await db.execute(
        "UPDATE waitlist_entries SET status = 'cancelled', cancelled_at = now() WHERE slot_id = $1"
        " AND status IN ('waiting', 'offered')",
        slot_id,
    )
    for row in rows:
        await emit_booking_event(
            "booking.cancelled",
            row,
            cancelled_by=cancelled_by or UUID(int=0),
            by_partner=True,
            reason=reason or "slot cancelled",
        )
    return [r["id"] for r in rows]
