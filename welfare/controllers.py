"""HTTP endpoints of the welfare fund: thin (parse → one service call → a schema)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import Body, Parameter

from linli import db
from linli.auth.security import CurrentUser
from linli.idempotency import create_once
from welfare.periods import PERIOD_PATTERN
from welfare.schemas import (
    BudgetProposalIn,
    BudgetProposalOut,
    BudgetRoundIn,
    BudgetRoundOut,
    DecisionIn,
    DepositIn,
    DisbursementIn,
    DisbursementOut,
    DisclosureOut,
    FundOut,
    ReversalIn,
    SettlementIn,
    SettlementRunOut,
    StatementOut,
    TransactionOut,
    VoteIn,
    VoteOut,
    WelfareReportOut,
)
from welfare.services import budgeting, fund, reports, settlement

CSV = "text/csv; charset=utf-8"
SVG = "image/svg+xml"


def _key(request: Request[Any, Any, Any]) -> str | None:
    return request.headers.get("idempotency-key")


class WelfareFundController(Controller):
    path = "/communities/{community_id:uuid}"
    tags = ["welfare fund"]

    @get("/welfare-fund")
    async def fund_summary(self, user: CurrentUser, community_id: UUID) -> FundOut:
        return await fund.get(actor=user, community_id=community_id)

    @post("/welfare-fund/deposits", status_code=201)
    async def deposit(
        self, request: Request[Any, Any, Any], user: CurrentUser, community_id: UUID, data: DepositIn = Body()
    ) -> Response[Any]:
        return await create_once(
            request,
            user_id=user.id,
            key=_key(request),
            data=data,
            run=lambda: fund.create_deposit(actor=user, community_id=community_id, deposit_in=data),
        )

    @get("/welfare-fund/transactions")
    async def transactions(
        self,
        user: CurrentUser,
        community_id: UUID,
        period: str | None = Parameter(default=None, pattern=PERIOD_PATTERN),
        limit: int = Parameter(default=100, ge=1, le=500),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[TransactionOut]:
        return await fund.get_transactions(
            actor=user, community_id=community_id, period=period, limit=limit, offset=offset
        )

    @post("/welfare-fund/disbursements", status_code=201)
    async def request_disbursement(
        self, request: Request[Any, Any, Any], user: CurrentUser, community_id: UUID, data: DisbursementIn = Body()
    ) -> Response[Any]:
        return await create_once(
            request,
            user_id=user.id,
            key=_key(request),
            data=data,
            run=lambda: fund.request_disbursement(actor=user, community_id=community_id, disbursement_in=data),
        )

    @get("/welfare-fund/disbursements")
    async def disbursements(
        self,
        user: CurrentUser,
        community_id: UUID,
        status: str | None = Parameter(default=None, pattern="^(requested|approved|rejected)$"),
        limit: int = Parameter(default=100, ge=1, le=500),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[DisbursementOut]:
        return await fund.get_disbursements(
            actor=user, community_id=community_id, status=status, limit=limit, offset=offset
        )

    @get("/welfare-fund/disclosure", public=True)
    async def disclosure(self, community_id: UUID, months: int = Parameter(default=12, ge=1, le=36)) -> DisclosureOut:
        return await reports.disclosure(community_id=community_id, months=months)

    @post("/settlements", status_code=202)
    async def settle(
        self, request: Request[Any, Any, Any], user: CurrentUser, community_id: UUID, data: SettlementIn = Body()
    ) -> Response[Any]:
        return await create_once(
            request,
            user_id=user.id,
            key=_key(request),
            data=data,
            status_code=202,
            run=lambda: settlement.request(actor=user, community_id=community_id, period=data.period),
        )

    @get("/settlements")
    async def settlements(
        self,
        user: CurrentUser,
        community_id: UUID,
        limit: int = Parameter(default=50, ge=1, le=200),
        offset: int = Parameter(default=0, ge=0),
    ) -> list[SettlementRunOut]:
        return await settlement.get_all(actor=user, community_id=community_id, limit=limit, offset=offset)

    @get("/reports/welfare")
    async def report(
        self, user: CurrentUser, community_id: UUID, period: str = Parameter(pattern=PERIOD_PATTERN)
    ) -> WelfareReportOut:
        return await reports.welfare_report(actor=user, community_id=community_id, period=period)

    @get("/reports/welfare.csv", media_type=CSV)
    async def report_csv(
        self, user: CurrentUser, community_id: UUID, period: str = Parameter(pattern=PERIOD_PATTERN)
    ) -> Response[str]:
        out = await reports.welfare_report(actor=user, community_id=community_id, period=period)
        return Response(
            reports.report_csv(out),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="welfare-{period}.csv"'},
        )

    @get("/reports/welfare/chart.svg", media_type=SVG)
    async def report_chart(
        self, user: CurrentUser, community_id: UUID, months: int = Parameter(default=12, ge=1, le=36)
    ) -> Response[str]:
        svg = await reports.chart_svg(actor=user, community_id=community_id, months=months)
        return Response(svg, media_type=SVG)

    @post("/budget-rounds", status_code=201)
    async def create_round(self, user: CurrentUser, community_id: UUID, data: BudgetRoundIn = Body()) -> BudgetRoundOut:
        async with db.unit_of_work():
            return await budgeting.create_round(actor=user, community_id=community_id, round_in=data)

    @get("/budget-rounds")
    async def rounds(self, user: CurrentUser, community_id: UUID) -> list[BudgetRoundOut]:
        return await budgeting.get_all(actor=user, community_id=community_id)


class SettlementController(Controller):
    path = "/settlements"
    tags = ["welfare fund"]

    @get("/{run_id:uuid}")
    async def run_status(self, user: CurrentUser, run_id: UUID) -> SettlementRunOut:
        return await settlement.get(actor=user, run_id=run_id)


class StatementController(Controller):
    path = "/partners/{partner_id:uuid}/statements"
    tags = ["welfare fund"]

    @get("/{period:str}")
    async def statement(self, user: CurrentUser, partner_id: UUID, period: str) -> StatementOut:
        return await settlement.statement(actor=user, partner_id=partner_id, period=period)

    @get("/{period:str}/csv", media_type=CSV)
    async def statement_csv(self, user: CurrentUser, partner_id: UUID, period: str) -> Response[str]:
        out = await settlement.statement(actor=user, partner_id=partner_id, period=period)
        return Response(
            settlement.statement_csv(out),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="statement-{period}.csv"'},
        )


class DisbursementController(Controller):
    path = "/welfare-disbursements"
    tags = ["welfare fund"]

    @get("/{disbursement_id:uuid}")
    async def disbursement(self, user: CurrentUser, disbursement_id: UUID) -> DisbursementOut:
        return await fund.get_disbursement(actor=user, disbursement_id=disbursement_id)

    @post("/{disbursement_id:uuid}/approve", status_code=200)
    async def approve(
        self, user: CurrentUser, disbursement_id: UUID, data: DecisionIn | None = Body(default=None)
    ) -> DisbursementOut:
        async with db.unit_of_work():
            return await fund.approve_disbursement(
                actor=user, disbursement_id=disbursement_id, decision_in=data or DecisionIn()
            )

    @post("/{disbursement_id:uuid}/reject", status_code=200)
    async def reject(
        self, user: CurrentUser, disbursement_id: UUID, data: DecisionIn | None = Body(default=None)
    ) -> DisbursementOut:
        async with db.unit_of_work():
            return await fund.reject_disbursement(
                actor=user, disbursement_id=disbursement_id, decision_in=data or DecisionIn()
            )


class TransactionController(Controller):
    path = "/welfare-transactions"
    tags = ["welfare fund"]

    @post("/{transaction_id:uuid}/reverse", status_code=201)
    async def reverse(self, user: CurrentUser, transaction_id: UUID, data: ReversalIn = Body()) -> TransactionOut:
        async with db.unit_of_work():
            return await fund.reverse_transaction(actor=user, transaction_id=transaction_id, reversal_in=data)


class BudgetController(Controller):
    path = "/budget-rounds/{round_id:uuid}"
    tags = ["participatory budgeting"]

    @get("/")
    async def budget_round(self, user: CurrentUser, round_id: UUID) -> BudgetRoundOut:
        return await budgeting.get(actor=user, round_id=round_id)

    @post("/proposals", status_code=201)
    async def propose(self, user: CurrentUser, round_id: UUID, data: BudgetProposalIn = Body()) -> BudgetProposalOut:
        async with db.unit_of_work():
            return await budgeting.propose(actor=user, round_id=round_id, proposal_in=data)

    @post("/voting", status_code=200)
    async def open_voting(self, user: CurrentUser, round_id: UUID) -> BudgetRoundOut:
        async with db.unit_of_work():
            return await budgeting.open_voting(actor=user, round_id=round_id)

    @post("/votes", status_code=201)
    async def vote(self, user: CurrentUser, round_id: UUID, data: VoteIn = Body()) -> VoteOut:
        async with db.unit_of_work():
            return await budgeting.vote(actor=user, round_id=round_id, vote_in=data)

    @post("/close", status_code=200)
    async def close(self, user: CurrentUser, round_id: UUID) -> BudgetRoundOut:
        async with db.unit_of_work():
            return await budgeting.close(actor=user, round_id=round_id)


class BudgetProposalController(Controller):
    path = "/budget-proposals/{proposal_id:uuid}"
    tags = ["participatory budgeting"]

    @post("/shortlist", status_code=200)
    async def shortlist(self, user: CurrentUser, proposal_id: UUID) -> BudgetProposalOut:
        async with db.unit_of_work():
            return await budgeting.shortlist(actor=user, proposal_id=proposal_id)

    @post("/reject", status_code=200)
    async def reject(self, user: CurrentUser, proposal_id: UUID) -> BudgetProposalOut:
        async with db.unit_of_work():
            return await budgeting.reject(actor=user, proposal_id=proposal_id)


CONTROLLERS = [
    WelfareFundController,
    SettlementController,
    StatementController,
    DisbursementController,
    TransactionController,
    BudgetController,
    BudgetProposalController,
]
