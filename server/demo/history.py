"""Demo step: last month and this month so far — the slots that took place, their bookings, orders and reviews.

Thousands of rows, so they are written in bulk, but by the rules the services keep:
- every past slot is an occurrence of its offering's weekly schedule (scheduling's own `occurrences`), and its
  `booked` is exactly the places its completed bookings hold (cancelled and no-show ones freed theirs), never
  more than its capacity;
- every price is the pricing rule's quote for the resident's priority groups at booking time (one booking per
  resident and slot, one slot a day: the daily subsidy limit is never crossed);
- a completed booking carries its month of completion and the agreement in force that day (partners'
  `agreement_in_force`), as `bookings.complete` fixes them; an on-demand order has its dispatch, acceptance and
  arrival times, escalated when it was not accepted within the target, as the dispatch job would have done;
- reviews are the residents' own, one per completed booking at most.
Nothing of this is announced through the outbox: it is history, nobody is to be notified about it now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from linli import db
from linli.settings import get_settings
from marketplace import pricing
from marketplace.schemas import ComplaintHandleIn, ComplaintIn
from marketplace.services import feedback
from partners import services as partners
from scheduling import services as scheduling
from server.demo import TIMEZONE, DemoContext, Resident
from server.demo.partners import OFFERINGS, DemoOffering, DemoPartner

TZ = ZoneInfo(TIMEZONE)
STREETS = {"guangyang": "光阳小区", "donghu": "东湖花园", "yelin": "椰林小区"}
ORDER_NOTES = {
    "repair": ["空调不制冷", "洗衣机漏水", "热水器打不着火", "冰箱不停地响", "电视没有信号"],
    "housekeeping": ["厨房油污重,麻烦带清洁剂", "老人腿脚不便,请帮忙擦窗", "搬家后开荒保洁", "每周一次的日常保洁"],
}
REVIEWS = {
    5: ["很好,谢谢!", "师傅很耐心", "饭菜软烂,适合老人", "服务周到,下次还来", "准时,态度好", ""],
    4: ["挺好的", "不错,就是人有点多", "味道可以,偏淡", ""],
    3: ["一般般", "等得有点久"],
    2: ["今天的菜太咸了"],
    1: ["约好的时间没人来"],
}


@dataclass
class Row:
    """One booking of the history, column by column."""

    id: UUID
    community_id: UUID
    partner_id: UUID
    offering_id: UUID
    slot_id: UUID | None
    kind: str
    category: str
    resident_id: UUID
    booked_by: UUID
    quote: pricing.Quote
    status: str
    created_at: datetime
    accepted_at: datetime | None = None
    completed_at: datetime | None = None
    completed_period: str | None = None
    agreement_id: UUID | None = None
    share_rate_bp: int | None = None
    cancelled_at: datetime | None = None
    cancelled_by: UUID | None = None


class History:
    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.bookings: list[Row] = []
        self.slots: list[tuple[UUID, UUID, UUID, UUID, UUID, datetime, datetime, int, int]] = []
        self.dispatches: list[tuple[UUID, UUID, UUID, str, str, datetime, int, datetime | None, datetime | None]] = []
        self._agreements: dict[tuple[UUID, str, date], tuple[UUID, int] | None] = {}
        self.last_day = ctx.today - timedelta(days=1)

    async def agreement(self, partner_id: UUID, category: str, on: date) -> tuple[UUID, int] | None:
        key = (partner_id, category, on)
        if key not in self._agreements:
            self._agreements[key] = await partners.agreement_in_force(
                partner_id=partner_id, category=category, on_date=on
            )
        return self._agreements[key]

    def audience(self, o: DemoOffering, community: str) -> list[Resident]:
        residents = self.ctx.communities[community].residents
        if o.audience == "elderly":
            return [r for r in residents if r.elderly or "disabled" in r.groups]
        if o.audience == "parents":
            return [r for r in residents if r.parent]
        return list(residents)

    def regulars(self, pool: list[Resident], n: int) -> list[Resident]:
        """`n` of `pool`, the same people more often (regulars), by a weighted draw without replacement."""
        weights = self.ctx.extra.setdefault("affinity", {})
        keyed = []
        for r in pool:
            w = weights.setdefault(r.user.id, 0.2 + self.rng.random() ** 2)
            keyed.append((self.rng.random() ** (1 / w), r))
        keyed.sort(key=lambda pair: pair[0], reverse=True)
        return [r for _, r in keyed[:n]]

    def booked_by(self, resident: Resident) -> UUID:
        """Most book for themselves; a grid worker books for some elderly living alone (代办)."""
        if "elderly_alone" in resident.groups and self.rng.random() < 0.25 and resident.grid_id is not None:
            return self.ctx.extra["grid_workers"][resident.grid_id].id
        return resident.user.id

    async def complete(self, row: Row, at: datetime) -> None:
        local = at.astimezone(TZ)
        agreement = await self.agreement(row.partner_id, row.category, local.date())
        row.status = "completed"
        row.completed_at = at
        row.accepted_at = row.accepted_at or at
        row.completed_period = local.strftime("%Y-%m")
        row.agreement_id, row.share_rate_bp = agreement if agreement else (None, None)

    async def slot_history(self, partner: DemoPartner, o: DemoOffering) -> None:
        schedule = self.ctx.extra["schedules"][o.key]
        offering_id, partner_id = self.ctx.offerings[o.key], self.ctx.partners[partner.key]
        community_id = self.ctx.communities[partner.community].id
        pool = self.audience(o, partner.community)
        notice = timedelta(minutes=o.extra.get("min_notice_minutes", 0))
        cutoff = timedelta(minutes=o.extra.get("cancel_cutoff_minutes", 0))
        for starts, ends in scheduling.occurrences(schedule, TZ, self.ctx.history_start, self.last_day):
            slot_id = uuid4()
            wanted = min(len(pool), round(o.capacity * self.rng.uniform(*o.fill)))
            held = 0
            for resident in self.regulars(pool, wanted):
                created = starts - notice - timedelta(hours=self.rng.uniform(1, 72))
                row = Row(
                    id=uuid4(),
                    community_id=community_id,
                    partner_id=partner_id,
                    offering_id=offering_id,
                    slot_id=slot_id,
                    kind="slot",
                    category=o.category,
                    resident_id=resident.user.id,
                    booked_by=self.booked_by(resident),
                    quote=pricing.quote(
                        list_price_fen=o.price_fen,
                        subsidies=o.subsidies,
                        groups=resident.groups,
                        quantity=1,
                        daily_limit=o.extra.get("per_resident_daily_limit"),
                        subsidised_already=0,
                    ),
                    status="confirmed",
                    created_at=created,
                )
                fate = self.rng.random()
                if fate < 0.06:
                    row.status = "cancelled"
                    latest = max(created + timedelta(minutes=5), starts - cutoff)
                    row.cancelled_at = created + (latest - created) * self.rng.random()
                    row.cancelled_by = row.booked_by
                elif fate < 0.09:
                    row.status = "no_show"
                else:
                    await self.complete(row, ends + timedelta(minutes=self.rng.uniform(2, 40)))
                    held += 1
                self.bookings.append(row)
            self.slots.append(
                (slot_id, offering_id, partner_id, community_id, schedule.id, starts, ends, o.capacity, held)
            )

    async def order_history(self, partner: DemoPartner, o: DemoOffering) -> None:
        accept_target = get_settings().order_accept_target_seconds
        community = self.ctx.communities[partner.community]
        days = (self.last_day - self.ctx.history_start).days + 1
        for _ in range(round(o.orders_per_week * days / 7)):
            day = self.ctx.history_start + timedelta(days=self.rng.randrange(days))
            local = datetime.combine(day, datetime.min.time(), TZ) + timedelta(minutes=self.rng.uniform(480, 1140))
            dispatched = local.astimezone(UTC)
            resident = self.rng.choice(self.audience(o, partner.community))
            row = Row(
                id=uuid4(),
                community_id=community.id,
                partner_id=self.ctx.partners[partner.key],
                offering_id=self.ctx.offerings[o.key],
                slot_id=None,
                kind="order",
                category=o.category,
                resident_id=resident.user.id,
                booked_by=self.booked_by(resident),
                quote=pricing.quote(
                    list_price_fen=o.price_fen,
                    subsidies=o.subsidies,
                    groups=resident.groups,
                    quantity=1,
                    daily_limit=o.extra.get("per_resident_daily_limit"),
                    subsidised_already=0,
                ),
                status="confirmed",
                created_at=dispatched,
            )
            escalated_at = arrived_at = None
            if self.rng.random() < 0.06:
                row.status = "cancelled"
                row.cancelled_at = dispatched + timedelta(seconds=self.rng.uniform(5, 40))
                row.cancelled_by = row.booked_by
            else:
                wait = self.rng.uniform(15, 58) if self.rng.random() < 0.75 else self.rng.uniform(70, 300)
                row.accepted_at = dispatched + timedelta(seconds=wait)
                # The dispatch job escalates an order still unaccepted past its target: a second round.
                escalation = dispatched + timedelta(seconds=accept_target + self.rng.uniform(1, 9))
                escalated_at = escalation if escalation < row.accepted_at else None
                arrived_at = row.accepted_at + timedelta(minutes=self.rng.uniform(4, 16))
                await self.complete(row, arrived_at + timedelta(minutes=self.rng.uniform(30, 100)))
            flat = f"{self.rng.randint(1, 12)}栋{self.rng.randint(1, 7)}0{self.rng.randint(1, 4)}"
            self.bookings.append(row)
            self.dispatches.append(
                (
                    row.id,
                    community.id,
                    row.partner_id,
                    STREETS[partner.community] + flat,
                    self.rng.choice(ORDER_NOTES.get(o.category, [""])),
                    dispatched,
                    accept_target,
                    escalated_at,
                    arrived_at,
                )
            )

    async def write(self) -> None:
        s = self.slots
        await db.execute(
            "INSERT INTO slots (id, offering_id, partner_id, community_id, schedule_id, starts_at, ends_at, capacity,"
            " booked, status, created_at) SELECT i, o, p, c, sc, st, en, cap, bk, 'open', st - interval '28 days'"
            " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::timestamptz[],"
            " $7::timestamptz[], $8::int[], $9::int[]) AS t(i, o, p, c, sc, st, en, cap, bk)",
            *[[row[k] for row in s] for k in range(9)],
        )
        b = self.bookings
        columns: list[tuple[str, str, list[Any]]] = [
            ("id", "uuid", [r.id for r in b]),
            ("community_id", "uuid", [r.community_id for r in b]),
            ("partner_id", "uuid", [r.partner_id for r in b]),
            ("offering_id", "uuid", [r.offering_id for r in b]),
            ("slot_id", "uuid", [r.slot_id for r in b]),
            ("kind", "text", [r.kind for r in b]),
            ("category", "text", [r.category for r in b]),
            ("resident_id", "uuid", [r.resident_id for r in b]),
            ("booked_by", "uuid", [r.booked_by for r in b]),
            ("quantity", "int", [r.quote.quantity for r in b]),
            ("unit_price_fen", "int", [r.quote.unit_price_fen for r in b]),
            ("price_fen", "int", [r.quote.price_fen for r in b]),
            ("subsidy_fen", "int", [r.quote.subsidy_fen for r in b]),
            ("payable_fen", "int", [r.quote.payable_fen for r in b]),
            ("subsidised_quantity", "int", [r.quote.subsidised_quantity for r in b]),
            ("priority_group", "text", [r.quote.priority_group for r in b]),
            ("status", "text", [r.status for r in b]),
            ("created_at", "timestamptz", [r.created_at for r in b]),
            ("accepted_at", "timestamptz", [r.accepted_at for r in b]),
            ("completed_at", "timestamptz", [r.completed_at for r in b]),
            ("completed_period", "text", [r.completed_period for r in b]),
            ("agreement_id", "uuid", [r.agreement_id for r in b]),
            ("share_rate_bp", "int", [r.share_rate_bp for r in b]),
            ("cancelled_at", "timestamptz", [r.cancelled_at for r in b]),
            ("cancelled_by", "uuid", [r.cancelled_by for r in b]),
        ]
        names = ", ".join(name for name, _, _ in columns)
        arrays = ", ".join(f"${i}::{kind}[]" for i, (_, kind, _) in enumerate(columns, start=1))
        await db.execute(
            f"INSERT INTO bookings ({names}) SELECT * FROM unnest({arrays})", *[values for _, _, values in columns]
        )
        d = self.dispatches
        await db.execute(
            "INSERT INTO order_dispatches (id, booking_id, community_id, partner_id, address, note, dispatched_at,"
            " accept_target_seconds, arrive_target_seconds, dispatch_round, escalated_at, arrived_at)"
            " SELECT gen_random_uuid(), b, c, p, a, n, t, acc, $10, CASE WHEN e IS NULL THEN 1 ELSE 2 END, e, arr"
            " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], $7::int[],"
            " $8::timestamptz[], $9::timestamptz[]) AS x(b, c, p, a, n, t, acc, e, arr)",
            *[[row[k] for row in d] for k in range(9)],
            get_settings().order_arrive_target_seconds,
        )
        await self.write_reviews()

    async def write_reviews(self) -> None:
        """A quarter of the completed bookings got a rating from their resident, a day or so later."""
        picked = [r for r in self.bookings if r.status == "completed" and self.rng.random() < 0.25]
        ratings = [self.rng.choices([5, 4, 3, 2, 1], weights=[60, 28, 8, 3, 1])[0] for _ in picked]
        latest = self.ctx.now - timedelta(minutes=5)
        await db.execute(
            "INSERT INTO booking_reviews (id, booking_id, community_id, partner_id, offering_id, resident_id, rating,"
            " comment, created_at) SELECT gen_random_uuid(), b, c, p, o, r, stars, words, t"
            " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::int[], $7::text[],"
            " $8::timestamptz[]) AS x(b, c, p, o, r, stars, words, t)",
            [r.id for r in picked],
            [r.community_id for r in picked],
            [r.partner_id for r in picked],
            [r.offering_id for r in picked],
            [r.resident_id for r in picked],
            ratings,
            [self.rng.choice(REVIEWS[stars]) for stars in ratings],
            [min(r.completed_at + timedelta(hours=self.rng.uniform(1, 30)), latest) for r in picked if r.completed_at],
        )
        self.ctx.counts["reviews"] = len(picked)


async def _complaints(ctx: DemoContext, history: History) -> None:
    """Two residents complain through the service: one the canteen has answered, one still open."""
    for offering_key, content, answer in [
        ("lunch", "今天的菜太咸了,老人吃不了。", "已提醒厨师少放盐,明天起按长者口味调整,谢谢您的反馈。"),
        ("donghu_plumbing", "师傅说好半小时到,结果等了一个多小时。", None),
    ]:
        offering_id = ctx.offerings[offering_key]
        booking = next(
            r for r in reversed(history.bookings) if r.offering_id == offering_id and r.status == "completed"
        )
        resident = next(
            r.user for c in ctx.communities.values() for r in c.residents if r.user.id == booking.resident_id
        )
        complaint = await feedback.file_complaint(
            actor=resident, complaint_in=ComplaintIn(booking_id=booking.id, content=content)
        )
        if answer:
            partner, _ = OFFERINGS[offering_key]
            await feedback.handle(
                actor=ctx.extra["partner_admins"][partner.key],
                complaint_id=complaint.id,
                handle_in=ComplaintHandleIn(note=answer),
            )


async def load(ctx: DemoContext) -> None:
    history = History(ctx)
    for partner, o in OFFERINGS.values():
        if o.hours:
            await history.slot_history(partner, o)
        elif o.orders_per_week:
            await history.order_history(partner, o)
    await history.write()
    await _complaints(ctx, history)
    ctx.counts["bookings"] = len(history.bookings)
    ctx.counts["completed"] = sum(r.status == "completed" for r in history.bookings)
