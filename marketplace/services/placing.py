"""Taking places in a slot: the capacity rule lives here, shared by direct bookings and waitlist promotions.

A place is taken by ONE atomic statement, `UPDATE slots SET booked = booked + q WHERE … booked + q <= capacity`,
in the same unit of work as the booking row: PostgreSQL's row lock serialises racing requests from any number of
API processes, and the loser of the last place sees zero rows (409 `slot_full`). The CHECK on `slots` is the last
line of defence. Lock order is always slot row → pricing's advisory lock → booking row, so a direct booking, a
cancellation and a waitlist promotion never deadlock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from linli import db, outbox
from linli.errors import BadInput, Conflict
from marketplace import pricing
from marketplace.errors import OFFERING_NOT_BOOKABLE, QUANTITY_EXCEEDS_CAPACITY, SLOT_FULL, SLOT_NOT_BOOKABLE
from marketplace.schemas import BookingOut
from partners.services import PARTNER_NOT_SELLING

BOOKING_COLUMNS = (
    "id, kind, status, community_id, partner_id, offering_id, slot_id, category, resident_id, booked_by, quantity,"
    " unit_price_fen, price_fen, subsidy_fen, payable_fen, subsidised_quantity, priority_group, created_at,"
    " accepted_at, completed_at, completed_period, agreement_id, share_rate_bp, cancelled_at, cancel_reason,"
    " hold_expires_at"
)

# Everything a booking needs to know about a slot, its offering, partner and community, and the resident's
# priority groups there, in one round trip.
SLOT_CONTEXT_SQL = (
    "SELECT s.id AS slot_id, s.starts_at, s.capacity, s.booked, s.status AS slot_status, s.community_id,"
    " o.partner_id, o.id AS offering_id, o.category, o.price_fen, o.subsidies, o.status AS offering_status,"
    " o.on_demand, o.min_notice_minutes, o.cancel_cutoff_minutes, o.per_resident_daily_limit,"
    " o.waitlist_hold_minutes, p.status AS partner_status, c.timezone,"
    " (SELECT r.priority_groups FROM community_residents r"
    "   WHERE r.community_id = s.community_id AND r.user_id = $2) AS groups,"
    " EXISTS (SELECT 1 FROM waitlist_entries w WHERE w.slot_id = s.id AND w.status = 'waiting') AS has_waitlist"
    " FROM slots s JOIN offerings o ON o.id = s.offering_id JOIN partners p ON p.id = o.partner_id"
    " JOIN communities c ON c.id = s.community_id WHERE s.id = $1"
)

TAKE_PLACES_SQL = (
    "UPDATE slots SET booked = booked + $2 WHERE id = $1 AND status = 'open' AND booked + $2 <= capacity"
    " RETURNING booked"
)

INSERT_BOOKING_SQL = (
    "INSERT INTO bookings (id, community_id, partner_id, offering_id, slot_id, kind, category, resident_id,"
    " booked_by, quantity, unit_price_fen, price_fen, subsidy_fen, payable_fen, subsidised_quantity,"
    " priority_group, status, created_at)"
    " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 'confirmed',"
    f" now()) RETURNING {BOOKING_COLUMNS}"
)


async def emit_booking_event(topic: str, row: Any, **extra: Any) -> None:
    """Announce a change of booking `row` through the outbox (ids as strings; `extra` adds to the payload)."""
    payload = {
        "booking_id": str(row["id"]),
        "resident_id": str(row["resident_id"]),
        "partner_id": str(row["partner_id"]),
        "community_id": str(row["community_id"]),
        "kind": row["kind"],
    }
    payload.update({k: str(v) if isinstance(v, UUID) else v for k, v in extra.items()})
    await outbox.emit(topic=topic, payload=payload)


def booking_out(row: Any, *, slot_starts_at: datetime | None = None) -> BookingOut:
    data = {k: row[k] for k in BookingOut.model_fields if k != "slot_starts_at"}
    if slot_starts_at is None and "slot_starts_at" in row:
        slot_starts_at = row["slot_starts_at"]
    return BookingOut(**data, slot_starts_at=slot_starts_at)


async def reload(booking_id: UUID) -> BookingOut:
    """The booking as it stands now, with its slot's start."""
    row = await db.fetchrow(
        f"SELECT {BOOKING_COLUMNS}, (SELECT starts_at FROM slots s WHERE s.id = b.slot_id) AS slot_starts_at"
        " FROM bookings b WHERE id = $1",
        booking_id,
    )
    return booking_out(row)


def check_bookable(ctx: Any, *, quantity: int, now: datetime, min_notice: bool = True) -> None:
    """The booking rules of a slot (not its capacity, which only the atomic UPDATE decides)."""
    if ctx["on_demand"] or ctx["offering_status"] != "published":
        raise Conflict("the offering is not published for slot booking", code=OFFERING_NOT_BOOKABLE)
    if ctx["partner_status"] != "approved":
        raise Conflict("the partner is not approved to sell", code=PARTNER_NOT_SELLING)
    notice = timedelta(minutes=ctx["min_notice_minutes"] if min_notice else 0)
    if ctx["slot_status"] != "open" or ctx["starts_at"] <= now + notice:
        raise Conflict("the slot is cancelled, has started, or is within the minimum notice", code=SLOT_NOT_BOOKABLE)
    if quantity > ctx["capacity"]:
        raise BadInput(
            f"quantity {quantity} exceeds the slot's capacity {ctx['capacity']}", code=QUANTITY_EXCEEDS_CAPACITY
        )


async def slot_context(slot_id: UUID, resident_id: UUID) -> asyncpg.Record | None:
    return await db.fetchrow(SLOT_CONTEXT_SQL, slot_id, resident_id)


async def insert_booking(
    *,
    ctx: Any,
    slot_id: UUID | None,
    kind: str,
    resident_id: UUID,
    booked_by: UUID,
    quantity: int,
    quote: pricing.Quote,
) -> asyncpg.Record:
    row = await db.fetchrow(
        INSERT_BOOKING_SQL,
        ctx["community_id"],
        ctx["partner_id"],
        ctx["offering_id"],
        slot_id,
        kind,
        ctx["category"],
        resident_id,
        booked_by,
        quantity,
        quote.unit_price_fen,
        quote.price_fen,
        quote.subsidy_fen,
        quote.payable_fen,
        quote.subsidised_quantity,
        quote.priority_group,
    )
    assert row is not None
    return row


async def take_places(
    *, ctx: Any, resident_id: UUID, booked_by: UUID, quantity: int, via: str, hold_until: datetime | None = None
) -> asyncpg.Record:
    """Take `quantity` places of the slot in `ctx` and record the booking at today's price (409 `slot_full`).

    With `hold_until` (a waitlist offer) the booking is `held`: the places are taken, and stay taken, until the
    resident confirms or the hold runs out (`marketplace.services.holds`).
    """
    taken = await db.fetchval(TAKE_PLACES_SQL, ctx["slot_id"], quantity)
    if taken is None:
        raise Conflict("no places left in this slot", code=SLOT_FULL)
    quote = await pricing.quote_for(
        resident_id=resident_id,
        offering_id=ctx["offering_id"],
        list_price_fen=ctx["price_fen"],
        subsidies=pricing.parse_subsidies(ctx["subsidies"]),
        groups=ctx["groups"] or [],
        quantity=quantity,
        daily_limit=ctx["per_resident_daily_limit"],
        service_day=ctx["starts_at"].astimezone(ZoneInfo(ctx["timezone"])).date(),
        timezone=ctx["timezone"],
    )
    row = await insert_booking(
        ctx=ctx,
        slot_id=ctx["slot_id"],
        kind="slot",
        resident_id=resident_id,
        booked_by=booked_by,
        quantity=quantity,
        quote=quote,
    )
    if hold_until is not None:
        row = await db.fetchrow(
            f"UPDATE bookings SET status = 'held', hold_expires_at = $2 WHERE id = $1 RETURNING {BOOKING_COLUMNS}",
            row["id"],
            hold_until,
        )
        assert row is not None
    await outbox.emit(
        topic="booking.held" if hold_until is not None else "booking.confirmed",
        payload={
            "booking_id": str(row["id"]),
            "resident_id": str(resident_id),
            "booked_by": str(booked_by),
            "slot_id": str(ctx["slot_id"]),
            "partner_id": str(ctx["partner_id"]),
            "community_id": str(ctx["community_id"]),
            "via": via,
            **({"hold_expires_at": hold_until.isoformat()} if hold_until is not None else {}),
        },
    )
    return row
