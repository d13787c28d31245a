"""时间银行: approved hours become time credits, which can be given to family, donated, or spent on bookings."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import asyncpg
import pytest

from linli import db
from linli.errors import Conflict
from tests.api import community_with_staff, grant, sign_up
from tests.volunteers_api import accepted_offer, act, catalog, volunteer
from volunteers import timebank


async def _credited(client, minutes: int):
    setup = await community_with_staff(client)
    await catalog(client, setup)
    he, _ = await volunteer(client, setup, "何志愿")
    _, assignment = await accepted_offer(client, setup, he)
    await act(client, he, assignment, "check-in")
    await act(client, he, assignment, "check-out")
    r = await act(client, setup.staff, assignment, "approve", {"minutes": minutes})
    assert r.status_code == 200, r.text
    return setup, he


async def _balance(client, setup, person) -> int:
    r = await client.get(f"/api/v1/time-bank/accounts/{setup.id}", headers=person.headers)
    assert r.status_code == 200, r.text
    return int(r.json()["balance_minutes"])


async def _every_transaction_balances() -> bool:
    rows = await db.fetch("SELECT transaction_id, sum(minutes) AS s FROM timebank_entries GROUP BY transaction_id")
    return all(r["s"] == 0 for r in rows)


async def test_approved_hours_credit_the_volunteers_time_account(client):
    setup, he = await _credited(client, 120)
    assert await _balance(client, setup, he) == 120
    assert await _every_transaction_balances()
    # the community's issuance account carries the other side
    issued = await db.fetchval(
        "SELECT sum(e.minutes) FROM timebank_entries e JOIN timebank_accounts a ON a.id = e.account_id"
        " WHERE a.kind = 'issuance'"
    )
    assert issued == -120


async def test_volunteer_gives_credits_to_an_elderly_parent_who_spends_them_on_a_booking(client):
    setup, he = await _credited(client, 180)
    mother = await sign_up(client, "何妈妈")
    await grant(client, setup.admin, setup.id, mother, "resident")
    r = await client.post(
        "/api/v1/time-bank/gifts",
        json={"community_id": setup.id, "to_user_id": mother.id, "minutes": 120, "relationship": "母亲"},
        headers=he.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["balance_minutes"] == 60
    assert await _balance(client, setup, mother) == 120
    # the marketplace pays a booking with them: once per booking, however often it asks
    booking = uuid4()
    async with db.unit_of_work():
        first = await timebank.spend(
            community_id=UUID(setup.id), user_id=UUID(mother.id), minutes=90, booking_id=booking
        )
    async with db.unit_of_work():
        again = await timebank.spend(
            community_id=UUID(setup.id), user_id=UUID(mother.id), minutes=90, booking_id=booking
        )
    assert not first.replayed and again.replayed
    assert again.transaction_id == first.transaction_id
    assert await _balance(client, setup, mother) == 30
    with pytest.raises(Conflict) as info:
        async with db.unit_of_work():
            await timebank.spend(community_id=UUID(setup.id), user_id=UUID(mother.id), minutes=31, booking_id=uuid4())
    assert info.value.code == "insufficient_time_credits"
    async with db.unit_of_work():
        assert await timebank.refund(community_id=UUID(setup.id), booking_id=booking) == 90
    async with db.unit_of_work():
        assert await timebank.refund(community_id=UUID(setup.id), booking_id=booking) == 0
    assert await _balance(client, setup, mother) == 120
    assert await _every_transaction_balances()


async def test_looking_at_a_time_bank_account_opens_none(client):
    # Found by the chaos BOLA matrix: a GET of one's balance in a community one has nothing to do with, or staff
    # looking up a passer-by, wrote an account row. A read writes nothing; no account is 0 minutes.
    setup = await community_with_staff(client, "光阳社区")
    elsewhere = await community_with_staff(client, "白龙社区")
    passer_by = await sign_up(client, "路人")
    r = await client.get(f"/api/v1/time-bank/accounts/{elsewhere.id}", headers=passer_by.headers)
    assert r.status_code == 200 and r.json()["balance_minutes"] == 0
    r = await client.get(f"/api/v1/time-bank/accounts/{setup.id}/{passer_by.id}", headers=setup.staff.headers)
    assert r.status_code == 200 and r.json()["balance_minutes"] == 0
    assert await db.fetchval("SELECT count(*) FROM timebank_accounts") == 0
    r = await client.get(f"/api/v1/time-bank/accounts/{uuid4()}", headers=passer_by.headers)
    assert r.status_code == 404 and r.json()["code"] == "community_not_found"


async def test_gifts_and_donations_cannot_exceed_the_balance_and_write_nothing_when_refused(client):
    setup, he = await _credited(client, 60)
    relative = await sign_up(client, "何爸爸")
    r = await client.post(
        "/api/v1/time-bank/gifts",
        json={"community_id": setup.id, "to_user_id": relative.id, "minutes": 61, "relationship": "父亲"},
        headers=he.headers,
    )
    assert r.status_code == 409
    assert r.json()["code"] == "insufficient_time_credits"
    for bad in (0, -5):
        r = await client.post(
            "/api/v1/time-bank/donations", json={"community_id": setup.id, "minutes": bad}, headers=he.headers
        )
        assert r.status_code == 422
    r = await client.post(
        "/api/v1/time-bank/donations", json={"community_id": setup.id, "minutes": 45}, headers=he.headers
    )
    assert r.status_code == 201
    assert await _balance(client, setup, he) == 15
    assert await db.fetchval("SELECT count(*) FROM timebank_transactions") == 2  # credit + donation


async def test_storage_cap_limits_what_an_account_holds(client):
    setup, he = await _credited(client, 0)
    r = await client.put(
        f"/api/v1/communities/{setup.id}/volunteer-settings",
        json={"star_thresholds_hours": [100, 300, 600, 1000, 1500], "timebank_cap_hours": 2},
        headers=setup.admin.headers,
    )
    assert r.status_code == 200
    async with db.unit_of_work():
        stored = await timebank.credit_hours(
            community_id=UUID(setup.id), user_id=UUID(he.id), minutes=150, source_key="test:cap1"
        )
    assert stored == 120
    async with db.unit_of_work():
        assert (
            await timebank.credit_hours(
                community_id=UUID(setup.id), user_id=UUID(he.id), minutes=30, source_key="test:cap2"
            )
            == 0
        )
    assert await _balance(client, setup, he) == 120
    # a gift that would push the receiver over the cap is refused
    other = await sign_up(client, "郑晓燕")
    async with db.unit_of_work():
        await timebank.credit_hours(community_id=UUID(setup.id), user_id=UUID(other.id), minutes=100, source_key="t:3")
    r = await client.post(
        "/api/v1/time-bank/gifts",
        json={"community_id": setup.id, "to_user_id": other.id, "minutes": 30, "relationship": "朋友"},
        headers=he.headers,
    )
    assert r.status_code == 409
    assert r.json()["code"] == "time_cap_exceeded"


async def test_default_cap_is_1500_hours():
    from volunteers.services.profiles import DEFAULT_TIMEBANK_CAP_MINUTES

    assert DEFAULT_TIMEBANK_CAP_MINUTES == 1500 * 60


async def test_ledger_refuses_unbalanced_or_edited_entries(client):
    setup, _ = await _credited(client, 30)
    account = await db.fetchval("SELECT id FROM timebank_accounts WHERE kind = 'issuance'")
    with pytest.raises(asyncpg.PostgresError, match="does not balance"):
        async with db.unit_of_work():
            # Checked at commit normally; IMMEDIATE makes the same trigger fire at the statement (a failing COMMIT
            # would leave Piccolo's pooled connection unreleased).
            await db.execute("SET CONSTRAINTS timebank_entries_balanced IMMEDIATE")
            txn = await db.fetchval(
                "INSERT INTO timebank_transactions (id, community_id, kind, source_key, memo, created_at)"
                " VALUES (gen_random_uuid(), $1, 'credit', 'bad', '', now()) RETURNING id",
                UUID(setup.id),
            )
            await db.execute(
                "INSERT INTO timebank_entries (id, transaction_id, community_id, account_id, minutes, created_at)"
                " VALUES (gen_random_uuid(), $1, $2, $3, 500, now())",
                txn,
                UUID(setup.id),
                account,
            )
    assert await db.fetchval("SELECT count(*) FROM timebank_transactions WHERE source_key = 'bad'") == 0
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("UPDATE timebank_entries SET minutes = minutes * 2")
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("DELETE FROM timebank_entries")


async def test_concurrent_spends_never_overdraw(client):
    setup, he = await _credited(client, 100)

    async def spend_once() -> bool:
        try:
            async with db.unit_of_work():
                await timebank.spend(community_id=UUID(setup.id), user_id=UUID(he.id), minutes=40, booking_id=uuid4())
            return True
        except Conflict:
            return False

    # separate connections (each unit of work takes its own from the pool)
    results = await asyncio.gather(*(spend_once() for _ in range(5)))
    assert sum(results) == 2
    assert await _balance(client, setup, he) == 20
