"""Taking places in a slot: the capacity rule lives here, shared by direct bookings and waitlist promotions.

A place is taken by ONE atomic statement, `UPDATE slots SET booked = booked + q WHERE … booked + q <= capacity`,
in the same unit of work as the booking row — usually in the same statement: `BOOK_SLOT_SQL` takes the places,
inserts the booking and its outbox event, and inserts nothing when the places are not there. PostgreSQL's row
lock serialises racing requests from any number of API processes, and the loser of the last place sees zero
rows (409 `slot_full`). The CHECK on `slots` is the last
line of defence. Lock order is always slot row → pricing's advisory lock → booking row, so a direct booking, a
cancellation and a waitlist promotion never deadlock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
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

# THE capacity rule: places are taken only while the slot is open and they fit. Used alone (`TAKE_PLACES_SQL`)
# and as the first step of `BOOK_SLOT_SQL`.
_TAKE_PLACES = (
    "UPDATE slots SET booked = booked + {quantity} WHERE id = {slot} AND status = 'open'"
    " AND booked + {quantity} <= capacity"
)
TAKE_PLACES_SQL = _TAKE_PLACES.format(quantity="$2", slot="$1") + " RETURNING booked"

_BOOKING_INSERT = (
    "INSERT INTO bookings (id, community_id, partner_id, offering_id, slot_id, kind, category, resident_id,"
    " booked_by, quantity, unit_price_fen, price_fen, subsidy_fen, payable_fen, subsidised_quantity,"
    " priority_group, status, hold_expires_at, created_at)"
    " SELECT $1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::uuid, $6::text, $7::text, $8::uuid, $9::uuid, $10::int,"
    " $11::int, $12::int, $13::int, $14::int, $15::int, $16::text, $17::text, $18::timestamptz, now()"
)


def booking_sql(*, take_places: bool) -> str:
    """One statement that records a booking ($1–$18) and its outbox event ($19–$21).

    With `take_places` it first takes `quantity` ($10) places of slot $5 with the atomic capacity UPDATE and
    inserts nothing when they are not there (no row back: the slot is full). Three writes, one round trip.
    """
    if take_places:
        head = f"WITH taken AS ({_TAKE_PLACES.format(quantity='$10', slot='$5')} RETURNING id), booking AS ("
        source = " FROM taken"
    else:
        head, source = "WITH booking AS (", ""
    return (
        f"{head}{_BOOKING_INSERT}{source} RETURNING {BOOKING_COLUMNS}),"
        f" event AS ({outbox.insert_event_sql(19)} FROM booking) SELECT * FROM booking"
    )


BOOK_SLOT_SQL = booking_sql(take_places=True)
RECORD_BOOKING_SQL = booking_sql(take_places=False)


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


async def lock_slot(slot_id: UUID | None) -> asyncpg.Record | None:
    """Row-lock the slot until the unit of work ends: the first lock of every change to its places (lock order
    slot → advisory lock → booking). None for an order, which has no slot, or an unknown id."""
    if slot_id is None:
        return None
    return await db.fetchrow(
        "SELECT id, starts_at, capacity, booked, status FROM slots WHERE id = $1 FOR UPDATE", slot_id
    )


async def slot_context(slot_id: UUID, resident_id: UUID) -> asyncpg.Record | None:
    # A plain read: it does not open the unit of work's transaction (see `db.read_row`).
    return await db.read_row(SLOT_CONTEXT_SQL, slot_id, resident_id)


async def record_booking(
    *,
    ctx: Any,
    slot_id: UUID | None,
    kind: str,
    resident_id: UUID,
    booked_by: UUID,
    quantity: int,
    quote: pricing.Quote,
    event: tuple[str, dict[str, Any]],
    take_places: bool = False,
    hold_until: datetime | None = None,
    last: bool = False,
) -> asyncpg.Record | None:
    """Insert the booking at `quote` with its event (topic, payload; `booking_id` is added) in one statement.

    With `take_places`, the slot's places are taken in the same statement; None when they were not there.
    `last`: the caller's unit of work runs nothing after it (`db.write_last`).
    """
    booking_id = uuid4()
    topic, payload = event
    return await (db.write_last if last else db.fetchrow)(
        BOOK_SLOT_SQL if take_places else RECORD_BOOKING_SQL,
        booking_id,
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
        "held" if hold_until is not None else "confirmed",
        hold_until,
        *outbox.event_values(topic=topic, payload={"booking_id": str(booking_id), **payload}),
    )


async def take_places(
    *,
    ctx: Any,
    resident_id: UUID,
    booked_by: UUID,
    quantity: int,
    via: str,
    hold_until: datetime | None = None,
    last: bool = False,
) -> asyncpg.Record:
    """Take `quantity` places of the slot in `ctx` and record the booking at today's price (409 `slot_full`).

    With `hold_until` (a waitlist offer) the booking is `held`: the places are taken, and stay taken, until the
    resident confirms or the hold runs out (`marketplace.services.holds`). `last`: the caller's unit of work
    runs nothing after this; a booking that is one statement then needs no transaction block (`db.write_last`).
    """
    subsidies = pricing.parse_subsidies(ctx["subsidies"])
    groups = ctx["groups"] or []
    price = pricing.quote(
        list_price_fen=ctx["price_fen"],
        subsidies=subsidies,
        groups=groups,
        quantity=quantity,
        daily_limit=None,
        subsidised_already=0,
    )
    event = (
        "booking.held" if hold_until is not None else "booking.confirmed",
        {
            "resident_id": str(resident_id),
            "booked_by": str(booked_by),
            "slot_id": str(ctx["slot_id"]),
            "partner_id": str(ctx["partner_id"]),
            "community_id": str(ctx["community_id"]),
            "via": via,
            **({"hold_expires_at": hold_until.isoformat()} if hold_until is not None else {}),
        },
    )

    async def record(quote: pricing.Quote, *, take: bool) -> asyncpg.Record | None:
        return await record_booking(
            ctx=ctx,
            slot_id=ctx["slot_id"],
            kind="slot",
            resident_id=resident_id,
            booked_by=booked_by,
            quantity=quantity,
            quote=quote,
            event=event,
            take_places=take,
            hold_until=hold_until,
            last=last,
        )

    if not pricing.needs_daily_count(price, ctx["per_resident_daily_limit"]):
        # The price is known without counting today's subsidised units: places, booking and event in one go.
        row = await record(price, take=True)
        if row is None:
            raise Conflict("no places left in this slot", code=SLOT_FULL)
        return row
    # A daily limit applies: take the places first (slot lock), then count under pricing's advisory lock.
    if await db.fetchval(TAKE_PLACES_SQL, ctx["slot_id"], quantity) is None:
        raise Conflict("no places left in this slot", code=SLOT_FULL)
    quote = await pricing.quote_for(
        resident_id=resident_id,
        offering_id=ctx["offering_id"],
        list_price_fen=ctx["price_fen"],
        subsidies=subsidies,
        groups=groups,
        quantity=quantity,
        daily_limit=ctx["per_resident_daily_limit"],
        service_day=ctx["starts_at"].astimezone(ZoneInfo(ctx["timezone"])).date(),
        timezone=ctx["timezone"],
    )
    row = await record(quote, take=False)
    assert row is not None
    return row
