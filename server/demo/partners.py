"""Demo step: 23 partners of the street's three communities, across every category, with weekly schedules.

Each partner applies, is approved by community staff, gets its offerings published and scheduled — all
through the partner and scheduling services. The one thing written directly is the first revenue-share
agreement: it dates from the first day of last month, so last month's bookings have a rate to settle at,
and the service (rightly) takes no agreement starting in the past. 光阳爱心食堂 raised its rate mid-month,
so its statement shows two versions at work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any
from uuid import UUID

from linli import audit, db
from linli.auth.security import CurrentUser
from partners import offerings, services
from partners.schemas import MemberIn, OfferingIn, PartnerIn
from scheduling import services as scheduling
from scheduling.schemas import ScheduleIn
from server.demo import DemoContext
from server.demo.people import OWNER_PHONES, create_users

WEEKDAYS = [1, 2, 3, 4, 5]
DAILY = [1, 2, 3, 4, 5, 6, 7]


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
    # Who books it in the history (server.demo.history): elderly, parents or anyone; and how full slots get.
    audience: str = "anyone"
    fill: tuple[float, float] = (0.3, 0.6)
    orders_per_week: int = 0  # on-demand offerings


@dataclass
class DemoPartner:
    key: str
    community: str
    owner: str  # a person of server.demo.people, or the name of a new owner account
    name: str
    kind: str
    description: str
    phone: str
    rate_bp: int
    offerings: list[DemoOffering]
    staff: list[str] = field(default_factory=list)
    raised_rate: tuple[int, int] | None = None  # (day of last month, new rate_bp)


def _lunch(key: str, title: str, price: int, capacity: int, **subsidies: int) -> DemoOffering:
    return DemoOffering(
        key=key,
        title=title,
        category="meal",
        description="两荤一素一汤,少油少盐,适合老人。",
        price_fen=price,
        subsidies=subsidies,
        weekdays=WEEKDAYS,
        hours=("11:30", "12:30"),
        capacity=capacity,
        extra={"per_resident_daily_limit": 1, "cancel_cutoff_minutes": 120, "min_notice_minutes": 60},
        audience="elderly",
        fill=(0.45, 0.8),
    )


def _parcels(key: str, capacity: int) -> DemoOffering:
    return DemoOffering(
        key=key,
        title="快递代收·送件上门",
        category="parcel",
        description="驿站代收快递,傍晚送到家门口;独居老人、残疾人免费。",
        price_fen=200,
        subsidies={"elderly_alone": 0, "disabled": 0, "elderly": 100},
        weekdays=DAILY,
        hours=("18:30", "20:00"),
        capacity=capacity,
        fill=(0.15, 0.4),
    )


def _legal(key: str, weekdays: list[int], hours: tuple[str, str]) -> DemoOffering:
    return DemoOffering(
        key=key,
        title="法律咨询(面谈)",
        category="other",
        description="律师驻点:婚姻家庭、劳动争议、赡养继承、租房纠纷。困难群众免费。",
        price_fen=5000,
        subsidies={"low_income": 0, "special_hardship": 0, "disabled": 0, "elderly": 0, "veteran": 0},
        weekdays=weekdays,
        hours=hours,
        capacity=6,
        extra={"cancel_cutoff_minutes": 240},
        fill=(0.3, 0.8),
    )


def _cleaning(key: str, title: str, price: int, per_week: int) -> DemoOffering:
    return DemoOffering(
        key=key,
        title=title,
        category="housekeeping",
        description="上门保洁两小时:厨房、卫生间、门窗,自带工具。",
        price_fen=price,
        subsidies={"elderly_alone": price // 2, "disabled": price // 2, "low_income": price * 2 // 3},
        extra={"on_demand": True},
        orders_per_week=per_week,
    )


PARTNERS = [
    # --- 光阳社区 ------------------------------------------------------------------------------------------
    DemoPartner(
        key="canteen",
        community="guangyang",
        owner="canteen_owner",
        name="光阳爱心食堂",
        kind="canteen",
        description="社区长者饭堂,工作日供应午餐和晚餐,独居老人优先。",
        phone="0898-66120001",
        rate_bp=500,
        raised_rate=(16, 600),
        staff=["volunteer_zheng"],
        offerings=[
            # Titled so that typing its initials, `axst`, finds it (search matches the title's pinyin).
            _lunch("lunch", "爱心食堂午餐", 1500, 60, elderly_alone=500, elderly=1000, special_hardship=0),
            DemoOffering(
                key="supper",
                title="长者营养晚餐",
                category="meal",
                description="软烂易嚼,一荤两素一粥。",
                price_fen=1200,
                subsidies={"elderly_alone": 400, "elderly": 800, "special_hardship": 0},
                weekdays=WEEKDAYS,
                hours=("17:00", "18:00"),
                capacity=30,
                extra={"per_resident_daily_limit": 1, "cancel_cutoff_minutes": 120, "min_notice_minutes": 60},
                audience="elderly",
                fill=(0.3, 0.6),
            ),
        ],
    ),
    DemoPartner(
        key="nursery",
        community="guangyang",
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
                weekdays=WEEKDAYS,
                hours=("08:30", "12:00"),
                capacity=15,
                # Parents must say yes to a freed place: it is held for them for two hours.
                extra={"cancel_cutoff_minutes": 24 * 60, "min_notice_minutes": 12 * 60, "waitlist_hold_minutes": 120},
                audience="parents",
                fill=(0.6, 0.95),
            ),
        ],
    ),
    DemoPartner(
        key="daycare",
        community="guangyang",
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
                audience="elderly",
                fill=(0.4, 0.75),
            ),
            DemoOffering(
                key="bathing",
                title="长者助浴",
                category="elderly_daycare",
                description="护理员协助洗浴,配防滑椅和扶手。",
                price_fen=4000,
                subsidies={"elderly_alone": 1000, "disabled": 1000, "elderly": 2500},
                weekdays=[2, 5],
                hours=("14:00", "16:00"),
                capacity=4,
                audience="elderly",
                fill=(0.5, 1.0),
            ),
        ],
    ),
    DemoPartner(
        key="repair",
        community="guangyang",
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
                orders_per_week=5,
            ),
        ],
    ),
    DemoPartner(
        key="housekeeping",
        community="guangyang",
        owner="许巧玲",
        name="巧姐家政服务社",
        kind="housekeeping",
        description="家庭保洁、助老保洁、开荒保洁。",
        phone="0898-66120005",
        rate_bp=600,
        offerings=[_cleaning("cleaning", "家庭保洁(2小时)", 8000, 4)],
    ),
    DemoPartner(
        key="parcels",
        community="guangyang",
        owner="邓建国",
        name="光阳快递驿站",
        kind="parcel",
        description="各家快递代收代寄,为行动不便的老人送件上门。",
        phone="0898-66120006",
        rate_bp=300,
        offerings=[_parcels("parcel_delivery", 40)],
    ),
    DemoPartner(
        key="legal",
        community="guangyang",
        owner="蔡律师",
        name="和平南法律援助工作站",
        kind="other",
        description="街道公共法律服务工作站,律师每周两次驻点。",
        phone="0898-66120007",
        rate_bp=0,
        offerings=[_legal("legal_advice", [3, 6], ("09:00", "11:00"))],
    ),
    DemoPartner(
        key="barber",
        community="guangyang",
        owner="吴阿海",
        name="阿海理发店",
        kind="other",
        description="老街坊的理发店,每周两个上午专为长者理发。",
        phone="0898-66120008",
        rate_bp=500,
        offerings=[
            DemoOffering(
                key="elder_haircut",
                title="长者理发",
                category="other",
                description="剪发、修面,行动不便可预约上门。",
                price_fen=1500,
                subsidies={"elderly": 800, "elderly_alone": 0, "disabled": 0},
                weekdays=[2, 4],
                hours=("09:00", "11:30"),
                capacity=10,
                audience="elderly",
                fill=(0.5, 0.9),
            ),
        ],
    ),
    DemoPartner(
        key="clinic",
        community="guangyang",
        owner="梁医生",
        name="光阳社区卫生服务站",
        kind="health",
        description="家庭医生签约、慢病随访、健康体检。",
        phone="0898-66120009",
        rate_bp=0,
        offerings=[
            DemoOffering(
                key="checkup",
                title="慢病随访与健康体检",
                category="health",
                description="血压、血糖、心电图,家庭医生当面解读。",
                price_fen=3000,
                subsidies={"elderly": 1000, "disabled": 0, "low_income": 1000},
                weekdays=[1, 3, 5],
                hours=("08:30", "10:30"),
                capacity=20,
                audience="elderly",
                fill=(0.3, 0.7),
            ),
        ],
    ),
    # --- 东湖社区 ------------------------------------------------------------------------------------------
    DemoPartner(
        key="donghu_canteen",
        community="donghu",
        owner="邢大姐",
        name="东湖长者饭堂",
        kind="canteen",
        description="近邻食堂,老人凭卡享助餐补贴。",
        phone="0898-66230001",
        rate_bp=400,
        offerings=[_lunch("donghu_lunch", "长者午餐", 1400, 40, elderly_alone=400, elderly=900, special_hardship=0)],
    ),
    DemoPartner(
        key="donghu_nursery",
        community="donghu",
        owner="周园长",
        name="东湖小海豚普惠托育中心",
        kind="childcare",
        description="全日制普惠托育,双职工家庭的好帮手。",
        phone="0898-66230002",
        rate_bp=300,
        offerings=[
            DemoOffering(
                key="donghu_full_day",
                title="普惠托育全日班",
                category="childcare",
                description="8:00至17:30,含午餐、午睡与两次点心。",
                price_fen=12000,
                subsidies={"low_income": 6000, "left_behind_child": 6000},
                weekdays=WEEKDAYS,
                hours=("08:00", "17:30"),
                capacity=12,
                extra={"cancel_cutoff_minutes": 24 * 60, "min_notice_minutes": 12 * 60},
                audience="parents",
                fill=(0.6, 0.95),
            ),
        ],
    ),
    DemoPartner(
        key="donghu_daycare",
        community="donghu",
        owner="donghu_staff",
        name="东湖颐养日间照料站",
        kind="elderly_daycare",
        description="上午照料:康复操、读报、手工。",
        phone="0898-66230003",
        rate_bp=0,
        offerings=[
            DemoOffering(
                key="donghu_half_day",
                title="日间照料(半天)",
                category="elderly_daycare",
                description="8:30至12:00,含茶点。",
                price_fen=1800,
                subsidies={"elderly": 1000, "elderly_alone": 600, "disabled": 600},
                weekdays=[1, 2, 3, 4, 5, 6],
                hours=("08:30", "12:00"),
                capacity=15,
                audience="elderly",
                fill=(0.4, 0.8),
            ),
        ],
    ),
    DemoPartner(
        key="donghu_parcels",
        community="donghu",
        owner="韩小军",
        name="东湖邻里驿站",
        kind="parcel",
        description="快递代收、送件上门、便民充电。",
        phone="0898-66230004",
        rate_bp=300,
        offerings=[_parcels("donghu_parcel", 30)],
    ),
    DemoPartner(
        key="donghu_repair",
        community="donghu",
        owner="潘师傅",
        name="东湖便民维修铺",
        kind="repair",
        description="水电、门锁、下水道,随叫随到。",
        phone="0898-66230005",
        rate_bp=800,
        offerings=[
            DemoOffering(
                key="donghu_plumbing",
                title="水电维修上门",
                category="repair",
                description="上门检测费,材料另计。",
                price_fen=5000,
                subsidies={"elderly_alone": 2000, "low_income": 2500, "disabled": 2000},
                extra={"on_demand": True},
                orders_per_week=4,
            ),
        ],
    ),
    DemoPartner(
        key="donghu_housekeeping",
        community="donghu",
        owner="莫秀珍",
        name="东湖好帮手家政",
        kind="housekeeping",
        description="助老保洁、做饭、陪护。",
        phone="0898-66230006",
        rate_bp=600,
        offerings=[_cleaning("donghu_cleaning", "助老保洁(2小时)", 7000, 3)],
    ),
    DemoPartner(
        key="donghu_health",
        community="donghu",
        owner="谢护士",
        name="东湖健康小屋",
        kind="health",
        description="自助健康监测,护士每周三个上午值守。",
        phone="0898-66230007",
        rate_bp=0,
        offerings=[
            DemoOffering(
                key="donghu_monitoring",
                title="健康监测(血压血糖)",
                category="health",
                description="测量并记入健康档案,异常转介家庭医生。",
                price_fen=1000,
                subsidies={"elderly": 0, "disabled": 0},
                weekdays=[2, 4, 6],
                hours=("09:00", "11:00"),
                capacity=25,
                audience="elderly",
                fill=(0.3, 0.6),
            ),
        ],
    ),
    # --- 椰林社区 ------------------------------------------------------------------------------------------
    DemoPartner(
        key="yelin_canteen",
        community="yelin",
        owner="杨老板",
        name="椰林近邻食堂",
        kind="canteen",
        description="街坊食堂,长者、低保户享助餐价。",
        phone="0898-66340001",
        rate_bp=450,
        offerings=[
            _lunch(
                "yelin_lunch",
                "近邻午餐",
                1500,
                50,
                elderly_alone=500,
                elderly=1000,
                special_hardship=0,
                low_income=1000,
            )
        ],
    ),
    DemoPartner(
        key="yelin_daycare",
        community="yelin",
        owner="yelin_staff",
        name="椰林长者日间照料中心",
        kind="elderly_daycare",
        description="全日照料,可用时间银行积分抵扣。",
        phone="0898-66340002",
        rate_bp=0,
        offerings=[
            DemoOffering(
                key="yelin_day",
                title="日间照料(全天)",
                category="elderly_daycare",
                description="8:00至17:00,含午餐、午休与康复活动。",
                price_fen=2800,
                subsidies={"elderly": 1800, "elderly_alone": 1000, "disabled": 1000},
                weekdays=WEEKDAYS,
                hours=("08:00", "17:00"),
                capacity=18,
                extra={"accepts_time_credits": True},
                audience="elderly",
                fill=(0.4, 0.8),
            ),
        ],
    ),
    DemoPartner(
        key="yelin_nursery",
        community="yelin",
        owner="林园长",
        name="椰林阳光托育园",
        kind="childcare",
        description="普惠托育半日班,招收18个月至3岁幼儿。",
        phone="0898-66340003",
        rate_bp=300,
        offerings=[
            DemoOffering(
                key="yelin_half_day",
                title="普惠托育半日班",
                category="childcare",
                description="上午8:30至12:00,含点心。",
                price_fen=5500,
                subsidies={"low_income": 2500, "left_behind_child": 2500},
                weekdays=WEEKDAYS,
                hours=("08:30", "12:00"),
                capacity=15,
                extra={"cancel_cutoff_minutes": 24 * 60, "min_notice_minutes": 12 * 60},
                audience="parents",
                fill=(0.5, 0.9),
            ),
        ],
    ),
    DemoPartner(
        key="yelin_housekeeping",
        community="yelin",
        owner="何阿姨",
        name="椰林家政服务中心",
        kind="housekeeping",
        description="保洁、育儿嫂、老人陪护。",
        phone="0898-66340004",
        rate_bp=600,
        offerings=[_cleaning("yelin_cleaning", "家庭保洁(2小时)", 7500, 3)],
    ),
    DemoPartner(
        key="yelin_legal",
        community="yelin",
        owner="王律师",
        name="椰林社区法律服务室",
        kind="other",
        description="一村(社区)一法律顾问,每周四下午坐班。",
        phone="0898-66340005",
        rate_bp=0,
        offerings=[_legal("yelin_legal_advice", [4], ("14:30", "16:30"))],
    ),
    DemoPartner(
        key="yelin_barber",
        community="yelin",
        owner="符师傅",
        name="椰林义剪理发室",
        kind="other",
        description="长者理发,每周一、四上午。",
        phone="0898-66340006",
        rate_bp=300,
        offerings=[
            DemoOffering(
                key="yelin_haircut",
                title="长者理发",
                category="other",
                description="剪发、修面。",
                price_fen=1200,
                subsidies={"elderly": 500, "elderly_alone": 0, "disabled": 0},
                weekdays=[1, 4],
                hours=("09:00", "11:00"),
                capacity=8,
                audience="elderly",
                fill=(0.5, 0.9),
            ),
        ],
    ),
    DemoPartner(
        key="yelin_parcels",
        community="yelin",
        owner="梁小龙",
        name="椰林快递驿站",
        kind="parcel",
        description="快递代收代寄,送件上门。",
        phone="0898-66340007",
        rate_bp=300,
        offerings=[_parcels("yelin_parcel", 30)],
    ),
]

OFFERINGS: dict[str, tuple[DemoPartner, DemoOffering]] = {o.key: (p, o) for p in PARTNERS for o in p.offerings}


async def load(ctx: DemoContext) -> None:
    new_owners = sorted({p.owner for p in PARTNERS if p.owner not in ctx.people})
    users = await create_users(ctx, [(str(OWNER_PHONES + i), name, False) for i, name in enumerate(new_owners)])
    for i, name in enumerate(new_owners):
        ctx.people[name] = users[str(OWNER_PHONES + i)]
    owners: dict[str, CurrentUser] = ctx.extra.setdefault("partner_admins", {})
    for spec in PARTNERS:
        demo_community = ctx.communities[spec.community]
        owner = ctx.people[spec.owner]
        owners[spec.key] = owner
        partner = await services.create(
            actor=owner,
            partner_in=PartnerIn(
                name=spec.name,
                kind=spec.kind,  # type: ignore[arg-type]
                community_id=demo_community.id,
                description=spec.description,
                contact_phone=spec.phone,
            ),
        )
        ctx.partners[spec.key] = partner.id
        # The secretary approves: a staff member may run a partner too (王秀英 runs the day-care centre).
        await services.transition(
            actor=demo_community.admin, partner_id=partner.id, action="approve", reason="资质审核通过"
        )
        await _agreement(ctx, spec, partner.id, spec.rate_bp, since=ctx.history_start, version=1)
        if spec.raised_rate:
            day, rate = spec.raised_rate
            await _agreement(ctx, spec, partner.id, rate, since=ctx.history_start.replace(day=day), version=2)
        for member in spec.staff:
            await services.add_member(
                actor=owner, partner_id=partner.id, member_in=MemberIn(user_id=ctx.people[member].id, role="staff")
            )
        for o in spec.offerings:
            await _offering(ctx, owner, partner.id, o)
    # Cosmetic, not a rule: the partners and their offerings were there before the history that follows.
    await db.execute(
        "UPDATE partners SET created_at = $2, updated_at = $2 WHERE id = ANY($1::uuid[])",
        list(ctx.partners.values()),
        ctx.now - timedelta(days=75),
    )
    await db.execute(
        "UPDATE offerings SET created_at = $2, updated_at = $2 WHERE id = ANY($1::uuid[])",
        list(ctx.offerings.values()),
        ctx.now - timedelta(days=70),
    )
    ctx.counts["partners"] = len(ctx.partners)
    ctx.counts["offerings"] = len(ctx.offerings)


async def _offering(ctx: DemoContext, owner: CurrentUser, partner_id: UUID, o: DemoOffering) -> None:
    created = await offerings.create(
        actor=owner,
        partner_id=partner_id,
        offering_in=OfferingIn(
            title=o.title,
            category=o.category,  # type: ignore[arg-type]
            description=o.description,
            price_fen=o.price_fen,
            subsidies=o.subsidies,
            **o.extra,
        ),
    )
    ctx.offerings[o.key] = created.id
    await offerings.transition(actor=owner, offering_id=created.id, action="publish")
    if o.hours:
        schedule = await scheduling.create_schedule(
            actor=owner,
            offering_id=created.id,
            # Valid since the history began: its past occurrences are the slots of server.demo.history.
            schedule_in=ScheduleIn(
                weekdays=o.weekdays,
                start_time=time.fromisoformat(o.hours[0]),
                end_time=time.fromisoformat(o.hours[1]),
                capacity=o.capacity,
                valid_from=ctx.history_start,
            ),
        )
        ctx.extra.setdefault("schedules", {})[o.key] = schedule


async def _agreement(
    ctx: DemoContext, spec: DemoPartner, partner_id: UUID, rate_bp: int, *, since: date, version: int
) -> None:
    """A revenue-share version starting `since` (in the past: history), recorded and audited as the service does."""
    admin = ctx.communities[spec.community].admin
    agreement_id = await db.fetchval(
        "INSERT INTO revenue_share_agreements (id, partner_id, community_id, rate_bp, category, effective_from,"
        " version, created_by, created_at) VALUES (gen_random_uuid(), $1, $2, $3, NULL, $4, $5, $6, $7) RETURNING id",
        partner_id,
        ctx.communities[spec.community].id,
        rate_bp,
        since,
        version,
        admin.id,
        ctx.now - timedelta(days=(ctx.today - since).days + 3),
    )
    await audit.record(
        actor_user_id=admin.id,
        action="partner.revenue_share_set",
        object_type="partner",
        object_id=partner_id,
        community_id=ctx.communities[spec.community].id,
        detail={"version": version, "rate_bp": rate_bp, "category": None, "effective_from": since.isoformat()},
    )
    assert agreement_id is not None
