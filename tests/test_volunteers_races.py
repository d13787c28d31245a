"""Raced and repeated requests against two real API processes: places never over-fill, hours count once."""

from __future__ import annotations

import asyncio
from uuid import UUID

import httpx

from linli import db
from tests.api import community_with_staff
from tests.volunteers_api import catalog, match, task, volunteer


async def test_raced_accept_check_in_check_out_and_approve_count_hours_once(client, live_server):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    he, profile = await volunteer(client, setup, "何志愿")
    t = await task(client, setup)
    offer = (await match(client, setup, t["id"]))[0]["id"]
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as live:

        async def burst(person, action, body=None, n=6):
            return await asyncio.gather(
                *(
                    live.post(f"/api/v1/assignments/{offer}/{action}", json=body, headers=person.headers)
                    for _ in range(n)
                )
            )

        for action in ("accept", "check-in", "check-out"):
            results = await burst(he, action)
            assert {r.status_code for r in results} == {200}, [r.text for r in results]
        results = await burst(setup.staff, "approve", {"minutes": 120})
        codes = sorted(r.status_code for r in results)
        assert codes == [200] + [409] * 5, [r.text for r in results]
    assert await db.fetchval("SELECT count(*) FROM volunteer_hours_entries WHERE assignment_id = $1", UUID(offer)) == 1
    r = await client.get(f"/api/v1/volunteers/{profile['id']}/hours", headers=he.headers)
    assert r.json()["approved_minutes"] == 120
    # the time bank was credited once too
    balance = await db.fetchval(
        "SELECT sum(e.minutes) FROM timebank_entries e JOIN timebank_accounts a ON a.id = e.account_id"
        " WHERE a.owner_user_id = $1",
        UUID(he.id),
    )
    assert balance == 120


async def test_many_volunteers_race_for_the_last_place(client, live_server):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    people = {}
    for i in range(3):
        person, profile = await volunteer(client, setup, f"志愿者{i}")
        people[profile["id"]] = person
    t = await task(client, setup, needed=1, urgent=True)
    offers = await match(client, setup, t["id"])
    assert len(offers) == 3
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as live:
        results = await asyncio.gather(
            *(
                live.post(f"/api/v1/assignments/{o['id']}/accept", headers=people[o["volunteer_id"]].headers)
                for o in offers
                for _ in range(2)
            )
        )
    winners = {r.json()["volunteer_id"] for r in results if r.status_code == 200}
    assert len(winners) == 1
    assert all(r.json()["code"] == "task_full" for r in results if r.status_code != 200)
    held = await db.fetchval(
        "SELECT count(*) FROM volunteer_assignments WHERE task_id = $1 AND status = 'accepted'", UUID(t["id"])
    )
    assert held == 1


async def test_a_volunteer_cannot_accept_two_overlapping_tasks_at_once(client, live_server):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    he, _ = await volunteer(client, setup, "何志愿")
    a = await task(client, setup, title="午餐配送")
    b = await task(client, setup, title="陪诊", skills={"meal_delivery": 1})
    offer_a = (await match(client, setup, a["id"]))[0]["id"]
    offer_b = (await match(client, setup, b["id"]))[0]["id"]
    async with httpx.AsyncClient(base_url=live_server, timeout=30) as live:
        results = await asyncio.gather(
            live.post(f"/api/v1/assignments/{offer_a}/accept", headers=he.headers),
            live.post(f"/api/v1/assignments/{offer_b}/accept", headers=he.headers),
        )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert loser.json()["code"] == "no_longer_eligible"
    assert loser.json()["reason"] == "overlap"
