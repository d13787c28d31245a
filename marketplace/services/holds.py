"""Waitlist holds: a freed place offered to the first in line and kept for them until they confirm or time is up.

An offering with `waitlist_hold_minutes` promotes its waitlist into `held` bookings (`waitlist.promote`): the
places are taken at once, so no walk-in can book them, and the booking carries `hold_expires_at` (never later
than the slot's start). The resident confirms (held → confirmed) or declines (cancels the booking); the periodic
job `expire_due` ends holds whose time is up and offers the places to the next in line.

Confirming and expiring both lock the booking row and decide by the clock, so a confirmation racing the job has
exactly one outcome: before `hold_expires_at` it confirms (the job's guarded UPDATE then finds nothing to do);
after it, the resident gets 409 `hold_expired` and the place passes on once.
"""

from __future__ import annotations

from uuid import UUID

from linli import db
from linli.auth.security import CurrentUser
from linli.errors import Conflict, InvalidTransition
from marketplace.errors import HOLD_EXPIRED
from marketplace.schemas import BookingOut
from marketplace.services import access, waitlist
from marketplace.services.placing import emit_booking_event, lock_slot, reload

EXPIRED_REASON = "保留时间已过,未确认"


async def close_offer(*, booking_id: UUID, entry_status: str) -> None:
    """The held booking `booking_id` ended without a confirmation: its waitlist entry ends as `entry_status`."""
    await db.execute(
        "UPDATE waitlist_entries SET status = $2, cancelled_at = now() WHERE booking_id = $1 AND status = 'offered'",
        booking_id,
        entry_status,
    )


async def confirm(*, actor: CurrentUser, booking_id: UUID) -> BookingOut:
    """The resident takes the place held for them (409 `hold_expired` once the hold has run out)."""
    seen = await access.booking_for(actor, booking_id, for_update=True)
    seen.require_resident_side()
    row = seen.row
    if row["status"] != "held":
        raise InvalidTransition(entity="booking", current=row["status"], action="confirm")
    # The database's clock decides, the same clock the expiry job reads.
    if not await db.fetchval(
        "UPDATE bookings SET status = 'confirmed' WHERE id = $1 AND hold_expires_at > now() RETURNING true",
        booking_id,
    ):
        raise Conflict("the hold has expired and the place has passed on", code=HOLD_EXPIRED)
    await db.execute(
        "UPDATE waitlist_entries SET status = 'promoted' WHERE booking_id = $1 AND status = 'offered'", booking_id
    )
    await emit_booking_event("booking.confirmed", row, via="hold", slot_id=row["slot_id"], booked_by=actor.id)
    return await reload(booking_id)


async def expire_due(*, limit: int = 200) -> list[UUID]:
    """End the holds whose time is up, free their places and offer them on (periodic; idempotent).

    Returns the bookings expired by this call. Lock order is slot → booking, as for every booking change.
    """
    due = await db.fetch(
        "SELECT id, slot_id FROM bookings WHERE status = 'held' AND hold_expires_at <= now()"
        " ORDER BY hold_expires_at, id LIMIT $1",
        limit,
    )
    expired: list[UUID] = []
    for booking in due:
        await lock_slot(booking["slot_id"])
        row = await db.fetchrow(
            "UPDATE bookings SET status = 'cancelled', cancelled_at = now(), cancel_reason = $2"
            " WHERE id = $1 AND status = 'held' AND hold_expires_at <= now()"
            " RETURNING id, resident_id, partner_id, community_id, kind, quantity, slot_id",
            booking["id"],
            EXPIRED_REASON,
        )
        if row is None:  # confirmed or declined meanwhile
            continue
        await db.execute("UPDATE slots SET booked = booked - $2 WHERE id = $1", row["slot_id"], row["quantity"])
        await close_offer(booking_id=row["id"], entry_status="expired")
        await emit_booking_event("booking.hold_expired", row, slot_id=row["slot_id"])
        await waitlist.promote(slot_id=row["slot_id"])
        expired.append(row["id"])
    return expired
