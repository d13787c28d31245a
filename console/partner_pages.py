"""The partner's desk: today's bookings to serve (完成 / 未到) and the months' revenue and returned share."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Template

from community import services as community
from community.priority import PRIORITY_GROUPS
from console import web
from linli import db
from linli.errors import DomainError
from marketplace.schemas import ComplaintHandleIn
from marketplace.services import bookings, feedback, orders
from partners import offerings
from partners import services as partners
from partners.schemas import OfferingIn, OfferingPatch
from welfare.services import settlement

web.notices(
    served="已标记为完成。",
    absent="已标记为未到。",
    offering_created="服务项目已保存为草稿,发布后居民才能看到。",
    offering_changed="服务项目状态已更新。",
    order_changed="订单状态已更新。",
    complaint_handled="已答复投诉,居民会收到通知。",
)

CATEGORY_WORDS = {
    "meal": "助餐",
    "childcare": "托育",
    "elderly_daycare": "日间照料",
    "housekeeping": "家政",
    "parcel": "快递代收",
    "repair": "维修",
    "health": "健康",
    "other": "其他",
}
OFFERING_WORDS = {"draft": "草稿", "published": "已发布", "paused": "已暂停", "archived": "已下架"}
OFFERING_ACTIONS = ("publish", "pause", "archive")
ORDER_ACTIONS = {"accept": orders.accept, "arrive": orders.arrive, "complete": orders.complete}

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
            return await self._desk(
                request, viewer, partner_id, errors={str(booking_id): web.domain_errors(request, exc)["__all__"]}
            )
        return web.redirect_with(f"/partner/{partner_id}", notice)

    # --- offerings -------------------------------------------------------------------------------------------

    async def _offerings_page(
        self,
        request: Request[Any, Any, Any],
        viewer: Any,
        partner_id: UUID,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        listed = await offerings.get_all_of_partner(actor=viewer, partner_id=partner_id)
        return web.page(
            request,
            "desk/offerings.html",
            viewer=viewer,
            partner=await partners.get(partner_id=partner_id),
            offerings=listed,
            words=OFFERING_WORDS,
            categories=list(CATEGORY_WORDS.items()),
            errors=errors or {},
            values=values or {"category": "meal"},
            idempotency_key=uuid4().hex,
            status_code=status_code,
        )

    @get("/offerings")
    async def offering_list(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, partner_id: FromPath[UUID]
    ) -> Template:
        """The partner's offerings in every state, with publish / pause / archive, and a form for a new one."""
        return await self._offerings_page(request, viewer, partner_id)

    @post("/offerings")
    async def create_offering(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, partner_id: FromPath[UUID]
    ) -> Response[Any]:
        data = await web.form_of(request)
        key = web.form_key(data)
        await offerings.get_all_of_partner(actor=viewer, partner_id=partner_id)  # the partner's staff only
        try:
            price = str(data.get("price_yuan", "")).strip()
            offering_in = web.parse(
                request,
                OfferingIn,
                {
                    "title": data.get("title", ""),
                    "category": data.get("category", ""),
                    "description": data.get("description", ""),
                    **web.money("price_fen", price),
                },
            )
            await web.create_once(
                viewer=viewer,
                key=key,
                path=f"/partner/{partner_id}/offerings",
                model=offering_in,
                status_code=201,
                run=lambda: offerings.create(actor=viewer, partner_id=partner_id, offering_in=offering_in),
            )
        except web.FormErrors as bad:
            errors = {("price_yuan" if k == "price_fen" else k): v for k, v in bad.errors.items()}
        except DomainError as exc:
            errors = web.domain_errors(request, exc)
        else:
            return web.redirect_with(f"/partner/{partner_id}/offerings", "offering_created")
        return await self._offerings_page(request, viewer, partner_id, errors=errors, values=data, status_code=400)

    async def _edit_page(
        self,
        request: Request[Any, Any, Any],
        viewer: Any,
        partner_id: UUID,
        offering: Any,
        *,
        errors: dict[str, str] | None = None,
        values: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> Template:
        current = {
            "title": offering.title,
            "description": offering.description,
            "price_yuan": f"{offering.price_fen / 100:.2f}",
            **{f"subsidy_{g}": f"{fen / 100:.2f}" for g, fen in offering.subsidies.items()},
        }
        return web.page(
            request,
            "desk/offering_edit.html",
            viewer=viewer,
            partner=await partners.get(partner_id=partner_id),
            offering=offering,
            groups=[(code, zh) for code, (zh, _en) in PRIORITY_GROUPS.items()],
            errors=errors or {},
            values=values or current,
            status_code=status_code,
        )

    @get("/offerings/{offering_id:uuid}/edit")
    async def edit_form(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        partner_id: FromPath[UUID],
        offering_id: FromPath[UUID],
    ) -> Template:
        """Name, description, price and the price each priority group pays (its subsidy)."""
        offering = await offerings.require_offering_role(viewer, offering_id, "admin")
        if offering.partner_id != partner_id:
            raise DomainError("no such offering here", code="not_found")
        return await self._edit_page(request, viewer, partner_id, offering)

    @post("/offerings/{offering_id:uuid}/edit")
    async def edit(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        partner_id: FromPath[UUID],
        offering_id: FromPath[UUID],
    ) -> Response[Any]:
        offering = await offerings.require_offering_role(viewer, offering_id, "admin")
        if offering.partner_id != partner_id:
            raise DomainError("no such offering here", code="not_found")
        data = await web.form_of(request)
        price = str(data.get("price_yuan", "")).strip()
        subsidies = {
            code: web.yuan_to_fen(str(data.get(f"subsidy_{code}", "")).strip())
            for code in PRIORITY_GROUPS
            if str(data.get(f"subsidy_{code}", "")).strip()
        }
        try:
            patch = web.parse(
                request,
                OfferingPatch,
                {
                    "title": data.get("title"),
                    "description": data.get("description", ""),
                    "subsidies": subsidies,
                    **web.money("price_fen", price),
                },
            )
            async with db.unit_of_work():
                await offerings.update(actor=viewer, offering_id=offering_id, patch=patch)
        except web.FormErrors as bad:
            errors = {("price_yuan" if k == "price_fen" else k): v for k, v in bad.errors.items()}
        except DomainError as exc:
            errors = web.domain_errors(request, exc)
        else:
            return web.redirect_with(f"/partner/{partner_id}/offerings", "offering_changed")
        return await self._edit_page(request, viewer, partner_id, offering, errors=errors, values=data, status_code=400)

    @post("/offerings/{offering_id:uuid}/{action:str}")
    async def offering_action(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        partner_id: FromPath[UUID],
        offering_id: FromPath[UUID],
        action: FromPath[str],
    ) -> Response[Any]:
        offering = await offerings.require_offering_role(viewer, offering_id, "staff")
        if action not in OFFERING_ACTIONS or offering.partner_id != partner_id:
            raise DomainError("no such offering here", code="not_found")
        try:
            async with db.unit_of_work():
                await offerings.transition(actor=viewer, offering_id=offering_id, action=action)
        except DomainError as exc:
            errors = {str(offering_id): web.domain_errors(request, exc)["__all__"]}
            return await self._offerings_page(request, viewer, partner_id, errors=errors, status_code=409)
        return web.redirect_with(f"/partner/{partner_id}/offerings", "offering_changed")

    # --- on-demand orders --------------------------------------------------------------------------------

    @get("/orders")
    async def order_list(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, partner_id: FromPath[UUID]
    ) -> Template:
        """Orders waiting to be accepted, reached or finished, each with the time left to its target. The list
        refreshes itself (HTMX, every 10 s) so a new order shows up without touching anything."""
        listed = await bookings.get_for_partner(
            actor=viewer, partner_id=partner_id, status=None, slot_id=None, limit=200, offset=0
        )
        active = [b for b in listed.items if b.kind == "order" and b.status in ("confirmed", "accepted")]
        open_orders = [await orders.get(actor=viewer, order_id=b.id) for b in active]
        deadlines = {
            o.id: (
                o.dispatched_at + timedelta(seconds=o.accept_target_seconds)
                if o.status == "confirmed"
                else (o.accepted_at or o.dispatched_at) + timedelta(seconds=o.arrive_target_seconds)
            )
            for o in open_orders
        }
        return web.page(
            request,
            "desk/orders_list.html" if web.is_htmx(request) else "desk/orders.html",
            viewer=viewer,
            partner=await partners.get(partner_id=partner_id),
            orders=sorted(open_orders, key=lambda o: o.dispatched_at),
            deadlines=deadlines,
        )

    @post("/orders/{order_id:uuid}/{action:str}")
    async def order_action(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        partner_id: FromPath[UUID],
        order_id: FromPath[UUID],
        action: FromPath[str],
    ) -> Response[Any]:
        run = ORDER_ACTIONS.get(action)
        order = await orders.get(actor=viewer, order_id=order_id)
        if run is None or order.partner_id != partner_id:
            raise DomainError("no such order here", code="not_found")
        try:
            async with db.unit_of_work():
                await run(actor=viewer, order_id=order_id)
        except DomainError as exc:
            return web.page(
                request,
                "mine/problem.html",
                viewer=viewer,
                errors=web.domain_errors(request, exc),
                status_code=exc.status_code,
            )
        return web.redirect_with(f"/partner/{partner_id}/orders", "order_changed")

    # --- reviews and complaints ------------------------------------------------------------------------------

    @get("/reviews")
    async def reviews(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, partner_id: FromPath[UUID]
    ) -> Template:
        listed = await feedback.get_partner_reviews(actor=viewer, partner_id=partner_id, limit=100, offset=0)
        complaints = await feedback.get_partner_complaints(
            actor=viewer, partner_id=partner_id, status=None, limit=100, offset=0
        )
        titles = {o.id: o.title for o in await offerings.get_all_of_partner(actor=viewer, partner_id=partner_id)}
        average = round(sum(r.rating for r in listed) / len(listed), 1) if listed else None
        return web.page(
            request,
            "desk/reviews.html",
            viewer=viewer,
            partner=await partners.get(partner_id=partner_id),
            reviews=listed,
            complaints=complaints,
            titles=titles,
            average=average,
        )

    @post("/complaints/{complaint_id:uuid}/handle")
    async def handle_complaint(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        partner_id: FromPath[UUID],
        complaint_id: FromPath[UUID],
    ) -> Response[Any]:
        """The partner answers a complaint in writing; the resident then says whether they are satisfied."""
        complaint = await feedback.get_complaint(actor=viewer, complaint_id=complaint_id)
        if complaint.partner_id != partner_id:
            raise DomainError("no such complaint here", code="not_found")
        try:
            handle_in = web.parse(request, ComplaintHandleIn, await web.form_of(request))
            async with db.unit_of_work():
                await feedback.handle(actor=viewer, complaint_id=complaint_id, handle_in=handle_in)
        except (web.FormErrors, DomainError) as exc:
            words = exc.errors if isinstance(exc, web.FormErrors) else web.domain_errors(request, exc)
            return web.page(request, "mine/problem.html", viewer=viewer, errors=words, status_code=400)
        return web.redirect_with(f"/partner/{partner_id}/reviews", "complaint_handled")

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
