"""HTTP endpoints of the marketplace: thin — parse, call one service in a unit of work, return a schema."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from linli import db
from linli.auth.security import Caller
from linli.idempotency import IdempotencyKey, create_once
from marketplace.schemas import (
    BookingIn,
    BookingOut,
    BookingPage,
    BookingQuoteOut,
    BookingStatus,
    CancelIn,
    ComplaintHandleIn,
    ComplaintIn,
    ComplaintOut,
    ComplaintPage,
    ComplaintResolveIn,
    ComplaintStatus,
    OrderIn,
    OrderOut,
    QualityReport,
    ReviewIn,
    ReviewOut,
    SlaReport,
    WaitlistIn,
    WaitlistOut,
)
from marketplace.services import bookings, feedback, holds, orders, reports, waitlist
from marketplace.sms_webhook import SmsWebhookController

PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"

Limit = Annotated[int, QueryParameter(ge=1, le=200)]
Offset = Annotated[int, QueryParameter(ge=0, le=100_000)]
Period = Annotated[str | None, QueryParameter(pattern=PERIOD)]


class BookingController(Controller):
    path = "/bookings"
    tags = ["bookings"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        data: JSONBody[BookingIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BookingOut]:
        """Book places of a slot (409 `slot_full`); `Idempotency-Key` makes retries safe."""
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: bookings.create(actor=user, booking_in=data),
        )

    @post("/quote", status_code=200)
    async def quote(self, user: Caller, data: JSONBody[BookingIn]) -> BookingQuoteOut:
        """What this booking would cost now (price, subsidy, payable), by the booking's own rules; nothing is
        reserved."""
        return await bookings.preview(actor=user, booking_in=data)

    @get("/{booking_id:uuid}")
    async def retrieve(self, user: Caller, booking_id: FromPath[UUID]) -> BookingOut:
        return await bookings.get(actor=user, booking_id=booking_id)

    @post("/{booking_id:uuid}/confirm", status_code=200)
    async def confirm(self, user: Caller, booking_id: FromPath[UUID]) -> BookingOut:
        """Take a place held for you from the waitlist (409 `hold_expired` after `hold_expires_at`).

        To decline it, cancel the booking: the place goes to the next in line at once.
        """
        async with db.unit_of_work():
            return await holds.confirm(actor=user, booking_id=booking_id)

    @post("/{booking_id:uuid}/accept", status_code=200)
    async def accept(self, user: Caller, booking_id: FromPath[UUID]) -> BookingOut:
        async with db.unit_of_work():
            return await bookings.accept(actor=user, booking_id=booking_id)

    @post("/{booking_id:uuid}/complete", status_code=200)
    async def complete(self, user: Caller, booking_id: FromPath[UUID]) -> BookingOut:
        async with db.unit_of_work():
            return await bookings.complete(actor=user, booking_id=booking_id)

    @post("/{booking_id:uuid}/cancel", status_code=200)
    async def cancel(
        self, user: Caller, booking_id: FromPath[UUID], data: JSONBody[CancelIn | None] = None
    ) -> BookingOut:
        async with db.unit_of_work():
            return await bookings.cancel(actor=user, booking_id=booking_id, reason=data.reason if data else "")

    @post("/{booking_id:uuid}/no-show", status_code=200)
    async def no_show(self, user: Caller, booking_id: FromPath[UUID]) -> BookingOut:
        async with db.unit_of_work():
            return await bookings.no_show(actor=user, booking_id=booking_id)

    @post("/{booking_id:uuid}/review", status_code=201)
    async def review(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        booking_id: FromPath[UUID],
        data: JSONBody[ReviewIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ReviewOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: feedback.review(actor=user, booking_id=booking_id, review_in=data),
        )

    @get("/{booking_id:uuid}/review")
    async def get_review(self, user: Caller, booking_id: FromPath[UUID]) -> ReviewOut:
        return await feedback.get_review(actor=user, booking_id=booking_id)


class MyBookingsController(Controller):
    path = "/me/bookings"
    tags = ["bookings"]

    @get("/")
    async def list_mine(
        self,
        user: Caller,
        status: FromQuery[BookingStatus | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> BookingPage:
        return await bookings.get_mine(actor=user, status=status, limit=limit, offset=offset)


class WaitlistController(Controller):
    path = "/slots/{slot_id:uuid}/waitlist"
    tags = ["bookings"]

    @post("/", status_code=201)
    async def join(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        slot_id: FromPath[UUID],
        data: JSONBody[WaitlistIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[WaitlistOut]:
        """Queue for a full slot; a freed place goes to the first in line: booked at once, or held for them to
        confirm when the offering sets `waitlist_hold_minutes`."""
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: waitlist.join(actor=user, slot_id=slot_id, waitlist_in=data),
        )

    @get("/")
    async def line(self, user: Caller, slot_id: FromPath[UUID]) -> list[WaitlistOut]:
        """The waiting line, for the partner's staff and the community's staff."""
        return await waitlist.get_all(actor=user, slot_id=slot_id)

    @get("/me")
    async def mine(self, user: Caller, slot_id: FromPath[UUID]) -> WaitlistOut:
        return await waitlist.get_mine(actor=user, slot_id=slot_id)

    @delete("/me", status_code=200)
    async def leave(self, user: Caller, slot_id: FromPath[UUID]) -> WaitlistOut:
        async with db.unit_of_work():
            return await waitlist.leave(actor=user, slot_id=slot_id)


class OrderController(Controller):
    path = "/orders"
    tags = ["orders"]

    @post("/", status_code=201)
    async def create(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        data: JSONBody[OrderIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[OrderOut]:
        """Place an on-demand order; it is dispatched to the partner's staff at once."""
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: orders.create(actor=user, order_in=data),
        )

    @get("/{order_id:uuid}")
    async def retrieve(self, user: Caller, order_id: FromPath[UUID]) -> OrderOut:
        return await orders.get(actor=user, order_id=order_id)

    @post("/{order_id:uuid}/accept", status_code=200)
    async def accept(self, user: Caller, order_id: FromPath[UUID]) -> OrderOut:
        async with db.unit_of_work():
            return await orders.accept(actor=user, order_id=order_id)

    @post("/{order_id:uuid}/arrive", status_code=200)
    async def arrive(self, user: Caller, order_id: FromPath[UUID]) -> OrderOut:
        async with db.unit_of_work():
            return await orders.arrive(actor=user, order_id=order_id)

    @post("/{order_id:uuid}/complete", status_code=200)
    async def complete(self, user: Caller, order_id: FromPath[UUID]) -> OrderOut:
        async with db.unit_of_work():
            return await orders.complete(actor=user, order_id=order_id)

    @post("/{order_id:uuid}/cancel", status_code=200)
    async def cancel(self, user: Caller, order_id: FromPath[UUID], data: JSONBody[CancelIn | None] = None) -> OrderOut:
        async with db.unit_of_work():
            return await orders.cancel(actor=user, order_id=order_id, reason=data.reason if data else "")


class ComplaintController(Controller):
    path = "/complaints"
    tags = ["complaints"]

    @post("/", status_code=201)
    async def file(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        data: JSONBody[ComplaintIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ComplaintOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: feedback.file_complaint(actor=user, complaint_in=data),
        )

    @get("/{complaint_id:uuid}")
    async def retrieve(self, user: Caller, complaint_id: FromPath[UUID]) -> ComplaintOut:
        async with db.unit_of_work():
            return await feedback.get_complaint(actor=user, complaint_id=complaint_id)

    @post("/{complaint_id:uuid}/handle", status_code=200)
    async def handle(
        self, user: Caller, complaint_id: FromPath[UUID], data: JSONBody[ComplaintHandleIn]
    ) -> ComplaintOut:
        async with db.unit_of_work():
            return await feedback.handle(actor=user, complaint_id=complaint_id, handle_in=data)

    @post("/{complaint_id:uuid}/resolve", status_code=200)
    async def resolve(
        self, user: Caller, complaint_id: FromPath[UUID], data: JSONBody[ComplaintResolveIn]
    ) -> ComplaintOut:
        async with db.unit_of_work():
            return await feedback.resolve(actor=user, complaint_id=complaint_id, resolve_in=data)


class PartnerMarketplaceController(Controller):
    """The marketplace's views of one partner (the partner itself is served by `partners`)."""

    path = "/partners/{partner_id:uuid}"
    tags = ["bookings"]

    @get("/bookings")
    async def partner_bookings(
        self,
        user: Caller,
        partner_id: FromPath[UUID],
        status: FromQuery[BookingStatus | None] = None,
        slot_id: FromQuery[UUID | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> BookingPage:
        return await bookings.get_for_partner(
            actor=user, partner_id=partner_id, status=status, slot_id=slot_id, limit=limit, offset=offset
        )

    @get("/reviews")
    async def partner_reviews(
        self,
        user: Caller,
        partner_id: FromPath[UUID],
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[ReviewOut]:
        return await feedback.get_partner_reviews(actor=user, partner_id=partner_id, limit=limit, offset=offset)

    @get("/complaints")
    async def partner_complaints(
        self,
        user: Caller,
        partner_id: FromPath[UUID],
        status: FromQuery[ComplaintStatus | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[ComplaintOut]:
        return await feedback.get_partner_complaints(
            actor=user, partner_id=partner_id, status=status, limit=limit, offset=offset
        )

    @get("/reports/sla")
    async def partner_sla(self, user: Caller, partner_id: FromPath[UUID], period: Period = None) -> SlaReport:
        return await reports.sla_for_partner(actor=user, partner_id=partner_id, period=period)

    @get("/reports/service-quality")
    async def partner_quality(self, user: Caller, partner_id: FromPath[UUID], period: Period = None) -> QualityReport:
        return await reports.quality_for_partner(actor=user, partner_id=partner_id, period=period)


class MyComplaintsController(Controller):
    path = "/me/complaints"
    tags = ["complaints"]

    @get("/")
    async def list_mine(
        self,
        user: Caller,
        status: FromQuery[ComplaintStatus | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ComplaintPage:
        """The caller's complaints, newest first, with the partner's answer once handled."""
        return await feedback.get_mine(actor=user, status=status, limit=limit, offset=offset)


class CommunityComplaintsController(Controller):
    path = "/communities/{community_id:uuid}/complaints"
    tags = ["complaints"]

    @get("/")
    async def list_for_community(
        self,
        user: Caller,
        community_id: FromPath[UUID],
        status: FromQuery[ComplaintStatus | None] = None,
        partner_id: FromQuery[UUID | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> ComplaintPage:
        """Every complaint in the community, for its staff: filter by status (e.g. `filed` = not yet handled)."""
        return await feedback.get_community_complaints(
            actor=user, community_id=community_id, status=status, partner_id=partner_id, limit=limit, offset=offset
        )


class CommunityMarketplaceController(Controller):
    path = "/communities/{community_id:uuid}/reports"
    tags = ["reports"]

    @get("/sla")
    async def community_sla(self, user: Caller, community_id: FromPath[UUID], period: Period = None) -> SlaReport:
        return await reports.sla_for_community(actor=user, community_id=community_id, period=period)

    @get("/service-quality")
    async def community_quality(
        self, user: Caller, community_id: FromPath[UUID], period: Period = None
    ) -> QualityReport:
        return await reports.quality_for_community(actor=user, community_id=community_id, period=period)


CONTROLLERS = [
    BookingController,
    MyBookingsController,
    WaitlistController,
    OrderController,
    ComplaintController,
    MyComplaintsController,
    CommunityComplaintsController,
    PartnerMarketplaceController,
    CommunityMarketplaceController,
    SmsWebhookController,
]
