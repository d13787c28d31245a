"""The waitlist of a full slot: join, leave, see one's place, and FIFO promotion when places free.

Joining, leaving and promotion all lock the slot row (`SELECT … FOR UPDATE`) first, as does every booking (its
atomic UPDATE), so a cancellation and a promotion racing each other are serialised: the place a cancellation
frees is given to the first waiting entry whose quantity fits, in the same transaction, exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from linli import db, outbox
from linli.auth.security import CurrentUser
from linli.errors import Conflict, InvalidTransition, NotFound
from marketplace import sms
from marketplace.errors import (
    ALREADY_WAITLISTED,
    SLOT_HAS_PLACES,
    SLOT_NOT_FOUND,
    WAITLIST_ENTRY_NOT_FOUND,
)
from marketplace.schemas import WaitlistIn, WaitlistOut
from marketplace.services.placing import check_bookable, lock_slot, slot_context, take_places
from partners import services as partners

_COLUMNS = "id, slot_id, resident_id, quantity, status, booking_id, created_at"


async def _out(row: Any) -> WaitlistOut:
    position = None
    if row["status"] == "waiting":
        position = await db.fetchval(
            "SELECT count(*) FROM waitlist_entries WHERE slot_id = $1 AND status = 'waiting'"
            " AND (created_at, id) <= ($2, $3)",
            row["slot_id"],
            row["created_at"],
            row["id"],
        )
    return WaitlistOut(**{k: row[k] for k in _COLUMNS.split(", ")}, position=position)


async def join(*, actor: CurrentUser, slot_id: UUID, waitlist_in: WaitlistIn) -> WaitlistOut:
    """Queue for a slot that cannot take `quantity` more places now (409 `slot_has_places` otherwise)."""
    ctx = await slot_context(slot_id, actor.id)
    if ctx is None:
        raise NotFound("no such slot", code=SLOT_NOT_FOUND)
    check_bookable(ctx, quantity=waitlist_in.quantity, now=datetime.now(UTC), min_notice=False)
    slot = await lock_slot(slot_id)
    assert slot is not None
    if slot["booked"] + waitlist_in.quantity <= slot["capacity"]:
        raise Conflict("the slot still has places: book it directly", code=SLOT_HAS_PLACES)
    try:
        # clock_timestamp, not now(): entries are ordered by when they joined, under the slot lock.
        row: Any = await db.fetchrow(
            "INSERT INTO waitlist_entries (id, slot_id, community_id, resident_id, booked_by, quantity, status,"
            " created_at) VALUES (gen_random_uuid(), $1, $2, $3, $3, $4, 'waiting', clock_timestamp())"
            f" RETURNING {_COLUMNS}",
            slot_id,
            ctx["community_id"],
            actor.id,
            waitlist_in.quantity,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("already on this slot's waitlist", code=ALREADY_WAITLISTED) from exc
    await outbox.emit(
        topic="waitlist.joined",
        payload={"entry_id": str(row["id"]), "slot_id": str(slot_id), "resident_id": str(actor.id)},
    )
    return await _out(row)


async def _mine(actor: CurrentUser, slot_id: UUID, *, for_update: bool = False) -> Any:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM waitlist_entries WHERE slot_id = $1 AND resident_id = $2"
        " ORDER BY (status IN ('waiting', 'offered')) DESC, created_at DESC LIMIT 1"
        + (" FOR UPDATE" if for_update else ""),
        slot_id,
        actor.id,
    )
    if row is None:
        raise NotFound("not on this slot's waitlist", code=WAITLIST_ENTRY_NOT_FOUND)
    return row


async def get_mine(*, actor: CurrentUser, slot_id: UUID) -> WaitlistOut:
    """The caller's latest entry on this slot's waitlist, with their place in line while waiting."""
    return await _out(await _mine(actor, slot_id))


async def get_waiting_mine(*, actor: CurrentUser) -> list[WaitlistOut]:
    """The caller's entries still waiting in line for slots not yet started, each with its place in line, in
    the order they joined (我的预约 lists them beside the bookings, with a way to leave)."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM waitlist_entries WHERE resident_id = $1 AND status = 'waiting'"
        " AND slot_id IN (SELECT id FROM slots WHERE starts_at > now()) ORDER BY created_at, id",
        actor.id,
    )
    return [await _out(row) for row in rows]


async def get_all(*, actor: CurrentUser, slot_id: UUID) -> list[WaitlistOut]:
    """The slot's waiting line, in order, for the partner side (its staff and its community's staff)."""
    partner_id = await db.fetchval("SELECT partner_id FROM slots WHERE id = $1", slot_id)
    if partner_id is None:
        raise NotFound("no such slot", code=SLOT_NOT_FOUND)
    await partners.require_partner_role(actor, partner_id, "staff")
    rows = await db.fetch(
        f"SELECT {_COLUMNS}, row_number() OVER (ORDER BY created_at, id) AS position FROM waitlist_entries"
        " WHERE slot_id = $1 AND status = 'waiting' ORDER BY created_at, id",
        slot_id,
    )
    return [WaitlistOut(**dict(r)) for r in rows]


async def leave(*, actor: CurrentUser, slot_id: UUID) -> WaitlistOut:
    """Leave the waitlist (409 `invalid_transition` once promoted or already left)."""
    await lock_slot(slot_id)
    row = await _mine(actor, slot_id, for_update=True)
    if row["status"] != "waiting":
        raise InvalidTransition(entity="waitlist entry", current=row["status"], action="cancel")
    row = await db.fetchrow(
        f"UPDATE waitlist_entries SET status = 'cancelled', cancelled_at = now() WHERE id = $1 RETURNING {_COLUMNS}",
        row["id"],
    )
    return await _out(row)


async def promote(*, slot_id: UUID) -> list[UUID]:
    """Give freed places to waiting entries, FIFO (first entry whose quantity fits); returns the new bookings.

    Call with the slot row already locked, in the unit of work that freed the places. Each promoted entry is
    booked at its price at promotion time and notified through the outbox (`booking.confirmed` via waitlist) —
    or, when the offering holds places for the line, offered as a `held` booking (`booking.held`; see
    `marketplace.services.holds`).
    """
    now = datetime.now(UTC)
    slot = await db.fetchrow("SELECT capacity, booked, status, starts_at FROM slots WHERE id = $1", slot_id)
    if slot is None or slot["status"] != "open" or slot["starts_at"] <= now:
        return []
    remaining = slot["capacity"] - slot["booked"]
    promoted: list[UUID] = []
    if remaining <= 0:
        return promoted
    entries = await db.fetch(
        "SELECT id, resident_id, booked_by, quantity FROM waitlist_entries WHERE slot_id = $1 AND status = 'waiting'"
        " ORDER BY created_at, id FOR UPDATE",
        slot_id,
    )
    for entry in entries:
        if remaining <= 0:
            break
        if entry["quantity"] > remaining:
            continue
        ctx: Any = await slot_context(slot_id, entry["resident_id"])
        if ctx["offering_status"] != "published" or ctx["partner_status"] != "approved":
            # Paused offering or suspended partner: nobody is sold a place; the line keeps its order.
            break
        hold_until = None
        if ctx["waitlist_hold_minutes"] is not None:
            # Offered, not booked: the resident has until then (and never past the start) to say yes.
            hold_until = min(now + timedelta(minutes=ctx["waitlist_hold_minutes"]), slot["starts_at"])
        booking = await take_places(
            ctx=ctx,
            resident_id=entry["resident_id"],
            booked_by=entry["booked_by"],
            quantity=entry["quantity"],
            via="waitlist",
            hold_until=hold_until,
        )
        await db.execute(
            "UPDATE waitlist_entries SET status = $3, promoted_at = now(), booking_id = $2 WHERE id = $1",
            entry["id"],
            booking["id"],
            "promoted" if hold_until is None else "offered",
        )
        if hold_until is not None:
            # Also asked by SMS: Y confirms the hold, N declines it (marketplace.sms).
            await sms.open_prompt(
                kind=sms.HELD_PLACE,
                booking_id=booking["id"],
                community_id=ctx["community_id"],
                resident_id=entry["resident_id"],
                expires_at=hold_until,
            )
        await outbox.emit(
            topic="waitlist.promoted",
            payload={
                "entry_id": str(entry["id"]),
                "booking_id": str(booking["id"]),
                "slot_id": str(slot_id),
                "resident_id": str(entry["resident_id"]),
                "held": hold_until is not None,
            },
        )
        remaining -= entry["quantity"]
        promoted.append(booking["id"])
    return promoted


async def reserved_for_line(*, slot_id: UUID, lock: bool = True) -> bool:
    """True when a waiting entry fits in the slot's free places (so a walk-in must not take them).

    Normally promotion leaves no such places behind; they exist only when promotion was held back (the offering
    paused or the partner suspended at the time). Locks the slot row, in the caller's unit of work, unless
    `lock` is false (a quote, which books nothing).
    """
    row = await db.fetchrow(
        "SELECT s.capacity - s.booked AS free, (SELECT min(quantity) FROM waitlist_entries w"
        "  WHERE w.slot_id = s.id AND w.status = 'waiting') AS smallest FROM slots s WHERE s.id = $1"
        + (" FOR UPDATE" if lock else ""),
        slot_id,
    )
    return row is not None and row["smallest"] is not None and row["free"] >= row["smallest"]


async def promote_held_back(*, limit: int = 200) -> list[UUID]:
    """Promote waiting entries of open, future slots that have fitting free places (periodic; idempotent)."""
    slot_ids = await db.fetch(
        "SELECT s.id FROM slots s WHERE s.status = 'open' AND s.starts_at > now() AND s.booked < s.capacity"
        " AND EXISTS (SELECT 1 FROM waitlist_entries w WHERE w.slot_id = s.id AND w.status = 'waiting'"
        "   AND w.quantity <= s.capacity - s.booked)"
        " ORDER BY s.starts_at LIMIT $1",
        limit,
    )
    promoted: list[UUID] = []
    for r in slot_ids:
        await lock_slot(r["id"])
        promoted += await promote(slot_id=r["id"])
    return promoted
