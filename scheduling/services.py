"""Slots and weekly schedules of offerings. Callers own the unit of work.

`slots.booked` belongs to the marketplace booking service: nothing here ever writes it; capacity changes are
checked against it under the slot's row lock (and the table's CHECK booked <= capacity backs that up).
Other packages use `get_slot(slot_id=)` and `lock_slot(slot_id=)`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from community import services as community
from linli import audit, db, outbox
from linli.auth.security import CurrentUser
from linli.errors import BadInput, Conflict, InvalidTransition, NotFound, register_code
from partners import offerings
from scheduling.schemas import DEFAULT_DAYS_AHEAD, ScheduleIn, ScheduleOut, SlotIn, SlotOut

SLOT_NOT_FOUND = register_code("slot_not_found", 404, "时段不存在", "No such slot")
SCHEDULE_NOT_FOUND = register_code("schedule_not_found", 404, "排班不存在", "No such schedule")
SLOT_IN_PAST = register_code("slot_in_past", 422, "不能创建已开始或已过去的时段", "A slot cannot start in the past")
SLOT_TIMES_INVALID = register_code("slot_times_invalid", 422, "时段的起止时间无效", "The slot's times are invalid")
SLOT_EXISTS = register_code("slot_exists", 409, "该时间已有时段", "A slot already starts at this time")
CAPACITY_BELOW_BOOKED = register_code(
    "capacity_below_booked", 409, "容量不能低于已预约数量", "Capacity cannot go below the places already booked"
)

MAX_SLOT_LENGTH = timedelta(days=31)
MAX_AHEAD = timedelta(days=366)
MAX_LIST_RANGE = timedelta(days=92)

_SLOT_COLUMNS = "id, offering_id, partner_id, community_id, schedule_id, starts_at, ends_at, capacity, booked, status"
_SCHEDULE_COLUMNS = (
    "id, offering_id, community_id, weekdays, start_time, end_time, capacity, valid_from, valid_until,"
    " materialised_until, status, created_at"
)


def slot_out(row: Any) -> SlotOut:
    data = {k: row[k] for k in _SLOT_COLUMNS.replace(" ", "").split(",")}
    return SlotOut(**data, remaining=max(row["capacity"] - row["booked"], 0))


async def zone_of(community_id: UUID) -> ZoneInfo:
    return ZoneInfo(await community.timezone_of(community_id=community_id))


def localise(value: datetime, tz: ZoneInfo) -> datetime:
    """Aware datetimes stay as they are; naive ones are wall-clock time in `tz`."""
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


# --- slots ---------------------------------------------------------------------------------------------------


async def get_slot(*, slot_id: UUID) -> SlotOut:
    """The slot (404 `slot_not_found`). No access check: for services."""
    row = await db.fetchrow(f"SELECT {_SLOT_COLUMNS} FROM slots WHERE id = $1", slot_id)
    if row is None:
        raise NotFound("no such slot", code=SLOT_NOT_FOUND)
    return slot_out(row)


async def lock_slot(*, slot_id: UUID) -> SlotOut:
    """The slot, row-locked FOR UPDATE until the caller's unit of work ends (for the booking service)."""
    row = await db.fetchrow(f"SELECT {_SLOT_COLUMNS} FROM slots WHERE id = $1 FOR UPDATE", slot_id)
    if row is None:
        raise NotFound("no such slot", code=SLOT_NOT_FOUND)
    return slot_out(row)


async def get_visible_slot(*, actor: CurrentUser | None, slot_id: UUID) -> SlotOut:
    """A slot of a catalog offering to anyone; of a hidden offering only to the partner's staff (else 404)."""
    slot = await get_slot(slot_id=slot_id)
    try:
        await offerings.get_visible(actor=actor, offering_id=slot.offering_id)
    except NotFound:
        raise NotFound("no such slot", code=SLOT_NOT_FOUND) from None
    return slot


async def _slot_for_admin(actor: CurrentUser, slot_id: UUID) -> SlotOut:
    slot = await get_slot(slot_id=slot_id)
    try:
        await offerings.require_offering_role(actor, slot.offering_id, "admin")
    except NotFound:
        raise NotFound("no such slot", code=SLOT_NOT_FOUND) from None
    return slot


async def create_slot(*, actor: CurrentUser, offering_id: UUID, slot_in: SlotIn) -> SlotOut:
    """A one-off slot by the partner's admin: in the future, ending after it starts, at most 31 days long."""
    offering = await offerings.require_offering_role(actor, offering_id, "admin")
    if offering.status == "archived":
        raise InvalidTransition(entity="offering", current="archived", action="add slots")
    tz = await zone_of(offering.community_id)
    try:
        starts_at = localise(slot_in.starts_at, tz).astimezone(UTC)
        ends_at = localise(slot_in.ends_at, tz).astimezone(UTC)
    except OverflowError:  # e.g. year 1 or 9999 shifted across the date line
        raise BadInput("starts_at / ends_at out of range", code=SLOT_TIMES_INVALID) from None
    now = datetime.now(UTC)
    if ends_at <= starts_at:
        raise BadInput("ends_at must be after starts_at", code=SLOT_TIMES_INVALID)
    if ends_at - starts_at > MAX_SLOT_LENGTH:
        raise BadInput("a slot lasts at most 31 days", code=SLOT_TIMES_INVALID)
    if starts_at <= now:
        raise BadInput("starts_at is in the past", code=SLOT_IN_PAST)
    if starts_at - now > MAX_AHEAD:
        raise BadInput("slots can be opened at most a year ahead", code=SLOT_TIMES_INVALID)
    row = await db.fetchrow(
        "INSERT INTO slots (id, offering_id, partner_id, community_id, schedule_id, starts_at, ends_at, capacity,"
        " booked, status, created_at) VALUES (gen_random_uuid(), $1, $2, $3, NULL, $4, $5, $6, 0, 'open', now())"
        f" ON CONFLICT (offering_id, starts_at) DO NOTHING RETURNING {_SLOT_COLUMNS}",
        offering_id,
        offering.partner_id,
        offering.community_id,
        starts_at,
        ends_at,
        slot_in.capacity,
    )
    if row is None:
        raise Conflict("this offering already has a slot starting then", code=SLOT_EXISTS)
    return slot_out(row)


async def update_capacity(*, actor: CurrentUser, slot_id: UUID, capacity: int) -> SlotOut:
    """Raise freely; lowering below what is booked is refused (409 `capacity_below_booked`)."""
    slot = await _slot_for_admin(actor, slot_id)
    # The row lock orders us with concurrent bookings: `booked` cannot change between check and update.
    current = await lock_slot(slot_id=slot_id)
    if current.status != "open":
        raise InvalidTransition(entity="slot", current=current.status, action="change capacity")
    if capacity < current.booked:
        raise Conflict(
            f"{current.booked} places are booked; capacity cannot be {capacity}",
            code=CAPACITY_BELOW_BOOKED,
            booked=current.booked,
        )
    row = await db.fetchrow(
        f"UPDATE slots SET capacity = $2 WHERE id = $1 RETURNING {_SLOT_COLUMNS}", slot_id, capacity
    )
    await audit.record(
        actor_user_id=actor.id,
        action="slot.capacity_changed",
        object_type="slot",
        object_id=slot_id,
        community_id=slot.community_id,
        detail={"from": current.capacity, "to": capacity},
    )
    return slot_out(row)


async def cancel_slot(*, actor: CurrentUser, slot_id: UUID, reason: str = "") -> SlotOut:
    """Close a slot to new bookings; `slot.cancelled` tells the marketplace to cancel and notify its bookings."""
    slot = await _slot_for_admin(actor, slot_id)
    current = await lock_slot(slot_id=slot_id)
    if current.status != "open":
        raise InvalidTransition(entity="slot", current=current.status, action="cancel")
    row = await db.fetchrow(f"UPDATE slots SET status = 'cancelled' WHERE id = $1 RETURNING {_SLOT_COLUMNS}", slot_id)
    await audit.record(
        actor_user_id=actor.id,
        action="slot.cancelled",
        object_type="slot",
        object_id=slot_id,
        community_id=slot.community_id,
        reason=reason,
    )
    await outbox.emit(
        topic="slot.cancelled",
        payload={
            "slot_id": str(slot_id),
            "offering_id": str(slot.offering_id),
            "partner_id": str(slot.partner_id),
            "community_id": str(slot.community_id),
            "cancelled_by": str(actor.id),
            "reason": reason,
        },
    )
    return slot_out(row)


def parse_bound(value: str | None, tz: ZoneInfo, *, name: str) -> datetime | None:
    """A `from`/`to` query bound: a date (local midnight) or a datetime (naive = local)."""
    if value is None or value == "":
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=tz).astimezone(UTC)
        return localise(datetime.fromisoformat(value.replace("Z", "+00:00")), tz).astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadInput(f"{name} must be a date (YYYY-MM-DD) or an ISO 8601 datetime") from None


async def get_slots(
    *, actor: CurrentUser | None, offering_id: UUID, from_: str | None, to: str | None, include_cancelled: bool = False
) -> list[SlotOut]:
    """Slots starting in [from, to) (default: from now, two weeks); public for catalog offerings."""
    offering = await offerings.get_visible(actor=actor, offering_id=offering_id)
    tz = await zone_of(offering.community_id)
    lower = parse_bound(from_, tz, name="from") or datetime.now(UTC)
    try:
        upper = parse_bound(to, tz, name="to") or lower + timedelta(days=14)
    except OverflowError:
        raise BadInput("to is out of range") from None
    if upper <= lower:
        raise BadInput("to must be after from")
    if upper - lower > MAX_LIST_RANGE:
        raise BadInput("at most 92 days at a time")
    rows = await db.fetch(
        f"SELECT {_SLOT_COLUMNS} FROM slots WHERE offering_id = $1 AND starts_at >= $2 AND starts_at < $3"
        " AND ($4 OR status = 'open') ORDER BY starts_at",
        offering_id,
        lower,
        upper,
        include_cancelled,
    )
    return [slot_out(r) for r in rows]


# --- weekly schedules ----------------------------------------------------------------------------------------


def occurrences(schedule: ScheduleOut, tz: ZoneInfo, first: date, last: date) -> list[tuple[datetime, datetime]]:
    """(starts_at, ends_at) of the schedule on each matching local date in [first, last], DST-aware.

    Wall-clock times are attached to each date in the zone, so 09:00 stays 09:00 across a DST change; a time
    that does not exist that day (spring-forward gap) lands where zoneinfo puts it, shifted by the gap.
    """
    out = []
    day = max(first, schedule.valid_from)
    end = min(last, schedule.valid_until) if schedule.valid_until else last
    while day <= end:
        if day.isoweekday() in schedule.weekdays:
            starts = datetime.combine(day, schedule.start_time, tzinfo=tz)
            ends = datetime.combine(day, schedule.end_time, tzinfo=tz)
            # Normalise through UTC so the stored instant is the real one.
            starts, ends = starts.astimezone(UTC), ends.astimezone(UTC)
            if ends > starts:
                out.append((starts, ends))
        day += timedelta(days=1)
    return out


def schedule_out(row: Any) -> ScheduleOut:
    return ScheduleOut(**{k: row[k] for k in ScheduleOut.model_fields})


async def materialise(*, schedule_id: UUID, days_ahead: int = DEFAULT_DAYS_AHEAD, now: datetime | None = None) -> int:
    """Create the schedule's future slots up to `days_ahead` local days from today; returns how many were new.

    Idempotent: the unique (offering_id, starts_at) turns a repeat into a no-op, and an existing one-off slot
    at the same time is kept as it is.
    """
    row = await db.fetchrow(
        f"SELECT {', '.join('s.' + c.strip() for c in _SCHEDULE_COLUMNS.split(','))}, o.partner_id,"
        " o.status AS offering_status FROM schedules s JOIN offerings o ON o.id = s.offering_id WHERE s.id = $1",
        schedule_id,
    )
    if row is None:
        raise NotFound("no such schedule", code=SCHEDULE_NOT_FOUND)
    schedule = schedule_out(row)
    if schedule.status != "active" or row["offering_status"] == "archived":
        return 0
    now = now or datetime.now(UTC)
    tz = await zone_of(schedule.community_id)
    today = now.astimezone(tz).date()
    last = today + timedelta(days=days_ahead)
    pairs = [(s, e) for s, e in occurrences(schedule, tz, today, last) if s > now]
    inserted = 0
    if pairs:
        inserted = len(
            await db.fetch(
                "INSERT INTO slots (id, offering_id, partner_id, community_id, schedule_id, starts_at, ends_at,"
                " capacity, booked, status, created_at)"
                " SELECT gen_random_uuid(), $1, $2, $3, $4, t.starts_at, t.ends_at, $5, 0, 'open', now()"
                " FROM unnest($6::timestamptz[], $7::timestamptz[]) AS t(starts_at, ends_at)"
                " ON CONFLICT (offering_id, starts_at) DO NOTHING RETURNING id",
                schedule.offering_id,
                row["partner_id"],
                schedule.community_id,
                schedule.id,
                schedule.capacity,
                [s for s, _ in pairs],
                [e for _, e in pairs],
            )
        )
    await db.execute(
        "UPDATE schedules SET materialised_until = greatest(coalesce(materialised_until, $2), $2) WHERE id = $1",
        schedule.id,
        last,
    )
    return inserted


async def active_schedule_ids() -> list[UUID]:
    """Schedules that may still produce slots (the periodic job materialises each in its own transaction)."""
    rows = await db.fetch(
        "SELECT id FROM schedules WHERE status = 'active' AND (valid_until IS NULL OR valid_until >= CURRENT_DATE - 1)"
        " ORDER BY id"
    )
    return [r["id"] for r in rows]


async def create_schedule(*, actor: CurrentUser, offering_id: UUID, schedule_in: ScheduleIn) -> ScheduleOut:
    """A weekly schedule by the partner's admin, materialised at once for the coming weeks."""
    offering = await offerings.require_offering_role(actor, offering_id, "admin")
    if offering.status == "archived":
        raise InvalidTransition(entity="offering", current="archived", action="add schedules")
    try:
        row = await db.fetchrow(
            "INSERT INTO schedules (id, offering_id, community_id, weekdays, start_time, end_time, capacity,"
            " valid_from, valid_until, materialised_until, status, created_at)"
            " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, $8, NULL, 'active', now())"
            f" RETURNING {_SCHEDULE_COLUMNS}",
            offering_id,
            offering.community_id,
            schedule_in.weekdays,
            schedule_in.start_time,
            schedule_in.end_time,
            schedule_in.capacity,
            schedule_in.valid_from,
            schedule_in.valid_until,
        )
    except asyncpg.DataError as exc:  # e.g. a date outside PostgreSQL's range
        raise BadInput(str(exc)) from None
    assert row is not None
    await audit.record(
        actor_user_id=actor.id,
        action="schedule.created",
        object_type="schedule",
        object_id=row["id"],
        community_id=offering.community_id,
        detail=schedule_in.model_dump(mode="json"),
    )
    await materialise(schedule_id=row["id"])
    row = await db.fetchrow(f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE id = $1", row["id"])
    return schedule_out(row)


async def get_schedules(*, actor: CurrentUser, offering_id: UUID) -> list[ScheduleOut]:
    await offerings.require_offering_role(actor, offering_id, "staff")
    rows = await db.fetch(
        f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE offering_id = $1 ORDER BY created_at, id", offering_id
    )
    return [schedule_out(r) for r in rows]


async def end_schedule(*, actor: CurrentUser, schedule_id: UUID) -> ScheduleOut:
    """Stop materialising a schedule; slots already open stay (cancel them one by one if needed)."""
    row = await db.fetchrow(f"SELECT {_SCHEDULE_COLUMNS} FROM schedules WHERE id = $1 FOR UPDATE", schedule_id)
    if row is None:
        raise NotFound("no such schedule", code=SCHEDULE_NOT_FOUND)
    try:
        await offerings.require_offering_role(actor, row["offering_id"], "admin")
    except NotFound:
        raise NotFound("no such schedule", code=SCHEDULE_NOT_FOUND) from None
    if row["status"] != "active":
        raise InvalidTransition(entity="schedule", current=row["status"], action="end")
    row = await db.fetchrow(
        f"UPDATE schedules SET status = 'ended' WHERE id = $1 RETURNING {_SCHEDULE_COLUMNS}", schedule_id
    )
    schedule = schedule_out(row)
    await audit.record(
        actor_user_id=actor.id,
        action="schedule.ended",
        object_type="schedule",
        object_id=schedule_id,
        community_id=schedule.community_id,
    )
    return schedule
