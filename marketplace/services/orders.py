"""On-demand orders (易生活助手): a booking of kind 'order' (no slot) plus its dispatch and SLA record.

Placed → dispatched to the partner's staff (outbox `order.dispatched`) → accepted → arrived → completed.
An order nobody accepts within the accept target is escalated once by `escalate_overdue` (a periodic job):
re-dispatched to the partner's staff and community staff alerted. SLA: accepted within the accept target
(default 60 s) and arrived within the arrive target (default 10 min), both measured from dispatch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from linli import audit, db, outbox
from linli.auth.security import CurrentUser
from linli.errors import Conflict, InvalidTransition, NotFound
from linli.settings import get_settings
from marketplace import pricing
from marketplace.errors import OFFERING_NOT_BOOKABLE, OFFERING_NOT_FOUND, ORDER_NOT_FOUND
from marketplace.schemas import OrderIn, OrderOut
from marketplace.services import access, bookings
from marketplace.services.placing import BOOKING_COLUMNS, record_booking
from partners.services import PARTNER_NOT_SELLING

_DISPATCH_COLUMNS = (
    "address, note, dispatched_at, accept_target_seconds, arrive_target_seconds, dispatch_round, escalated_at,"
    " arrived_at"
)

_OFFERING_CONTEXT_SQL = (
    "SELECT o.id AS offering_id, o.partner_id, o.community_id, o.category, o.price_fen, o.subsidies,"
    " o.status AS offering_status, o.on_demand, o.per_resident_daily_limit, p.status AS partner_status, c.timezone,"
    " (SELECT r.priority_groups FROM community_residents r"
    "   WHERE r.community_id = o.community_id AND r.user_id = $2) AS groups"
    " FROM offerings o JOIN partners p ON p.id = o.partner_id JOIN communities c ON c.id = o.community_id"
    " WHERE o.id = $1"
)


async def _order_out(booking_id: UUID) -> OrderOut:
    row = await db.fetchrow(
        f"SELECT {', '.join('b.' + c for c in BOOKING_COLUMNS.split(', '))}, {_DISPATCH_COLUMNS}"
        " FROM bookings b JOIN order_dispatches d ON d.booking_id = b.id WHERE b.id = $1",
        booking_id,
    )
    if row is None:
        raise NotFound("no such order", code=ORDER_NOT_FOUND)
    return OrderOut(**{k: row[k] for k in OrderOut.model_fields if k != "slot_starts_at"})


async def create(*, actor: CurrentUser, order_in: OrderIn) -> OrderOut:
    """Place an order for an on-demand offering (for oneself, or 代办 for a resident) and dispatch it."""
    resident_id = order_in.resident_id or actor.id
    ctx = await db.fetchrow(_OFFERING_CONTEXT_SQL, order_in.offering_id, resident_id)
    # Drafts and archived offerings are not public: they do not exist for a resident.
    if ctx is None or ctx["offering_status"] in ("draft", "archived"):
        raise NotFound("no such offering", code=OFFERING_NOT_FOUND)
    if resident_id != actor.id:
        await access.require_proxy(actor, community_id=ctx["community_id"], resident_id=resident_id)
    if not ctx["on_demand"] or ctx["offering_status"] != "published":
        raise Conflict("this offering does not take on-demand orders now", code=OFFERING_NOT_BOOKABLE)
    if ctx["partner_status"] != "approved":
        raise Conflict("the partner is not approved to sell", code=PARTNER_NOT_SELLING)
    now = datetime.now(UTC)
    quote = await pricing.quote_for(
        resident_id=resident_id,
        offering_id=ctx["offering_id"],
        list_price_fen=ctx["price_fen"],
        subsidies=pricing.parse_subsidies(ctx["subsidies"]),
        groups=ctx["groups"] or [],
        quantity=1,
        daily_limit=ctx["per_resident_daily_limit"],
        service_day=now.astimezone(ZoneInfo(ctx["timezone"])).date(),
        timezone=ctx["timezone"],
    )
    payload = {
        "resident_id": str(resident_id),
        "partner_id": str(ctx["partner_id"]),
        "community_id": str(ctx["community_id"]),
    }
    row = await record_booking(
        ctx=ctx,
        slot_id=None,
        kind="order",
        resident_id=resident_id,
        booked_by=actor.id,
        quantity=1,
        quote=quote,
        event=("booking.confirmed", {**payload, "booked_by": str(actor.id), "via": "order"}),
    )
    assert row is not None
    settings = get_settings()
    await db.execute(
        "INSERT INTO order_dispatches (id, booking_id, community_id, partner_id, address, note, dispatched_at,"
        " accept_target_seconds, arrive_target_seconds, dispatch_round)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, now(), $6, $7, 1)",
        row["id"],
        ctx["community_id"],
        ctx["partner_id"],
        order_in.address,
        order_in.note,
        settings.order_accept_target_seconds,
        settings.order_arrive_target_seconds,
    )
    await outbox.emit(topic="order.dispatched", payload={"booking_id": str(row["id"]), **payload, "round": 1})
    if resident_id != actor.id:
        await audit.record(
            actor_user_id=actor.id,
            action="order.placed_on_behalf",
            object_type="booking",
            object_id=row["id"],
            community_id=ctx["community_id"],
            detail={"resident_id": str(resident_id)},
        )
    return await _order_out(row["id"])


async def _seen_order(actor: CurrentUser, booking_id: UUID, *, for_update: bool = False) -> access.Seen:
    try:
        seen = await access.booking_for(actor, booking_id, for_update=for_update)
    except NotFound as exc:
        raise NotFound("no such order", code=ORDER_NOT_FOUND) from exc
    if seen.row["kind"] != "order":
        raise NotFound("no such order", code=ORDER_NOT_FOUND)
    return seen


async def get(*, actor: CurrentUser, order_id: UUID) -> OrderOut:
    await _seen_order(actor, order_id)
    return await _order_out(order_id)


async def accept(*, actor: CurrentUser, order_id: UUID) -> OrderOut:
    """A partner staff member takes the order (confirmed → accepted)."""
    await _seen_order(actor, order_id)
    await bookings.accept(actor=actor, booking_id=order_id)
    return await _order_out(order_id)


async def arrive(*, actor: CurrentUser, order_id: UUID) -> OrderOut:
    """Record arrival at the resident's door, once, for an accepted order."""
    seen = await _seen_order(actor, order_id, for_update=True)
    seen.require_partner_side()
    arrived = await db.fetchval("SELECT arrived_at FROM order_dispatches WHERE booking_id = $1", order_id)
    if seen.row["status"] != "accepted" or arrived is not None:
        current = "arrived" if arrived is not None else seen.row["status"]
        raise InvalidTransition(entity="order", current=current, action="arrive")
    await db.execute("UPDATE order_dispatches SET arrived_at = now() WHERE booking_id = $1", order_id)
    await outbox.emit(
        topic="order.arrived",
        payload={"booking_id": str(order_id), "resident_id": str(seen.row["resident_id"])},
    )
    return await _order_out(order_id)


async def complete(*, actor: CurrentUser, order_id: UUID) -> OrderOut:
    await _seen_order(actor, order_id)
    await bookings.complete(actor=actor, booking_id=order_id)
    return await _order_out(order_id)


async def cancel(*, actor: CurrentUser, order_id: UUID, reason: str) -> OrderOut:
    await _seen_order(actor, order_id)
    await bookings.cancel(actor=actor, booking_id=order_id, reason=reason)
    return await _order_out(order_id)


async def escalate_overdue(*, now: datetime | None = None) -> list[UUID]:
    """Escalate, once each, orders still unaccepted past their accept target; returns their ids.

    The guarded UPDATE (`escalated_at IS NULL`) makes this safe to run concurrently and repeatedly: each order
    is escalated by exactly one run. The events re-dispatch to the partner's staff and alert community staff.
    """
    rows: list[Any] = await db.fetch(
        "UPDATE order_dispatches d SET escalated_at = $1, dispatch_round = d.dispatch_round + 1"
        " FROM bookings b WHERE b.id = d.booking_id AND b.status = 'confirmed' AND d.escalated_at IS NULL"
        " AND d.dispatched_at + make_interval(secs => d.accept_target_seconds) < $1"
        " RETURNING d.booking_id, d.partner_id, d.community_id, d.dispatch_round, b.resident_id",
        now or datetime.now(UTC),
    )
    for row in rows:
        await outbox.emit(
            topic="order.escalated",
            payload={
                "booking_id": str(row["booking_id"]),
                "partner_id": str(row["partner_id"]),
                "community_id": str(row["community_id"]),
                "resident_id": str(row["resident_id"]),
                "round": row["dispatch_round"],
            },
        )
        await audit.record(
            actor_user_id=None,
            action="order.escalated",
            object_type="booking",
            object_id=row["booking_id"],
            community_id=row["community_id"],
            reason="not accepted within the accept target",
        )
    return [r["booking_id"] for r in rows]
