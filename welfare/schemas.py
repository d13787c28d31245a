"""Hand-written request and response models of the welfare fund. Money is integer fen (strict: no floats)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from linli.schemas import Input
from welfare.periods import PERIOD_PATTERN


def _integer_fen(value: object) -> object:
    # Litestar validates bodies in lax mode; money must still be a JSON integer (no "100", no 100.0, no true).
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("amounts are integer fen")
    return value


# A positive amount of money up to 100 million yuan, strictly an integer.
AmountFen = Annotated[int, BeforeValidator(_integer_fen), Field(gt=0, le=10_000_000_000)]
Period = Annotated[str, Field(pattern=PERIOD_PATTERN, examples=["2026-10"])]
DepositSource = Literal["government_grant", "donation", "partner_contribution", "other"]


def _strip(v: str) -> str:
    return v.strip()


class DepositIn(Input):
    amount_fen: AmountFen
    memo: str = Field(min_length=1, max_length=500)
    source: DepositSource = "other"
    payer: str = Field(default="", max_length=100, description="who gave the money, e.g. 区民政局")

    _clean = field_validator("memo", "payer")(_strip)

    @field_validator("memo")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v:
            raise ValueError("memo must not be blank")
        return v


class DepositOut(BaseModel):
    id: UUID
    community_id: UUID
    amount_fen: int
    source: str
    payer: str
    memo: str
    period: str
    transaction_id: UUID
    balance_fen: int
    created_at: datetime


class FundOut(BaseModel):
    community_id: UUID
    balance_fen: int
    deposits_fen: int
    shares_fen: int
    subsidies_fen: int
    disbursements_fen: int
    projects_fen: int
    pending_disbursements_fen: int
    transactions: int


class EntryOut(BaseModel):
    account_key: str
    account_name: str
    amount_fen: int


class TransactionOut(BaseModel):
    id: UUID
    kind: str
    source_type: str
    source_id: UUID
    period: str
    memo: str
    reverses_id: UUID | None
    created_at: datetime
    entries: list[EntryOut]


class ReversalIn(Input):
    reason: str = Field(min_length=1, max_length=500)


class DisbursementIn(Input):
    recipient_user_id: UUID
    amount_fen: AmountFen
    reason: str = Field(min_length=1, max_length=500)


class DecisionIn(Input):
    note: str = Field(default="", max_length=500)


class DisbursementOut(BaseModel):
    id: UUID
    community_id: UUID
    kind: str
    recipient_user_id: UUID | None
    proposal_id: UUID | None
    amount_fen: int
    reason: str
    status: str
    requested_by: UUID
    decided_by: UUID | None
    decided_at: datetime | None
    transaction_id: UUID | None
    created_at: datetime


class SettlementIn(Input):
    period: Period


class SettlementRunOut(BaseModel):
    id: UUID
    community_id: UUID
    period: str
    status: str
    trigger: str
    partners_total: int | None
    partners_done: int
    # Batches left to a newer run of the same period (their worker died before running them).
    partners_superseded: int = 0
    progress_percent: int
    bookings_settled: int
    gross_fen: int
    share_fen: int
    subsidies_fen: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class StatementLineOut(BaseModel):
    booking_id: UUID
    completed_at: datetime | None
    category: str
    price_fen: int
    share_rate_bp: int
    share_fen: int
    subsidy_fen: int


class StatementOut(BaseModel):
    """对账单: what a partner returned to the fund and what the fund owes it for one period."""

    partner_id: UUID
    partner_name: str
    community_id: UUID
    period: str
    bookings: int
    gross_fen: int
    share_fen: int
    subsidies_fen: int
    # What the partner owes the fund after subsidies (negative: the fund owes the partner).
    net_fen: int
    unsettled_bookings: int
    lines: list[StatementLineOut]


class ReportRow(BaseModel):
    key: str
    name: str
    bookings: int
    gross_fen: int
    share_fen: int
    subsidies_fen: int
    net_fen: int


class ReportTotals(BaseModel):
    bookings: int
    gross_fen: int
    share_fen: int
    subsidies_fen: int
    net_fen: int
    deposits_fen: int
    disbursements_fen: int


class WelfareReportOut(BaseModel):
    community_id: UUID
    period: str
    previous_period: str
    partners: list[ReportRow]
    categories: list[ReportRow]
    totals: ReportTotals
    previous_totals: ReportTotals
    # This period minus the previous one, field by field.
    change: ReportTotals
    balance_fen: int


class DisclosureMonth(BaseModel):
    period: str
    returned_fen: int
    deposits_fen: int
    subsidies_fen: int
    relief_fen: int
    projects_fen: int


class DisclosureOut(BaseModel):
    """What every resident may see of the fund: amounts and purposes, never a person."""

    community_id: UUID
    community_name: str
    balance_fen: int
    months: list[DisclosureMonth]
    deposits_by_source: dict[str, int]
    relief_count: int
    relief_fen: int
    partners_returning: int
    funded_projects: list[dict[str, str | int]]


class BudgetRoundIn(Input):
    title: str = Field(min_length=1, max_length=100)
    budget_fen: AmountFen


class BudgetRoundOut(BaseModel):
    id: UUID
    community_id: UUID
    title: str
    budget_fen: int
    status: str
    created_at: datetime
    closed_at: datetime | None
    proposals: list[BudgetProposalOut] = []


class BudgetProposalIn(Input):
    title: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    requested_fen: AmountFen


class BudgetProposalOut(BaseModel):
    id: UUID
    round_id: UUID
    title: str
    description: str
    requested_fen: int
    status: str
    votes: int
    created_at: datetime


class VoteIn(Input):
    proposal_id: UUID


class VoteOut(BaseModel):
    id: UUID
    round_id: UUID
    proposal_id: UUID
    created_at: datetime


BudgetRoundOut.model_rebuild()
