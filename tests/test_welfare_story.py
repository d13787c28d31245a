"""End to end through every package's HTTP API: an elderly resident's subsidised meal is booked and completed in
the marketplace, settled into the welfare fund, shown on the canteen's statement and reconciled to the fen."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from tests.api import community_with_staff
from tests.marketplace_api import book, canteen, resident
from tests.welfare_api import API, FundSetup, balance, deposit, drain_settlement_events
from welfare.services import reconcile


async def test_granny_chens_subsidised_meal_flows_into_the_welfare_fund(client):
    setup = await community_with_staff(client)
    shop = await canteen(client, setup=setup, capacity=10)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    r = await client.put(
        f"{API}/partners/{shop.partner.id}/revenue-share",
        json={"rate_bp": 800, "effective_from": today.isoformat()},
        headers=setup.admin.headers,
    )
    assert r.status_code == 200, r.text
    granny = await resident(client, setup, "陈阿婆", groups=["elderly_alone"])
    neighbour = await resident(client, setup, "张伟")
    fund = FundSetup(community=setup, resident=granny)
    await deposit(client, fund, 100_000)

    booked = []
    for person in (granny, neighbour):
        b = await book(client, person, shop.slot_id)
        assert b.status_code == 201, b.text
        booked.append(b.json())
    assert [(b["price_fen"], b["subsidy_fen"]) for b in booked] == [(1500, 1000), (1500, 0)]
    for b in booked:
        done = await client.post(f"{API}/bookings/{b['id']}/complete", headers=shop.staff.headers)
        assert done.status_code == 200, done.text

    period = today.strftime("%Y-%m")
    r = await client.post(
        f"{API}/communities/{setup.id}/settlements", json={"period": period}, headers=setup.admin.headers
    )
    assert r.status_code == 202, r.text
    await drain_settlement_events()
    run = (await client.get(f"{API}/settlements/{r.json()['id']}", headers=setup.staff.headers)).json()
    assert run["status"] == "completed" and run["bookings_settled"] == 2
    # floor(1500 × 800 / 10000) = 120 per meal returned; the fund pays granny Chen's 1000 fen subsidy.
    assert run["share_fen"] == 240 and run["subsidies_fen"] == 1000
    assert await balance(client, fund) == 100_000 + 240 - 1000

    statement = await client.get(f"{API}/partners/{shop.partner.id}/statements/{period}", headers=shop.partner.headers)
    assert statement.status_code == 200, statement.text
    assert statement.json()["net_fen"] == 240 - 1000
    assert (await reconcile.reconcile(community_id=UUID(setup.id), period=period)).ok
