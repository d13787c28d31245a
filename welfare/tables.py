"""Welfare fund tables.

The ledger (`welfare_accounts`, `welfare_transactions`, `welfare_entries`) is append-only: database triggers
refuse UPDATE and DELETE of transactions and entries, and a deferred constraint trigger refuses, at commit,
any transaction whose entries do not sum to zero (see the raw migration). Balances are never stored: they
are sums of entries.

Sign convention: an entry's `amount_fen` is added to its account's balance. Money entering the fund is
+ on the fund account and − on where it came from (a grant source, a partner's share); money leaving the
fund is − on the fund and + on where it goes (a partner's subsidy receivable, relief payable to residents).
"""

from piccolo.columns import UUID, BigInt, ForeignKey, Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Check, Unique
from piccolo.table import Table


class LedgerAccount(Table, tablename="welfare_accounts"):
    """One account of a community's ledger, identified by a stable key.

    Keys: `fund` (the welfare fund), `partner:<uuid>` (a partner's balance with the fund),
    `source:<kind>` (external money: government_grant, donation, …), `relief_payable` (relief owed to
    residents), `projects_payable` (participatory-budget projects owed their funds).
    """

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    key = Varchar(length=80, null=False)
    kind = Varchar(length=20, null=False)
    partner_id = UUID(null=True, default=None)
    name = Varchar(length=100, null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    unique_welfare_account_key = Unique([community_id, key])
    valid_kind = Check("kind IN ('fund', 'partner', 'source', 'payable')")


class LedgerTransaction(Table, tablename="welfare_transactions"):
    """A balanced set of entries, pointing to what caused it (`source_type`, `source_id`)."""

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    # deposit | share | subsidy | disbursement | project
    kind = Varchar(length=20, null=False)
    source_type = Varchar(length=20, null=False)
    source_id = UUID(null=False, index=True)
    # The community-local month the movement belongs to ("YYYY-MM"): a settlement's booking period,
    # otherwise the month it was posted.
    period = Varchar(length=7, null=False, index=True)
    memo = Text(null=False, default="")
    # A reversal points to the transaction it cancels; a transaction is reversed at most once.
    reverses_id = UUID(null=True, default=None, unique=True)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    valid_kind = Check("kind IN ('deposit', 'share', 'subsidy', 'disbursement', 'project')")
    valid_source = Check("source_type IN ('booking', 'deposit', 'disbursement', 'vote', 'settlement')")
    valid_period = Check("period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'")


class LedgerEntry(Table, tablename="welfare_entries"):
    id = UUID(primary_key=True)
    transaction_id = ForeignKey(LedgerTransaction, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    account_id = ForeignKey(LedgerAccount, null=False, on_delete=OnDelete.restrict, index=True)
    amount_fen = BigInt(null=False)
    nonzero = Check("amount_fen <> 0")


class Deposit(Table, tablename="welfare_deposits"):
    """A grant or donation into the fund (the source of a `deposit` transaction)."""

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    amount_fen = BigInt(null=False)
    # government_grant | donation | partner_contribution | other
    source = Varchar(length=30, null=False)
    payer = Varchar(length=100, null=False, default="")
    memo = Text(null=False, default="")
    period = Varchar(length=7, null=False)
    transaction_id = UUID(null=False)
    created_by = UUID(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    positive = Check("amount_fen > 0")


class Disbursement(Table, tablename="welfare_disbursements"):
    """Money out of the fund: relief (救助) to a resident under the two-person rule, or a voted project."""

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    # relief | project
    kind = Varchar(length=10, null=False, default="relief")
    recipient_user_id = UUID(null=True, default=None)
    proposal_id = UUID(null=True, default=None, unique=True)
    amount_fen = BigInt(null=False)
    reason = Text(null=False, default="")
    # requested -> approved | rejected
    status = Varchar(length=10, null=False, default="requested")
    requested_by = UUID(null=False)
    decided_by = UUID(null=True, default=None)
    decided_at = Timestamptz(null=True, default=None)
    period = Varchar(length=7, null=True, default=None)
    transaction_id = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    positive = Check("amount_fen > 0")
    valid_status = Check("status IN ('requested', 'approved', 'rejected')")
    valid_kind = Check("kind IN ('relief', 'project')")
    # The two-person rule, held by the database too: whoever asked for relief cannot approve it.
    two_person = Check("kind <> 'relief' OR decided_by IS NULL OR decided_by <> requested_by")


class SettlementRun(Table, tablename="settlement_runs"):
    """One request to settle a community's period (by an admin or the monthly schedule)."""

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    period = Varchar(length=7, null=False)
    # queued -> running -> completed
    status = Varchar(length=10, null=False, default="queued")
    trigger = Varchar(length=10, null=False, default="manual")  # manual | schedule
    requested_by = UUID(null=True, default=None)
    partners_total = Integer(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    valid_status = Check("status IN ('queued', 'running', 'completed')")


class SettlementRunPartner(Table, tablename="settlement_run_partners"):
    """One partner's batch within a run: its progress, totals and the ledger transactions it posted."""

    id = UUID(primary_key=True)
    run_id = ForeignKey(SettlementRun, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    partner_id = UUID(null=False, index=True)
    period = Varchar(length=7, null=False)
    status = Varchar(length=10, null=False, default="queued")  # queued | done | superseded
    bookings = Integer(null=False, default=0)
    gross_fen = BigInt(null=False, default=0)
    share_fen = BigInt(null=False, default=0)
    subsidies_fen = BigInt(null=False, default=0)
    share_transaction_id = UUID(null=True, default=None)
    subsidy_transaction_id = UUID(null=True, default=None)
    settled_at = Timestamptz(null=True, default=None)
    unique_settlement_run_partner = Unique([run_id, partner_id])


class SettlementLine(Table, tablename="settlement_lines"):
    """A booking settled: its primary key is the booking, so each booking is settled exactly once."""

    booking_id = UUID(primary_key=True)
    batch_id = UUID(null=False)
    community_id = UUID(null=False)
    partner_id = UUID(null=False)
    period = Varchar(length=7, null=False)
    category = Varchar(length=30, null=False)
    agreement_id = UUID(null=True, default=None)
    price_fen = BigInt(null=False)
    share_rate_bp = Integer(null=False)
    share_fen = BigInt(null=False)
    subsidy_fen = BigInt(null=False)
    completed_at = Timestamptz(null=True, default=None)


class BudgetRound(Table, tablename="budget_rounds"):
    """A round of participatory budgeting (百姓微实事): proposing -> voting -> closed."""

    id = UUID(primary_key=True)
    community_id = UUID(null=False, index=True)
    title = Varchar(length=100, null=False)
    budget_fen = BigInt(null=False)
    status = Varchar(length=10, null=False, default="proposing")
    created_by = UUID(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    closed_at = Timestamptz(null=True, default=None)
    positive = Check("budget_fen > 0")
    valid_status = Check("status IN ('proposing', 'voting', 'closed')")


class BudgetProposal(Table, tablename="budget_proposals"):
    id = UUID(primary_key=True)
    round_id = ForeignKey(BudgetRound, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    proposer_id = UUID(null=False)
    title = Varchar(length=100, null=False)
    description = Text(null=False, default="")
    requested_fen = BigInt(null=False)
    # submitted -> shortlisted | rejected; shortlisted -> funded | not_funded
    status = Varchar(length=12, null=False, default="submitted")
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    positive = Check("requested_fen > 0")
    valid_status = Check("status IN ('submitted', 'shortlisted', 'rejected', 'funded', 'not_funded')")


class BudgetVote(Table, tablename="budget_votes"):
    id = UUID(primary_key=True)
    round_id = ForeignKey(BudgetRound, null=False, on_delete=OnDelete.restrict, index=True)
    proposal_id = ForeignKey(BudgetProposal, null=False, on_delete=OnDelete.restrict, index=True)
    community_id = UUID(null=False)
    voter_id = UUID(null=False)
    created_at = Timestamptz(default=TimestamptzNow(), null=False)
    # One vote per resident per round, whatever the code above does.
    one_budget_vote_per_round = Unique([round_id, voter_id])
