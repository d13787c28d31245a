"""Residents find a service, see its times and places, book it knowing what they will pay, and manage their
bookings and places in line. Proxy booking (代办) uses the same pages with `resident_id`, visibly marked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from uuid import UUID, uuid4

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Template

from console import web
from linli import db
from linli.auth.security import CurrentUser
from linli.errors import DomainError, NotFound
from marketplace.errors import RESIDENT_NOT_FOUND
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
    left_waitlist="已不再排队候补。",
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
# Which form field a booking refusal is about (everything else is said above the form): too many places asked
# for is about the number of places.
_BOOKING_FIELDS = {"quantity_exceeds_capacity": "quantity", "validation_error": "quantity", "slot_full": "quantity"}

Query = Annotated[str | None, QueryParameter(max_length=100)]
Quantity = Annotated[str | None, QueryParameter(max_length=10)]


async def _acting_for(viewer: CurrentUser, resident_id: UUID | None, community_id: UUID) -> dict[str, Any] | None:
    """The resident a proxy page acts for, checked by the proxy rule itself (403/404 otherwise)."""
    if resident_id is None or resident_id == viewer.id:
        return None
    await access.require_proxy(viewer, community_id=community_id, resident_id=resident_id)
    names = dict(await access.proxy_residents(actor=viewer, community_id=community_id))
    return {"id": resident_id, "name": names.get(resident_id, "")}


def _booking_in(
    request: Request[Any, Any, Any], slot_id: UUID, data: dict[str, Any]
) -> tuple[BookingIn, dict[str, str]]:
    """The booking a form asks for; or, when its number of places is not one the API takes, one place for the
    SAME resident with the errors to show next to the field, so a proxy's typo keeps the page theirs (their
    banner, their price) instead of quietly turning into a booking for the staff member."""
    try:
        return web.parse(request, BookingIn, web.blank_to_none({**data, "slot_id": str(slot_id)})), {}
    except web.FormErrors as bad:
        if "resident_id" in bad.errors:  # only a tampered form sends a resident id that is no id
            raise NotFound("no such resident", code=RESIDENT_NOT_FOUND) from None
        resident_id = data.get("resident_id") or None
        return BookingIn(slot_id=slot_id, quantity=1, resident_id=resident_id), bad.errors


async def _offering_titles(viewer: CurrentUser, offering_ids: set[UUID]) -> dict[UUID, OfferingOut]:
    found: dict[UUID, OfferingOut] = {}
    for offering_id in offering_ids:
        try:
            found[offering_id] = await offerings.get_visible(actor=viewer, offering_id=offering_id)
        except DomainError:
            continue  # an offering since archived: the booking still shows, without its title
    return found


async def _bookings_page(
    request: Request[Any, Any, Any],
    viewer: CurrentUser,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    mine = await bookings.get_mine(actor=viewer, status=None, limit=50, offset=0)
    waiting = []
    for entry in await waitlist.get_waiting_mine(actor=viewer):
        try:
            waiting.append((entry, await scheduling.get_visible_slot(actor=viewer, slot_id=entry.slot_id)))
        except DomainError:
            continue  # its offering was withdrawn: nothing to wait for any more
    offering_ids = {b.offering_id for b in mine.items} | {slot.offering_id for _entry, slot in waiting}
    return web.page(
        request,
        "mine/bookings.html",
        viewer=viewer,
        bookings=mine.items,
        waiting=waiting,
        titles=await _offering_titles(viewer, offering_ids),
        status_words=STATUS_WORDS,
        errors=errors or {},
        status_code=status_code,
    )


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
        """Search as you type (HTMX swaps in the results fragment) or with the button: Chinese, pinyin or
        initials (axst)."""
        acting_for = await _acting_for(viewer, resident_id, community_id) if community_id else None
        found = await catalog.search(
            query=catalog.CatalogQuery(
                q=(q or "").strip() or None,
                category=category or None,
                community_id=community_id,
                limit=30,
            )
        )
        # Typing asks for the results only; a reload or the back button (htmx's history restore) needs the page.
        fragment = web.is_htmx(request) and request.headers.get("hx-history-restore-request") != "true"
        return web.page(
            request,
            "mine/_results.html" if fragment else "mine/catalog.html",
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
        return web.page(
            request,
            "mine/offering.html",
            viewer=viewer,
            offering=item,
            slots=slots,
            acting_for=acting_for,
            waitlist_key=uuid4().hex,  # one per page view, made per slot in the template
        )

    async def _confirm_page(
        self,
        request: Request[Any, Any, Any],
        viewer: CurrentUser,
        booking_in: BookingIn,
        *,
        errors: dict[str, str] | None = None,
        repriced: bool = False,
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
            repriced=repriced,
            values={"quantity": booking_in.quantity, "resident_id": booking_in.resident_id or ""},
            errors=errors or {},
            idempotency_key=uuid4().hex,
            waitlist_key=uuid4().hex,
            status_code=status_code,
        )

    @get("/slots/{slot_id:uuid}/book")
    async def book_form(
        self,
        request: Request[Any, Any, Any],
        viewer: web.Viewer,
        slot_id: FromPath[UUID],
        quantity: Quantity = None,
        resident_id: FromQuery[UUID | None] = None,
    ) -> Template:
        """Price, subsidy and what the resident pays, before they press 确认预约 (also the fragment HTMX swaps
        in when the number of places changes)."""
        booking_in, errors = _booking_in(
            request, slot_id, {"quantity": quantity or "1", "resident_id": str(resident_id or "")}
        )
        return await self._confirm_page(request, viewer, booking_in, errors=errors, status_code=400 if errors else 200)

    @post("/slots/{slot_id:uuid}/book")
    async def book(self, request: Request[Any, Any, Any], viewer: web.Viewer, slot_id: FromPath[UUID]) -> Response[Any]:
        data = await web.form_of(request)
        key = web.form_key(data)
        quoted = data.pop("quoted_quantity", None)
        recalculate = data.pop("recalculate", None)
        booking_in, errors = _booking_in(request, slot_id, data)
        if errors:
            return await self._confirm_page(request, viewer, booking_in, errors=errors, status_code=400)
        if recalculate or (quoted is not None and quoted != str(booking_in.quantity)):
            # The number of places changed after the price was shown: show the new price, book nothing yet.
            return await self._confirm_page(request, viewer, booking_in, repriced=not recalculate)
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
            return web.page(
                request,
                "mine/problem.html",
                viewer=viewer,
                errors=web.domain_errors(request, exc),
                status_code=exc.status_code,
            )
        return web.redirect_with("/bookings", "waitlisted")

    @post("/slots/{slot_id:uuid}/waitlist/leave")
    async def leave_waitlist(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, slot_id: FromPath[UUID]
    ) -> Response[Any]:
        return await self._action(
            request, viewer, str(slot_id), lambda: waitlist.leave(actor=viewer, slot_id=slot_id), "left_waitlist"
        )

    @get("/bookings")
    async def my_bookings(self, request: Request[Any, Any, Any], viewer: web.Viewer) -> Template:
        """我的预约: upcoming and past, with cancel, confirm for a place held for me, and my places in line."""
        return await _bookings_page(request, viewer)

    @post("/bookings/{booking_id:uuid}/cancel")
    async def cancel(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, booking_id: FromPath[UUID]
    ) -> Response[Any]:
        data = await web.form_of(request)
        return await self._action(
            request,
            viewer,
            str(booking_id),
            lambda: bookings.cancel(
                actor=viewer, booking_id=booking_id, reason=web.parse(request, CancelIn, data).reason
            ),
            "cancelled",
        )

    @post("/bookings/{booking_id:uuid}/confirm")
    async def confirm(
        self, request: Request[Any, Any, Any], viewer: web.Viewer, booking_id: FromPath[UUID]
    ) -> Response[Any]:
        return await self._action(
            request, viewer, str(booking_id), lambda: holds.confirm(actor=viewer, booking_id=booking_id), "confirmed"
        )

    async def _action(
        self,
        request: Request[Any, Any, Any],
        viewer: CurrentUser,
        item: str,
        run: Callable[[], Awaitable[Any]],
        notice: str,
    ) -> Response[Any]:
        """A button on 我的预约; a refusal is shown on that booking (or place in line), in the API's words."""
        try:
            async with db.unit_of_work():
                await run()
        except web.FormErrors as bad:
            errors = bad.errors
        except DomainError as exc:
            errors = {item: web.domain_errors(request, exc)["__all__"]}
        else:
            return web.redirect_with("/bookings", notice)
        return await _bookings_page(request, viewer, errors=errors, status_code=409)
