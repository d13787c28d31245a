"""Demo step: volunteers with skills from the default catalogue, four teams, a month of tasks with approved hours.

Everything here goes through the volunteer services, the past included: they take the moment they act at
(`now=`), so each past task is matched two days ahead, its offers accepted (one declined, passing the place
on), checked in and out around the task's times and approved by its owner the next day — by the rules that
pick candidates and count hours exactly once. 何志愿 has delivered lunch to elderly residents every week for a
year (104 h: 1★). The offers and approvals of the past announce nothing now (their outbox events are dropped
in this same transaction): nobody is to be told today about last month's offer.

Ahead: open tasks with offers waiting (one for 何志愿), a team offer, and 陈阿婆's call for help.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from linli import db
from linli.auth.security import CurrentUser
from server.demo import TIMEZONE, DemoContext
from volunteers.schemas import (
    ApproveIn,
    AvailabilityWindow,
    CertificateIn,
    HelpRequestIn,
    Recurrence,
    RequiredSkill,
    SkillLevel,
    SkillPatch,
    TaskIn,
    TeamIn,
    TeamMemberIn,
    VolunteerIn,
)
from volunteers.services import hours, offers, profiles, tasks, teams

TZ = ZoneInfo(TIMEZONE)
# Default catalogue codes (volunteers' migration) the generated volunteers choose from.
SKILL_CODES = [
    "elderly_care",
    "disability_support",
    "first_aid",
    "counselling",
    "legal_advice",
    "appliance_repair",
    "arts",
    "environment",
    "security_patrol",
    "tutoring",
    "meal_delivery",
    "escort_clinic",
    "haircut",
    "smartphone_help",
]
VOLUNTEERS_PER_COMMUNITY = {"guangyang": 12, "donghu": 8, "yelin": 8}
# community → (team, its leader (a person, or None: the community's first volunteer), members with the leader)
TEAMS: dict[str, list[tuple[str, str | None, int]]] = {
    "guangyang": [("党员志愿服务队", "volunteer_he", 5), ("巾帼志愿服务队", "volunteer_zheng", 4)],
    "donghu": [("东湖助老志愿服务队", None, 5)],
    "yelin": [("椰林青年志愿者服务队", None, 5)],
}


@dataclass(frozen=True)
class PastTask:
    title: str
    skill: str
    needed: int
    day: int  # days after the history's first day
    start: str
    minutes: int
    location: str


PAST_TASKS = {
    "guangyang": [
        PastTask("独居老人上门探访", "elderly_care", 2, 2, "09:00", 120, "光阳小区各楼栋"),
        PastTask("陪独居老人去医院复诊", "escort_clinic", 1, 5, "08:30", 180, "海口市人民医院"),
        PastTask("垃圾分类宣传进小区", "environment", 3, 8, "16:00", 120, "光阳小区中心广场"),
        PastTask("周末义剪", "haircut", 2, 12, "14:00", 180, "光阳社区党群服务中心"),
        PastTask("夜间治安巡逻", "security_patrol", 2, 15, "19:30", 120, "光阳小区及海府路沿线"),
        PastTask("社区急救知识讲座协助", "first_aid", 1, 19, "15:00", 90, "光阳社区党群服务中心"),
        PastTask("长者智能手机课堂", "smartphone_help", 2, 23, "09:30", 120, "光阳社区长者活动室"),
        PastTask("青少年暑期作业辅导", "tutoring", 2, 27, "15:00", 120, "光阳社区四点半课堂"),
        PastTask("独居老人上门探访", "elderly_care", 2, 33, "09:00", 120, "光阳小区各楼栋"),
        PastTask("夜间治安巡逻", "security_patrol", 2, 36, "19:30", 120, "光阳小区及海府路沿线"),
    ],
    "donghu": [
        PastTask("助老上门打扫", "elderly_care", 2, 3, "09:00", 120, "东湖花园"),
        PastTask("东湖河道清洁行动", "environment", 3, 10, "07:30", 120, "东湖沿岸"),
        PastTask("重阳节文艺汇演", "arts", 3, 16, "19:00", 150, "东湖社区文化广场"),
        PastTask("残疾人出行陪护", "disability_support", 1, 22, "10:00", 120, "东湖社区至省残联"),
        PastTask("助老上门打扫", "elderly_care", 2, 30, "09:00", 120, "东湖花园"),
    ],
    "yelin": [
        PastTask("老人助餐配送", "meal_delivery", 2, 1, "11:00", 90, "椰林近邻食堂"),
        PastTask("城中村消防安全巡查", "security_patrol", 2, 9, "19:00", 120, "椰林路城中村片区"),
        PastTask("法律知识进社区", "legal_advice", 1, 14, "15:00", 90, "椰林社区议事厅"),
        PastTask("青少年心理健康讲座协助", "counselling", 1, 20, "15:30", 90, "椰林社区活动室"),
        PastTask("老人助餐配送", "meal_delivery", 2, 29, "11:00", 90, "椰林近邻食堂"),
    ],
}

# community, title, skill, its minimum level, volunteers, in how many days, local start, minutes, accepted?
AHEAD = [
    ("guangyang", "爱心食堂午餐送餐上门", "meal_delivery", 4, 1, 1, "11:00", 120, False),
    ("guangyang", "陪陈阿婆去医院复诊", "escort_clinic", 2, 1, 2, "08:30", 150, True),
    ("guangyang", "周末义剪", "haircut", 2, 2, 4, "14:00", 180, True),
    ("guangyang", "独居老人上门探访", "elderly_care", 2, 2, 3, "09:00", 120, False),
    ("donghu", "助老上门打扫", "elderly_care", 2, 2, 2, "09:00", 120, True),
    ("donghu", "东湖河道清洁行动", "environment", 1, 4, 5, "07:30", 120, False),
    ("yelin", "老人助餐配送", "meal_delivery", 2, 2, 1, "11:00", 90, True),
    ("yelin", "城中村消防安全巡查", "security_patrol", 1, 2, 3, "19:00", 120, False),
]


def _skills_wanted(community: str) -> list[str]:
    """Each skill the community's tasks ask for, once per volunteer its largest task needs, plus one."""
    needed: dict[str, int] = {}
    for past in PAST_TASKS[community]:
        needed[past.skill] = max(needed.get(past.skill, 0), past.needed)
    for key, _, skill, _, count, *_ in AHEAD:
        if key == community:
            needed[skill] = max(needed.get(skill, 0), count)
    if community == "guangyang":
        needed["appliance_repair"] = 1  # 陈阿婆's call for help
    return [skill for skill, count in needed.items() for _ in range(count + 1)]


def _windows(ctx: DemoContext) -> list[AvailabilityWindow]:
    kind = ctx.rng.random()
    if kind < 0.15:  # retired: weekday daytime
        return [AvailabilityWindow(weekday=d, start="08:00", end="18:00") for d in range(1, 6)]
    if kind < 0.3:  # working: evenings and weekends
        evenings = [AvailabilityWindow(weekday=d, start="18:30", end="22:00") for d in range(1, 6)]
        return evenings + [AvailabilityWindow(weekday=d, start="08:00", end="21:00") for d in (6, 7)]
    return [AvailabilityWindow(weekday=d, start="07:00", end="22:00") for d in range(1, 8)]  # most: any time


class Volunteering:
    def __init__(self, ctx: DemoContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.users: dict[UUID, CurrentUser] = {}  # volunteer id → their account
        self.history_assignments: list[UUID] = []

    async def profiles(self) -> None:
        ctx = self.ctx
        guangyang = ctx.communities["guangyang"]
        # Staff make the default 急救 skill their own: in 光阳 it needs a valid first-aid certificate.
        await profiles.update_skill(
            actor=guangyang.admin,
            community_id=guangyang.id,
            code="first_aid",
            patch=SkillPatch(name_zh="急救(持救护员证)", requires_certificate="first_aid"),
        )
        grids = guangyang.grids
        every_day = [AvailabilityWindow(weekday=d, start="08:00", end="20:00") for d in range(1, 8)]
        first_aid = [CertificateIn(kind="first_aid", expires_on=ctx.today + timedelta(days=400))]
        named = [
            (
                "volunteer_he",
                VolunteerIn(
                    community_id=guangyang.id,
                    skills=[
                        SkillLevel(code="meal_delivery", level=4),
                        SkillLevel(code="first_aid", level=3),
                        SkillLevel(code="elderly_care", level=4),
                    ],
                    availability=every_day,
                    certificates=first_aid,
                    languages=["海南话", "普通话"],
                    tags=["双报到", "党员"],
                    home_grid_id=grids["第一网格"],
                ),
            ),
            (
                "volunteer_zheng",
                VolunteerIn(
                    community_id=guangyang.id,
                    skills=[
                        SkillLevel(code="escort_clinic", level=3),
                        SkillLevel(code="counselling", level=2),
                        SkillLevel(code="haircut", level=4),
                    ],
                    availability=every_day,
                    languages=["粤语", "普通话"],
                    weekly_cap_minutes=600,
                    home_grid_id=grids["第二网格"],
                ),
            ),
        ]
        for key, volunteer_in in named:
            await self._register(key, ctx.people[key], volunteer_in)
        taken = {ctx.people[k].id for k in ("volunteer_he", "volunteer_zheng", "granny_chen", "uncle_lin")}
        for key, count in VOLUNTEERS_PER_COMMUNITY.items():
            demo_community = ctx.communities[key]
            # Neighbours volunteer; those living alone are the ones visited and helped, not asked.
            pool = [r for r in demo_community.residents if r.user.id not in taken and "elderly_alone" not in r.groups]
            wanted = _skills_wanted(key)
            for i, resident in enumerate(self.rng.sample(pool, count)):
                # Between them the volunteers hold every skill their community's tasks ask for, with one to spare.
                codes = list(dict.fromkeys(wanted[i::count]))[:3]
                while len(codes) < 2:
                    codes = list(dict.fromkeys([*codes, self.rng.choice(SKILL_CODES)]))
                certificates = first_aid if "first_aid" in codes else []
                volunteer_in = VolunteerIn(
                    community_id=demo_community.id,
                    # 何志愿 stays the one level-4 lunch runner (his weekly run asks for that level).
                    skills=[
                        SkillLevel(code=c, level=min(self.rng.choice([2, 3, 3, 4]), 3 if c == "meal_delivery" else 4))
                        for c in codes
                    ],
                    availability=_windows(ctx),
                    certificates=certificates,
                    languages=self.rng.choice([["普通话"], ["海南话", "普通话"]]),
                    tags=[t for t, share in (("党员", 0.3), ("双报到", 0.2)) if self.rng.random() < share],
                    home_grid_id=resident.grid_id,
                )
                await self._register(f"{key}:{i}", resident.user, volunteer_in)
        ctx.counts["volunteers"] = len(ctx.volunteers)

    async def _register(self, key: str, user: CurrentUser, volunteer_in: VolunteerIn) -> None:
        out = await profiles.create(actor=user, volunteer_in=volunteer_in)
        self.ctx.volunteers[key] = out.id
        self.users[out.id] = user

    async def teams(self) -> None:
        ctx = self.ctx
        for key, specs in TEAMS.items():
            cid = ctx.communities[key].id
            members = [v for k, v in ctx.volunteers.items() if k.startswith(f"{key}:")]
            if key == "guangyang":
                members = [ctx.volunteers["volunteer_zheng"], ctx.volunteers["volunteer_he"], *members]
            for name, leader_key, size in specs:
                leader_id = ctx.volunteers[leader_key] if leader_key else members[0]
                leader = self.users[leader_id]
                team = await teams.create(actor=leader, team_in=TeamIn(community_id=cid, name=name))
                others = [m for m in members if m != leader_id]
                for member in self.rng.sample(others, min(size - 1, len(others))):
                    await teams.add_member(actor=leader, team_id=team.id, member_in=TeamMemberIn(volunteer_id=member))
                ctx.extra.setdefault("teams", {})[name] = team.id

    def _at(self, day: date, hhmm: str) -> datetime:
        return datetime.combine(day, time.fromisoformat(hhmm), TZ).astimezone(UTC)

    async def _live(
        self,
        owner: CurrentUser,
        task_id: UUID,
        starts: datetime,
        ends: datetime,
        *,
        first_declines: bool = False,
        forgets_check_out: bool = False,
    ) -> None:
        """One past task from match to approval, each step at the moment it happened."""
        offered_at = starts - timedelta(days=2)
        await offers.match(actor=owner, task_id=task_id, now=offered_at)
        answered = offered_at + timedelta(minutes=self.rng.uniform(5, 50))
        for round_ in range(2):
            pending = await db.fetch(
                "SELECT id, volunteer_id FROM volunteer_assignments WHERE task_id = $1 AND status = 'offered'"
                " ORDER BY score DESC, id",
                task_id,
            )
            for i, offer in enumerate(pending):
                user = self.users[offer["volunteer_id"]]
                self.history_assignments.append(offer["id"])
                if first_declines and round_ == 0 and i == 0:
                    # Busy that day: the place passes to the next best candidate at once.
                    await offers.decline(actor=user, assignment_id=offer["id"], now=answered)
                else:
                    await offers.accept(actor=user, assignment_id=offer["id"], now=answered)
        accepted = await db.fetch(
            "SELECT id, volunteer_id FROM volunteer_assignments WHERE task_id = $1 AND status = 'accepted' ORDER BY id",
            task_id,
        )
        for i, assignment in enumerate(accepted):
            user = self.users[assignment["volunteer_id"]]
            checked_in = starts + timedelta(minutes=self.rng.uniform(-12, 4))
            await hours.check_in(actor=user, assignment_id=assignment["id"], code=None, now=checked_in)
            if not (forgets_check_out and i == 0):
                checked_out = ends + timedelta(minutes=self.rng.uniform(-8, 20))
                await hours.check_out(actor=user, assignment_id=assignment["id"], code=None, now=checked_out)
        if forgets_check_out and accepted:
            # The first forgot to check out: the worker's sweep checks them out at the end, for review, and the
            # coordinator confirms the task's length.
            await hours.auto_check_out(now=ends + timedelta(hours=3))
        approved_at = min(ends + timedelta(hours=self.rng.uniform(16, 30)), self.ctx.now - timedelta(minutes=10))
        for i, assignment in enumerate(accepted):
            confirmed = round((ends - starts).total_seconds() / 60) if forgets_check_out and i == 0 else None
            await hours.approve(
                actor=owner, assignment_id=assignment["id"], approve_in=ApproveIn(minutes=confirmed), now=approved_at
            )
        await tasks.transition(actor=owner, task_id=task_id, action="complete")

    async def past(self) -> None:
        ctx = self.ctx
        guangyang = ctx.communities["guangyang"]
        # 何志愿's weekly lunch run, every Tuesday for a year, up to last week.
        last_tuesday = ctx.today - timedelta(days=(ctx.today.isoweekday() - 2) % 7 or 7)
        first = last_tuesday - timedelta(weeks=51)
        series = await tasks.create(
            actor=guangyang.staff[0],
            task_in=TaskIn(
                community_id=guangyang.id,
                title="爱心食堂午餐送餐上门",
                description="给第一网格行动不便的独居老人送午餐。",
                location="光阳爱心食堂",
                required_skills=[RequiredSkill(code="meal_delivery", min_level=4)],
                volunteers_needed=1,
                starts_at=self._at(first, "11:00"),
                ends_at=self._at(first, "13:00"),
                grid_id=guangyang.grids["第一网格"],
                recurrence=Recurrence(weekly_count=52),
            ),
            now=self._at(first, "08:00") - timedelta(days=3),
        )
        for k, task_id in enumerate(series.series_task_ids):
            starts = self._at(first + timedelta(weeks=k), "11:00")
            await self._live(guangyang.staff[0], task_id, starts, starts + timedelta(hours=2))
        for key, specs in PAST_TASKS.items():
            demo_community = ctx.communities[key]
            owner = demo_community.staff[0]
            for k, spec in enumerate(specs):
                day = ctx.history_start + timedelta(days=spec.day)
                if day >= ctx.today:
                    continue
                starts = self._at(day, spec.start)
                ends = starts + timedelta(minutes=spec.minutes)
                if ends >= ctx.now:
                    continue
                task = await tasks.create(
                    actor=owner,
                    task_in=TaskIn(
                        community_id=demo_community.id,
                        title=spec.title,
                        location=spec.location,
                        required_skills=[RequiredSkill(code=spec.skill, min_level=2)],
                        volunteers_needed=spec.needed,
                        starts_at=starts,
                        ends_at=ends,
                    ),
                    now=starts - timedelta(days=4),
                )
                await self._live(owner, task.id, starts, ends, first_declines=k % 4 == 1, forgets_check_out=k == 3)
        # History is recorded, not announced: its offers, acceptances and approvals notify nobody today.
        await db.execute(
            "DELETE FROM outbox_events WHERE topic = ANY($1::text[]) AND payload->>'assignment_id' = ANY($2::text[])",
            ["volunteers.offered", "volunteers.accepted", "volunteers.hours_approved"],
            [str(a) for a in self.history_assignments],
        )

    async def ahead(self) -> None:
        ctx = self.ctx
        guangyang = ctx.communities["guangyang"]
        tomorrow = ctx.today + timedelta(days=1)
        for key, title, skill, level, needed, days, start, minutes, accept in AHEAD:
            demo_community = ctx.communities[key]
            starts = self._at(tomorrow + timedelta(days=days - 1), start)
            task = await tasks.create(
                actor=demo_community.staff[0],
                task_in=TaskIn(
                    community_id=demo_community.id,
                    title=title,
                    required_skills=[RequiredSkill(code=skill, min_level=level)],
                    volunteers_needed=needed,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=minutes),
                ),
            )
            made = await offers.match(actor=demo_community.staff[0], task_id=task.id)
            if accept:
                for offer in made.offers:
                    await offers.accept(actor=self.users[offer.volunteer_id], assignment_id=offer.id)
        # 一键呼叫: 陈阿婆's light has gone out; the call is offered to neighbours who can fix it.
        await tasks.create_help_request(
            actor=ctx.people["granny_chen"],
            help_in=HelpRequestIn(
                community_id=guangyang.id,
                title="家里灯泡坏了,帮忙换一下",
                description="客厅吸顶灯不亮,家里没有梯子。",
                location="光阳小区3栋502",
                skill_code="appliance_repair",
                starts_at=ctx.now + timedelta(hours=3),
            ),
        )


async def load(ctx: DemoContext) -> None:
    volunteering = Volunteering(ctx)
    await volunteering.profiles()
    await volunteering.teams()
    await volunteering.past()
    await volunteering.ahead()
    minutes = await db.fetchval(
        "SELECT coalesce(sum(minutes), 0) FROM volunteer_hours_entries WHERE community_id = ANY($1::uuid[])",
        [c.id for c in ctx.communities.values()],
    )
    ctx.counts["approved_hours"] = int(minutes) // 60
