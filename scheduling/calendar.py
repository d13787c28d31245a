"""An iCalendar (RFC 5545) feed of an offering's open slots, for residents' phone calendars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from icalendar import Calendar, Event

from linli import db
from linli.auth.security import CurrentUser
from partners import offerings
from scheduling.services import slot_out

FEED_PAST = timedelta(days=7)
FEED_AHEAD = timedelta(days=60)


async def offering_calendar(*, actor: CurrentUser | None, offering_id: UUID) -> bytes:
    """Open slots from a week ago to two months ahead, one VEVENT each (UID stable per slot)."""
    offering = await offerings.get_visible(actor=actor, offering_id=offering_id)
    partner_name = await db.fetchval("SELECT name FROM partners WHERE id = $1", offering.partner_id)
    now = datetime.now(UTC)
    rows = await db.fetch(
        "SELECT id, offering_id, partner_id, community_id, schedule_id, starts_at, ends_at, capacity, booked, status"
        " FROM slots WHERE offering_id = $1 AND status = 'open' AND starts_at >= $2 AND starts_at < $3"
        " ORDER BY starts_at",
        offering_id,
        now - FEED_PAST,
        now + FEED_AHEAD,
    )
    cal = Calendar()
    cal.add("prodid", "-//Linli 邻里//Community services//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{offering.title} · {partner_name}")
    for row in rows:
        slot = slot_out(row)
        event = Event()
        event.add("uid", f"slot-{slot.id}@linli")
        event.add("dtstamp", now)
        event.add("dtstart", slot.starts_at.astimezone(UTC))
        event.add("dtend", slot.ends_at.astimezone(UTC))
        event.add("summary", offering.title)
        event.add("location", partner_name)
        event.add("description", f"剩余 {slot.remaining}/{slot.capacity} 个名额")
        cal.add_component(event)
    return bytes(cal.to_ical())
