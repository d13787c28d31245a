"""Settling a month: partners return their share to the fund, the fund pays priority residents' subsidies."""

from __future__ import annotations

import asyncio
import json
from uuid import UUID

from linli import db
from tests.welfare_api import (
    API,
    balance,
    complete_bookings,
    drain_settlement_events,
    expected_share,
    fund_setup,
    ledger_counts,
    partner,
    settle,
    settled_lines,
    unbalanced_transactions,
)
from welfare import periods, tasks
from welfare.services import settlement


async def test_canteen_returns_its_share_and_is_paid_the_elderly_subsidies(client):
    fund = await fund_setup(client)
    canteen, canteen_agreement = await partner(fund.id, fund.admin.id, name="近邻食堂", rate_bp=500)
    nursery, nursery_agreement = await partner(fund.id, fund.admin.id, name="普惠托育", rate_bp=1000)
    meals = [1500, 1999, 333, 1500]
    meal_subsidies = [500, 0, 100, 1000]
    await complete_bookings(
        fund.id, canteen, fund.resident.id, prices=meals, subsidies=meal_subsidies, agreement_id=canteen_agreement
    )
    care = [88_000, 88_000]
    await complete_bookings(
        fund.id,
        nursery,
        fund.resident.id,
        prices=care,
        subsidies=[20_000, 0],
        rate_bp=1000,
        agreement_id=nursery_agreement,
        category="childcare",
    )
    run = await settle(client, fund, "2026-10")
    assert run["status"] == "completed"
    assert run["progress_percent"] == 100
    assert run["partners_total"] == run["partners_done"] == 2
    assert run["bookings_settled"] == 6
    share = expected_share(meals, 500) + expected_share(care, 1000)
    assert share == 75 + 99 + 16 + 75 + 8800 + 8800
    assert run["share_fen"] == share
    assert run["subsidies_fen"] == 1600 + 20_000
    assert run["gross_fen"] == sum(meals) + sum(care)
    assert await balance(client, fund) == share - 21_600
    assert await unbalanced_transactions() == 0
    # One share and one subsidy transaction per partner, each pointing to the settlement batch.
    rows = await db.fetch("SELECT kind, source_type FROM welfare_transactions ORDER BY kind")
    assert [(r["kind"], r["source_type"]) for r in rows] == [("share", "settlement")] * 2 + [
        ("subsidy", "settlement")
    ] * 2

    statement = await client.get(f"{API}/partners/{canteen}/statements/2026-10", headers=fund.staff.headers)
    assert statement.status_code == 200, statement.text
    body = statement.json()
    assert body["bookings"] == 4
    assert body["gross_fen"] == sum(meals)
    assert body["share_fen"] == expected_share(meals, 500)
    assert body["subsidies_fen"] == 1600
    assert body["net_fen"] == expected_share(meals, 500) - 1600
    assert body["unsettled_bookings"] == 0
    csv = await client.get(f"{API}/partners/{canteen}/statements/2026-10/csv", headers=fund.staff.headers)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert str(sum(meals)) in csv.text and "share_fen" in csv.text


async def test_each_booking_uses_the_agreement_in_force_when_it_completed(client):
    fund = await fund_setup(client)
    canteen, v1 = await partner(fund.id, fund.admin.id, rate_bp=500)
    v2 = UUID("00000000-0000-0000-0000-00000000b002")
    await db.execute(
        "INSERT INTO revenue_share_agreements (id, partner_id, community_id, rate_bp, effective_from, version,"
        " created_by) VALUES ($1, $2, $3, 800, DATE '2026-10-16', 2, $4)",
        v2,
        canteen,
        UUID(fund.id),
        UUID(fund.admin.id),
    )
    await complete_bookings(fund.id, canteen, fund.resident.id, prices=[10_000], rate_bp=500, agreement_id=v1)
    await complete_bookings(fund.id, canteen, fund.resident.id, prices=[10_000], rate_bp=800, agreement_id=v2)
    run = await settle(client, fund, "2026-10")
    assert run["share_fen"] == 500 + 800
    rates = await db.fetch("SELECT agreement_id, share_rate_bp FROM settlement_lines ORDER BY share_rate_bp")
    assert [(r["agreement_id"], r["share_rate_bp"]) for r in rates] == [(v1, 500), (v2, 800)]


def test_share_rounds_down_to_the_fen():
    assert settlement.share_of(1999, 333) == 66  # 66.5667 fen: the fraction stays with the partner
    assert settlement.share_of(1, 9999) == 0
    assert settlement.share_of(10_000, 10_000) == 10_000
    assert settlement.share_of(1500, None) == 0


async def test_settling_again_only_picks_up_what_is_new(client):
    fund = await fund_setup(client)
    canteen, agreement = await partner(fund.id, fund.admin.id, rate_bp=1000)
    await complete_bookings(
        fund.id, canteen, fund.resident.id, prices=[1000, 2000], agreement_id=agreement, rate_bp=1000
    )
    first = await settle(client, fund, "2026-10")
    assert first["bookings_settled"] == 2
    again = await settle(client, fund, "2026-10")
    assert again["status"] == "completed" and again["bookings_settled"] == 0 and again["partners_total"] == 0
    await complete_bookings(fund.id, canteen, fund.resident.id, prices=[5000], agreement_id=agreement, rate_bp=1000)
    third = await settle(client, fund, "2026-10")
    assert third["bookings_settled"] == 1 and third["share_fen"] == 500
    assert await settled_lines() == 3
    assert await balance(client, fund) == 100 + 200 + 500


async def test_a_duplicated_message_has_one_effect(client):
    fund = await fund_setup(client)
    canteen, agreement = await partner(fund.id, fund.admin.id, rate_bp=1000)
    await complete_bookings(
        fund.id,
        canteen,
        fund.resident.id,
        prices=[1000, 3000],
        subsidies=[200, 0],
        agreement_id=agreement,
        rate_bp=1000,
    )
    r = await client.post(
        f"{API}/communities/{fund.id}/settlements", json={"period": "2026-10"}, headers=fund.admin.headers
    )
    run_id = r.json()["id"]
    payload = {"run_id": run_id}
    await tasks.fan_out("evt-1", payload)
    await tasks.fan_out("evt-1", payload)  # the same message delivered twice
    batches = await db.fetch("SELECT id FROM settlement_run_partners")
    assert len(batches) == 1
    for _ in range(3):
        await tasks.settle_partner("evt-2", {"batch_id": str(batches[0]["id"])})
    assert await settled_lines() == 2
    assert await ledger_counts() == (2, 4)
    assert await balance(client, fund) == 400 - 200


async def test_two_runs_of_the_same_period_at_once_settle_each_booking_once(client):
    fund = await fund_setup(client)
    prices = [1000 + 7 * i for i in range(40)]
    for k in range(3):
        p, agreement = await partner(fund.id, fund.admin.id, name=f"合伙人{k}", rate_bp=750)
        await complete_bookings(
            fund.id, p, fund.resident.id, prices=prices, subsidies=[100] * 40, agreement_id=agreement, rate_bp=750
        )
    runs = await asyncio.gather(
        *[
            client.post(
                f"{API}/communities/{fund.id}/settlements", json={"period": "2026-10"}, headers=fund.admin.headers
            )
            for _ in range(3)
        ]
    )
    assert [r.status_code for r in runs] == [202, 202, 202]
    events = await db.fetch("SELECT id, payload FROM outbox_events WHERE topic = $1", settlement.TOPIC_REQUESTED)
    await asyncio.gather(*[tasks.fan_out(str(e["id"]), json.loads(e["payload"])) for e in events])
    batches = await db.fetch("SELECT id FROM settlement_run_partners")
    assert len(batches) == 9  # every run saw three partners with unsettled bookings
    await asyncio.gather(*[tasks.settle_partner("x", {"batch_id": str(b["id"])}) for b in batches])
    assert await settled_lines() == 120
    assert await balance(client, fund) == 3 * (expected_share(prices, 750) - 4000)
    assert await db.fetchval("SELECT count(*) FROM welfare_transactions") == 6
    statuses = [
        (await client.get(f"{API}/settlements/{r.json()['id']}", headers=fund.staff.headers)).json() for r in runs
    ]
    assert all(s["status"] == "completed" for s in statuses)
    assert sum(s["bookings_settled"] for s in statuses) == 120


async def test_bookings_not_completed_or_of_another_month_are_not_settled(client):
    fund = await fund_setup(client)
    canteen, agreement = await partner(fund.id, fund.admin.id, rate_bp=1000)
    [done] = await complete_bookings(
        fund.id, canteen, fund.resident.id, prices=[1000], agreement_id=agreement, rate_bp=1000
    )
    [other] = await complete_bookings(
        fund.id, canteen, fund.resident.id, prices=[9000], agreement_id=agreement, rate_bp=1000, period="2026-09"
    )
    [cancelled] = await complete_bookings(fund.id, canteen, fund.resident.id, prices=[7000], rate_bp=1000)
    await db.execute("UPDATE bookings SET status = 'cancelled', completed_at = NULL WHERE id = $1", cancelled)
    run = await settle(client, fund, "2026-10")
    assert run["bookings_settled"] == 1
    assert [r["booking_id"] for r in await db.fetch("SELECT booking_id FROM settlement_lines")] == [done]
    assert other != done


async def test_bad_settlement_requests_are_refused_and_nothing_is_written(client):
    fund = await fund_setup(client)
    future = periods.previous(periods.current_period("Asia/Shanghai"), -2)
    for period in ["2026-13", "2026-1", "26-10", "", "2026-10-01", future, 202610]:
        r = await client.post(
            f"{API}/communities/{fund.id}/settlements", json={"period": period}, headers=fund.admin.headers
        )
        assert 400 <= r.status_code < 500, (period, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.post(
        f"{API}/communities/{fund.id}/settlements", json={"period": "2026-10"}, headers=fund.staff.headers
    )
    assert r.status_code == 403
    other = await fund_setup(client, "白龙社区")
    r = await client.post(
        f"{API}/communities/{fund.id}/settlements", json={"period": "2026-10"}, headers=other.admin.headers
    )
    assert r.status_code == 403
    assert await db.fetchval("SELECT count(*) FROM settlement_runs") == 0
    assert await db.fetchval("SELECT count(*) FROM outbox_events WHERE topic LIKE 'welfare.%'") == 0


async def test_settlement_status_is_private_to_the_community(client):
    fund = await fund_setup(client)
    other = await fund_setup(client, "白龙社区")
    run = await settle(client, fund, "2026-10")
    r = await client.get(f"{API}/settlements/{run['id']}", headers=other.admin.headers)
    assert r.status_code == 404
    r = await client.get(f"{API}/settlements/{run['id']}", headers=fund.resident.headers)
    assert r.status_code == 404


async def test_the_monthly_schedule_settles_last_month_for_every_community(client):
    from datetime import UTC, datetime

    first = await fund_setup(client)
    second = await fund_setup(client, "白龙社区")
    for fund in (first, second):
        p, agreement = await partner(fund.id, fund.admin.id, rate_bp=1000)
        await complete_bookings(fund.id, p, fund.resident.id, prices=[2000], agreement_id=agreement, rate_bp=1000)
    # 2026-11-01 00:30 in Shanghai is still October 31st in UTC: the slot is October all the same.
    slot = tasks.previous_month_slot(datetime(2026, 10, 31, 16, 30, tzinfo=UTC))
    assert slot == "2026-10"
    await tasks.monthly_settlement(slot)
    await tasks.monthly_settlement(slot)  # the schedule message delivered twice
    await drain_settlement_events()
    assert await db.fetchval("SELECT count(*) FROM settlement_runs WHERE trigger = 'schedule'") == 2
    assert await balance(client, first) == 200
    assert await balance(client, second) == 200
