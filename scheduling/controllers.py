"""HTTP: slots and weekly schedules of offerings, and their iCal feed."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from linli import db
from linli.auth.security import Caller, optional_user
from linli.idempotency import IdempotencyKey, create_once
from scheduling import calendar, services
from scheduling.schemas import CancelIn, CapacityIn, ScheduleIn, ScheduleOut, SlotIn, SlotOut


class OfferingSlotController(Controller):
    path = "/offerings/{offering_id:uuid}"
    tags = ["scheduling"]

    @post("/slots", status_code=201)
    async def create_slot(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        offering_id: FromPath[UUID],
        data: JSONBody[SlotIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[SlotOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: services.create_slot(actor=user, offering_id=offering_id, slot_in=data),
        )

    @get("/slots", public=True)
    async def list_slots(
        self,
        request: Request[Any, Any, Any],
        offering_id: FromPath[UUID],
        from_: Annotated[str | None, QueryParameter(name="from", max_length=40)] = None,
        to: Annotated[str | None, QueryParameter(max_length=40)] = None,
        include_cancelled: FromQuery[bool] = False,
    ) -> list[SlotOut]:
        """Slots in [from, to) with `capacity` and `remaining` (dates or datetimes; naive = community time)."""
        return await services.get_slots(
            actor=await optional_user(request),
            offering_id=offering_id,
            from_=from_,
            to=to,
            include_cancelled=include_cancelled,
        )

    @post("/schedules", status_code=201)
    async def create_schedule(
        self,
        request: Request[Any, Any, Any],
        user: Caller,
        offering_id: FromPath[UUID],
        data: JSONBody[ScheduleIn],
        idempotency_key: IdempotencyKey = None,
    ) -> Response[ScheduleOut]:
        return await create_once(
            request,
            user_id=user.id,
            key=idempotency_key,
            data=data,
            run=lambda: services.create_schedule(actor=user, offering_id=offering_id, schedule_in=data),
        )

    @get("/schedules")
    async def list_schedules(self, user: Caller, offering_id: FromPath[UUID]) -> list[ScheduleOut]:
        return await services.get_schedules(actor=user, offering_id=offering_id)

    @get("/calendar.ics", public=True, media_type="text/calendar; charset=utf-8")
    async def ical(self, request: Request[Any, Any, Any], offering_id: FromPath[UUID]) -> Response[bytes]:
        body = await calendar.offering_calendar(actor=await optional_user(request), offering_id=offering_id)
        return Response(
            body,
            media_type="text/calendar; charset=utf-8",
            headers={"Content-Disposition": f'inline; filename="offering-{offering_id}.ics"'},
        )


class SlotController(Controller):
    path = "/slots/{slot_id:uuid}"
    tags = ["scheduling"]

    @get("/", public=True)
    async def retrieve(self, request: Request[Any, Any, Any], slot_id: FromPath[UUID]) -> SlotOut:
        return await services.get_visible_slot(actor=await optional_user(request), slot_id=slot_id)

    @patch("/")
    async def change_capacity(self, user: Caller, slot_id: FromPath[UUID], data: JSONBody[CapacityIn]) -> SlotOut:
        async with db.unit_of_work():
            return await services.update_capacity(actor=user, slot_id=slot_id, capacity=data.capacity)

    @post("/cancel", status_code=200)
    async def cancel(self, user: Caller, slot_id: FromPath[UUID], data: JSONBody[CancelIn | None] = None) -> SlotOut:
        async with db.unit_of_work():
            return await services.cancel_slot(actor=user, slot_id=slot_id, reason=data.reason if data else "")


class ScheduleController(Controller):
    path = "/schedules/{schedule_id:uuid}"
    tags = ["scheduling"]

    @post("/end", status_code=200)
    async def end(self, user: Caller, schedule_id: FromPath[UUID]) -> ScheduleOut:
        async with db.unit_of_work():
            return await services.end_schedule(actor=user, schedule_id=schedule_id)
