"""Demo step: the street's three communities, their grids (网格), staff, and some 230 residents with priority groups.

Communities, roles and grids go through the community services (the platform admin creates each community,
which also seeds its volunteer skill catalogue). Accounts and residents are many, so they are written in bulk:
one password hash shared by every demo account (they all use the demo password), each account announced with
`user.registered` as registration does, each resident's priority groups audited as staff setting them would be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from community import services as community
from community.schemas import CommunityIn, GridIn
from linli import db, outbox
from linli.auth.schemas import RegisterIn
from linli.auth.security import CurrentUser, hash_password
from server.demo import DEMO_PASSWORD, STREET, TIMEZONE, DemoCommunity, DemoContext, Resident


@dataclass(frozen=True)
class CommunitySpec:
    key: str
    name: str
    grids: list[tuple[str, str]]
    residents: int  # generated residents, besides the named people


COMMUNITIES = [
    CommunitySpec(
        "guangyang",
        "光阳社区",
        [("第一网格", "光阳小区1-6栋"), ("第二网格", "光阳小区7-12栋及沿街商铺"), ("第三网格", "光阳新村及海府路沿线")],
        residents=80,
    ),
    CommunitySpec("donghu", "东湖社区", [("东湖一网格", "东湖花园1-8栋"), ("东湖二网格", "东湖路沿街及老干宿舍")], 70),
    CommunitySpec(
        "yelin",
        "椰林社区",
        [("椰林一网格", "椰林小区A区"), ("椰林二网格", "椰林小区B区"), ("椰林三网格", "椰林路城中村片区")],
        residents=70,
    ),
]

# key, phone, name, community, role there, priority groups. The first six are the banner's sign-ins.
PEOPLE: list[tuple[str, str, str, str | None, str | None, list[str]]] = [
    ("platform", "13800000000", "街道管理员", None, None, []),
    ("secretary", "13800000001", "符书记", "guangyang", "admin", []),
    ("staff", "13800000002", "王秀英", "guangyang", "staff", []),
    ("grid_worker", "13800000003", "陈网格", "guangyang", "staff", []),
    ("granny_chen", "13800000010", "陈阿婆", "guangyang", "resident", ["elderly", "elderly_alone"]),
    ("uncle_lin", "13800000011", "林阿伯", "guangyang", "resident", ["disabled", "elderly"]),
    ("ms_wu", "13800000012", "吴丽", "guangyang", "resident", ["low_income"]),
    ("mr_zhang", "13800000013", "张伟", "guangyang", "resident", []),
    ("canteen_owner", "13800000020", "黄老板", "guangyang", "resident", []),
    ("nursery_head", "13800000021", "李园长", "guangyang", "resident", []),
    ("volunteer_he", "13800000030", "何志愿", "guangyang", "resident", []),
    ("volunteer_zheng", "13800000031", "郑晓燕", "guangyang", "resident", []),
    ("donghu_secretary", "13800000101", "邢书记", "donghu", "admin", []),
    ("donghu_staff", "13800000102", "李海燕", "donghu", "staff", []),
    ("donghu_grid", "13800000103", "冯网格", "donghu", "staff", []),
    ("yelin_secretary", "13800000201", "云书记", "yelin", "admin", []),
    ("yelin_staff", "13800000202", "吴少梅", "yelin", "staff", []),
    ("yelin_grid", "13800000203", "羊网格", "yelin", "staff", []),
]

PARENTS = {"ms_wu", "mr_zhang"}  # named residents with a small child (the nursery's families)

SURNAMES = "陈王林吴符黄李张邢云周郑冯蔡梁何许韩羊潘莫邓谢杨"
# Given names, two characters each.
ELDER_NAMES = "秀英桂兰亚妹玉梅淑珍月娥凤英亚花金莲文光德明亚福国强振华世雄春生永福有才家旺明珠"
YOUNGER_NAMES = "晓燕丽娟海燕雅婷思琪佳怡美玲小红志强建华海波俊杰文涛子豪浩然明辉少华嘉欣宇航诗涵"
RESIDENT_PHONES = 13500000001  # generated residents take consecutive numbers from here
OWNER_PHONES = 13700000001  # partner owners (server.demo.partners) likewise


async def create_users(ctx: DemoContext, people: list[tuple[str, str, bool]]) -> dict[str, CurrentUser]:
    """Accounts (phone, name, platform admin?) in one statement; an existing phone keeps its account."""
    for phone, name, _ in people:
        RegisterIn(phone=phone, password=DEMO_PASSWORD, name=name)  # the rules registration applies
    password_hash = ctx.extra.get("password_hash") or hash_password(DEMO_PASSWORD)
    ctx.extra["password_hash"] = password_hash
    await db.execute(
        "WITH made AS (INSERT INTO users (id, phone, name, password_hash, is_platform_admin, created_at)"
        " SELECT gen_random_uuid(), u.phone, u.name, $3, u.admin, $5"
        " FROM unnest($1::text[], $2::text[], $4::bool[]) AS u(phone, name, admin)"
        " ON CONFLICT (phone) DO NOTHING RETURNING id, name),"
        " events AS ("
        + outbox.insert_events_sql(
            topic_param=6, payload="jsonb_build_object('user_id', made.id::text, 'name', made.name)", source="made"
        )
        + ") SELECT count(*) FROM made",
        [p for p, _, _ in people],
        [n for _, n, _ in people],
        password_hash,
        [a for _, _, a in people],
        ctx.now - timedelta(days=120),
        "user.registered",
    )
    rows = await db.fetch(
        "SELECT id, phone, name, is_platform_admin FROM users WHERE phone = ANY($1::text[])", [p for p, _, _ in people]
    )
    by_phone = {r["phone"]: r for r in rows}
    return {
        phone: CurrentUser(id=r["id"], phone=phone, name=r["name"], is_platform_admin=r["is_platform_admin"])
        for phone, _, _ in people
        for r in [by_phone[phone]]
    }


def _resident_profile(ctx: DemoContext) -> tuple[str, list[str], bool, bool]:
    """(name, priority groups, elderly?, parent of a small child?) of one generated resident."""
    rng = ctx.rng
    elderly = rng.random() < 0.42
    given = ELDER_NAMES if elderly else YOUNGER_NAMES
    k = rng.randrange(len(given) // 2)
    name = rng.choice(SURNAMES) + given[2 * k : 2 * k + 2]
    groups: set[str] = set()
    parent = False
    if elderly:
        groups.add("elderly")
        if rng.random() < 0.3:
            groups.add("elderly_alone")
        if rng.random() < 0.07:
            # Grandparents raising a grandchild whose parents work away (留守儿童).
            groups.add("left_behind_child")
            parent = True
    else:
        parent = rng.random() < 0.25
    for group, share in (("disabled", 0.07), ("low_income", 0.09), ("special_hardship", 0.025), ("veteran", 0.04)):
        if rng.random() < share:
            groups.add(group)
    return name, sorted(groups), elderly, parent


async def load(ctx: DemoContext) -> None:
    generated: list[tuple[str, str, str, list[str], bool, bool]] = []  # phone, name, community, groups, …
    phone = RESIDENT_PHONES
    for spec in COMMUNITIES:
        for _ in range(spec.residents):
            name, groups, elderly, parent = _resident_profile(ctx)
            generated.append((str(phone), name, spec.key, groups, elderly, parent))
            phone += 1
    users = await create_users(
        ctx,
        [(p, name, key == "platform") for key, p, name, *_ in PEOPLE] + [(p, name, False) for p, name, *_ in generated],
    )
    ctx.people.update({key: users[p] for key, p, *_ in PEOPLE})
    platform = ctx.platform
    for spec in COMMUNITIES:
        made = await community.create(
            actor=platform, community_in=CommunityIn(name=spec.name, timezone=TIMEZONE, street=STREET)
        )
        staff = [ctx.people[key] for key, _, _, where, role, _ in PEOPLE if where == spec.key and role == "staff"]
        admin = next(ctx.people[key] for key, _, _, where, role, _ in PEOPLE if where == spec.key and role == "admin")
        demo_community = DemoCommunity(key=spec.key, name=spec.name, id=made.id, admin=admin, staff=staff)
        ctx.communities[spec.key] = demo_community
        for user, role in [(admin, "admin"), *[(s, "staff") for s in staff]]:
            await community.grant_role(actor=platform, community_id=made.id, user_id=user.id, role=role)
        for i, (grid, description) in enumerate(spec.grids):
            worker = staff[-1 - i % len(staff)]  # the grid workers are listed last
            grid_id = (
                await community.create_grid(
                    actor=admin,
                    community_id=made.id,
                    grid_in=GridIn(name=grid, description=description, worker_user_id=worker.id),
                )
            ).id
            demo_community.grids[grid] = grid_id
            ctx.extra.setdefault("grid_workers", {})[grid_id] = worker
    residents = [
        Resident(
            user=ctx.people[key], community=where, groups=groups, elderly="elderly" in groups, parent=key in PARENTS
        )
        for key, _, _, where, role, groups in PEOPLE
        if role == "resident" and where is not None
    ] + [
        Resident(user=users[p], community=where, groups=groups, elderly=elderly, parent=parent)
        for p, _, where, groups, elderly, parent in generated
    ]
    for resident in residents:
        grids = list(ctx.communities[resident.community].grids.values())
        resident.grid_id = ctx.rng.choice(grids)
        ctx.communities[resident.community].residents.append(resident)
    await _write_residents(ctx, residents)
    ctx.counts["residents"] = len(residents)


async def _write_residents(ctx: DemoContext, residents: list[Resident]) -> None:
    """Memberships, standing (groups, home grid) and the audit of who set the groups, three statements."""
    communities = [ctx.communities[r.community].id for r in residents]
    users = [r.user.id for r in residents]
    await db.execute(
        "INSERT INTO community_memberships (id, community_id, user_id, role, granted_by, created_at)"
        " SELECT gen_random_uuid(), c, u, 'resident', $3, $4 FROM unnest($1::uuid[], $2::uuid[]) AS m(c, u)"
        " ON CONFLICT (community_id, user_id, role) DO NOTHING",
        communities,
        users,
        ctx.platform.id,
        ctx.now - timedelta(days=120),
    )
    setters = [ctx.communities[r.community].staff[0].id for r in residents]
    await db.execute(
        "INSERT INTO community_residents (id, community_id, user_id, priority_groups, grid_id, updated_by, updated_at)"
        " SELECT gen_random_uuid(), c, u, g::text[], grid, by, now()"
        " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::uuid[]) AS r(c, u, g, grid, by)",
        communities,
        users,
        ["{" + ",".join(r.groups) + "}" for r in residents],
        [r.grid_id for r in residents],
        setters,
    )
    marked = [
        (c, u, s, r.groups) for c, u, s, r in zip(communities, users, setters, residents, strict=True) if r.groups
    ]
    await db.execute(
        "INSERT INTO audit_events (id, community_id, actor_user_id, action, object_type, object_id, reason, detail,"
        " created_at) SELECT gen_random_uuid(), c, by, 'resident.priority_groups_set', 'user', u, '', d::jsonb, now()"
        " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[]) AS a(c, u, by, d)",
        [m[0] for m in marked],
        [m[1] for m in marked],
        [m[2] for m in marked],
        [json.dumps({"before": [], "after": m[3]}, ensure_ascii=False) for m in marked],
    )


def resident_groups(ctx: DemoContext) -> dict[UUID, list[str]]:
    """user id → priority groups, over every community (a demo resident belongs to one)."""
    return {r.user.id: r.groups for c in ctx.communities.values() for r in c.residents}
