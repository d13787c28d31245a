"""Demo partners of 光阳社区: a charity canteen, an affordable nursery, a day-care centre and an on-demand repairer.

Idempotent: a partner that already exists (same community and name) is left as it is. Ids go into
`ctx.extra["partners"]` and `ctx.extra["offerings"]` for later demo steps (bookings, settlement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Any
from uuid import UUID

from linli import db
from linli.auth.security import CurrentUser
from partners import offerings, services
from partners.schemas import MemberIn, OfferingIn, PartnerIn, RevenueShareIn
from scheduling import services as scheduling
from scheduling.schemas import ScheduleIn


@dataclass
class DemoOffering:
    key: str
    title: str
    category: str
    description: str
    price_fen: int
    subsidies: dict[str, int]
    weekdays: list[int] = field(default_factory=list)
    hours: tuple[str, str] | None = None
    capacity: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoPartner:
    key: str
    owner: str
    name: str
    kind: str
    description: str
    phone: str
    rate_bp: int
    offerings: list[DemoOffering]
    staff: list[str] = field(default_factory=list)


PARTNERS = [
    DemoPartner(
        key="canteen",
        owner="canteen_owner",
        name="光阳爱心食堂",
        kind="canteen",
        description="社区长者饭堂,工作日供应午餐,独居老人优先。",
        phone="0898-66120001",
        rate_bp=500,
        staff=["volunteer_zheng"],
        offerings=[
            DemoOffering(
                key="lunch",
                title="爱心午餐",
                category="meal",
                description="两荤一素一汤,少油少盐,适合老人。",
                price_fen=1500,
                subsidies={"elderly_alone": 500, "elderly": 1000, "special_hardship": 0},
                weekdays=[1, 2, 3, 4, 5],
                hours=("11:30", "12:30"),
                capacity=60,
                extra={"per_resident_daily_limit": 1, "cancel_cutoff_minutes": 120, "min_notice_minutes": 60},
            ),
        ],
    ),
    DemoPartner(
        key="nursery",
        owner="nursery_head",
        name="光阳普惠托育园",
        kind="childcare",
        description="普惠性托育服务,招收2至3岁幼儿。",
        phone="0898-66120002",
        rate_bp=300,
        offerings=[
            DemoOffering(
                key="nursery_half_day",
                title="普惠托育半日班",
                category="childcare",
                description="上午8:30至12:00,含点心。",
                price_fen=6000,
                subsidies={"low_income": 3000, "left_behind_child": 3000},
                weekdays=[1, 2, 3, 4, 5],
                hours=("08:30", "12:00"),
                capacity=15,
                # Parents must say yes to a freed place: it is held for them for two hours.
                extra={"cancel_cutoff_minutes": 24 * 60, "min_notice_minutes": 12 * 60, "waitlist_hold_minutes": 120},
            ),
        ],
    ),
    DemoPartner(
        key="daycare",
        owner="staff",
        name="光阳日间照料中心",
        kind="elderly_daycare",
        description="社区日间照料:午休、康复活动、助浴。",
        phone="0898-66120003",
        rate_bp=0,
        offerings=[
            DemoOffering(
                key="daycare_day",
                title="日间照料(全天)",
                category="elderly_daycare",
                description="8:00至17:00,含午餐与康复活动。",
                price_fen=3000,
                subsidies={"elderly_alone": 1000, "disabled": 1000, "elderly": 2000},
                weekdays=[1, 2, 3, 4, 5, 6],
                hours=("08:00", "17:00"),
                capacity=20,
                extra={"accepts_time_credits": True},
            ),
        ],
    ),
    DemoPartner(
        key="repair",
        owner="mr_zhang",
        name="邻里家电维修",
        kind="repair",
        description="空调、洗衣机、热水器上门维修,一键呼叫。",
        phone="13800000013",
        rate_bp=800,
        offerings=[
            DemoOffering(
                key="repair_visit",
                title="家电维修上门",
                category="repair",
                description="上门检测费,维修材料另计。",
                price_fen=3000,
                subsidies={"elderly_alone": 0, "low_income": 1500},
                extra={"on_demand": True},
            ),
        ],
    ),
]


async def load(ctx: Any) -> None:
    people: dict[str, CurrentUser] = ctx.people
    community_id: UUID = ctx.community_id
    staff, secretary = people["staff"], people["secretary"]
    partner_ids: dict[str, UUID] = ctx.extra.setdefault("partners", {})
    offering_ids: dict[str, UUID] = ctx.extra.setdefault("offerings", {})
    for spec in PARTNERS:
        existing = await db.fetchval(
            "SELECT id FROM partners WHERE community_id = $1 AND name = $2", community_id, spec.name
        )
        if existing is not None:
            partner_ids[spec.key] = existing
            for o in spec.offerings:
                oid = await db.fetchval(
                    "SELECT id FROM offerings WHERE partner_id = $1 AND title = $2", existing, o.title
                )
                if oid is not None:
                    offering_ids[o.key] = oid
            continue
        owner = people[spec.owner]
        partner = await services.create(
            actor=owner,
            partner_in=PartnerIn(
                name=spec.name,
                kind=spec.kind,  # type: ignore[arg-type]
                community_id=community_id,
                description=spec.description,
                contact_phone=spec.phone,
            ),
        )
        partner_ids[spec.key] = partner.id
        await services.transition(actor=staff, partner_id=partner.id, action="approve", reason="资质审核通过")
        today = await services.local_today(community_id)
        await services.set_revenue_share(
            actor=secretary,
            partner_id=partner.id,
            share_in=RevenueShareIn(rate_bp=spec.rate_bp, effective_from=today),
        )
        for member in spec.staff:
            await services.add_member(
                actor=owner, partner_id=partner.id, member_in=MemberIn(user_id=people[member].id, role="staff")
            )
        for o in spec.offerings:
            created = await offerings.create(
                actor=owner,
                partner_id=partner.id,
                offering_in=OfferingIn(
                    title=o.title,
                    category=o.category,  # type: ignore[arg-type]
                    description=o.description,
                    price_fen=o.price_fen,
                    subsidies=o.subsidies,
                    **o.extra,
                ),
            )
            offering_ids[o.key] = created.id
            await offerings.transition(actor=owner, offering_id=created.id, action="publish")
            if o.hours:
                await scheduling.create_schedule(
                    actor=owner,
                    offering_id=created.id,
                    schedule_in=ScheduleIn(
                        weekdays=o.weekdays,
                        start_time=time.fromisoformat(o.hours[0]),
                        end_time=time.fromisoformat(o.hours[1]),
                        capacity=o.capacity,
                        valid_from=today,
                    ),
                )
    print(f"demo: {len(partner_ids)} partners, {len(offering_ids)} offerings with weekly schedules")
