"""`linli demo`: a realistic demo community (海口市美兰区光阳社区) to click through.

Each domain adds its part through `DEMO_STEPS`; every step is idempotent, so running the demo twice is safe.
Everyone's demo password is `linli2026`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from linli import db
from linli.auth.schemas import RegisterIn
from linli.auth.security import CurrentUser

DEMO_PASSWORD = "linli2026"


@dataclass
class DemoContext:
    community_id: UUID
    people: dict[str, CurrentUser] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


DemoStep = Callable[[DemoContext], Awaitable[None]]
DEMO_STEPS: list[tuple[str, str]] = [
    # (module, function) loaded lazily so the demo only imports what exists
    ("server.demo.partners", "load"),
    ("server.demo.marketplace", "load"),
    ("server.demo.volunteers", "load"),
    ("server.demo.welfare", "load"),
]

PEOPLE = [
    # key, phone, name, community role, priority groups
    ("platform", "13800000000", "平台管理员", None, []),
    ("secretary", "13800000001", "符书记", "admin", []),
    ("staff", "13800000002", "王秀英", "staff", []),
    ("grid_worker", "13800000003", "陈网格", "staff", []),
    ("granny_chen", "13800000010", "陈阿婆", "resident", ["elderly_alone", "elderly"]),
    ("uncle_lin", "13800000011", "林阿伯", "resident", ["elderly", "disabled"]),
    ("ms_wu", "13800000012", "吴丽", "resident", ["low_income"]),
    ("mr_zhang", "13800000013", "张伟", "resident", []),
    ("canteen_owner", "13800000020", "黄老板", "resident", []),
    ("nursery_head", "13800000021", "李园长", "resident", []),
    ("volunteer_he", "13800000030", "何志愿", "resident", []),
    ("volunteer_zheng", "13800000031", "郑晓燕", "resident", []),
]


async def _person(phone: str, name: str, platform: bool) -> CurrentUser:
    from linli.auth import services as auth

    row = await db.fetchrow("SELECT id FROM users WHERE phone = $1", phone)
    if row is None:
        if platform:
            await auth.create_platform_admin(phone=phone, password=DEMO_PASSWORD, name=name)
        else:
            await auth.register(register_in=RegisterIn(phone=phone, password=DEMO_PASSWORD, name=name))
        row = await db.fetchrow("SELECT id FROM users WHERE phone = $1", phone)
    assert row is not None
    return CurrentUser(id=row["id"], phone=phone, name=name, is_platform_admin=platform)


async def build_community() -> DemoContext:
    from community import services as community
    from community.schemas import CommunityIn, GridIn

    people = {key: await _person(phone, name, key == "platform") for key, phone, name, _, _ in PEOPLE}
    platform = people["platform"]
    cid = await db.fetchval("SELECT id FROM communities WHERE name = '光阳社区'")
    if cid is None:
        cid = (
            await community.create(
                actor=platform,
                community_in=CommunityIn(name="光阳社区", timezone="Asia/Shanghai", street="海口市美兰区"),
            )
        ).id
    ctx = DemoContext(community_id=cid, people=people)
    for key, _, _, role, groups in PEOPLE:
        if role is None:
            continue
        await community.grant_role(actor=platform, community_id=cid, user_id=people[key].id, role=role)
        if groups:
            await community.set_priority_groups(
                actor=people["staff"], community_id=cid, user_id=people[key].id, groups=groups
            )
    for name, desc in [("第一网格", "光阳小区1-6栋"), ("第二网格", "光阳小区7-12栋及沿街商铺")]:
        exists = await db.fetchval("SELECT 1 FROM community_grids WHERE community_id = $1 AND name = $2", cid, name)
        if not exists:
            await community.create_grid(
                actor=platform,
                community_id=cid,
                grid_in=GridIn(name=name, description=desc, worker_user_id=people["grid_worker"].id),
            )
    return ctx


async def load_demo(*, if_empty: bool = False) -> None:
    import importlib
    import sys

    from tqdm import tqdm

    await db.start_pool()
    try:
        if if_empty and await db.fetchval("SELECT count(*) FROM communities") > 0:
            print("demo: data already present, nothing loaded")
            return
        # A bar only on a terminal (the people and the community, then each domain's step); piped or logged
        # output stays the plain list of sign-ins below.
        with tqdm(total=1 + len(DEMO_STEPS), desc="demo", unit="step", disable=not sys.stderr.isatty()) as bar:
            async with db.unit_of_work():
                bar.set_postfix_str("community")
                ctx = await build_community()
                bar.update()
                for module, function in DEMO_STEPS:
                    bar.set_postfix_str(module.rsplit(".", 1)[-1])
                    step: DemoStep = getattr(importlib.import_module(module), function)
                    await step(ctx)
                    bar.update()
        print(f"demo: 光阳社区 loaded (community {ctx.community_id}); every demo password is {DEMO_PASSWORD}")
        for key, phone, name, role, _ in PEOPLE:
            print(f"  {name:<6} {phone}  {role or 'platform admin'}  ({key})")
    finally:
        await db.close_pool()


def demo_accounts() -> list[tuple[str, str, str]]:
    """(who, phone, password) of the demo's people to sign in as, one a role, for `make run`'s banner."""
    wanted = {
        "platform": "平台管理员",
        "secretary": "社区书记",
        "staff": "社区工作人员",
        "granny_chen": "居民",
        "canteen_owner": "商家",
        "volunteer_he": "志愿者",
    }
    return [(f"{wanted[key]} {name}", phone, DEMO_PASSWORD) for key, phone, name, _, _ in PEOPLE if key in wanted]
