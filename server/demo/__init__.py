"""`linli demo`: a street (海口市美兰区和平南街道) with three communities and a month of history to click through.

What it loads: the communities and their grids, about 230 residents with priority groups, 23 partners across
every category with weekly schedules, last month and this month so far of completed bookings and on-demand
orders (reviews, a complaint), volunteers in teams with approved hours (one of them a year of weekly meal
runs: 1★), deposits, last month settled into the welfare fund, relief, and a participatory-budget round in
each community. Rules that matter go through the services (settlement, hours, votes, deposits, bookings of
the coming days); the history of bookings is written in bulk, priced by the pricing rule and within capacity.

One transaction: the demo is there entirely or not at all. It loads once: when its street is already there
(or, with `--if-empty`, when any community exists) nothing changes. Everyone's password is `linli2026`.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from linli import db
from linli.auth.security import CurrentUser

DEMO_PASSWORD = "linli2026"
STREET = "海口市美兰区和平南街道"
TIMEZONE = "Asia/Shanghai"


@dataclass
class Resident:
    user: CurrentUser
    community: str  # community key
    groups: list[str]
    elderly: bool
    parent: bool
    grid_id: UUID | None = None


@dataclass
class DemoCommunity:
    key: str
    name: str
    id: UUID
    admin: CurrentUser
    staff: list[CurrentUser]
    grids: dict[str, UUID] = field(default_factory=dict)
    residents: list[Resident] = field(default_factory=list)


@dataclass
class DemoContext:
    """What the steps share: who is who, the ids made so far, the calendar and one seeded random source."""

    today: date  # community-local
    now: datetime
    history_start: date  # first day of last month: the history runs from here to yesterday
    settled_period: str  # last month, "YYYY-MM"
    rng: random.Random
    people: dict[str, CurrentUser] = field(default_factory=dict)
    communities: dict[str, DemoCommunity] = field(default_factory=dict)
    partners: dict[str, UUID] = field(default_factory=dict)
    offerings: dict[str, UUID] = field(default_factory=dict)
    volunteers: dict[str, UUID] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def platform(self) -> CurrentUser:
        return self.people["platform"]


DemoStep = Callable[[DemoContext], Awaitable[None]]


def _steps() -> list[tuple[str, DemoStep]]:
    """(label, step) in order; imported lazily so `demo_accounts()` stays cheap for the banner."""
    from server.demo import history, marketplace, partners, people, volunteers, welfare

    return [
        ("street and people", people.load),
        ("partners and schedules", partners.load),
        ("a month of bookings", history.load),
        ("the coming days", marketplace.load),
        ("volunteers and hours", volunteers.load),
        ("welfare fund and budgets", welfare.load),
    ]


# (key, phone, name, role shown in the banner): the sign-ins to try, one per kind of user.
ACCOUNTS = [
    ("platform", "13800000000", "街道管理员", "平台管理员"),
    ("secretary", "13800000001", "符书记", "社区书记"),
    ("staff", "13800000002", "王秀英", "社区工作人员"),
    ("granny_chen", "13800000010", "陈阿婆", "居民"),
    ("canteen_owner", "13800000020", "黄老板", "商家"),
    ("volunteer_he", "13800000030", "何志愿", "志愿者"),
]


def demo_accounts() -> list[tuple[str, str, str]]:
    """(who, phone, password) of the demo's people to sign in as, one a role, for `make run`'s banner."""
    return [(f"{role} {name}", phone, DEMO_PASSWORD) for _, phone, name, role in ACCOUNTS]


async def _context() -> DemoContext:
    from datetime import UTC, timedelta
    from zoneinfo import ZoneInfo

    now = datetime.now(UTC)
    today = now.astimezone(ZoneInfo(TIMEZONE)).date()
    history_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return DemoContext(
        today=today,
        now=now,
        history_start=history_start,
        settled_period=history_start.strftime("%Y-%m"),
        rng=random.Random(2026),
    )


async def load_demo(*, if_empty: bool = False) -> DemoContext | None:
    """Load the demo unless it (or, with `if_empty`, anything) is there; returns its context when it loaded."""
    from tqdm import tqdm

    from server.demo.people import COMMUNITIES

    started = time.monotonic()
    await db.start_pool()
    try:
        if if_empty and await db.fetchval("SELECT count(*) FROM communities") > 0:
            print("demo: data already present, nothing loaded")
            return None
        if await db.fetchval("SELECT 1 FROM communities WHERE street = $1 AND name = $2", STREET, COMMUNITIES[0].name):
            print(f"demo: {STREET} is already loaded, nothing changed")
            return None
        ctx = await _context()
        steps = _steps()
        # A bar only on a terminal: piped or logged output stays a few plain lines.
        with tqdm(total=len(steps), desc="demo", unit="step", disable=not sys.stderr.isatty()) as bar:
            async with db.unit_of_work():
                for label, step in steps:
                    bar.set_postfix_str(label)
                    await step(ctx)
                    bar.update()
    finally:
        await db.close_pool()
    _report(ctx, seconds=time.monotonic() - started)
    return ctx


def _report(ctx: DemoContext, *, seconds: float) -> None:
    c = ctx.counts
    names = "、".join(community.name for community in ctx.communities.values())
    print(f"demo: {STREET} ({names}) loaded in {seconds:.1f} s")
    print(
        f"  {c.get('residents', 0)} residents, {c.get('partners', 0)} partners, {c.get('bookings', 0)} bookings"
        f" ({c.get('completed', 0)} completed), {c.get('volunteers', 0)} volunteers, {c.get('approved_hours', 0)} h"
        f" approved, {ctx.settled_period} settled"
    )
    print(f"  sign in with any of these (password {DEMO_PASSWORD}):")
    width = max(_columns(who) for who, _, _ in demo_accounts())
    for who, phone, _ in demo_accounts():
        print(f"    {who}{' ' * (width - _columns(who))}  {phone}")


def _columns(text: str) -> int:
    """Terminal columns of `text`: Chinese characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
