"""The welfare fund: grants and donations come in, relief goes out under the two-person rule."""

from __future__ import annotations

import asyncio
import os
from uuid import UUID

import asyncpg
import pytest

from linli import db
from tests.api import grant, sign_up
from tests.welfare_api import API, balance, deposit, fund_setup, ledger_counts, unbalanced_transactions


async def test_district_grant_is_deposited_and_shows_in_the_balance(client):
    fund = await fund_setup(client)
    r = await deposit(
        client, fund, 5_000_000, "区民政局2026年社区救助专项拨款", source="government_grant", payer="区民政局"
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["amount_fen"] == 5_000_000
    assert body["balance_fen"] == 5_000_000
    r = await deposit(client, fund, 20_000, "爱心人士捐赠", source="donation")
    assert r.status_code == 201
    summary = (await client.get(f"{API}/communities/{fund.id}/welfare-fund", headers=fund.staff.headers)).json()
    assert summary["balance_fen"] == 5_020_000
    assert summary["deposits_fen"] == 5_020_000
    # The deposit is a balanced transaction pointing to its source.
    journal = (
        await client.get(f"{API}/communities/{fund.id}/welfare-fund/transactions", headers=fund.staff.headers)
    ).json()
    assert {t["source_type"] for t in journal} == {"deposit"}
    for t in journal:
        assert sum(e["amount_fen"] for e in t["entries"]) == 0
    assert await unbalanced_transactions() == 0


async def test_retried_deposit_with_the_same_idempotency_key_moves_money_once(client):
    fund = await fund_setup(client)
    headers = {**fund.admin.headers, "Idempotency-Key": "grant-2026-11"}
    body = {"amount_fen": 100_000, "memo": "街道拨款"}
    first = await client.post(f"{API}/communities/{fund.id}/welfare-fund/deposits", json=body, headers=headers)
    again = await client.post(f"{API}/communities/{fund.id}/welfare-fund/deposits", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert await balance(client, fund) == 100_000


@pytest.mark.parametrize("key", ["k" * 201, ""])
async def test_an_unusable_idempotency_key_is_refused_before_any_money_moves(client, key):
    fund = await fund_setup(client)
    headers = {**fund.admin.headers, "Idempotency-Key": key}
    calls = [
        ("welfare-fund/deposits", {"amount_fen": 100_000, "memo": "街道拨款"}),
        (
            "welfare-fund/disbursements",
            {"recipient_user_id": fund.resident.id, "amount_fen": 100, "reason": "临时救助"},
        ),
        ("settlements", {"period": "2026-10"}),
    ]
    for path, body in calls:
        r = await client.post(f"{API}/communities/{fund.id}/{path}", json=body, headers=headers)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["code"] == "validation_error"
    assert await ledger_counts() == (0, 0)
    for table in ("welfare_deposits", "welfare_disbursements", "settlement_runs", "idempotency_keys"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table


@pytest.mark.parametrize(
    "body",
    [
        {"amount_fen": 0, "memo": "零"},
        {"amount_fen": -500, "memo": "负数"},
        {"amount_fen": 10.5, "memo": "小数"},
        {"amount_fen": "100", "memo": "字符串"},
        {"amount_fen": 100, "memo": ""},
        {"amount_fen": 100, "memo": "   "},
        {"amount_fen": 100, "memo": "x", "source": "lottery"},
        {"amount_fen": 100, "memo": "爱心\u0000捐赠"},
        {"amount_fen": 100, "memo": "爱心捐赠", "payer": "\u0000"},
        {"memo": "no amount"},
    ],
)
async def test_bad_deposits_are_refused_and_nothing_is_written(client, body):
    fund = await fund_setup(client)
    r = await client.post(f"{API}/communities/{fund.id}/welfare-fund/deposits", json=body, headers=fund.admin.headers)
    assert 400 <= r.status_code < 500
    assert r.headers["content-type"].startswith("application/problem+json")
    assert await ledger_counts() == (0, 0)
    assert await db.fetchval("SELECT count(*) FROM welfare_deposits") == 0


async def test_only_community_admins_move_money(client):
    fund = await fund_setup(client)
    for person in (fund.staff, fund.resident):
        r = await client.post(
            f"{API}/communities/{fund.id}/welfare-fund/deposits",
            json={"amount_fen": 100, "memo": "试试"},
            headers=person.headers,
        )
        assert r.status_code == 403, r.text
    r = await client.get(f"{API}/communities/{fund.id}/welfare-fund", headers=fund.resident.headers)
    assert r.status_code == 403
    assert await ledger_counts() == (0, 0)


async def test_admin_of_another_community_cannot_touch_this_fund(client):
    fund = await fund_setup(client, "光阳社区")
    other = await fund_setup(client, "白龙社区")
    r = await client.post(
        f"{API}/communities/{fund.id}/welfare-fund/deposits",
        json={"amount_fen": 100, "memo": "越权"},
        headers=other.admin.headers,
    )
    assert r.status_code == 403
    r = await client.get(f"{API}/communities/{fund.id}/welfare-fund", headers=other.staff.headers)
    assert r.status_code == 403
    missing = await client.post(
        f"{API}/communities/00000000-0000-0000-0000-000000000001/welfare-fund/deposits",
        json={"amount_fen": 100, "memo": "不存在"},
        headers=other.admin.headers,
    )
    assert missing.status_code == 404
    assert await ledger_counts() == (0, 0)


async def _relief(client, fund, amount_fen: int, by=None):
    r = await client.post(
        f"{API}/communities/{fund.id}/welfare-fund/disbursements",
        json={"recipient_user_id": fund.resident.id, "amount_fen": amount_fen, "reason": "重病临时救助"},
        headers=(by or fund.staff).headers,
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_relief_needs_a_second_person_and_then_leaves_the_fund(client):
    fund = await fund_setup(client)
    await deposit(client, fund, 100_000)
    request = await _relief(client, fund, 30_000, by=fund.admin)
    assert request["status"] == "requested"
    assert await balance(client, fund) == 100_000  # nothing moves on request

    # The requester cannot decide on their own request either way, even as an admin.
    for decision in ("approve", "reject"):
        own = await client.post(f"{API}/welfare-disbursements/{request['id']}/{decision}", headers=fund.admin.headers)
        assert own.status_code == 409, own.text
        assert own.json()["code"] == "same_person_approval"
    # Staff may ask but not approve: approving moves money.
    staff = await client.post(f"{API}/welfare-disbursements/{request['id']}/approve", headers=fund.staff.headers)
    assert staff.status_code == 403

    second_admin = await sign_up(client, "副书记")
    await grant(client, fund.community.platform, fund.id, second_admin, "admin")
    ok = await client.post(f"{API}/welfare-disbursements/{request['id']}/approve", headers=second_admin.headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "approved"
    assert await balance(client, fund) == 70_000
    tx = await db.fetchrow("SELECT source_type, source_id FROM welfare_transactions WHERE kind = 'disbursement'")
    assert tx is not None
    assert tx["source_type"] == "disbursement" and str(tx["source_id"]) == request["id"]
    again = await client.post(f"{API}/welfare-disbursements/{request['id']}/approve", headers=second_admin.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert await balance(client, fund) == 70_000


async def test_relief_larger_than_the_fund_is_refused_with_409(client):
    fund = await fund_setup(client)
    await deposit(client, fund, 10_000)
    request = await _relief(client, fund, 10_001)
    r = await client.post(f"{API}/welfare-disbursements/{request['id']}/approve", headers=fund.admin.headers)
    assert r.status_code == 409
    assert r.json()["code"] == "insufficient_funds"
    assert await balance(client, fund) == 10_000
    assert await db.fetchval("SELECT status FROM welfare_disbursements") == "requested"


async def test_concurrent_approvals_never_overdraw_the_fund(client):
    fund = await fund_setup(client)
    await deposit(client, fund, 50_000)
    requests = [await _relief(client, fund, 20_000) for _ in range(4)]
    results = await asyncio.gather(
        *[client.post(f"{API}/welfare-disbursements/{r['id']}/approve", headers=fund.admin.headers) for r in requests]
    )
    assert sorted(r.status_code for r in results) == [200, 200, 409, 409]
    assert await balance(client, fund) == 10_000


async def test_relief_only_goes_to_residents_of_the_community(client):
    fund = await fund_setup(client)
    stranger = await sign_up(client, "外人")
    r = await client.post(
        f"{API}/communities/{fund.id}/welfare-fund/disbursements",
        json={"recipient_user_id": stranger.id, "amount_fen": 100, "reason": "x"},
        headers=fund.staff.headers,
    )
    assert r.status_code == 422
    assert r.json()["code"] == "recipient_not_resident"
    assert await db.fetchval("SELECT count(*) FROM welfare_disbursements") == 0


async def test_a_mistaken_deposit_is_corrected_by_a_reversal_not_an_edit(client):
    fund = await fund_setup(client)
    r = await deposit(client, fund, 88_800, "录入错误")
    tx_id = r.json()["transaction_id"]
    rev = await client.post(
        f"{API}/welfare-transactions/{tx_id}/reverse", json={"reason": "金额录错"}, headers=fund.admin.headers
    )
    assert rev.status_code == 201, rev.text
    assert rev.json()["reverses_id"] == tx_id
    assert await balance(client, fund) == 0
    twice = await client.post(
        f"{API}/welfare-transactions/{tx_id}/reverse", json={"reason": "再来"}, headers=fund.admin.headers
    )
    assert twice.status_code == 409
    assert await ledger_counts() == (2, 4)


async def test_the_database_refuses_to_edit_or_delete_ledger_rows(client):
    fund = await fund_setup(client)
    await deposit(client, fund, 1_000)
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("UPDATE welfare_entries SET amount_fen = amount_fen * 2")
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("DELETE FROM welfare_entries")
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("UPDATE welfare_transactions SET memo = 'changed'")
    with pytest.raises(asyncpg.PostgresError, match="append-only"):
        await db.execute("DELETE FROM welfare_transactions")
    assert await balance(client, fund) == 1_000


async def test_the_database_refuses_an_unbalanced_transaction_at_commit(client):
    fund = await fund_setup(client)
    await deposit(client, fund, 1_000)
    fund_account = await db.fetchval("SELECT id FROM welfare_accounts WHERE key = 'fund'")
    # A raw connection of its own: a failed COMMIT inside Piccolo's transaction would not return a pooled one.
    conn = await asyncpg.connect(os.environ["DATABASE_URL"])
    try:
        with pytest.raises(asyncpg.PostgresError, match="unbalanced"):
            async with conn.transaction():
                tx = await conn.fetchval(
                    "INSERT INTO welfare_transactions (id, community_id, kind, source_type, source_id, period)"
                    " VALUES (gen_random_uuid(), $1, 'deposit', 'deposit', gen_random_uuid(), '2026-10') RETURNING id",
                    UUID(fund.id),
                )
                await conn.execute(
                    "INSERT INTO welfare_entries (id, transaction_id, community_id, account_id, amount_fen)"
                    " VALUES (gen_random_uuid(), $1, $2, $3, 999)",
                    tx,
                    UUID(fund.id),
                    fund_account,
                )
    finally:
        await conn.close()
    assert await balance(client, fund) == 1_000
    assert await ledger_counts() == (1, 2)


async def test_outsiders_cannot_see_or_approve_relief_of_another_community(client):
    fund = await fund_setup(client)
    other = await fund_setup(client, "白龙社区")
    await deposit(client, fund, 100_000)
    request = await _relief(client, fund, 1_000)
    for path in (f"{API}/welfare-disbursements/{request['id']}",):
        assert (await client.get(path, headers=other.admin.headers)).status_code == 404
    r = await client.post(f"{API}/welfare-disbursements/{request['id']}/approve", headers=other.admin.headers)
    assert r.status_code == 404
    r = await client.post(f"{API}/welfare-disbursements/{request['id']}/reject", headers=other.admin.headers)
    assert r.status_code == 404
    assert await balance(client, fund) == 100_000
    assert await db.fetchval("SELECT status FROM welfare_disbursements") == "requested"
