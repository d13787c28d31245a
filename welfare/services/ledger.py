"""The double-entry ledger: accounts, balanced transactions, derived balances and reversals.

Every movement of money is one `post()` call: a transaction pointing to its source and two or more entries
in integer fen summing to zero. The service checks the sum before writing; PostgreSQL checks it again at
commit (deferred constraint trigger) and refuses any UPDATE or DELETE, so the ledger cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from linli import db
from welfare.errors import UnbalancedTransaction

FUND = "fund"
RELIEF_PAYABLE = "relief_payable"
PROJECTS_PAYABLE = "projects_payable"

SOURCE_NAMES = {
    "government_grant": "政府拨款",
    "donation": "社会捐赠",
    "partner_contribution": "合伙人捐赠",
    "other": "其他来源",
}


@dataclass(frozen=True)
class Posted:
    id: UUID
    kind: str
    period: str
    created_at: datetime


async def account(*, community_id: UUID, key: str, kind: str, name: str, partner_id: UUID | None = None) -> UUID:
    """The id of the community's account `key`, created on first use."""
    account_id = await db.fetchval(
        "SELECT id FROM welfare_accounts WHERE community_id = $1 AND key = $2", community_id, key
    )
    if account_id is not None:
        return UUID(str(account_id))
    await db.execute(
        "INSERT INTO welfare_accounts (id, community_id, key, kind, partner_id, name, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, now()) ON CONFLICT (community_id, key) DO NOTHING",
        community_id,
        key,
        kind,
        partner_id,
        name,
    )
    account_id = await db.fetchval(
        "SELECT id FROM welfare_accounts WHERE community_id = $1 AND key = $2", community_id, key
    )
    return UUID(str(account_id))


async def fund_account(*, community_id: UUID) -> UUID:
    return await account(community_id=community_id, key=FUND, kind="fund", name="社区福利基金")


async def partner_account(*, community_id: UUID, partner_id: UUID) -> UUID:
    return await account(
        community_id=community_id,
        key=f"partner:{partner_id}",
        kind="partner",
        name="合伙人往来",
        partner_id=partner_id,
    )


async def source_account(*, community_id: UUID, source: str) -> UUID:
    return await account(
        community_id=community_id, key=f"source:{source}", kind="source", name=SOURCE_NAMES.get(source, source)
    )


async def payable_account(*, community_id: UUID, key: str) -> UUID:
    names = {RELIEF_PAYABLE: "应付居民救助款", PROJECTS_PAYABLE: "应付微实事项目款"}
    return await account(community_id=community_id, key=key, kind="payable", name=names.get(key, key))


def check_balanced(entries: list[tuple[UUID, int]]) -> None:
    """Refuse anything but two or more non-zero integer amounts summing to zero."""
    if len(entries) < 2:
        raise UnbalancedTransaction("a transaction needs at least two entries")
    for _, amount in entries:
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise UnbalancedTransaction("amounts are integer fen")
        if amount == 0:
            raise UnbalancedTransaction("an entry cannot be zero")
    total = sum(amount for _, amount in entries)
    if total != 0:
        raise UnbalancedTransaction(f"entries sum to {total} fen, not 0")


async def post(
    *,
    community_id: UUID,
    kind: str,
    source_type: str,
    source_id: UUID,
    period: str,
    entries: list[tuple[UUID, int]],
    memo: str = "",
    created_by: UUID | None = None,
    reverses_id: UUID | None = None,
    transaction_id: UUID | None = None,
) -> Posted:
    """Write one balanced transaction (`entries`: (account id, signed fen)) in the current unit of work."""
    check_balanced(entries)
    tx_id = transaction_id or uuid4()
    row = await db.fetchrow(
        "INSERT INTO welfare_transactions (id, community_id, kind, source_type, source_id, period, memo,"
        " reverses_id, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())"
        " RETURNING created_at",
        tx_id,
        community_id,
        kind,
        source_type,
        source_id,
        period,
        memo,
        reverses_id,
        created_by,
    )
    assert row is not None
    await db.execute(
        "INSERT INTO welfare_entries (id, transaction_id, community_id, account_id, amount_fen)"
        " SELECT gen_random_uuid(), $1, $2, a, m FROM unnest($3::uuid[], $4::bigint[]) AS e(a, m)",
        tx_id,
        community_id,
        [a for a, _ in entries],
        [m for _, m in entries],
    )
    return Posted(id=tx_id, kind=kind, period=period, created_at=row["created_at"])


async def balance(*, account_id: UUID) -> int:
    """An account's balance: the sum of its entries (never stored)."""
    return int(
        await db.fetchval("SELECT coalesce(sum(amount_fen), 0) FROM welfare_entries WHERE account_id = $1", account_id)
    )


async def fund_balance(*, community_id: UUID) -> int:
    return int(
        await db.fetchval(
            "SELECT coalesce(sum(e.amount_fen), 0) FROM welfare_entries e JOIN welfare_accounts a"
            " ON a.id = e.account_id WHERE a.community_id = $1 AND a.key = $2",
            community_id,
            FUND,
        )
    )


async def lock_fund(*, community_id: UUID) -> UUID:
    """Lock the fund's account row so concurrent withdrawals check the balance one after another."""
    fund = await fund_account(community_id=community_id)
    await db.execute("SELECT 1 FROM welfare_accounts WHERE id = $1 FOR UPDATE", fund)
    return fund


async def entries_of(*, transaction_id: UUID) -> list[tuple[UUID, int]]:
    rows = await db.fetch(
        "SELECT account_id, amount_fen FROM welfare_entries WHERE transaction_id = $1 ORDER BY amount_fen",
        transaction_id,
    )
    return [(r["account_id"], int(r["amount_fen"])) for r in rows]


async def reverse(*, transaction_id: UUID, period: str, memo: str, created_by: UUID | None) -> Posted:
    """Post the mirror image of a transaction (same kind and source, negated entries). Callers check rights."""
    original = await db.fetchrow(
        "SELECT community_id, kind, source_type, source_id FROM welfare_transactions WHERE id = $1", transaction_id
    )
    assert original is not None
    entries = [(account_id, -amount) for account_id, amount in await entries_of(transaction_id=transaction_id)]
    return await post(
        community_id=original["community_id"],
        kind=original["kind"],
        source_type=original["source_type"],
        source_id=original["source_id"],
        period=period,
        entries=entries,
        memo=memo,
        created_by=created_by,
        reverses_id=transaction_id,
    )
