"""An iCal feed of a volunteer's assignments (service certificates: volunteers.services.certificates)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from linli import db
from linli.auth.security import CurrentUser
from volunteers.services.common import load_volunteer, require_self_or_staff


async def calendar(*, actor: CurrentUser, volunteer_id: UUID) -> bytes:
    """An iCal feed (text/calendar) of the volunteer's accepted and past assignments."""
    from icalendar import Calendar, Event

    volunteer = await load_volunteer(volunteer_id)
    await require_self_or_staff(actor, volunteer)
    rows = await db.fetch(
        "SELECT a.id, a.status, t.title, t.description, t.location, t.starts_at, t.ends_at"
        " FROM volunteer_assignments a JOIN volunteer_tasks t ON t.id = a.task_id WHERE a.volunteer_id = $1"
        " AND a.status IN ('accepted', 'checked_in', 'checked_out', 'approved') ORDER BY t.starts_at",
        volunteer_id,
    )
    cal = Calendar()
    cal.add("prodid", "-//Linli 邻里//volunteers//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{volunteer['name']}的志愿服务")
    for r in rows:
        event = Event()
        event.add("uid", f"{r['id']}@linli")
        event.add("summary", r["title"])
        event.add("dtstart", r["starts_at"])
        event.add("dtend", r["ends_at"])
        event.add("dtstamp", datetime.now(UTC))
        if r["location"]:
            event.add("location", r["location"])
        if r["description"]:
            event.add("description", r["description"])
        event.add("status", "CONFIRMED")
        cal.add_component(event)
    return bytes(cal.to_ical())
