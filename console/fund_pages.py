"""The community desk's money: the welfare fund with its charts and deposits, settling a month with its
progress in sight, and the public disclosure page anyone may read."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from community import services as community
from console import web
from linli.errors import DomainError
from welfare.schemas import DepositIn, DisclosureOut, SettlementIn, SettlementRunOut, WelfareReportOut
from welfare.services import fund, reports, settlement

web.notices(deposited="款项已入账。", settling="已开始结算,完成前可以离开本页。")

_RUN_WORDS = {"requested": "排队中", "running": "结算中", "completed": "已完成", "failed": "失败"}


def _yuan_axis(values: list[int]) -> list[float]:
    return [round(v / 100, 2) for v in values]


def _months_chart(disclosure: DisclosureOut, en: bool) -> str:
    """Monthly inflows (returned shares, deposits) against outflows (subsidies, relief, projects), in yuan."""
    months = list(reversed(disclosure.months))
    words = (
        ("Shares returned", "Deposits", "Subsidies", "Relief", "Projects", "yuan")
        if en
        else ("收益反哺", "拨款捐赠", "补贴", "救助", "微实事", "元")
    )
    series = [
        (words[0], [m.returned_fen for m in months], "in"),
        (words[1], [m.deposits_fen for m in months], "in"),
        (words[2], [-m.subsidies_fen for m in months], "out"),
        (words[3], [-m.relief_fen for m in months], "out"),
        (words[4], [-m.projects_fen for m in months], "out"),
    ]
    option = {
        "animation": False,
        "textStyle": {"fontSize": 16},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0, "textStyle": {"fontSize": 16}},
        "grid": {"left": 60, "right": 16, "top": 64, "bottom": 40},
        "xAxis": {"type": "category", "data": [m.period for m in months], "axisLabel": {"fontSize": 14}},
        "yAxis": {"type": "value", "name": words[5], "axisLabel": {"fontSize": 14}},
        "series": [{"name": n, "type": "bar", "stack": s, "data": _yuan_axis(v)} for n, v, s in series],
    }
    return json.dumps(option, ensure_ascii=False)


def _shares_chart(report: WelfareReportOut, en: bool) -> str:
    """Each partner's returned share of the month, in yuan."""
    rows = sorted(report.partners, key=lambda r: r.share_fen)
    option = {
        "animation": False,
        "textStyle": {"fontSize": 16},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 140, "right": 24, "top": 16, "bottom": 32},
        "xAxis": {"type": "value", "name": "yuan" if en else "元", "axisLabel": {"fontSize": 14}},
        "yAxis": {"type": "category", "data": [r.name for r in rows], "axisLabel": {"fontSize": 14}},
        "series": [{"type": "bar", "data": _yuan_axis([r.share_fen for r in rows]), "label": {"show": True}}],
    }
    return json.dumps(option, ensure_ascii=False)


async def _this_month(community_id: UUID) -> str:
    tz = await community.timezone_of(community_id=community_id)
    return datetime.now(ZoneInfo(tz)).strftime("%Y-%m")


class FundPages(Controller):
    path = "/"

    @get("/staff/{community_id:uuid}")
    async def desk(self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]) -> Template:
        summary = await fund.get(actor=viewer, community_id=community_id)  # staff of this community only
        return web.page(
            request,
            "desk/start.html",
            viewer=viewer,
            community=await community.get(community_id=community_id),
            fund=summary,
            runs=await settlement.get_all(actor=viewer, community_id=community_id, limit=3),
        )

    async def _fund_page(
        self,
        request: Request[Any, Any, Any],
        viewer: Any,
        community_id: UUID,
        *,
        period: str | None = None,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        summary = await fund.get(actor=viewer, community_id=community_id)
        period = period or await _this_month(community_id)
        report = await reports.welfare_report(actor=viewer, community_id=community_id, period=period)
        disclosure = await reports.disclosure(community_id=community_id, months=12)
        en = web.is_english(request)
        return web.page(
            request,
            "desk/fund.html",
            viewer=viewer,
            community=await community.get(community_id=community_id),
            fund=summary,
            report=report,
            period=period,
            months_chart=_months_chart(disclosure, en),
            shares_chart=_shares_chart(report, en),
            errors=errors or {},
            values=values or {},
            idempotency_key=uuid4().hex,
            status_code=status_code,
        )

    @get("/staff/{community_id:uuid}/fund")
    async def fund_page(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Template:
        """Balance, monthly inflows and outflows, each partner's share of a month, and a deposit form."""
        period = request.query_params.get("period")
        try:
            return await self._fund_page(request, viewer, community_id, period=period)
        except DomainError as exc:
            if exc.status_code in (403, 404) or period is None:
                raise
            return await self._fund_page(
                request, viewer, community_id, errors={"period": web.domain_errors(request, exc)["__all__"]}
            )

    @post("/staff/{community_id:uuid}/fund/deposits")
    async def deposit(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Response[Any]:
        data = await web.form_of(request)
        key = web.form_key(data)
        await fund.get(actor=viewer, community_id=community_id)  # refuse outsiders before reading their input
        try:
            yuan = str(data.get("amount_yuan", "")).strip()
            amount = web.money("amount_fen", yuan)  # empty: "please fill this in"
            deposit_in = web.parse(request, DepositIn, {**data, **amount})
            await web.create_once(
                viewer=viewer,
                key=key,
                path=f"/staff/{community_id}/fund/deposits",
                model=deposit_in,
                status_code=201,
                run=lambda: fund.create_deposit(actor=viewer, community_id=community_id, deposit_in=deposit_in),
            )
        except web.FormErrors as bad:
            errors = {("amount_yuan" if k == "amount_fen" else k): v for k, v in bad.errors.items()}
        except DomainError as exc:
            errors = web.domain_errors(request, exc, {"validation_error": "amount_yuan"})
        else:
            return web.redirect_with(f"/staff/{community_id}/fund", "deposited")
        return await self._fund_page(request, viewer, community_id, errors=errors, values=data, status_code=400)

    @get("/staff/{community_id:uuid}/settlement")
    async def settlement_page(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Template:
        runs = await settlement.get_all(actor=viewer, community_id=community_id, limit=12)
        return web.page(
            request,
            "desk/settlement.html",
            viewer=viewer,
            community=await community.get(community_id=community_id),
            runs=runs,
            run_words=_RUN_WORDS,
            values={"period": await _this_month(community_id)},
            idempotency_key=uuid4().hex,
        )

    @post("/staff/{community_id:uuid}/settlement")
    async def settle(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID]
    ) -> Response[Any]:
        data = await web.form_of(request)
        key = web.form_key(data)
        await settlement.get_all(actor=viewer, community_id=community_id, limit=1)  # staff of this community
        try:
            settlement_in = web.parse(request, SettlementIn, data)
            answer = await web.create_once(
                viewer=viewer,
                key=key,
                path=f"/staff/{community_id}/settlement",
                model=settlement_in,
                status_code=202,
                run=lambda: settlement.request(actor=viewer, community_id=community_id, period=settlement_in.period),
            )
        except web.FormErrors as bad:
            errors = bad.errors
        except DomainError as exc:
            errors = web.domain_errors(request, exc, {"validation_error": "period", "period_in_future": "period"})
        else:
            run = SettlementRunOut.model_validate_json(answer.content)
            return web.redirect_with(f"/staff/{community_id}/settlement/{run.id}", "settling")
        runs = await settlement.get_all(actor=viewer, community_id=community_id, limit=12)
        return web.page(
            request,
            "desk/settlement.html",
            viewer=viewer,
            community=await community.get(community_id=community_id),
            runs=runs,
            run_words=_RUN_WORDS,
            values=data,
            errors=errors,
            idempotency_key=uuid4().hex,
            status_code=400,
        )

    @get("/staff/{community_id:uuid}/settlement/{run_id:uuid}")
    async def run_page(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, community_id: FromPath[UUID], run_id: FromPath[UUID]
    ) -> Template:
        """A run's progress: the status part reloads itself every 2 s (HTMX) until the run is done."""
        run = await settlement.get(actor=viewer, run_id=run_id)
        if run.community_id != community_id:
            raise DomainError("no such settlement run", code="not_found")
        template = "desk/run_status.html" if web.is_htmx(request) else "desk/run.html"
        report = None
        if run.status == "completed":
            report = await reports.welfare_report(actor=viewer, community_id=community_id, period=run.period)
        return web.page(
            request,
            template,
            viewer=viewer,
            community=await community.get(community_id=community_id),
            run=run,
            report=report,
            run_words=_RUN_WORDS,
        )

    @get("/public/{community_id:uuid}")
    async def disclosure(self, request: Request[Any, Any, Any], community_id: FromPath[UUID]) -> Template:
        """公示: what the fund received and spent each month; amounts and purposes, never a person."""
        public = await reports.disclosure(community_id=community_id, months=12)
        return web.page(
            request,
            "desk/public.html",
            viewer=await web.viewer_or_none(request),
            public=public,
            months_chart=_months_chart(public, web.is_english(request)),
        )
