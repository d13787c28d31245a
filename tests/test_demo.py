"""`linli demo`: a street of three communities with a month of history, every number visible through the API.

The demo runs as an operator runs it (the command line, in its own process), then the stories read it back as
its users would: the platform admin, the secretary, 陈阿婆, 何志愿, the canteen's owner.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any
from uuid import UUID

from linli import db
from server.demo import DEMO_PASSWORD, demo_accounts
from tests.conftest import process_env
from welfare.services.reconcile import reconcile


def linli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args], env=process_env(), capture_output=True, text=True, timeout=300
    )


async def sign_in(client: Any, phone: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"phone": phone, "password": DEMO_PASSWORD})
    assert r.status_code == 200, (phone, r.text)
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _all(client: Any, url: str, headers: dict[str, str], *, limit: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        r = await client.get(url, params={"limit": limit, "offset": len(items)}, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        page = page["items"] if isinstance(page, dict) else page
        items += page
        if len(page) < limit:
            return items


async def _row_counts() -> dict[str, int]:
    tables = [r["tablename"] for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    return {t: await db.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}


async def test_the_demo_street_shows_its_numbers_through_the_api(client):
    run = linli("demo")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "光阳社区" in run.stdout and "loaded in" in run.stdout
    for _, phone, _ in demo_accounts():
        assert phone in run.stdout
    platform = await sign_in(client, "13800000000")
    communities = (await client.get("/api/v1/communities", headers=platform)).json()
    assert sorted(c["name"] for c in communities) == ["东湖社区", "光阳社区", "椰林社区"]
    assert {c["street"] for c in communities} == {"海口市美兰区和平南街道"}
    by_name = {c["name"]: c["id"] for c in communities}

    partners = [
        p
        for cid in by_name.values()
        for p in await _all(client, f"/api/v1/partners?community_id={cid}", platform, limit=50)
    ]
    assert len(partners) >= 20
    assert {p["kind"] for p in partners} == {
        "canteen",
        "childcare",
        "elderly_daycare",
        "housekeeping",
        "parcel",
        "repair",
        "health",
        "other",
    }
    assert all(p["status"] == "approved" for p in partners)

    residents = 0
    with_groups = 0
    for cid in by_name.values():
        members = await _all(client, f"/api/v1/communities/{cid}/members?role=resident", platform, limit=100)
        residents += len(members)
        with_groups += await db.fetchval(
            "SELECT count(*) FROM community_residents WHERE community_id = $1 AND priority_groups <> '{}'", UUID(cid)
        )
    assert residents >= 200
    assert with_groups >= 60

    # Last month is settled in every community, to the fen, and its report has every partner that sold.
    period = await db.fetchval(
        "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') - interval '1 day', 'YYYY-MM')"
    )
    secretary = await sign_in(client, "13800000001")
    guangyang = by_name["光阳社区"]
    runs = (await client.get(f"/api/v1/communities/{guangyang}/settlements", headers=secretary)).json()
    [settled] = [r for r in runs if r["period"] == period]
    assert settled["status"] == "completed" and settled["bookings_settled"] > 300
    assert settled["share_fen"] > 0 and settled["subsidies_fen"] > 0
    report = (
        await client.get(
            f"/api/v1/communities/{guangyang}/reports/welfare", params={"period": period}, headers=secretary
        )
    ).json()
    assert len(report["partners"]) >= 8
    assert report["totals"]["gross_fen"] > 0 and report["totals"]["share_fen"] > 0
    fund = (await client.get(f"/api/v1/communities/{guangyang}/welfare-fund", headers=secretary)).json()
    assert fund["balance_fen"] > 0
    assert fund["deposits_fen"] > 0 and fund["shares_fen"] > 0 and fund["subsidies_fen"] > 0
    assert fund["disbursements_fen"] > 0 and fund["projects_fen"] > 0
    for cid in by_name.values():
        result = await reconcile(community_id=UUID(cid), period=period)
        assert result.ok, result.render()
        assert result.unsettled_bookings == 0

    # 何志愿's year of weekly lunch runs: approved hours, one star, and an offer waiting for him.
    he = await sign_in(client, "13800000030")
    volunteers = (await client.get(f"/api/v1/communities/{guangyang}/volunteers", headers=secretary)).json()
    [he_profile] = [v for v in volunteers if v["name"] == "何志愿"]
    hours = (await client.get(f"/api/v1/volunteers/{he_profile['id']}/hours", headers=he)).json()
    assert hours["approved_minutes"] >= 100 * 60 and hours["star_level"] == 1
    assert len(volunteers) >= 12
    offered = await db.fetchval(
        "SELECT count(*) FROM volunteer_assignments WHERE volunteer_id = $1 AND status = 'offered'",
        UUID(he_profile["id"]),
    )
    assert offered >= 1

    # A budgeting round with proposals and votes in every community; 光阳's last round funded its winners.
    for name, cid in by_name.items():
        rounds = (await client.get(f"/api/v1/communities/{cid}/budget-rounds", headers=platform)).json()
        voting = [r for r in rounds if r["status"] == "voting"]
        assert voting, name
        assert sum(p["votes"] for p in voting[0]["proposals"]) >= 20
    rounds = (await client.get(f"/api/v1/communities/{guangyang}/budget-rounds", headers=secretary)).json()
    [closed] = [r for r in rounds if r["status"] == "closed"]
    assert any(p["status"] == "funded" for p in closed["proposals"])

    # 陈阿婆 finds the canteen by its initials and has tomorrow's lunch at her subsidised price.
    found = (await client.get("/api/v1/offerings", params={"q": "axst"})).json()
    titles = [o["title"] for o in (found["items"] if isinstance(found, dict) else found)]
    assert titles == ["爱心食堂午餐"]
    granny = await sign_in(client, "13800000010")
    mine = (await client.get("/api/v1/me/bookings", params={"status": "confirmed"}, headers=granny)).json()
    [lunch] = mine["items"]
    assert (lunch["price_fen"], lunch["subsidy_fen"], lunch["payable_fen"]) == (1500, 1000, 500)

    # Every demo account signs in; the invariants hold over the whole history.
    for _, phone, _ in demo_accounts():
        await sign_in(client, phone)
    assert not await db.fetch(
        "SELECT s.id FROM slots s LEFT JOIN bookings b ON b.slot_id = s.id"
        " AND b.status IN ('held', 'confirmed', 'accepted', 'completed')"
        " GROUP BY s.id HAVING s.booked <> coalesce(sum(b.quantity), 0) OR s.booked > s.capacity"
    )
    assert not await db.fetch(
        "SELECT transaction_id FROM welfare_entries GROUP BY transaction_id HAVING sum(amount_fen) <> 0"
    )
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'completed'") > 3000


async def test_running_the_demo_again_changes_nothing(client):
    assert linli("demo").returncode == 0
    before = await _row_counts()
    assert before["communities"] == 3
    again = linli("demo", "--if-empty")
    assert again.returncode == 0 and "already present" in again.stdout
    assert await _row_counts() == before
    again = linli("demo")
    assert again.returncode == 0 and "already loaded" in again.stdout
    assert await _row_counts() == before
