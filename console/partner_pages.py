"""The partner's desk: today's bookings to serve (完成 / 未到) and the months' revenue and returned share."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from community import services as community
from console import web
from linli import db
from linli.errors import DomainError
from marketplace.services import bookings
from partners import offerings
from partners import services as partners
from welfare.services import settlement

web.notices(served="已标记为完成。", absent="已标记为未到。")

_ACTIONS = {"complete": (bookings.complete, "served"), "no-show": (bookings.no_show, "absent")}
# Months shown on the revenue page, this one included.
REVENUE_MONTHS = 6


def _months_back(today: date, count: int) -> list[str]:
    months, year, month = [], today.year, today.month
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(months))


async def _today(partner_community: UUID) -> tuple[date, str]:
    tz = await community.timezone_of(community_id=partner_community)
    return datetime.now(ZoneInfo(tz)).date(), tz


class PartnerPages(Controller):
    path = "/partner/{partner_id:uuid}"

    async def _desk(
        self, request: Request[Any, Any, Any], viewer: Any, partner_id: UUID, *, errors: dict[str, str] | None = None
    ) -> Template:
        listed = await bookings.get_for_partner(
            actor=viewer, partner_id=partner_id, status=None, slot_id=None, limit=200, offset=0
        )
        partner = await partners.get(partner_id=partner_id)
        today, tz = await _today(partner.community_id)
        titles = {o.id: o.title for o in await offerings.get_all_of_partner(actor=viewer, partner_id=partner_id)}

        def day_of(b: Any) -> date | None:
            return b.slot_starts_at.astimezone(ZoneInfo(tz)).date() if b.slot_starts_at else None

        todays = sorted(
            (b for b in listed.items if day_of(b) == today and b.status in ("confirmed", "accepted", "completed")),
            key=lambda b: (b.slot_starts_at, b.created_at),
        )
        coming = sorted(
            (b for b in listed.items if (day_of(b) or today) > today and b.status in ("confirmed", "accepted")),
            key=lambda b: (b.slot_starts_at, b.created_at),
        )[:50]
        return web.page(
            request,
            "desk/partner.html",
            viewer=viewer,
            partner=partner,
            today=today,
            todays=todays,
            coming=coming,
            titles=titles,
            errors=errors or {},
            status_code=409 if errors else 200,
        )

    @get("/")
    async def desk(self, request: Request[Any, Any, Any], viewer: web.Viewer, partner_id: FromPath[UUID]) -> Template:
        """今日预约: today's bookings in time order, each with 完成 and 未到."""
        return await self._desk(request, viewer, partner_id)

    @post("/bookings/{booking_id:uuid}/{action:str}")
    async def act(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        partner_id: FromPath[UUID],
        booking_id: FromPath[UUID],
        action: FromPath[str],
    ) -> Response[Any]:
        found = _ACTIONS.get(action)
        if found is None:
            raise DomainError("no such action", code="not_found")
        run, notice = found
        await partners.require_partner_role(viewer, partner_id, "staff")
        booking = await bookings.get(actor=viewer, booking_id=booking_id)
        if booking.partner_id != partner_id:
            raise DomainError("no such booking", code="not_found")
        try:
            async with db.unit_of_work():
                await run(actor=viewer, booking_id=booking_id)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            return await self._desk(
                request, viewer, partner_id, errors={str(booking_id): web.domain_errors(request, exc)["__all__"]}
            )
        return web.redirect_with(f"/partner/{partner_id}", notice)

    @get("/revenue")
    async def revenue(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, partner_id: FromPath[UUID]
    ) -> Template:
        """Each month's completed bookings, revenue and the share returned to the welfare fund, with a chart."""
        partner = await partners.get(partner_id=partner_id)
        today, _tz = await _today(partner.community_id)
        statements = [
            await settlement.statement(actor=viewer, partner_id=partner_id, period=period)
            for period in _months_back(today, REVENUE_MONTHS)
        ]
        en = web.is_english(request)
        option = {
            "animation": False,
            "textStyle": {"fontSize": 16},
            "tooltip": {"trigger": "axis"},
            "legend": {"top": 0, "textStyle": {"fontSize": 16}},
            "grid": {"left": 64, "right": 16, "top": 56, "bottom": 36},
            "xAxis": {"type": "category", "data": [s.period for s in statements]},
            "yAxis": {"type": "value", "name": "yuan" if en else "元"},
            "series": [
                {"name": "Revenue" if en else "营业额", "type": "bar", "data": [s.gross_fen / 100 for s in statements]},
                {"name": "Share" if en else "反哺", "type": "bar", "data": [s.share_fen / 100 for s in statements]},
            ],
        }
        return web.page(
            request,
            "desk/revenue.html",
            viewer=viewer,
            partner=partner,
            statements=list(reversed(statements)),
            chart=json.dumps(option, ensure_ascii=False),
        )
