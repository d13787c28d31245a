"""Residents find a service, see its times and places, book it knowing what they will pay, and manage their
bookings. Proxy booking (代办) uses the same pages with `resident_id`, visibly marked."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from console import web
from linli import db
from linli.auth.security import CurrentUser
from linli.errors import DomainError
from marketplace.schemas import BookingIn, BookingOut, BookingQuoteOut, CancelIn, WaitlistIn
from marketplace.services import access, bookings, holds, waitlist
from partners import catalog, offerings
from partners.schemas import OfferingOut
from scheduling import services as scheduling

web.notices(
    booked="预约成功,请按时前往。",
    booked_for="已为居民代办预约,居民会收到短信。",
    cancelled="预约已取消。",
    confirmed="候补名额已确认,预约成功。",
    waitlisted="已排队候补。有空位时会通知您。",
)

CATEGORIES = [
    ("", "全部"),
    ("meal", "助餐"),
    ("childcare", "托育"),
    ("elderly_daycare", "日间照料"),
    ("housekeeping", "家政"),
    ("repair", "维修"),
    ("health", "健康"),
    ("parcel", "快递代收"),
    ("other", "其他"),
]
STATUS_WORDS = {
    "held": "候补名额待确认",
    "confirmed": "已预约",
    "accepted": "已接单",
    "completed": "已完成",
    "cancelled": "已取消",
    "no_show": "未到",
}
# Which form field a booking refusal is about (everything else is said above the form).
_BOOKING_FIELDS = {"quantity_exceeds_capacity": "quantity", "validation_error": "quantity"}

Query = Annotated[str | None, QueryParameter(max_length=100)]


async def _acting_for(viewer: CurrentUser, resident_id: UUID | None, community_id: UUID) -> dict[str, Any] | None:
    """The resident a proxy page acts for, checked by the proxy rule itself (403/404 otherwise)."""
    if resident_id is None or resident_id == viewer.id:
        return None
    await access.require_proxy(viewer, community_id=community_id, resident_id=resident_id)
    names = dict(await access.proxy_residents(actor=viewer, community_id=community_id))
    return {"id": resident_id, "name": names.get(resident_id, "")}


async def _offering_titles(viewer: CurrentUser, items: list[BookingOut]) -> dict[UUID, OfferingOut]:
    found: dict[UUID, OfferingOut] = {}
    for offering_id in {b.offering_id for b in items}:
        try:
            found[offering_id] = await offerings.get_visible(actor=viewer, offering_id=offering_id)
        except DomainError:
            continue  # an offering since archived: the booking still shows, without its title
    return found


class CatalogPages(Controller):
    path = "/"

    @get("/catalog")
    async def catalog(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        q: Query = None,
        category: Annotated[str | None, QueryParameter(max_length=30)] = None,
        community_id: FromQuery[UUID | None] = None,
        resident_id: FromQuery[UUID | None] = None,
    ) -> Template:
        """Search as you type (HTMX swaps the results) or with the button: Chinese, pinyin or initials (axst)."""
        acting_for = await _acting_for(viewer, resident_id, community_id) if community_id else None
        found = await catalog.search(
            query=catalog.CatalogQuery(
                q=(q or "").strip() or None,
                category=category or None,
                community_id=community_id,
                limit=30,
            )
        )
        return web.page(
            request,
            "mine/catalog.html",
            viewer=viewer,
            found=found,
            values={"q": q or "", "category": category or ""},
            categories=CATEGORIES,
            acting_for=acting_for,
            community_id=community_id,
        )

    @get("/offerings/{offering_id:uuid}")
    async def offering(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        offering_id: FromPath[UUID],
        resident_id: FromQuery[UUID | None] = None,
    ) -> Template:
        item = await offerings.get_visible(actor=viewer, offering_id=offering_id)
        acting_for = await _acting_for(viewer, resident_id, item.community_id)
        slots = await scheduling.get_slots(actor=viewer, offering_id=offering_id, from_=None, to=None)
        return web.page(request, "mine/offering.html", viewer=viewer, offering=item, slots=slots, acting_for=acting_for)

    async def _confirm_page(
        self,
        request: Request[Any, Any, Any],
        viewer: CurrentUser,
        booking_in: BookingIn,
        *,
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        quote: BookingQuoteOut | None = None
        offering: OfferingOut | None = None
        acting_for = None
        try:
            quote = await bookings.preview(actor=viewer, booking_in=booking_in)
            offering = await offerings.get_visible(actor=viewer, offering_id=quote.offering_id)
            acting_for = await _acting_for(viewer, booking_in.resident_id, offering.community_id)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            errors = {**web.domain_errors(request, exc, _BOOKING_FIELDS), **(errors or {})}
            status_code = exc.status_code
        return web.page(
            request,
            "mine/book.html",
            viewer=viewer,
            slot_id=booking_in.slot_id,
            quote=quote,
            offering=offering,
            acting_for=acting_for,
            values={"quantity": booking_in.quantity, "resident_id": booking_in.resident_id or ""},
            errors=errors or {},
            idempotency_key=uuid4().hex,
            status_code=status_code,
        )

    @get("/slots/{slot_id:uuid}/book")
    async def book_form(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        slot_id: FromPath[UUID],
        quantity: Annotated[int, QueryParameter(ge=1, le=20)] = 1,
        resident_id: FromQuery[UUID | None] = None,
    ) -> Template:
        """Price, subsidy and what the resident pays, before they press 确认预约."""
        return await self._confirm_page(
            request, viewer, BookingIn(slot_id=slot_id, quantity=quantity, resident_id=resident_id)
        )

    @post("/slots/{slot_id:uuid}/book")
    async def book(self, request: Request[Any, Any, Any], viewer: web.Viewer, slot_id: FromPath[UUID]) -> Response[Any]:
        data = await web.form_of(request)
        key = web.form_key(data)
        try:
            booking_in = web.parse(request, BookingIn, web.blank_to_none({**data, "slot_id": str(slot_id)}))
        except web.FormErrors as bad:
            fallback = BookingIn(slot_id=slot_id, quantity=1)
            return await self._confirm_page(request, viewer, fallback, errors=bad.errors, status_code=400)
        try:
            # A double tap sends the same hidden key twice: the second gets the first booking back.
            answer = await web.create_once(
                viewer=viewer,
                key=key,
                path=f"/slots/{slot_id}/book",
                model=booking_in,
                status_code=201,
                run=lambda: bookings.create(actor=viewer, booking_in=booking_in),
            )
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            return await self._confirm_page(
                request,
                viewer,
                booking_in,
                errors=web.domain_errors(request, exc, _BOOKING_FIELDS),
                status_code=exc.status_code,
            )
        booking = BookingOut.model_validate_json(answer.content)
        if booking.resident_id != viewer.id:
            return web.redirect_with(f"/proxy/{booking.community_id}/{booking.resident_id}", "booked_for")
        return web.redirect_with("/bookings", "booked")

    @post("/slots/{slot_id:uuid}/waitlist")
    async def join_waitlist(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, slot_id: FromPath[UUID]
    ) -> Response[Any]:
        data = await web.form_of(request)
        key = web.form_key(data)
        try:
            waitlist_in = web.parse(request, WaitlistIn, {"quantity": data.get("quantity") or 1})
            await web.create_once(
                viewer=viewer,
                key=key,
                path=f"/slots/{slot_id}/waitlist",
                model=waitlist_in,
                status_code=201,
                run=lambda: waitlist.join(actor=viewer, slot_id=slot_id, waitlist_in=waitlist_in),
            )
        except web.FormErrors as bad:
            return web.page(request, "mine/problem.html", viewer=viewer, errors=bad.errors, status_code=400)
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            return web.page(
                request,
                "mine/problem.html",
                viewer=viewer,
                errors=web.domain_errors(request, exc),
                status_code=exc.status_code,
            )
        return web.redirect_with("/bookings", "waitlisted")

    @get("/bookings")
    async def my_bookings(self, request: Request[Any, Any, Any], viewer: web.Viewer) -> Template:
        """我的预约: upcoming and past, with cancel, and confirm for a waitlist place held for me."""
        mine = await bookings.get_mine(actor=viewer, status=None, limit=50, offset=0)
        return web.page(
            request,
            "mine/bookings.html",
            viewer=viewer,
            bookings=mine.items,
            titles=await _offering_titles(viewer, mine.items),
            status_words=STATUS_WORDS,
        )

    @post("/bookings/{booking_id:uuid}/cancel")
    async def cancel(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, booking_id: FromPath[UUID]
    ) -> Response[Any]:
        data = await web.form_of(request)
        return await self._booking_action(
            request,
            viewer,
            booking_id,
            lambda: bookings.cancel(
                actor=viewer, booking_id=booking_id, reason=web.parse(request, CancelIn, data).reason
            ),
            "cancelled",
        )

    @post("/bookings/{booking_id:uuid}/confirm")
    async def confirm(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, booking_id: FromPath[UUID]
    ) -> Response[Any]:
        return await self._booking_action(
            request, viewer, booking_id, lambda: holds.confirm(actor=viewer, booking_id=booking_id), "confirmed"
        )

    async def _booking_action(
        self, request: Request[Any, Any, Any], viewer: CurrentUser, booking_id: UUID, run: Any, notice: str
    ) -> Response[Any]:
        try:
            async with db.unit_of_work():
                await run()
        except web.FormErrors as bad:
            errors = bad.errors
        except DomainError as exc:
            if exc.status_code in (403, 404):
                raise
            errors = {str(booking_id): web.domain_errors(request, exc)["__all__"]}
        else:
            return web.redirect_with("/bookings", notice)
        mine = await bookings.get_mine(actor=viewer, status=None, limit=50, offset=0)
        return web.page(
            request,
            "mine/bookings.html",
            viewer=viewer,
            bookings=mine.items,
            titles=await _offering_titles(viewer, mine.items),
            status_words=STATUS_WORDS,
            errors=errors,
            status_code=409,
        )
