"""时间银行 — the time bank: a double-entry ledger of minutes.

Accounts: each person's `user` account per community, and the community's `issuance` (where approved hours
are minted from; its balance is minus everything ever credited), `pool` (donations) and `spent` (credits used
on bookings). A transaction's entries sum to zero (a deferred database trigger refuses anything else at
commit); entries are never updated or deleted (a trigger again); balances are sums of entries. A person holds
at most the storage cap (default 1,500 h): credit beyond it is not stored. Every posting has a natural
`source_key`, so replays (retried jobs, repeated requests) post nothing twice.

`spend(...)` is the marketplace's entry point for paying a booking with time credits.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

from community import access
from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import Conflict, NotFound, register_code
from volunteers.schemas import DonationIn, GiftIn, TimeAccountOut, TimeTransferOut

INSUFFICIENT = register_code(
    "insufficient_time_credits", 409, "时间银行余额不足", "Not enough time credits in the account"
)
CAP_EXCEEDED = register_code(
    "time_cap_exceeded", 409, "超出时间银行储存上限", "The receiving account would exceed its storage cap"
)


@dataclass(frozen=True)
class SpendResult:
    transaction_id: UUID
    minutes: int
    balance_minutes: int
    replayed: bool


async def account(community_id: UUID, kind: str, owner_user_id: UUID | None = None) -> UUID:
    """The account's id, created on first use."""
    await db.execute(
        "INSERT INTO timebank_accounts (id, community_id, kind, owner_user_id, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, now()) ON CONFLICT DO NOTHING",
        community_id,
        kind,
        owner_user_id,
    )
    found = await _existing_account(community_id, kind, owner_user_id)
    assert found is not None
    return found


async def _existing_account(community_id: UUID, kind: str, owner_user_id: UUID | None) -> UUID | None:
    """The account's id if it was ever opened (reading a balance opens none)."""
    found: UUID | None = await db.fetchval(
        "SELECT id FROM timebank_accounts WHERE community_id = $1 AND kind = $2"
        " AND owner_user_id IS NOT DISTINCT FROM $3",
        community_id,
        kind,
        owner_user_id,
    )
    return found


async def _locked_user_account(community_id: UUID, user_id: UUID) -> UUID:
    account_id = await account(community_id, "user", user_id)
    await db.execute("SELECT 1 FROM timebank_accounts WHERE id = $1 FOR UPDATE", account_id)
    return account_id


async def balance(account_id: UUID) -> int:
    return int(
        await db.fetchval("SELECT coalesce(sum(minutes), 0) FROM timebank_entries WHERE account_id = $1", account_id)
    )


async def cap_minutes(community_id: UUID) -> int:
    from volunteers.services.profiles import settings_of

    return (await settings_of(community_id)).timebank_cap_minutes


async def post(
    *,
    community_id: UUID,
    kind: str,
    source_key: str,
    legs: list[tuple[UUID, int]],
    memo: str = "",
    created_by: UUID | None = None,
) -> UUID | None:
    """Write one balanced transaction; None when `source_key` was already posted (a replay)."""
    if sum(m for _, m in legs) != 0:
        raise ValueError("a transaction must balance")
    txn = await db.fetchval(
        "INSERT INTO timebank_transactions (id, community_id, kind, source_key, memo, created_by, created_at)"
        " VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, now()) ON CONFLICT (source_key) DO NOTHING RETURNING id",
        community_id,
        kind,
        source_key,
        memo,
        created_by,
    )
    if txn is None:
        return None
    for account_id, minutes in legs:
        if minutes == 0:
            continue
        await db.execute(
            "INSERT INTO timebank_entries (id, transaction_id, community_id, account_id, minutes, created_at)"
            " VALUES (gen_random_uuid(), $1, $2, $3, $4, now())",
            txn,
            community_id,
            account_id,
            minutes,
        )
    return txn


async def credit_hours(*, community_id: UUID, user_id: UUID, minutes: int, source_key: str, memo: str = "") -> int:
    """Approved service minutes credit the volunteer's account up to the storage cap; returns minutes stored."""
    if minutes <= 0:
        return 0
    user_account = await _locked_user_account(community_id, user_id)
    room = max(0, await cap_minutes(community_id) - await balance(user_account))
    stored = min(minutes, room)
    if stored == 0:
        return 0
    issuance = await account(community_id, "issuance")
    posted = await post(
        community_id=community_id,
        kind="credit",
        source_key=source_key,
        legs=[(issuance, -stored), (user_account, stored)],
        memo=memo
        or (
            f"服务时长入账 {minutes} 分钟"
            + (f",超出储存上限 {minutes - stored} 分钟未入账" if stored < minutes else "")
        ),
    )
    return stored if posted else 0


async def debit_correction(*, community_id: UUID, user_id: UUID, minutes: int, source_key: str, memo: str) -> int:
    """A downward hours correction takes back what is still in the account (never below zero)."""
    user_account = await _locked_user_account(community_id, user_id)
    taken = min(minutes, await balance(user_account))
    if taken <= 0:
        return 0
    issuance = await account(community_id, "issuance")
    await post(
        community_id=community_id,
        kind="correction",
        source_key=source_key,
        legs=[(user_account, -taken), (issuance, taken)],
        memo=memo,
    )
    return taken


async def get_account(*, actor: CurrentUser, community_id: UUID, user_id: UUID) -> TimeAccountOut:
    """A person's balance in a community's time bank: their own, or anyone's for the community's staff.

    Looking opens no account (a GET writes nothing): someone without one holds 0 minutes."""
    if user_id != actor.id:
        await access.require_role(actor, community_id, "staff")
    else:
        await access.require_community(community_id)
    account_id = await _existing_account(community_id, "user", user_id)
    return TimeAccountOut(
        community_id=community_id,
        user_id=user_id,
        balance_minutes=await balance(account_id) if account_id is not None else 0,
        cap_minutes=await cap_minutes(community_id),
    )


async def _transfer_out(
    *, actor: CurrentUser, community_id: UUID, to_account: UUID, minutes: int, kind: str, memo: str, key: str
) -> TimeTransferOut:
    sender = await _locked_user_account(community_id, actor.id)
    if await balance(sender) < minutes:
        raise Conflict("not enough time credits", code=INSUFFICIENT)
    txn = await post(
        community_id=community_id,
        kind=kind,
        source_key=key,
        legs=[(sender, -minutes), (to_account, minutes)],
        memo=memo,
        created_by=actor.id,
    )
    assert txn is not None
    await audit.record(
        actor_user_id=actor.id,
        action=f"timebank.{kind}",
        object_type="timebank_transaction",
        object_id=txn,
        community_id=community_id,
        detail={"minutes": minutes, "memo": memo},
    )
    return TimeTransferOut(transaction_id=txn, minutes=minutes, balance_minutes=await balance(sender))


async def gift(*, actor: CurrentUser, gift_in: GiftIn) -> TimeTransferOut:
    """Give credits to a family member (赠与家人), e.g. so an elderly parent can use them."""
    community_id = gift_in.community_id
    if not await _is_volunteer(community_id, actor.id):
        await access.require_role(actor, community_id, "resident")
    if gift_in.to_user_id == actor.id:
        raise Conflict("a gift goes to someone else")
    if not await db.fetchval("SELECT 1 FROM users WHERE id = $1", gift_in.to_user_id):
        raise NotFound("no such user", code="user_not_found")
    # Lock both accounts in id order so two opposite gifts cannot deadlock.
    sender = await account(community_id, "user", actor.id)
    receiver = await account(community_id, "user", gift_in.to_user_id)
    for acc in sorted([sender, receiver]):
        await db.execute("SELECT 1 FROM timebank_accounts WHERE id = $1 FOR UPDATE", acc)
    if await balance(receiver) + gift_in.minutes > await cap_minutes(community_id):
        raise Conflict("the receiver's account would exceed the cap", code=CAP_EXCEEDED)
    return await _transfer_out(
        actor=actor,
        community_id=community_id,
        to_account=receiver,
        minutes=gift_in.minutes,
        kind="gift",
        memo=f"赠与{gift_in.relationship}",
        key=f"gift:{uuid4()}",
    )


async def donate(*, actor: CurrentUser, donation_in: DonationIn) -> TimeTransferOut:
    """Donate credits to the community's pool (for residents who have none)."""
    community_id = donation_in.community_id
    if not await _is_volunteer(community_id, actor.id):
        await access.require_role(actor, community_id, "resident")
    pool = await account(community_id, "pool")
    return await _transfer_out(
        actor=actor,
        community_id=community_id,
        to_account=pool,
        minutes=donation_in.minutes,
        kind="donation",
        memo=donation_in.memo or "捐赠给社区时间银行",
        key=f"donation:{uuid4()}",
    )


async def _is_volunteer(community_id: UUID, user_id: UUID) -> bool:
    return bool(
        await db.fetchval(
            "SELECT 1 FROM volunteer_profiles WHERE community_id = $1 AND user_id = $2", community_id, user_id
        )
    )


async def spend(*, community_id: UUID, user_id: UUID, minutes: int, booking_id: UUID, memo: str = "") -> SpendResult:
    """Pay `minutes` of a booking from the person's time account (the marketplace calls this).

    Idempotent per booking: calling it again for the same booking returns the first result and moves nothing.
    Raises 409 `insufficient_time_credits` when the balance is short. Runs in the caller's unit of work.
    """
    if minutes <= 0:
        raise ValueError("minutes must be positive")
    user_account = await _locked_user_account(community_id, user_id)
    source_key = f"spend:{booking_id}"
    existing = await db.fetchrow(
        "SELECT t.id, -e.minutes AS minutes FROM timebank_transactions t JOIN timebank_entries e"
        " ON e.transaction_id = t.id AND e.account_id = $2 WHERE t.source_key = $1",
        source_key,
        user_account,
    )
    if existing is not None:
        return SpendResult(existing["id"], existing["minutes"], await balance(user_account), replayed=True)
    if await balance(user_account) < minutes:
        raise Conflict("not enough time credits", code=INSUFFICIENT)
    spent = await account(community_id, "spent")
    txn = await post(
        community_id=community_id,
        kind="spend",
        source_key=source_key,
        legs=[(user_account, -minutes), (spent, minutes)],
        memo=memo or f"预约 {booking_id} 使用时间币",
    )
    assert txn is not None
    return SpendResult(txn, minutes, await balance(user_account), replayed=False)


async def refund(*, community_id: UUID, booking_id: UUID) -> int:
    """Give back what a cancelled booking spent (once); returns minutes refunded."""
    spent_row = await db.fetchrow(
        "SELECT e.account_id, -e.minutes AS minutes FROM timebank_transactions t JOIN timebank_entries e"
        " ON e.transaction_id = t.id WHERE t.source_key = $1 AND e.minutes < 0",
        f"spend:{booking_id}",
    )
    if spent_row is None:
        return 0
    spent = await account(community_id, "spent")
    posted = await post(
        community_id=community_id,
        kind="spend",
        source_key=f"refund:{booking_id}",
        legs=[(spent, -spent_row["minutes"]), (spent_row["account_id"], spent_row["minutes"])],
        memo=f"预约 {booking_id} 取消退回",
    )
    return spent_row["minutes"] if posted else 0
