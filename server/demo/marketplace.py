"""Demo step: the coming days, booked through the booking, waitlist and order services.

陈阿婆 has tomorrow's subsidised lunch and the grid worker booked one for 林阿伯 (代办); residents of every
community hold places in the next days' slots; the next 长者理发 morning is full with two people waiting for a
place; 陈阿婆's air conditioner was repaired today (ordered, accepted, arrived, completed, reviewed) and an
order in 东湖 is waiting to be accepted.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from linli import db
from linli.auth.security import CurrentUser
from marketplace.schemas import BookingIn, OrderIn, ReviewIn, WaitlistIn
from marketplace.services import bookings, feedback, orders, waitlist
from server.demo import DemoContext, Resident
from server.demo.partners import OFFERINGS

# offering, how many upcoming slots, places taken in each
UPCOMING = [
    ("lunch", 3, 12),
    ("supper", 2, 5),
    ("nursery_half_day", 2, 6),
    ("daycare_day", 3, 6),
    ("checkup", 2, 5),
    ("legal_advice", 1, 2),
    ("donghu_lunch", 3, 8),
    ("donghu_full_day", 2, 5),
    ("donghu_half_day", 2, 4),
    ("donghu_monitoring", 2, 4),
    ("yelin_lunch", 3, 10),
    ("yelin_day", 2, 5),
    ("yelin_half_day", 2, 5),
    ("yelin_haircut", 1, 3),
]


async def _next_slots(ctx: DemoContext, offering_key: str, count: int) -> list[UUID]:
    _, o = OFFERINGS[offering_key]
    notice = timedelta(minutes=o.extra.get("min_notice_minutes", 0)) + timedelta(hours=1)
    rows = await db.fetch(
        "SELECT id FROM slots WHERE offering_id = $1 AND status = 'open' AND starts_at > $2"
        " ORDER BY starts_at LIMIT $3",
        ctx.offerings[offering_key],
        ctx.now + notice,
        count,
    )
    return [r["id"] for r in rows]


def _pool(ctx: DemoContext, offering_key: str) -> list[Resident]:
    partner, o = OFFERINGS[offering_key]
    residents = ctx.communities[partner.community].residents
    if o.audience == "elderly":
        return [r for r in residents if r.elderly or "disabled" in r.groups]
    if o.audience == "parents":
        return [r for r in residents if r.parent]
    return residents


async def load(ctx: DemoContext) -> None:
    people = ctx.people
    made = 0
    lunch = await _next_slots(ctx, "lunch", 1)
    regulars = {people["granny_chen"].id, people["uncle_lin"].id}
    if lunch:
        await bookings.create(actor=people["granny_chen"], booking_in=BookingIn(slot_id=lunch[0]))
        await bookings.create(
            actor=people["grid_worker"], booking_in=BookingIn(slot_id=lunch[0], resident_id=people["uncle_lin"].id)
        )
        made += 2
    for offering_key, count, places in UPCOMING:
        pool = [r for r in _pool(ctx, offering_key) if r.user.id not in regulars]
        for slot_id in await _next_slots(ctx, offering_key, count):
            for resident in ctx.rng.sample(pool, min(places, len(pool))):
                await bookings.create(actor=resident.user, booking_in=BookingIn(slot_id=slot_id))
                made += 1
    made += await _full_haircut_morning(ctx)
    made += await _orders(ctx)
    ctx.counts["bookings"] = ctx.counts.get("bookings", 0) + made


async def _full_haircut_morning(ctx: DemoContext) -> int:
    """The next 长者理发 morning: every place taken, two more residents on the waitlist."""
    [slot_id] = await _next_slots(ctx, "elder_haircut", 1)
    _, o = OFFERINGS["elder_haircut"]
    pool = [r for r in _pool(ctx, "elder_haircut") if r.user.id != ctx.people["granny_chen"].id]
    chosen = ctx.rng.sample(pool, o.capacity + 2)
    for resident in chosen[: o.capacity]:
        await bookings.create(actor=resident.user, booking_in=BookingIn(slot_id=slot_id))
    for resident in chosen[o.capacity :]:
        await waitlist.join(actor=resident.user, slot_id=slot_id, waitlist_in=WaitlistIn())
    return o.capacity


async def _orders(ctx: DemoContext) -> int:
    granny: CurrentUser = ctx.people["granny_chen"]
    repairer = ctx.extra["partner_admins"]["repair"]
    order = await orders.create(
        actor=granny,
        order_in=OrderIn(offering_id=ctx.offerings["repair_visit"], address="光阳小区3栋502", note="空调不制冷"),
    )
    await orders.accept(actor=repairer, order_id=order.id)
    await orders.arrive(actor=repairer, order_id=order.id)
    await orders.complete(actor=repairer, order_id=order.id)
    await feedback.review(actor=granny, booking_id=order.id, review_in=ReviewIn(rating=5, comment="师傅很快就到了"))
    waiting = next(r for r in ctx.communities["donghu"].residents if "elderly_alone" in r.groups)
    await orders.create(
        actor=waiting.user,
        order_in=OrderIn(
            offering_id=ctx.offerings["donghu_plumbing"], address="东湖花园5栋302", note="厨房水龙头关不紧"
        ),
    )
    return 2
