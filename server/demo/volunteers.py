"""Demo step: the skill catalog, two volunteers, the 党员志愿服务队 and a few tasks in 光阳社区 (idempotent)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from linli import db
from server.demo import DemoContext
from volunteers.schemas import (
    AvailabilityWindow,
    CertificateIn,
    RequiredSkill,
    SkillIn,
    SkillLevel,
    TaskIn,
    TeamIn,
    TeamMemberIn,
    VolunteerIn,
)
from volunteers.services import profiles, tasks, teams

SKILLS = [
    ("meal_delivery", "助餐配送", None),
    ("escort_clinic", "陪诊", None),
    ("haircut", "理发", None),
    ("appliance_repair", "家电维修", None),
    ("counselling", "心理疏导", None),
    ("first_aid", "急救", "first_aid"),
]

TEAM_NAME = "党员志愿服务队"


async def load(ctx: DemoContext) -> None:
    cid = ctx.community_id
    staff = ctx.people["staff"]
    existing = {s.code for s in await profiles.get_skills(actor=staff, community_id=cid)}
    for code, name, cert in SKILLS:
        if code not in existing:
            await profiles.create_skill(
                actor=staff, community_id=cid, skill_in=SkillIn(code=code, name_zh=name, requires_certificate=cert)
            )
    grids = {
        r["name"]: r["id"] for r in await db.fetch("SELECT id, name FROM community_grids WHERE community_id = $1", cid)
    }
    every_day = [AvailabilityWindow(weekday=d, start="08:00", end="20:00") for d in range(1, 8)]
    weekends = [AvailabilityWindow(weekday=d, start="09:00", end="18:00") for d in (6, 7)]
    volunteers = {}
    for key, skills, windows, extra in [
        (
            "volunteer_he",
            [SkillLevel(code="meal_delivery", level=4), SkillLevel(code="first_aid", level=3)],
            every_day,
            {
                "certificates": [CertificateIn(kind="first_aid", expires_on=date.today() + timedelta(days=400))],
                "languages": ["海南话", "普通话"],
                "tags": ["双报到", "党员"],
                "home_grid_id": grids.get("第一网格"),
            },
        ),
        (
            "volunteer_zheng",
            [
                SkillLevel(code="escort_clinic", level=3),
                SkillLevel(code="counselling", level=2),
                SkillLevel(code="haircut", level=4),
            ],
            every_day + weekends,
            {"languages": ["粤语", "普通话"], "weekly_cap_minutes": 600, "home_grid_id": grids.get("第二网格")},
        ),
    ]:
        person = ctx.people[key]
        vid = await db.fetchval(
            "SELECT id FROM volunteer_profiles WHERE community_id = $1 AND user_id = $2", cid, person.id
        )
        if vid is None:
            vid = (
                await profiles.create(
                    actor=person,
                    volunteer_in=VolunteerIn.model_validate(
                        {"community_id": cid, "skills": skills, "availability": windows, **extra}
                    ),
                )
            ).id
        volunteers[key] = vid
    team_id = await db.fetchval("SELECT id FROM volunteer_teams WHERE community_id = $1 AND name = $2", cid, TEAM_NAME)
    if team_id is None:
        team = await teams.create(actor=ctx.people["volunteer_he"], team_in=TeamIn(community_id=cid, name=TEAM_NAME))
        team_id = team.id
        await teams.add_member(
            actor=ctx.people["volunteer_he"],
            team_id=team_id,
            member_in=TeamMemberIn(volunteer_id=volunteers["volunteer_zheng"]),
        )
    ctx.extra["volunteer_team_id"] = team_id
    if await db.fetchval("SELECT count(*) FROM volunteer_tasks WHERE community_id = $1", cid):
        return
    tz = ZoneInfo("Asia/Shanghai")
    tomorrow = (datetime.now(UTC).astimezone(tz) + timedelta(days=1)).date()

    def local(hour: int, minute: int = 0, days: int = 0) -> datetime:
        return datetime(tomorrow.year, tomorrow.month, tomorrow.day, hour, minute, tzinfo=tz) + timedelta(days=days)

    plan: list[tuple[str, list[RequiredSkill], int, datetime, datetime]] = [
        ("爱心食堂午餐配送", [RequiredSkill(code="meal_delivery", min_level=2)], 2, local(11), local(13)),
        ("陪陈阿婆去医院复诊", [RequiredSkill(code="escort_clinic", min_level=2)], 1, local(9), local(11, 30)),
        ("周末义剪", [RequiredSkill(code="haircut", min_level=3)], 1, local(14, days=2), local(17, days=2)),
        ("社区急救知识讲座协助", [RequiredSkill(code="first_aid", min_level=2)], 1, local(15), local(16, 30)),
    ]
    for title, skills_needed, needed, start, end in plan:
        await tasks.create(
            actor=staff,
            task_in=TaskIn(
                community_id=cid,
                title=title,
                required_skills=skills_needed,
                volunteers_needed=needed,
                starts_at=start,
                ends_at=end,
                location="光阳社区党群服务中心",
                grid_id=grids.get("第一网格"),
            ),
        )
