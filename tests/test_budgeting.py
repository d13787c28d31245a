"""百姓微实事: residents propose, staff shortlist, residents vote once, winners are funded from the fund."""

from __future__ import annotations

import asyncio

from linli import db
from tests.api import grant, sign_up
from tests.welfare_api import API, balance, deposit, fund_setup, unbalanced_transactions


async def _residents(client, fund, n):
    people = []
    for i in range(n):
        p = await sign_up(client, f"居民{i}")
        await grant(client, fund.admin, fund.id, p, "resident")
        people.append(p)
    return people


async def _propose(client, round_id, person, title, amount):
    r = await client.post(
        f"{API}/budget-rounds/{round_id}/proposals",
        json={"title": title, "description": "说明", "requested_fen": amount},
        headers=person.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_residents_choose_and_the_winners_are_funded_with_the_vote_as_source(client):
    fund = await fund_setup(client)
    await deposit(client, fund, 1_000_000)
    voters = await _residents(client, fund, 5)
    r = await client.post(
        f"{API}/communities/{fund.id}/budget-rounds",
        json={"title": "2026年百姓微实事", "budget_fen": 500_000},
        headers=fund.staff.headers,
    )
    assert r.status_code == 201, r.text
    round_id = r.json()["id"]
    lights = await _propose(client, round_id, voters[0], "楼道加装声控灯", 300_000)
    benches = await _propose(client, round_id, voters[1], "小区休闲座椅", 150_000)
    lift = await _propose(client, round_id, voters[2], "加装电梯", 400_000)
    shelter = await _propose(client, round_id, voters[3], "非机动车雨棚", 100_000)
    # Residents cannot shortlist; staff can.
    assert (
        await client.post(f"{API}/budget-proposals/{lights}/shortlist", headers=voters[0].headers)
    ).status_code == 403
    for pid in (lights, benches, lift):
        r = await client.post(f"{API}/budget-proposals/{pid}/shortlist", headers=fund.staff.headers)
        assert r.status_code == 200 and r.json()["status"] == "shortlisted"
    r = await client.post(f"{API}/budget-rounds/{round_id}/voting", headers=fund.staff.headers)
    assert r.status_code == 200 and r.json()["status"] == "voting"

    ballots = {0: lights, 1: lights, 2: lift, 3: lift, 4: benches}
    for i, pid in ballots.items():
        v = await client.post(
            f"{API}/budget-rounds/{round_id}/votes", json={"proposal_id": pid}, headers=voters[i].headers
        )
        assert v.status_code == 201, v.text
    not_on_ballot = await client.post(
        f"{API}/budget-rounds/{round_id}/votes", json={"proposal_id": shelter}, headers=fund.resident.headers
    )
    assert not_on_ballot.status_code == 409

    # Staff cannot close (closing moves money); the admin can.
    assert (await client.post(f"{API}/budget-rounds/{round_id}/close", headers=fund.staff.headers)).status_code == 403
    r = await client.post(f"{API}/budget-rounds/{round_id}/close", headers=fund.admin.headers)
    assert r.status_code == 200, r.text
    status = {p["title"]: p["status"] for p in r.json()["proposals"]}
    # lights (2 votes, 300k, earlier) wins; lift (2 votes, 400k) exceeds what is left; benches (1 vote) fits.
    assert status == {
        "楼道加装声控灯": "funded",
        "加装电梯": "not_funded",
        "小区休闲座椅": "funded",
        "非机动车雨棚": "submitted",
    }
    assert await balance(client, fund) == 1_000_000 - 450_000
    txs = await db.fetch(
        "SELECT source_type, source_id::text AS source_id FROM welfare_transactions WHERE kind = 'project'"
    )
    assert [(t["source_type"], t["source_id"]) for t in txs] == [("vote", round_id)] * 2
    assert await unbalanced_transactions() == 0
    again = await client.post(f"{API}/budget-rounds/{round_id}/close", headers=fund.admin.headers)
    assert again.status_code == 409
    assert await balance(client, fund) == 550_000


async def test_one_vote_per_resident_per_round_even_when_clicking_twice_at_once(client):
    fund = await fund_setup(client)
    r = await client.post(
        f"{API}/communities/{fund.id}/budget-rounds",
        json={"title": "微实事", "budget_fen": 100_000},
        headers=fund.staff.headers,
    )
    round_id = r.json()["id"]
    a = await _propose(client, round_id, fund.resident, "健身器材", 50_000)
    b = await _propose(client, round_id, fund.resident, "图书角", 30_000)
    for pid in (a, b):
        await client.post(f"{API}/budget-proposals/{pid}/shortlist", headers=fund.staff.headers)
    await client.post(f"{API}/budget-rounds/{round_id}/voting", headers=fund.staff.headers)
    results = await asyncio.gather(
        *[
            client.post(
                f"{API}/budget-rounds/{round_id}/votes", json={"proposal_id": pid}, headers=fund.resident.headers
            )
            for pid in (a, b, a, b)
        ]
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409, 409, 409]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"already_voted"}
    assert await db.fetchval("SELECT count(*) FROM budget_votes") == 1


async def test_winners_are_not_funded_beyond_the_fund_and_outsiders_cannot_take_part(client):
    fund = await fund_setup(client)
    await deposit(client, fund, 20_000)
    other = await fund_setup(client, "白龙社区")
    r = await client.post(
        f"{API}/communities/{fund.id}/budget-rounds",
        json={"title": "微实事", "budget_fen": 100_000},
        headers=fund.staff.headers,
    )
    round_id = r.json()["id"]
    outsider = await client.post(
        f"{API}/budget-rounds/{round_id}/proposals",
        json={"title": "越权", "requested_fen": 100},
        headers=other.resident.headers,
    )
    assert outsider.status_code == 404
    bad = await client.post(
        f"{API}/budget-rounds/{round_id}/proposals",
        json={"title": "负数", "requested_fen": -5},
        headers=fund.resident.headers,
    )
    assert bad.status_code == 422
    big = await _propose(client, round_id, fund.resident, "大项目", 50_000)
    await client.post(f"{API}/budget-proposals/{big}/shortlist", headers=fund.staff.headers)
    await client.post(f"{API}/budget-rounds/{round_id}/voting", headers=fund.staff.headers)
    await client.post(f"{API}/budget-rounds/{round_id}/votes", json={"proposal_id": big}, headers=fund.resident.headers)
    r = await client.post(f"{API}/budget-rounds/{round_id}/close", headers=fund.admin.headers)
    assert r.status_code == 200
    assert r.json()["proposals"][0]["status"] == "not_funded"
    assert await balance(client, fund) == 20_000
    assert await db.fetchval("SELECT count(*) FROM budget_proposals") == 1
