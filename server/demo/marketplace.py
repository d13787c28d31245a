"""Demo step: residents book the canteen's lunch (陈阿婆 at the subsidised price, booked for 林阿伯 by the grid
worker), and a repair order is placed, accepted, arrived at, completed and reviewed.

Idempotent: when the demo residents already hold bookings nothing is added. Runs after `server.demo.partners`.
"""

from __future__ import annotations

from typing import Any

from linli import db
from linli.auth.security import CurrentUser
from marketplace.schemas import BookingIn, OrderIn, ReviewIn
from marketplace.services import bookings, feedback, orders


async def load(ctx: Any) -> None:
    people: dict[str, CurrentUser] = ctx.people
    offerings: dict[str, Any] = ctx.extra.get("offerings", {})
    granny, uncle = people["granny_chen"], people["uncle_lin"]
    if await db.fetchval("SELECT 1 FROM bookings WHERE resident_id = ANY($1::uuid[])", [granny.id, uncle.id]):
        return
    lunch = await db.fetchval(
        "SELECT id FROM slots WHERE offering_id = $1 AND status = 'open' AND starts_at > now() + interval '2 hours'"
        " ORDER BY starts_at LIMIT 1",
        offerings.get("lunch"),
    )
    made = 0
    if lunch is not None:
        await bookings.create(actor=granny, booking_in=BookingIn(slot_id=lunch, quantity=1))
        await bookings.create(actor=people["staff"], booking_in=BookingIn(slot_id=lunch, resident_id=uncle.id))
        made += 2
    repair = offerings.get("repair_visit")
    if repair is not None:
        repairer = people["mr_zhang"]
        order = await orders.create(
            actor=granny, order_in=OrderIn(offering_id=repair, address="光阳小区3栋502", note="空调不制冷")
        )
        await orders.accept(actor=repairer, order_id=order.id)
        await orders.arrive(actor=repairer, order_id=order.id)
        await orders.complete(actor=repairer, order_id=order.id)
        await feedback.review(actor=granny, booking_id=order.id, review_in=ReviewIn(rating=5, comment="师傅很快就到了"))
        made += 1
    print(f"demo: {made} bookings and orders")
