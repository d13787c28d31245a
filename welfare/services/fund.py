"""Money in and out of a community's welfare fund: deposits, relief disbursements, reversals, the summary."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from community import access
from community import services as community
from linli import audit, db
from linli.auth.security import CurrentUser
from linli.errors import Conflict, InvalidTransition, NotFound
from welfare import periods
from welfare.errors import (
    ALREADY_REVERSED,
    DISBURSEMENT_NOT_FOUND,
    NOT_REVERSIBLE,
    RECIPIENT_NOT_RESIDENT,
    SAME_PERSON_APPROVAL,
    TRANSACTION_NOT_FOUND,
    InsufficientFunds,
)
from welfare.schemas import (
    DecisionIn,
    DepositIn,
    DepositOut,
    DisbursementIn,
    DisbursementOut,
    EntryOut,
    FundOut,
    ReversalIn,
    TransactionOut,
)
from welfare.services import ledger


async def local_period(community_id: UUID) -> str:
    return periods.current_period(await community.timezone_of(community_id=community_id))


async def create_deposit(*, actor: CurrentUser, community_id: UUID, deposit_in: DepositIn) -> DepositOut:
    """A grant or donation into the fund (community admins only): fund +amount, its source −amount."""
    await access.require_role(actor, community_id, "admin")
    deposit_id = uuid4()
    period = await local_period(community_id)
    fund = await ledger.fund_account(community_id=community_id)
    source = await ledger.source_account(community_id=community_id, source=deposit_in.source)
    posted = await ledger.post(
        community_id=community_id,
        kind="deposit",
        source_type="deposit",
        source_id=deposit_id,
        period=period,
        entries=[(fund, deposit_in.amount_fen), (source, -deposit_in.amount_fen)],
        memo=deposit_in.memo,
        created_by=actor.id,
    )
    await db.execute(
        "INSERT INTO welfare_deposits (id, community_id, amount_fen, source, payer, memo, period, transaction_id,"
        " created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        deposit_id,
        community_id,
        deposit_in.amount_fen,
        deposit_in.source,
        deposit_in.payer,
        deposit_in.memo,
        period,
        posted.id,
        actor.id,
        posted.created_at,
    )
    await audit.record(
        actor_user_id=actor.id,
        action="welfare.deposit",
        object_type="welfare_deposit",
        object_id=deposit_id,
        community_id=community_id,
        detail={"amount_fen": deposit_in.amount_fen, "source": deposit_in.source},
    )
    return DepositOut(
        id=deposit_id,
        community_id=community_id,
        amount_fen=deposit_in.amount_fen,
        source=deposit_in.source,
        payer=deposit_in.payer,
        memo=deposit_in.memo,
        period=period,
        transaction_id=posted.id,
        balance_fen=await ledger.fund_balance(community_id=community_id),
        created_at=posted.created_at,
    )


async def get(*, actor: CurrentUser, community_id: UUID) -> FundOut:
    """The fund's balance and its movements by kind, all derived from ledger entries (community staff)."""
    await access.require_role(actor, community_id, "staff")
    rows = await db.fetch(
        "SELECT t.kind, sum(e.amount_fen) AS fen FROM welfare_entries e"
        " JOIN welfare_accounts a ON a.id = e.account_id AND a.key = $2"
        " JOIN welfare_transactions t ON t.id = e.transaction_id"
        " WHERE e.community_id = $1 GROUP BY t.kind",
        community_id,
        ledger.FUND,
    )
    by_kind = {r["kind"]: int(r["fen"]) for r in rows}
    pending = await db.fetchval(
        "SELECT coalesce(sum(amount_fen), 0) FROM welfare_disbursements WHERE community_id = $1"
        " AND status = 'requested'",
        community_id,
    )
    count = await db.fetchval("SELECT count(*) FROM welfare_transactions WHERE community_id = $1", community_id)
    return FundOut(
        community_id=community_id,
        balance_fen=sum(by_kind.values()),
        deposits_fen=by_kind.get("deposit", 0),
        shares_fen=by_kind.get("share", 0),
        subsidies_fen=-by_kind.get("subsidy", 0),
        disbursements_fen=-by_kind.get("disbursement", 0),
        projects_fen=-by_kind.get("project", 0),
        pending_disbursements_fen=int(pending),
        transactions=int(count),
    )


async def get_transactions(
    *, actor: CurrentUser, community_id: UUID, period: str | None = None, limit: int = 100, offset: int = 0
) -> list[TransactionOut]:
    """The ledger's journal, newest first, with every entry (community staff)."""
    await access.require_role(actor, community_id, "staff")
    rows = await db.fetch(
        "SELECT id, kind, source_type, source_id, period, memo, reverses_id, created_at FROM welfare_transactions"
        " WHERE community_id = $1 AND ($2::text IS NULL OR period = $2) ORDER BY created_at DESC, id"
        " LIMIT $3 OFFSET $4",
        community_id,
        period,
        limit,
        offset,
    )
    entries = await db.fetch(
        "SELECT e.transaction_id, a.key, a.name, e.amount_fen FROM welfare_entries e"
        " JOIN welfare_accounts a ON a.id = e.account_id WHERE e.transaction_id = ANY($1::uuid[])"
        " ORDER BY e.amount_fen DESC",
        [r["id"] for r in rows],
    )
    by_tx: dict[UUID, list[EntryOut]] = {}
    for e in entries:
        by_tx.setdefault(e["transaction_id"], []).append(
            EntryOut(account_key=e["key"], account_name=e["name"], amount_fen=int(e["amount_fen"]))
        )
    return [TransactionOut(**dict(r), entries=by_tx.get(r["id"], [])) for r in rows]


async def reverse_transaction(*, actor: CurrentUser, transaction_id: UUID, reversal_in: ReversalIn) -> TransactionOut:
    """Correct a deposit by posting its reversal (community admins). Settlement postings are never reversed
    by hand: their bookings stay settled, and reconciliation would flag the gap."""
    row = await db.fetchrow("SELECT community_id, kind FROM welfare_transactions WHERE id = $1", transaction_id)
    if row is None or not await access.has_role(actor, row["community_id"], "staff"):
        raise NotFound("no such transaction", code=TRANSACTION_NOT_FOUND)
    await access.require_role(actor, row["community_id"], "admin")
    if row["kind"] != "deposit":
        raise Conflict(f"{row['kind']} transactions cannot be reversed", code=NOT_REVERSIBLE)
    # Serialise reversals of the same transaction; the unique reverses_id is the last line of defence.
    await db.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"welfare.reverse:{transaction_id}")
    if await db.fetchval("SELECT 1 FROM welfare_transactions WHERE reverses_id = $1", transaction_id):
        raise Conflict("already reversed", code=ALREADY_REVERSED)
    if await db.fetchval("SELECT reverses_id FROM welfare_transactions WHERE id = $1", transaction_id):
        raise Conflict("a reversal cannot itself be reversed", code=NOT_REVERSIBLE)
    posted = await ledger.reverse(
        transaction_id=transaction_id,
        period=await local_period(row["community_id"]),
        memo=f"冲正: {reversal_in.reason}",
        created_by=actor.id,
    )
    await audit.record(
        actor_user_id=actor.id,
        action="welfare.reversal",
        object_type="welfare_transaction",
        object_id=transaction_id,
        community_id=row["community_id"],
        reason=reversal_in.reason,
    )
    [out] = [
        t
        for t in await get_transactions(actor=actor, community_id=row["community_id"], limit=1000)
        if t.id == posted.id
    ]
    return out


# --- Relief disbursements (救助): requested by one staff member, approved by a different admin ---------------

_DISBURSEMENT_COLUMNS = (
    "id, community_id, kind, recipient_user_id, proposal_id, amount_fen, reason, status, requested_by,"
    " decided_by, decided_at, transaction_id, created_at"
)


async def _disbursement(disbursement_id: UUID, *, for_update: bool = False) -> DisbursementOut:
    row = await db.fetchrow(
        f"SELECT {_DISBURSEMENT_COLUMNS} FROM welfare_disbursements WHERE id = $1"
        + (" FOR UPDATE" if for_update else ""),
        disbursement_id,
    )
    if row is None:
        raise NotFound("no such disbursement", code=DISBURSEMENT_NOT_FOUND)
    return DisbursementOut(**dict(row))


async def _visible_disbursement(actor: CurrentUser, disbursement_id: UUID) -> DisbursementOut:
    """The disbursement if the caller is staff of its community; 404 otherwise (it names a resident)."""
    current = await _disbursement(disbursement_id)
    if not await access.has_role(actor, current.community_id, "staff"):
        raise NotFound("no such disbursement", code=DISBURSEMENT_NOT_FOUND)
    return current


async def request_disbursement(
    *, actor: CurrentUser, community_id: UUID, disbursement_in: DisbursementIn
) -> DisbursementOut:
    """Ask for relief to a resident (community staff). Nothing moves until a different admin approves."""
    await access.require_role(actor, community_id, "staff")
    is_resident = await db.fetchval(
        "SELECT 1 FROM community_memberships WHERE community_id = $1 AND user_id = $2 AND role = 'resident'",
        community_id,
        disbursement_in.recipient_user_id,
    )
    if not is_resident:
        raise Conflict("the recipient is not a resident of this community", code=RECIPIENT_NOT_RESIDENT)
    disbursement_id = uuid4()
    await db.execute(
        "INSERT INTO welfare_disbursements (id, community_id, kind, recipient_user_id, amount_fen, reason, status,"
        " requested_by, created_at) VALUES ($1, $2, 'relief', $3, $4, $5, 'requested', $6, now())",
        disbursement_id,
        community_id,
        disbursement_in.recipient_user_id,
        disbursement_in.amount_fen,
        disbursement_in.reason,
        actor.id,
    )
    await audit.record(
        actor_user_id=actor.id,
        action="welfare.disbursement_requested",
        object_type="welfare_disbursement",
        object_id=disbursement_id,
        community_id=community_id,
        reason=disbursement_in.reason,
        detail={"amount_fen": disbursement_in.amount_fen},
    )
    return await _disbursement(disbursement_id)


async def _lock_for_decision(actor: CurrentUser, disbursement_id: UUID, *, action: str) -> DisbursementOut:
    """The request, row-locked, as `actor` may decide it: still requested, and not their own (the two-person
    rule, which the table's `two_person` check also holds)."""
    current = await _disbursement(disbursement_id, for_update=True)
    if current.status != "requested":
        raise InvalidTransition(entity="disbursement", current=current.status, action=action)
    if current.requested_by == actor.id:
        raise Conflict("a second person must decide", code=SAME_PERSON_APPROVAL)
    return current


async def approve_disbursement(
    *, actor: CurrentUser, disbursement_id: UUID, decision_in: DecisionIn
) -> DisbursementOut:
    """The second person approves (a community admin other than the requester); the money moves now:
    fund −amount, relief payable +amount. 409 if the fund cannot cover it."""
    current = await _visible_disbursement(actor, disbursement_id)
    await access.require_role(actor, current.community_id, "admin")
    fund = await ledger.lock_fund(community_id=current.community_id)
    current = await _lock_for_decision(actor, disbursement_id, action="approve")
    balance = await ledger.fund_balance(community_id=current.community_id)
    if balance < current.amount_fen:
        raise InsufficientFunds(f"the fund holds {balance} fen; {current.amount_fen} fen requested")
    payable = await ledger.payable_account(community_id=current.community_id, key=ledger.RELIEF_PAYABLE)
    period = await local_period(current.community_id)
    posted = await ledger.post(
        community_id=current.community_id,
        kind="disbursement",
        source_type="disbursement",
        source_id=disbursement_id,
        period=period,
        entries=[(fund, -current.amount_fen), (payable, current.amount_fen)],
        memo=current.reason,
        created_by=actor.id,
    )
    await db.execute(
        "UPDATE welfare_disbursements SET status = 'approved', decided_by = $2, decided_at = $3, period = $4,"
        " transaction_id = $5 WHERE id = $1",
        disbursement_id,
        actor.id,
        datetime.now(UTC),
        period,
        posted.id,
    )
    await audit.record(
        actor_user_id=actor.id,
        action="welfare.disbursement_approved",
        object_type="welfare_disbursement",
        object_id=disbursement_id,
        community_id=current.community_id,
        reason=decision_in.note,
        detail={"amount_fen": current.amount_fen},
    )
    return await _disbursement(disbursement_id)


async def reject_disbursement(*, actor: CurrentUser, disbursement_id: UUID, decision_in: DecisionIn) -> DisbursementOut:
    """The second person turns the request down; like approving, never the requester."""
    current = await _visible_disbursement(actor, disbursement_id)
    await access.require_role(actor, current.community_id, "admin")
    current = await _lock_for_decision(actor, disbursement_id, action="reject")
    await db.execute(
        "UPDATE welfare_disbursements SET status = 'rejected', decided_by = $2, decided_at = now() WHERE id = $1",
        disbursement_id,
        actor.id,
    )
    await audit.record(
        actor_user_id=actor.id,
        action="welfare.disbursement_rejected",
        object_type="welfare_disbursement",
        object_id=disbursement_id,
        community_id=current.community_id,
        reason=decision_in.note,
    )
    return await _disbursement(disbursement_id)


async def get_disbursement(*, actor: CurrentUser, disbursement_id: UUID) -> DisbursementOut:
    return await _visible_disbursement(actor, disbursement_id)


async def get_disbursements(
    *, actor: CurrentUser, community_id: UUID, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[DisbursementOut]:
    await access.require_role(actor, community_id, "staff")
    rows = await db.fetch(
        f"SELECT {_DISBURSEMENT_COLUMNS} FROM welfare_disbursements WHERE community_id = $1"
        " AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC, id LIMIT $3 OFFSET $4",
        community_id,
        status,
        limit,
        offset,
    )
    return [DisbursementOut(**dict(r)) for r in rows]
