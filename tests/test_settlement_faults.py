"""Settlement against real worker processes: killed workers, concurrent runs, Redis down, duplicated messages.

In every case the ledger ends exact: each completed booking settled once, every transaction balanced, and
the fund's balance equal to deposits + Σ floor(price × rate / 10000) − Σ subsidies.
"""

from __future__ import annotations

import asyncio
import os
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from linli import db
from tests.api import community_with_staff
from tests.conftest import eventually, process_env
from tests.marketplace_api import book, canteen, resident
from tests.welfare_api import (
    API,
    FundSetup,
    balance,
    complete_bookings,
    deposit,
    expected_share,
    fund_setup,
    partner,
    settled_lines,
    unbalanced_transactions,
)
from welfare import periods
from welfare.services import settlement

PRICES = [1000 + 13 * i for i in range(25)]
SUBSIDIES = [300 if i % 3 == 0 else 0 for i in range(25)]
RATE_BP = 650
# Not last month: the workers' monthly schedule settles last month on its own and would race these tests.
PERIOD = periods.previous(periods.current_period("Asia/Shanghai"), 2)


async def _four_partners(fund):
    partners = []
    for k in range(4):
        p, agreement = await partner(fund.id, fund.admin.id, name=f"合伙人{k}", rate_bp=RATE_BP)
        await complete_bookings(
            fund.id,
            p,
            fund.resident.id,
            prices=PRICES,
            subsidies=SUBSIDIES,
            agreement_id=agreement,
            rate_bp=RATE_BP,
            period=PERIOD,
        )
        partners.append(p)
    return partners


def _exact(partners: int, deposits: int = 0) -> int:
    return deposits + partners * (expected_share(PRICES, RATE_BP) - sum(SUBSIDIES))


async def _request(client, fund, period=PERIOD):
    r = await client.post(
        f"{API}/communities/{fund.id}/settlements", json={"period": period}, headers=fund.admin.headers
    )
    assert r.status_code == 202, r.text
    return r.json()["id"]


async def _status(client, fund, run_id):
    return (await client.get(f"{API}/settlements/{run_id}", headers=fund.staff.headers)).json()


async def _completed(client, fund, run_id):
    async def check():
        s = await _status(client, fund, run_id)
        return s if s["status"] == "completed" else None

    return await eventually(check, timeout=60)


async def _waiting_on_lock(event: str | None = None) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND ($1::text IS NULL OR wait_event = $1)",
            event,
        )
    )


async def test_worker_killed_mid_run_then_run_again_leaves_the_ledger_exact(client, start_worker):
    fund = await fund_setup(client)
    await deposit(client, fund, 10_000)
    partners = await _four_partners(fund)
    # Hold the last partner's settlement lock so the worker settles three partners and blocks on the fourth.
    holder = await asyncpg.connect(os.environ["DATABASE_URL"])
    await holder.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", settlement.lock_key(partners[3], PERIOD))
    worker = start_worker()
    run_id = await _request(client, fund)

    async def three_done():
        s = await _status(client, fund, run_id)
        return s["partners_done"] == 3 and await _waiting_on_lock("advisory") >= 1

    await eventually(three_done, timeout=60)
    worker.kill()  # SIGKILL, mid-run
    await holder.close()
    assert (await _status(client, fund, run_id))["status"] == "running"
    assert await settled_lines() == 75
    assert await unbalanced_transactions() == 0
    assert await balance(client, fund) == _exact(3, deposits=10_000)

    start_worker()
    again = await _completed(client, fund, await _request(client, fund))
    assert again["bookings_settled"] == 25 and again["partners_total"] == 1
    # The killed run's unfinished batch was handed over to the new run, so the killed run shows finished.
    first = await _status(client, fund, run_id)
    assert first["status"] == "completed"
    assert (first["partners_done"], first["partners_superseded"]) == (3, 1)
    assert await settled_lines() == 100
    assert await balance(client, fund) == _exact(4, deposits=10_000)
    assert await unbalanced_transactions() == 0


async def test_worker_killed_inside_a_partner_transaction_writes_nothing_half(client, start_worker):
    fund = await fund_setup(client)
    await deposit(client, fund, 10_000)
    await _four_partners(fund)
    # Lock the fund's account row: the worker inserts lines and a transaction, then waits on its entries.
    holder = await asyncpg.connect(os.environ["DATABASE_URL"])
    await holder.execute("BEGIN")
    await holder.execute("SELECT 1 FROM welfare_accounts WHERE key = 'fund' FOR UPDATE")
    worker = start_worker()
    run_id = await _request(client, fund)

    async def blocked():
        return await _waiting_on_lock("tuple") + await _waiting_on_lock("transactionid") >= 1

    await eventually(blocked, timeout=60)
    worker.kill()
    await holder.execute("ROLLBACK")
    await holder.close()

    async def orphan_gone():
        return await _waiting_on_lock() == 0

    await eventually(orphan_gone, timeout=30)
    assert await settled_lines() == 0  # the killed transaction rolled back whole
    assert await balance(client, fund) == 10_000
    assert (await _status(client, fund, run_id))["partners_done"] == 0

    start_worker()
    done = await _completed(client, fund, await _request(client, fund))
    assert done["bookings_settled"] == 100
    assert await settled_lines() == 100
    assert await balance(client, fund) == _exact(4, deposits=10_000)
    assert await unbalanced_transactions() == 0


async def test_same_period_requested_twice_at_once_is_settled_once(client, start_worker):
    fund = await fund_setup(client)
    await _four_partners(fund)
    start_worker()
    start_worker()
    ids = await asyncio.gather(_request(client, fund), _request(client, fund), _request(client, fund))
    runs = [await _completed(client, fund, run_id) for run_id in ids]
    assert sum(r["bookings_settled"] for r in runs) == 100
    assert await settled_lines() == 100
    assert await balance(client, fund) == _exact(4)
    assert await db.fetchval("SELECT count(*) FROM welfare_transactions") == 8  # share + subsidy per partner
    assert await unbalanced_transactions() == 0


async def test_duplicated_messages_through_a_real_worker_have_one_effect(client, start_worker):
    fund = await fund_setup(client)
    await _four_partners(fund)
    run_id = await _request(client, fund)
    # The relay may deliver an event more than once: copy the run's event twice before any worker runs.
    for _ in range(2):
        await db.execute(
            "INSERT INTO outbox_events (id, topic, payload, created_at, attempts)"
            " SELECT gen_random_uuid(), topic, payload, now(), 0 FROM outbox_events WHERE topic = $1 LIMIT 1",
            settlement.TOPIC_REQUESTED,
        )
    start_worker()
    await _completed(client, fund, run_id)

    async def all_relayed():
        return await db.fetchval("SELECT count(*) FROM outbox_events WHERE sent_at IS NULL") == 0

    await eventually(all_relayed)
    await asyncio.sleep(1.0)  # let the duplicates run through the worker
    assert await db.fetchval("SELECT count(*) FROM settlement_run_partners") == 4
    assert await settled_lines() == 100
    assert await balance(client, fund) == _exact(4)


async def _redis_up(port: int) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.Redis(host="127.0.0.1", port=port)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


async def test_redis_down_while_bookings_complete_and_settlement_is_requested_loses_nothing(
    client, start_worker, private_redis
):
    port = private_redis.port
    start_worker({**process_env(), "REDIS_URL": private_redis.url})
    setup = await community_with_staff(client)
    shop = await canteen(client, setup=setup, capacity=10)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    r = await client.put(
        f"{API}/partners/{shop.partner.id}/revenue-share",
        json={"rate_bp": 800, "effective_from": today.isoformat()},
        headers=setup.admin.headers,
    )
    assert r.status_code == 200, r.text
    diners = [await resident(client, setup, f"居民{i}", groups=["elderly_alone"] if i % 2 else []) for i in range(4)]
    fund = FundSetup(community=setup, resident=diners[0])
    private_redis.stop()
    assert not await _redis_up(port)

    # Residents book and the canteen completes their meals while Redis is down.
    for person in diners:
        b = await book(client, person, shop.slot_id)
        assert b.status_code == 201, b.text
        done = await client.post(f"{API}/bookings/{b.json()['id']}/complete", headers=shop.staff.headers)
        assert done.status_code == 200, done.text
    run_id = await _request(client, fund, period=today.strftime("%Y-%m"))
    await asyncio.sleep(1.5)  # the relay tries and fails; the events stay in the outbox
    unsent = await db.fetchval(
        "SELECT count(*) FROM outbox_events WHERE topic = $1 AND sent_at IS NULL", settlement.TOPIC_REQUESTED
    )
    assert unsent == 1
    assert (await _status(client, fund, run_id))["status"] == "queued"

    private_redis.start()
    done = await _completed(client, fund, run_id)
    # floor(1500 × 800 / 10000) = 120 returned per meal; two elderly diners' subsidies of 1000 fen each.
    assert (done["bookings_settled"], done["share_fen"], done["subsidies_fen"]) == (4, 480, 2000)
    assert await balance(client, fund) == 480 - 2000
    assert await unbalanced_transactions() == 0

    async def all_relayed():
        return await db.fetchval("SELECT count(*) FROM outbox_events WHERE sent_at IS NULL") == 0

    await eventually(all_relayed)


async def test_each_booking_appears_in_exactly_one_settlement_line(client):
    # The database itself refuses a second line for a booking, whatever the code does.
    fund = await fund_setup(client)
    p, _ = await partner(fund.id, fund.admin.id)
    [booking] = await complete_bookings(fund.id, p, fund.resident.id, prices=[1000])
    insert = (
        "INSERT INTO settlement_lines (booking_id, batch_id, community_id, partner_id, period, category, price_fen,"
        " share_rate_bp, share_fen, subsidy_fen) VALUES ($1, gen_random_uuid(), $2, $3, '2026-10', 'meal', 1000,"
        " 500, 50, 0)"
    )
    await db.execute(insert, booking, UUID(fund.id), p)
    with pytest.raises(asyncpg.UniqueViolationError):
        await db.execute(insert, booking, UUID(fund.id), p)
    assert await db.fetchval("SELECT count(*) FROM settlement_lines WHERE booking_id = $1", booking) == 1
