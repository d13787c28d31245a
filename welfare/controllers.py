"""HTTP endpoints of the welfare fund: thin (parse → one service call → a schema)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from linli import db
from linli.auth.security import Caller
from linli.idempotency import IdempotencyKey, create_once
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

Limit = Annotated[int, QueryParameter(ge=1, le=500)]
Offset = Annotated[int, QueryParameter(ge=0, le=100_000)]
Period = Annotated[str, QueryParameter(pattern=PERIOD_PATTERN)]
Months = Annotated[int, QueryParameter(ge=1, le=36)]


class WelfareFundController(Controller):
    path = "/communities/{community_id:uuid}"
    tags = ["welfare fund"]

    @get("/welfare-fund")
    async def fund_summary(self, user: Caller, community_id: FromPath[UUID]) -> FundOut:
        return await fund.get(actor=user, community_id=community_id)

    @post("/welfare-fund/deposits", status_code=201)
    async def deposit(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        community_id: FromPath[UUID],
        data: JSONBody[DepositIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: fund.create_deposit(actor=user, community_id=community_id, deposit_in=data),
        )

    @get("/welfare-fund/transactions")
    async def transactions(
        self,
        user: Caller,
        community_id: FromPath[UUID],
        period: Annotated[str | None, QueryParameter(pattern=PERIOD_PATTERN)] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[TransactionOut]:
        return await fund.get_transactions(
            actor=user, community_id=community_id, period=period, limit=limit, offset=offset
        )

    @post("/welfare-fund/disbursements", status_code=201)
    async def request_disbursement(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        community_id: FromPath[UUID],
        data: JSONBody[DisbursementIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: fund.request_disbursement(actor=user, community_id=community_id, disbursement_in=data),
        )

    @get("/welfare-fund/disbursements")
    async def disbursements(
        self,
        user: Caller,
        community_id: FromPath[UUID],
        status: Annotated[str | None, QueryParameter(pattern="^(requested|approved|rejected)$")] = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[DisbursementOut]:
        return await fund.get_disbursements(
            actor=user, community_id=community_id, status=status, limit=limit, offset=offset
        )

    @get("/welfare-fund/disclosure", public=True)
    async def disclosure(self, community_id: FromPath[UUID], months: Months = 12) -> DisclosureOut:
        return await reports.disclosure(community_id=community_id, months=months)

    @post("/settlements", status_code=202)
    async def settle(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        community_id: FromPath[UUID],
        data: JSONBody[SettlementIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[Any]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            status_code=202,
            run=lambda: settlement.request(actor=user, community_id=community_id, period=data.period),
        )

    @get("/settlements")
    async def settlements(
        self,
        user: Caller,
        community_id: FromPath[UUID],
        limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
        offset: Offset = 0,
    ) -> list[SettlementRunOut]:
        return await settlement.get_all(actor=user, community_id=community_id, limit=limit, offset=offset)

    @get("/reports/welfare")
    async def report(self, user: Caller, community_id: FromPath[UUID], period: Period) -> WelfareReportOut:
        return await reports.welfare_report(actor=user, community_id=community_id, period=period)

    @get("/reports/welfare.csv", media_type=CSV)
    async def report_csv(self, user: Caller, community_id: FromPath[UUID], period: Period) -> Response[str]:
        out = await reports.welfare_report(actor=user, community_id=community_id, period=period)
        return Response(
            reports.report_csv(out),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="welfare-{period}.csv"'},
        )

    @get("/reports/welfare/chart.svg", media_type=SVG)
    async def report_chart(self, user: Caller, community_id: FromPath[UUID], months: Months = 12) -> Response[str]:
        svg = await reports.chart_svg(actor=user, community_id=community_id, months=months)
        return Response(svg, media_type=SVG)

    @post("/budget-rounds", status_code=201)
    async def create_round(
        self, user: Caller, community_id: FromPath[UUID], data: JSONBody[BudgetRoundIn]
    ) -> BudgetRoundOut:
        async with db.unit_of_work():
            return await budgeting.create_round(actor=user, community_id=community_id, round_in=data)

    @get("/budget-rounds")
    async def rounds(self, user: Caller, community_id: FromPath[UUID]) -> list[BudgetRoundOut]:
        return await budgeting.get_all(actor=user, community_id=community_id)


class SettlementController(Controller):
    path = "/settlements"
    tags = ["welfare fund"]

    @get("/{run_id:uuid}")
    async def run_status(self, user: Caller, run_id: FromPath[UUID]) -> SettlementRunOut:
        return await settlement.get(actor=user, run_id=run_id)


class StatementController(Controller):
    path = "/partners/{partner_id:uuid}/statements"
    tags = ["welfare fund"]

    @get("/{period:str}")
    async def statement(self, user: Caller, partner_id: FromPath[UUID], period: FromPath[str]) -> StatementOut:
        return await settlement.statement(actor=user, partner_id=partner_id, period=period)

    @get("/{period:str}/csv", media_type=CSV)
    async def statement_csv(self, user: Caller, partner_id: FromPath[UUID], period: FromPath[str]) -> Response[str]:
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
    async def disbursement(self, user: Caller, disbursement_id: FromPath[UUID]) -> DisbursementOut:
        return await fund.get_disbursement(actor=user, disbursement_id=disbursement_id)

    @post("/{disbursement_id:uuid}/approve", status_code=200)
    async def approve(
        self,
        user: Caller,
        disbursement_id: FromPath[UUID],
        data: JSONBody[DecisionIn | None] = None,
    ) -> DisbursementOut:
        async with db.unit_of_work():
            return await fund.approve_disbursement(
                actor=user, disbursement_id=disbursement_id, decision_in=data or DecisionIn()
            )

    @post("/{disbursement_id:uuid}/reject", status_code=200)
    async def reject(
        self,
        user: Caller,
        disbursement_id: FromPath[UUID],
        data: JSONBody[DecisionIn | None] = None,
    ) -> DisbursementOut:
        async with db.unit_of_work():
            return await fund.reject_disbursement(
                actor=user, disbursement_id=disbursement_id, decision_in=data or DecisionIn()
            )


class TransactionController(Controller):
    path = "/welfare-transactions"
    tags = ["welfare fund"]

    @post("/{transaction_id:uuid}/reverse", status_code=201)
    async def reverse(self, user: Caller, transaction_id: FromPath[UUID], data: JSONBody[ReversalIn]) -> TransactionOut:
        async with db.unit_of_work():
            return await fund.reverse_transaction(actor=user, transaction_id=transaction_id, reversal_in=data)


class BudgetController(Controller):
    path = "/budget-rounds/{round_id:uuid}"
    tags = ["participatory budgeting"]

    @get("/")
    async def budget_round(self, user: Caller, round_id: FromPath[UUID]) -> BudgetRoundOut:
        return await budgeting.get(actor=user, round_id=round_id)

    @post("/proposals", status_code=201)
    async def propose(
        self, user: Caller, round_id: FromPath[UUID], data: JSONBody[BudgetProposalIn]
    ) -> BudgetProposalOut:
        async with db.unit_of_work():
            return await budgeting.propose(actor=user, round_id=round_id, proposal_in=data)

    @post("/voting", status_code=200)
    async def open_voting(self, user: Caller, round_id: FromPath[UUID]) -> BudgetRoundOut:
        async with db.unit_of_work():
            return await budgeting.open_voting(actor=user, round_id=round_id)

    @post("/votes", status_code=201)
    async def vote(self, user: Caller, round_id: FromPath[UUID], data: JSONBody[VoteIn]) -> VoteOut:
        async with db.unit_of_work():
            return await budgeting.vote(actor=user, round_id=round_id, vote_in=data)

    @post("/close", status_code=200)
    async def close(self, user: Caller, round_id: FromPath[UUID]) -> BudgetRoundOut:
        async with db.unit_of_work():
            return await budgeting.close(actor=user, round_id=round_id)


class BudgetProposalController(Controller):
    path = "/budget-proposals/{proposal_id:uuid}"
    tags = ["participatory budgeting"]

    @post("/shortlist", status_code=200)
    async def shortlist(self, user: Caller, proposal_id: FromPath[UUID]) -> BudgetProposalOut:
        async with db.unit_of_work():
            return await budgeting.shortlist(actor=user, proposal_id=proposal_id)

    @post("/reject", status_code=200)
    async def reject(self, user: Caller, proposal_id: FromPath[UUID]) -> BudgetProposalOut:
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
